// Package report builds compliance reports (SOC 2, HIPAA, GDPR) from the
// registry: for a period, each server with its identity, key fingerprint
// and trust score; its calls by tool and decision; the approvals and
// denials, with who answered and when; drift events; the result of
// verifying the audit chain; and the controls of the chosen framework that
// this evidence speaks to. It writes JSON, CSV (one row per call) or PDF.
//
// [Build] reads the period's records, approvals and drift from the
// registry, scores each server with trust, and verifies the chain; the
// framework's entry in [Frameworks] writes its controls from that evidence;
// [Render] turns the [Report] into the chosen format. Adding a framework is
// adding an entry to that table.
//
// A report collects evidence; it is not an attestation.
package report

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/opena2a-org/aim-mcp/audit"
	"github.com/opena2a-org/aim-mcp/registry"
	"github.com/opena2a-org/aim-mcp/trust"
)

// Formats are what Render accepts; [Frameworks] lists the types Build does.
var Formats = []string{"json", "csv", "pdf"}

// Options select what a report covers.
type Options struct {
	Type    string
	Since   time.Time // inclusive
	Until   time.Time // exclusive
	Servers []registry.Server
	// All says Servers are every registered server (no --server).
	All bool
	// Now is when the report is made; zero is time.Now().
	Now time.Time
}

// Report is a compliance report. Its JSON is the JSON format.
type Report struct {
	Type        string      `json:"type"`
	Title       string      `json:"title"`
	Generator   string      `json:"generator"`
	GeneratedAt time.Time   `json:"generated_at"`
	Period      Period      `json:"period"`
	Scope       string      `json:"scope"`
	Summary     Summary     `json:"summary"`
	Servers     []Server    `json:"servers"`
	CallsByTool []ToolCalls `json:"calls_by_tool"`
	Calls       []Call      `json:"calls"`
	Approvals   []Approval  `json:"approvals"`
	Drift       []Drift     `json:"drift"`
	Chain       Chain       `json:"audit_chain"`
	Controls    []Control   `json:"controls"`
	Note        string      `json:"note"`
}

// Period is the half-open interval [Since, Until).
type Period struct {
	Since time.Time `json:"since"`
	Until time.Time `json:"until"`
}

// Summary counts the period's evidence.
type Summary struct {
	Servers        int  `json:"servers"`
	Calls          int  `json:"calls"`     // every tools/call: forwarded or not
	Forwarded      int  `json:"forwarded"` // reached the server
	Refused        int  `json:"refused"`   // denied, or waiting for a person
	Cancelled      int  `json:"cancelled"` // given up by the client before it was decided: nobody refused it
	Succeeded      int  `json:"succeeded"`
	Failed         int  `json:"failed"` // tool_error, rpc_error, server_exited
	Approvals      int  `json:"approvals"`
	HumanApproved  int  `json:"human_approved"`
	HumanDenied    int  `json:"human_denied"`
	DriftEvents    int  `json:"drift_events"`
	BypassAttempts int  `json:"bypass_attempts"`
	ChainIntact    bool `json:"chain_intact"`
}

// Server is one server in scope.
type Server struct {
	Name         string      `json:"name"`
	Client       string      `json:"client"`
	ID           string      `json:"id"`
	AgentType    string      `json:"agent_type"`
	Status       string      `json:"status"`
	RegisteredAt time.Time   `json:"registered_at"`
	PublicKey    string      `json:"public_key"`
	Fingerprint  string      `json:"fingerprint"`
	Trust        trust.Score `json:"trust"`
	Calls        int         `json:"calls"`
	Refused      int         `json:"refused"`
	Records      int         `json:"records"` // in the period
}

// ToolCalls counts one tool's calls by decision and by outcome.
type ToolCalls struct {
	Server    string         `json:"server"`
	Client    string         `json:"client"`
	Tool      string         `json:"tool"`
	Calls     int            `json:"calls"`
	Decisions map[string]int `json:"decisions"`
	Outcomes  map[string]int `json:"outcomes"`
}

// Call is one tools/call: its call (or denied) record, joined with its
// outcome.
type Call struct {
	Seq        int64     `json:"seq"`
	Time       time.Time `json:"time"`
	Server     string    `json:"server"`
	Client     string    `json:"client"`
	ServerID   string    `json:"server_id"`
	Tool       string    `json:"tool"`
	Decision   string    `json:"decision"`
	Risk       string    `json:"risk,omitempty"`
	Source     string    `json:"source,omitempty"`
	ApprovalID string    `json:"approval_id,omitempty"`
	Approver   string    `json:"approver,omitempty"`
	Outcome    string    `json:"outcome"` // success, tool_error, ..., "not run", or "" when none was recorded
	DurationMS float64   `json:"duration_ms,omitempty"`
	ArgsDigest string    `json:"args_digest,omitempty"`
	Hash       string    `json:"hash"`
	OutcomeSeq int64     `json:"outcome_seq,omitempty"`
}

