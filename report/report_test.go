package report

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/opena2a-org/aim-mcp/registry"
	"github.com/opena2a-org/aim-mcp/report/pdftext"
)

// day is the period the tests report on.
var (
	day   = time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	since = day
	until = day.AddDate(0, 0, 1)
	at    = func(h, m int) time.Time { return day.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute) }
)

type fixture struct {
	db      *registry.DB
	fs, web registry.Server
}

func seed(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	db, err := registry.Open(ctx, filepath.Join(t.TempDir(), "aim.db"), registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f := &fixture{db: db}
	reg := func(name string) registry.Server {
		s, _, err := db.Register(ctx, registry.Registration{Client: "claude-desktop", Name: name, Command: name})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	f.fs, f.web = reg("filesystem"), reg("web-search")
	add := func(s registry.Server, ev registry.Event) {
		key, err := db.Key(s)
		if err != nil {
			t.Fatal(err)
		}
		ev.ServerID, ev.Server, ev.Client = s.ID, s.Name, s.Client
		if _, err := db.Append(ctx, key, ev); err != nil {
			t.Fatal(err)
		}
	}
	id := func(n int) json.RawMessage { return json.RawMessage(strings.Repeat("1", n)) }
	// Before the period: not reported.
	add(f.fs, registry.Event{Time: day.Add(-time.Hour), Kind: registry.KindCall, Tool: "read_file", Decision: "allow", RequestID: id(9)})
	add(f.fs, registry.Event{Time: day.Add(-time.Hour), Kind: registry.KindOutcome, Tool: "read_file", Decision: "success", RequestID: id(9)})
	// The day.
	add(f.fs, registry.Event{Time: at(9, 0), Kind: registry.KindSessionStart})
	add(f.fs, registry.Event{Time: at(9, 1), Kind: registry.KindCall, Tool: "read_file", Decision: "allow", RequestID: id(1),
		Data: map[string]any{"risk": "low", "source": "risk low → allow", "args_digest": "sha256:aa"}})
	add(f.fs, registry.Event{Time: at(9, 1), Kind: registry.KindOutcome, Tool: "read_file", Decision: "success", RequestID: id(1),
		Data: map[string]any{"duration_ms": 12.5}})
	add(f.fs, registry.Event{Time: at(9, 2), Kind: registry.KindCall, Tool: "write_file", Decision: "approved", RequestID: id(2),
		Data: map[string]any{"risk": "high", "approval_id": "abcd2345", "approver": "alice"}})
	add(f.fs, registry.Event{Time: at(9, 3), Kind: registry.KindOutcome, Tool: "write_file", Decision: "tool_error", RequestID: id(2)})
	add(f.fs, registry.Event{Time: at(9, 4), Kind: registry.KindDenied, Tool: "delete_file", Decision: "deny", RequestID: id(3),
		Data: map[string]any{"risk": "critical", "source": "rule 1"}})
	add(f.fs, registry.Event{Time: at(9, 5), Kind: registry.KindDenied, Tool: "=HYPERLINK(\"x\")", Decision: "approval_required", RequestID: id(4)})
	add(f.fs, registry.Event{Time: at(9, 6), Kind: registry.KindCall, Tool: "read_file", Decision: "allow", RequestID: id(5)}) // no outcome
	add(f.fs, registry.Event{Time: at(9, 7), Kind: registry.KindSessionEnd, Data: map[string]any{"crashed": false, "duration_ms": 420000}})
	add(f.web, registry.Event{Time: at(10, 0), Kind: registry.KindDrift, Tool: "search", Decision: "changed",
		Data: map[string]any{"fields": []string{"description"}, "action": "approve"}})
	add(f.web, registry.Event{Time: at(10, 5), Kind: registry.KindBypass, Decision: "refused"})
	add(f.web, registry.Event{Time: at(11, 0), Kind: registry.KindDrift, Tool: "search", Decision: "accepted", Data: map[string]any{"by": "alice"}})
	add(f.web, registry.Event{Time: at(11, 1), Kind: registry.KindCall, Tool: "search", Decision: "allow", RequestID: id(1)})
	add(f.web, registry.Event{Time: at(11, 1), Kind: registry.KindOutcome, Tool: "search", Decision: "success", RequestID: id(1)})
	// After the period.
	add(f.web, registry.Event{Time: until.Add(time.Minute), Kind: registry.KindCall, Tool: "search", Decision: "allow", RequestID: id(7)})

	// Approvals: one approved by alice, one denied by bob, in the period.
	for _, a := range []struct{ tool, status, by string }{{"write_file", "approved", "alice"}, {"delete_file", "denied", "bob"}} {
		ap, _, err := db.RequestApproval(ctx, registry.Approval{ServerID: f.fs.ID, Server: f.fs.Name, Tool: a.tool, ArgsDigest: "sha256:" + a.tool, Risk: "high", Reason: "risk high"}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.DecideApproval(ctx, ap.ID, a.status, a.by, ""); err != nil {
			t.Fatal(err)
		}
		db.SQL().Exec(`UPDATE approvals SET created_at = ?, decided_at = ? WHERE id = ?`,
			at(9, 2).Format("2006-01-02T15:04:05.000000000Z"), at(9, 3).Format("2006-01-02T15:04:05.000000000Z"), ap.ID)
	}
	// web-search's tool is pinned and accepted; filesystem has none yet.
	db.ObserveTools(ctx, f.web.ID, []registry.ToolDef{{Name: "search", Definition: json.RawMessage(`{"name":"search"}`), Hash: "1"}}, at(10, 0))
	return f
}

func build(t *testing.T, f *fixture, typ string, servers ...registry.Server) *Report {
	t.Helper()
	return buildFor(t, f, since, until, typ, servers...)
}

// buildFor builds a report of the period [from, to).
func buildFor(t *testing.T, f *fixture, from, to time.Time, typ string, servers ...registry.Server) *Report {
	t.Helper()
	all := len(servers) == 0
	if all {
		servers = []registry.Server{f.fs, f.web}
	}
	r, err := Build(context.Background(), f.db, Options{Type: typ, Since: from, Until: to, Servers: servers, All: all, Now: until.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Error(err)
		}
	})
	return r
}

// callsOf is every call a report hands over.
func callsOf(t *testing.T, r *Report) []Call {
	t.Helper()
	var out []Call
	if err := r.EachCall(context.Background(), func(c Call) error { out = append(out, c); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestBuild(t *testing.T) {
	f := seed(t)
	r := build(t, f, "soc2")
	want := Summary{Servers: 2, Calls: 6, Forwarded: 4, Refused: 2, Succeeded: 2, Failed: 1, Approvals: 2,
		HumanApproved: 1, HumanDenied: 1, DriftEvents: 1, BypassAttempts: 1, ChainIntact: true}
	if diff := cmp.Diff(want, r.Summary); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
	var calls []string
	for _, c := range callsOf(t, r) {
		calls = append(calls, c.Server+" "+c.Tool+" "+c.Decision+" "+c.Outcome)
	}
	wantCalls := []string{
		"filesystem read_file allow success",
		"filesystem write_file approved tool_error",
		"filesystem delete_file deny not run",
		`filesystem =HYPERLINK("x") approval_required not run`,
		"filesystem read_file allow ",
		"web-search search allow success",
	}
	if diff := cmp.Diff(wantCalls, calls); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	if c := callsOf(t, r)[0]; c.DurationMS != 12.5 || c.Risk != "low" || c.ArgsDigest != "sha256:aa" || c.Hash == "" || c.OutcomeSeq == 0 {
		t.Errorf("first call = %+v", c)
	}
	if c := callsOf(t, r)[1]; c.Approver != "alice" || c.ApprovalID != "abcd2345" {
		t.Errorf("approved call = %+v", c)
	}
	var byTool []string
	for _, tc := range r.CallsByTool {
		byTool = append(byTool, tc.Server+"/"+tc.Tool+" "+counts(tc.Decisions)+" | "+counts(tc.Outcomes))
	}
	wantByTool := []string{
		`filesystem/=HYPERLINK("x") approval_required 1 | not run 1`,
		"filesystem/delete_file deny 1 | not run 1",
		"filesystem/read_file allow 2 | none recorded 1, success 1",
		"filesystem/write_file approved 1 | tool_error 1",
		"web-search/search allow 1 | success 1",
	}
	if diff := cmp.Diff(wantByTool, byTool); diff != "" {
		t.Errorf("calls by tool (-want +got):\n%s", diff)
	}
	if len(r.Approvals) != 2 || r.Approvals[0].DecidedBy == "" {
		t.Errorf("approvals = %+v", r.Approvals)
	}
	var drift []string
	for _, d := range r.Drift {
		drift = append(drift, d.Tool+" "+d.Change+" "+d.Detail)
	}
	if diff := cmp.Diff([]string{"search changed description changed; calls: approve", "search accepted accepted by alice"}, drift); diff != "" {
		t.Errorf("drift (-want +got):\n%s", diff)
	}
	if !r.Chain.Intact || r.Chain.Records != 17 || r.Chain.Servers != 2 {
		t.Errorf("chain = %+v", r.Chain)
	}
	// The report names the head it was made from: the chain's newest record.
	if newest, err := f.db.Records(context.Background(), registry.Filter{Limit: 1}); err != nil || len(newest) != 1 ||
		r.Chain.HeadSeq != newest[0].Seq || r.Chain.HeadHash != newest[0].Hash || r.Chain.HeadSeq != 17 {
		t.Errorf("chain head = %d %s, want the newest record %+v (%v)", r.Chain.HeadSeq, r.Chain.HeadHash, newest, err)
	}
	if len(r.Servers) != 2 || r.Servers[0].Fingerprint == "" || r.Servers[0].Trust.Overall <= 0 || r.Servers[0].Calls != 5 || r.Servers[0].Refused != 2 {
		t.Errorf("servers = %+v", r.Servers)
	}
	var ids []string
	status := map[string]string{}
	for _, c := range r.Controls {
		ids = append(ids, c.ID)
		status[c.ID] = c.Status
	}
	if diff := cmp.Diff([]string{"CC6.1", "CC6.3", "CC6.8", "CC7.2", "CC7.3"}, ids); diff != "" {
		t.Errorf("soc2 controls (-want +got):\n%s", diff)
	}
	if status["CC7.3"] != "attention" || status["CC6.1"] != "evidenced" || status["CC7.2"] != "evidenced" {
		t.Errorf("statuses = %v", status)
	}

	// One server only.
	r = build(t, f, "soc2", f.web)
	// The whole chain is checked: the report before left a checkpoint at
	// its head, so nothing is read again.
	if r.Summary.Calls != 1 || len(r.Servers) != 1 || !strings.Contains(r.Scope, "web-search") || !r.Chain.Intact ||
		r.Chain.HeadSeq != 17 || r.Chain.CheckpointSeq != 17 || r.Chain.Records != 0 {
		t.Errorf("web-search only: %+v, chain %+v", r.Summary, r.Chain)
	}
}

func TestTypes(t *testing.T) {
	f := seed(t)
	for typ, want := range map[string][]string{
		"hipaa": {"§164.312(b)", "§164.312(c)(1)", "§164.312(d)", "§164.312(a)(1)"},
		"gdpr":  {"Art. 30", "Art. 32(1)(b)", "Art. 32(1)(d)"},
	} {
		r := build(t, f, typ)
		var ids []string
		for _, c := range r.Controls {
			ids = append(ids, c.ID)
			if c.Evidence == "" || c.Title == "" {
				t.Errorf("%s %s has no evidence or title", typ, c.ID)
			}
		}
		if diff := cmp.Diff(want, ids); diff != "" {
			t.Errorf("%s controls (-want +got):\n%s", typ, diff)
		}
		if fw, _ := Lookup(typ); r.Title != fw.Title {
			t.Errorf("title %q", r.Title)
		}
	}
	ctx := context.Background()
	if _, err := Build(ctx, f.db, Options{Type: "iso27001", Since: since, Until: until, All: true}); err == nil {
		t.Error("an unknown type built")
	}
	if _, err := Build(ctx, f.db, Options{Type: "soc2", Since: until, Until: since, All: true}); err == nil {
		t.Error("an inverted period built")
	}
	if _, err := Render(context.Background(), &Report{}, "docx"); err == nil {
		t.Error("an unknown format rendered")
	}
}

// TestFrameworks: every framework of the table names itself and builds
// controls of its own, so an entry cannot fall back to another's.
func TestFrameworks(t *testing.T) {
	f := seed(t)
	seen := map[string]string{}
	for _, fw := range Frameworks() {
		if fw.Type == "" || fw.Name == "" || fw.Title == "" || fw.Cites == "" || fw.controls == nil {
			t.Errorf("framework %+v is incomplete", fw)
			continue
		}
		r := build(t, f, fw.Type)
		if r.Type != fw.Type || r.Title != fw.Title || len(r.Controls) == 0 {
			t.Errorf("%s: report type %q, title %q, %d controls", fw.Type, r.Type, r.Title, len(r.Controls))
		}
		for _, c := range r.Controls {
			if c.ID == "" || c.Title == "" || c.Evidence == "" {
				t.Errorf("%s: control %+v is incomplete", fw.Type, c)
			}
			if other, ok := seen[c.ID]; ok {
				t.Errorf("%s: control %s is also %s's", fw.Type, c.ID, other)
			}
			seen[c.ID] = fw.Type
		}
	}
	if fw := Frameworks()[0]; fw.Type != "soc2" {
		t.Errorf("the default framework is %q, want soc2", fw.Type)
	}
}

func TestJSON(t *testing.T) {
	f := seed(t)
	b, err := Render(context.Background(), build(t, f, "soc2"), "json")
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Type   string `json:"type"`
		Period struct {
			Since, Until time.Time
		} `json:"period"`
		Servers []struct {
			Name, ID, Fingerprint, PublicKey string
			Trust                            struct {
				Overall float64            `json:"overall"`
				Factors map[string]float64 `json:"factors"`
			} `json:"trust"`
		} `json:"servers"`
		CallsByTool []map[string]any `json:"calls_by_tool"`
		Calls       []map[string]any `json:"calls"`
		Approvals   []struct {
			ID        string    `json:"id"`
			Status    string    `json:"status"`
			DecidedBy string    `json:"decided_by"`
			DecidedAt time.Time `json:"decided_at"`
		} `json:"approvals"`
		Drift []map[string]any `json:"drift"`
		Chain struct {
			Intact  bool `json:"intact"`
			Records int  `json:"records"`
		} `json:"audit_chain"`
		Controls []map[string]string `json:"controls"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if m.Type != "soc2" || !m.Period.Since.Equal(since) || !m.Period.Until.Equal(until) {
		t.Errorf("type %q, period %v", m.Type, m.Period)
	}
	if len(m.Servers) != 2 || m.Servers[0].Fingerprint == "" || len(m.Servers[0].Trust.Factors) != 8 || m.Servers[0].Trust.Overall == 0 {
		t.Errorf("servers = %+v", m.Servers)
	}
	if len(m.Calls) != 6 || len(m.CallsByTool) != 5 || len(m.Drift) != 2 || len(m.Controls) != 5 {
		t.Errorf("calls %d, by tool %d, drift %d, controls %d", len(m.Calls), len(m.CallsByTool), len(m.Drift), len(m.Controls))
	}
	if len(m.Approvals) != 2 || m.Approvals[1].DecidedBy != "bob" || m.Approvals[1].DecidedAt.IsZero() {
		t.Errorf("approvals = %+v", m.Approvals)
	}
	if !m.Chain.Intact || m.Chain.Records == 0 {
		t.Errorf("chain = %+v", m.Chain)
	}
}

func TestCSV(t *testing.T) {
	f := seed(t)
	b, err := Render(context.Background(), build(t, f, "hipaa"), "csv")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(CSVHeader, rows[0]); diff != "" {
		t.Errorf("header (-want +got):\n%s", diff)
	}
	if len(rows) != 1+6 {
		t.Fatalf("%d rows, want a header and 6 calls", len(rows))
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	r1 := rows[1]
	if r1[col["server"]] != "filesystem" || r1[col["tool"]] != "read_file" || r1[col["outcome"]] != "success" ||
		r1[col["duration_ms"]] != "12.5" || r1[col["report_type"]] != "hipaa" || r1[col["time"]] != "2026-11-24T09:01:00Z" {
		t.Errorf("first row = %v", r1)
	}
	if got := rows[4][col["tool"]]; got != `'=HYPERLINK("x")` {
		t.Errorf("a formula-looking tool name is written as %q", got)
	}
}

func TestPDF(t *testing.T) {
	f := seed(t)
	r := build(t, f, "soc2")
	for _, compress := range []bool{true, false} {
		b, err := PDF(context.Background(), r, PDFOptions{Compress: compress})
		if err != nil {
			t.Fatal(err)
		}
		pages, err := pdftext.Pages(b)
		if err != nil {
			t.Fatalf("compress %v: %v", compress, err)
		}
		text := strings.Join(pages, "\n")
		for _, want := range []string{
			"SOC 2 evidence report: MCP tool calls",
			"Period: 2026-11-24 00:00:00 to 2026-11-25 00:00:00",
			"Audit chain: INTACT - 17 records verified",
			"Made from the chain up to record 17, hash " + r.Chain.HeadHash,
			"filesystem", "web-search", r.Servers[0].Fingerprint,
			"read_file", "write_file", "delete_file", "tool_error",
			"CC6.1", "CC7.3", "attention",
			"alice", "bob", "accepted by alice",
			"page 1 of " + itoa(len(pages)),
			"§164", // not on a SOC 2 report; checked below
		} {
			if want == "§164" {
				if strings.Contains(text, want) {
					t.Errorf("a SOC 2 report cites HIPAA")
				}
				continue
			}
			if !strings.Contains(text, want) {
				t.Errorf("compress %v: the PDF text has no %q", compress, want)
			}
		}
		if compress && bytes.Contains(b, []byte("filesystem")) {
			t.Error("the compressed PDF has the text in the clear")
		}
	}

	// A broken chain shows on the first page.
	if _, err := f.db.SQL().Exec(`UPDATE records SET body = replace(body, 'tool_error', 'success') WHERE kind = 'outcome'`); err != nil {
		t.Fatal(err)
	}
	r = build(t, f, "hipaa")
	b, _ := PDF(context.Background(), r, PDFOptions{Compress: true})
	pages, err := pdftext.Pages(b)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(pages[0], "Audit chain: BROKEN at record") || !strings.Contains(strings.Join(pages, ""), "§164.312(b)") {
		t.Errorf("first page:\n%s", pages[0])
	}
	for _, c := range r.Controls {
		if c.ID == "§164.312(b)" && c.Status != "attention" {
			t.Errorf("%s with a broken chain: %s", c.ID, c.Status)
		}
	}
}

// TestPDFPaging: long tables run over pages with their headers, text that
// the core fonts cannot show is replaced, and the calls table is capped.
func TestPDFPaging(t *testing.T) {
	r := &Report{Type: "gdpr", Title: "GDPR records of processing report", GeneratedAt: until, Period: Period{since, until}, Scope: "all",
		Chain: Chain{Intact: true}, Servers: []Server{{Name: "Łódź — server ☃", Client: "c"}}}
	for i := range 300 {
		r.Calls = append(r.Calls, Call{Seq: int64(i + 1), Time: at(1, 0), Server: "Łódź — server ☃", Tool: "tool-" + itoa(i), Decision: "allow", Outcome: "success"})
	}
	b, err := PDF(context.Background(), r, PDFOptions{MaxCalls: 250})
	if err != nil {
		t.Fatal(err)
	}
	pages, err := pdftext.Pages(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) < 4 {
		t.Errorf("%d pages for 250 calls", len(pages))
	}
	text := strings.Join(pages, "\n")
	if !strings.Contains(text, "tool-249") || strings.Contains(text, "tool-250") || !strings.Contains(text, "50 more calls are not shown") {
		t.Error("the calls table is not capped at 250 rows with a note")
	}
	if !strings.Contains(text, "?ód? - server ?") {
		t.Error("text outside Windows-1252 is not replaced")
	}
	if n := strings.Count(text, "Decision\nRisk"); n != len(pages)-1 && n < 3 {
		t.Errorf("the calls header appears %d times over %d pages", n, len(pages))
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// JSON and CSV are written as the calls are read from the registry: the
// bytes are those of the same report with every call in memory.
func TestWriteStreams(t *testing.T) {
	f := seed(t)
	ctx := context.Background()
	for _, format := range []string{"json", "csv"} {
		r := build(t, f, "soc2")
		var streamed bytes.Buffer
		if err := Write(ctx, &streamed, r, format); err != nil {
			t.Fatal(err)
		}
		whole := *r
		whole.Calls = callsOf(t, r)
		if len(whole.Calls) != 6 {
			t.Fatalf("%d calls, want 6", len(whole.Calls))
		}
		var want []byte
		if format == "json" {
			b, err := json.MarshalIndent(&whole, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			want = append(b, '\n')
		} else {
			var err error
			if want, err = Render(ctx, &whole, format); err != nil {
				t.Fatal(err)
			}
		}
		if diff := cmp.Diff(string(want), streamed.String()); diff != "" {
			t.Errorf("%s streamed (-in memory +streamed):\n%s", format, diff)
		}
	}
	// No calls: an empty array, as MarshalIndent writes it.
	r := buildFor(t, f, until.Add(time.Hour), until.Add(2*time.Hour), "soc2", f.web)
	var b bytes.Buffer
	if err := Write(ctx, &b, r, "json"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "\n  \"calls\": [],\n") || !json.Valid(b.Bytes()) {
		t.Errorf("no calls: %s", b.String())
	}
}

// The second read hands the calls over in their order, each with its own
// outcome, when outcomes come late and out of order, and an unanswered
// call in the middle holds nothing up.
func TestEachCallPairsLateOutcomes(t *testing.T) {
	f := seed(t)
	ctx := context.Background()
	key, err := f.db.Key(f.web)
	if err != nil {
		t.Fatal(err)
	}
	add := func(ev registry.Event) {
		ev.ServerID, ev.Server, ev.Client = f.web.ID, f.web.Name, f.web.Client
		if _, err := f.db.Append(ctx, key, ev); err != nil {
			t.Fatal(err)
		}
	}
	id := func(s string) json.RawMessage { return json.RawMessage(`"` + s + `"`) }
	add(registry.Event{Time: at(12, 0), Kind: registry.KindCall, Tool: "search", Decision: "allow", RequestID: id("x")})
	add(registry.Event{Time: at(12, 1), Kind: registry.KindCall, Tool: "search", Decision: "allow", RequestID: id("lost")})
	add(registry.Event{Time: at(12, 2), Kind: registry.KindCall, Tool: "search", Decision: "allow", RequestID: id("y")})
	add(registry.Event{Time: at(12, 3), Kind: registry.KindOutcome, Tool: "search", Decision: "tool_error", RequestID: id("y")})
	add(registry.Event{Time: at(12, 4), Kind: registry.KindOutcome, Tool: "search", Decision: "success", RequestID: id("x"),
		Data: map[string]any{"duration_ms": 7}})
	r := build(t, f, "soc2", f.web)
	var got []string
	for _, c := range callsOf(t, r) {
		got = append(got, fmt.Sprintf("%s:%s:%g", c.Time.Format("15:04"), c.Outcome, c.DurationMS))
	}
	want := []string{"11:01:success:0", "12:00:success:7", "12:01::0", "12:02:tool_error:0"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}