// Approval is a request for a person's decision.
type Approval struct {
	ID        string    `json:"id"`
	Server    string    `json:"server"`
	Tool      string    `json:"tool"`
	Status    string    `json:"status"`
	Risk      string    `json:"risk,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	DecidedAt time.Time `json:"decided_at,omitzero"`
	DecidedBy string    `json:"decided_by,omitempty"`
	Note      string    `json:"note,omitempty"`
}

// Drift is a tool pin event.
type Drift struct {
	Seq    int64     `json:"seq"`
	Time   time.Time `json:"time"`
	Server string    `json:"server"`
	Tool   string    `json:"tool"`
	Change string    `json:"change"` // changed, new, removed, reverted, accepted
	Detail string    `json:"detail,omitempty"`
}

// Chain is the audit chain's verification.
type Chain struct {
	Intact    bool      `json:"intact"`
	Records   int       `json:"records"`
	Servers   int       `json:"servers"`
	BadSeq    int64     `json:"bad_seq,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	CheckedAt time.Time `json:"checked_at"`
	Scope     string    `json:"scope"`
	// HeadSeq and HeadHash name the last record the check reached: the
	// chain's head when it was made, or the last intact record before a
	// break. A witnessed head of the same seq must have the same hash.
	HeadSeq  int64  `json:"head_seq"`
	HeadHash string `json:"head_hash,omitempty"`
}

// Control is a control of the framework and what the evidence says of it.
type Control struct {
	ID       string `json:"id"`
	Title    string `json:"title"`
	Status   string `json:"status"` // evidenced, attention
	Evidence string `json:"evidence"`
}

// Build gathers a report.
func Build(ctx context.Context, db *registry.DB, opt Options) (*Report, error) {
	fw, ok := Lookup(opt.Type)
	if !ok {
		return nil, fmt.Errorf("unknown report type %q", opt.Type)
	}
	if !opt.Since.Before(opt.Until) {
		return nil, fmt.Errorf("the period is empty: %s is not before %s", opt.Since.Format(time.RFC3339), opt.Until.Format(time.RFC3339))
	}
	now := opt.Now
	if now.IsZero() {
		now = time.Now()
	}
	r := &Report{Type: opt.Type, Title: fw.Title, Generator: "aim-mcp", GeneratedAt: now.UTC(),
		Period: Period{opt.Since.UTC(), opt.Until.UTC()}, Scope: "all registered servers",
		Servers: []Server{}, CallsByTool: []ToolCalls{}, Calls: []Call{}, Approvals: []Approval{}, Drift: []Drift{},
		Note: "This report collects the evidence aim-mcp recorded; it is not an attestation of compliance."}
	if !opt.All {
		var names []string
		for _, s := range opt.Servers {
			names = append(names, fmt.Sprintf("%s (%s)", s.Name, s.Client))
		}
		r.Scope = "server " + strings.Join(names, ", ")
	}
	ids := map[string]int{} // server id → index in r.Servers
	trustAt := opt.Until
	if trustAt.After(now) {
		trustAt = now
	}
	src := &trust.Source{DB: db, Now: trustAt}
	for _, s := range opt.Servers {
		score, err := src.Score(ctx, s)
		if err != nil {
			return nil, err
		}
		ids[s.ID] = len(r.Servers)
		r.Servers = append(r.Servers, Server{Name: s.Name, Client: s.Client, ID: s.ID, AgentType: s.AgentType, Status: s.Status,
			RegisteredAt: s.RegisteredAt.UTC(), PublicKey: s.PublicKey, Fingerprint: s.Fingerprint(), Trust: score})
	}

	// Records of the period, oldest first.
	var recs []registry.Record
	if opt.All {
		all, err := db.Records(ctx, registry.Filter{Since: opt.Since, Until: opt.Until})
		if err != nil {
			return nil, err
		}
		for _, rec := range all {
			if _, ok := ids[rec.ServerID]; ok {
				recs = append(recs, rec)
			}
		}
	} else {
		for _, s := range opt.Servers {
			rs, err := db.Records(ctx, registry.Filter{ServerID: s.ID, Since: opt.Since, Until: opt.Until})
			if err != nil {
				return nil, err
			}
			recs = append(recs, rs...)
		}
		sort.Slice(recs, func(i, j int) bool { return recs[i].Seq < recs[j].Seq })
	}
	r.addRecords(recs, ids)

	approvals, err := db.Approvals(ctx)
	if err != nil {
		return nil, err
	}
	for _, a := range approvals {
		if _, ok := ids[a.ServerID]; !ok {
			continue
		}
		in := func(t time.Time) bool { return !t.IsZero() && !t.Before(opt.Since) && t.Before(opt.Until) }
		if !in(a.CreatedAt) && !in(a.DecidedAt) {
			continue
		}
		r.Approvals = append(r.Approvals, Approval{ID: a.ID, Server: a.Server, Tool: a.Tool, Status: a.Status, Risk: a.Risk,
			Reason: a.Reason, CreatedAt: a.CreatedAt, DecidedAt: a.DecidedAt, DecidedBy: a.DecidedBy, Note: a.Note})
		r.Summary.Approvals++
		if in(a.DecidedAt) && a.DecidedBy != "" && a.DecidedBy != "aim-mcp" {
			if a.Status == registry.ApprovalDenied {
				r.Summary.HumanDenied++
			} else {
				r.Summary.HumanApproved++
			}
		}
	}

	// The chain as a whole, or the selected servers' part of it.
	r.Chain = Chain{CheckedAt: now.UTC(), Scope: "the whole chain, every server's signatures", Intact: true}
	verify := []string{""}
	if !opt.All {
		verify = nil
		for _, s := range opt.Servers {
			verify = append(verify, s.ID)
		}
		r.Chain.Scope = "the whole chain's links, the selected servers' signatures"
	}
	for _, id := range verify {
		v, err := db.Verify(ctx, id)
		if err != nil {
			return nil, err
		}
		r.Chain.Records += v.Records
		r.Chain.Servers += v.Servers
		r.Chain.HeadSeq = max(r.Chain.HeadSeq, v.Head)
		if !v.OK() && r.Chain.Intact {
			r.Chain.Intact, r.Chain.BadSeq, r.Chain.Reason = false, v.BadSeq, v.Reason
		}
	}
	r.Summary.Servers = len(r.Servers)
	if r.Chain.HeadSeq > 0 {
		if r.Chain.HeadHash, err = db.HashAt(ctx, r.Chain.HeadSeq); err != nil {
			return nil, err
		}
	}
	r.Summary.ChainIntact = r.Chain.Intact
	r.Controls = fw.controls(gather(r))
	return r, nil
}

func dataOf(rec registry.Record) map[string]any {
	var d map[string]any
	json.Unmarshal(rec.Data, &d)
	return d
}

func str(d map[string]any, k string) string {
	s, _ := d[k].(string)
	return s
}

// addRecords turns the period's records into calls, counts and drift.
func (r *Report) addRecords(recs []registry.Record, ids map[string]int) {
	type key struct{ server, id, tool string }
	open := map[key][]int{} // index into r.Calls of forwarded calls without an outcome yet
	byTool := map[[2]string]*ToolCalls{}
	toolOf := func(c Call) *ToolCalls {
		k := [2]string{c.ServerID, c.Tool}
		tc := byTool[k]
		if tc == nil {
			tc = &ToolCalls{Server: c.Server, Client: c.Client, Tool: c.Tool, Decisions: map[string]int{}, Outcomes: map[string]int{}}
			byTool[k] = tc
		}
		return tc
	}
	for _, rec := range recs {
		si := ids[rec.ServerID]
		r.Servers[si].Records++
		switch rec.Kind {
		case registry.KindCall, registry.KindDenied:
			d := dataOf(rec)
			c := Call{Seq: rec.Seq, Time: rec.Time, Server: rec.Server, Client: rec.Client, ServerID: rec.ServerID, Tool: rec.Tool,
				Decision: rec.Decision, Risk: str(d, "risk"), Source: str(d, "source"), ApprovalID: str(d, "approval_id"),
				Approver: str(d, "approver"), ArgsDigest: str(d, "args_digest"), Hash: rec.Hash}
			if c.Client == "" {
				c.Client = r.Servers[si].Client
			}
			r.Servers[si].Calls++
			r.Summary.Calls++
			if rec.Kind == registry.KindDenied && rec.Decision == string(audit.Cancelled) {
				c.Outcome = "cancelled by the client"
				r.Summary.Cancelled++
			} else if rec.Kind == registry.KindDenied {
				c.Outcome = "not run"
				r.Servers[si].Refused++
				r.Summary.Refused++
			} else {
				r.Summary.Forwarded++
				k := key{rec.ServerID, string(rec.RequestID), rec.Tool}
				open[k] = append(open[k], len(r.Calls))
			}
			toolOf(c).Calls++
			toolOf(c).Decisions[c.Decision]++
			r.Calls = append(r.Calls, c)
		case registry.KindOutcome:
			k := key{rec.ServerID, string(rec.RequestID), rec.Tool}
			q := open[k]
			if len(q) == 0 {
				continue // its call is before the period
			}
			i := q[len(q)-1]
			open[k] = q[:len(q)-1]
			c := &r.Calls[i]
			c.Outcome, c.OutcomeSeq = rec.Decision, rec.Seq
			if ms, ok := dataOf(rec)["duration_ms"].(float64); ok {
				c.DurationMS = ms
			}
			switch s := audit.Status(rec.Decision); {
			case s == audit.Success:
				r.Summary.Succeeded++
			case s.Failed():
				r.Summary.Failed++
			}
		case registry.KindDrift:
			d := dataOf(rec)
			var detail []string
			if fs, ok := d["fields"].([]any); ok && len(fs) > 0 {
				var names []string
				for _, f := range fs {
					names = append(names, fmt.Sprint(f))
				}
				detail = append(detail, strings.Join(names, ", ")+" changed")
			}
			if by := str(d, "by"); by != "" {
				detail = append(detail, "accepted by "+by)
			}
			if a := str(d, "action"); a != "" && registry.IsDrift(rec.Decision) {
				detail = append(detail, "calls: "+a)
			}
			r.Drift = append(r.Drift, Drift{Seq: rec.Seq, Time: rec.Time, Server: rec.Server, Tool: rec.Tool,
				Change: rec.Decision, Detail: strings.Join(detail, "; ")})
			if registry.IsDrift(rec.Decision) {
				r.Summary.DriftEvents++
			}
		case registry.KindBypass:
			r.Summary.BypassAttempts++
		}
	}
	for _, c := range r.Calls {
		tc := toolOf(c)
		o := c.Outcome
		if o == "" {
			o = "none recorded"
		}
		tc.Outcomes[o]++
	}
	for _, tc := range byTool {
		r.CallsByTool = append(r.CallsByTool, *tc)
	}
	sort.Slice(r.CallsByTool, func(i, j int) bool {
		a, b := r.CallsByTool[i], r.CallsByTool[j]
		if a.Server != b.Server {
			return a.Server < b.Server
		}
		if a.Client != b.Client {
			return a.Client < b.Client
		}
		return a.Tool < b.Tool
	})
}

// Render writes the report in a format: json, csv or pdf.
func Render(r *Report, format string) ([]byte, error) {
	switch format {
	case "json":
		b, err := json.MarshalIndent(r, "", "  ")
		return append(b, '\n'), err
	case "csv":
		return CSV(r)
	case "pdf":
		return PDF(r, PDFOptions{Compress: true})
	}
	return nil, fmt.Errorf("unknown report format %q", format)
}

// CSVHeader is the CSV format's header: one row per call follows.
var CSVHeader = []string{"seq", "time", "server", "client", "server_id", "tool", "decision", "risk", "source",
	"approval_id", "approver", "outcome", "duration_ms", "args_digest", "hash", "report_type", "period_since", "period_until"}

// CSV is one row per call of the period, oldest first.
func CSV(r *Report) ([]byte, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write(CSVHeader)
	since, until := r.Period.Since.Format(time.RFC3339), r.Period.Until.Format(time.RFC3339)
	for _, c := range r.Calls {
		ms := ""
		if c.DurationMS != 0 {
			ms = strconv.FormatFloat(c.DurationMS, 'f', -1, 64)
		}
		w.Write([]string{strconv.FormatInt(c.Seq, 10), c.Time.UTC().Format(time.RFC3339Nano), cell(c.Server), cell(c.Client), c.ServerID,
			cell(c.Tool), c.Decision, c.Risk, cell(c.Source), c.ApprovalID, cell(c.Approver), c.Outcome, ms, c.ArgsDigest, c.Hash,
			r.Type, since, until})
	}
	w.Flush()
	return buf.Bytes(), w.Error()
}

// cell defuses a value a spreadsheet would run as a formula (a tool or
// server name is chosen by the server, not by us): it gets a leading '.
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
