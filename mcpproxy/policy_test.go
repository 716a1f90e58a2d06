package mcpproxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/opena2a-org/aim-mcp/registry"
)

const (
	rawInit = `{"jsonrpc":"2.0","id":"init","method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}` + "\n" +
		`{"jsonrpc":"2.0","method":"notifications/initialized"}` + "\n"
)

// initRaw runs the handshake on a raw pipe and returns the line reader.
func initRaw(t *testing.T, p *proxy) *lineReader {
	t.Helper()
	lr := p.lines()
	p.send(rawInit)
	if r := decodeRPC(t, lr.next(10*time.Second)); string(r.ID) != `"init"` {
		t.Fatalf("first line: got id %s, want the initialize answer", r.ID)
	}
	return lr
}

func toolCall(id, tool, args string) string {
	return `{"jsonrpc":"2.0","id":` + id + `,"method":"tools/call","params":{"name":"` + tool + `","arguments":` + args + `}}` + "\n"
}

// TestDenial: a refused call is answered with an isError result that carries
// the caller's id byte for byte, names the tool, the reason and the next
// step, and never reaches the server.
func TestDenial(t *testing.T) {
	deny := Verdict{Decision: "deny", Risk: "high", Source: "rule:7", Reason: "writes are not allowed",
		Next: "run `aim-mcp approve ap-1`", ApprovalID: "ap-1"}
	g := &testGuard{deny: map[string]Verdict{"echo": deny}}
	p := startProxy(t, proxyOpts{guard: g})
	lr := initRaw(t, p)
	tests := []struct {
		name, id, meta string
		modern         bool
	}{
		{name: "big integer", id: `9007199254740993`},
		{name: "string", id: `"call-1"`},
		{name: "escaped string", id: `"c\u0061ll-2"`},
		{name: "negative exponent", id: `-1.5e3`},
		{name: "modern", id: `7`, meta: `,"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}`, modern: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p.send(`{"jsonrpc":"2.0","id":` + tc.id + `,"method":"tools/call","params":{"name":"echo","arguments":{"text":"denied-` + tc.name + `"}` + tc.meta + `}}` + "\n")
			line := lr.next(10 * time.Second)
			if prefix := `{"jsonrpc":"2.0","id":` + tc.id + `,"result":`; !bytes.HasPrefix(line, []byte(prefix)) {
				t.Fatalf("got %s, want a line starting %s", line, prefix)
			}
			r := decodeRPC(t, line)
			if r.Result == nil || !r.Result.IsError || len(r.Result.Content) != 1 {
				t.Fatalf("got %s, want an isError result with one content item", line)
			}
			text := r.Result.Content[0].Text
			for _, s := range []string{`aim-mcp:`, `"echo"`, deny.Reason, deny.Next} {
				if !strings.Contains(text, s) {
					t.Errorf("denial text %q does not contain %q", text, s)
				}
			}
			var meta map[string]map[string]string
			json.Unmarshal(r.Result.Meta, &meta)
			want := map[string]string{"decision": "deny", "risk": "high", "source": "rule:7", "approval_id": "ap-1"}
			if diff := cmp.Diff(want, meta["dev.aim-mcp/decision"]); diff != "" {
				t.Errorf("_meta decision (-want +got):\n%s", diff)
			}
			if wantRT := map[bool]string{true: "complete"}[tc.modern]; r.Result.ResultType != wantRT {
				t.Errorf("resultType: got %q, want %q", r.Result.ResultType, wantRT)
			}
		})
	}
	if code := p.close(); code != 0 {
		t.Errorf("exit code: got %d, want 0", code)
	}
	if strings.Contains(p.serverLog(), "tools/call") {
		t.Errorf("the server saw a denied call:\n%s", p.serverLog())
	}
	denied := only(p.reg.records(t), registry.KindDenied)
	var ids []string
	for _, r := range denied {
		ids = append(ids, string(r.RequestID))
		d := data(t, r)
		if r.Decision != "deny" || r.Tool != "echo" || d["reason"] != deny.Reason || d["approval_id"] != "ap-1" || d["risk"] != "high" {
			t.Errorf("denied record %d: got %s %s %s, want decision deny for echo with reason, risk and approval id", r.Seq, r.Decision, r.Tool, r.Data)
		}
	}
	var want []string
	for _, tc := range tests {
		want = append(want, tc.id)
	}
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Errorf("request ids of the denied records (-want +got):\n%s", diff)
	}
	if n := len(only(p.reg.records(t), registry.KindCall)); n != 0 {
		t.Errorf("call records: got %d, want 0", n)
	}
}

// TestBypass: lines that a proxy and a server could read differently are
// refused with -32600, recorded, and never reach the server.
func TestBypass(t *testing.T) {
	tests := []struct {
		name, line string
		id         string // of the -32600 answer; "" means no answer
	}{
		{"method twice, differing in case", `{"jsonrpc":"2.0","id":11,"method":"tools/call","METHOD":"ping","params":{"name":"echo","arguments":{"text":"b1"}}}`, `11`},
		{"method twice", `{"jsonrpc":"2.0","id":12,"method":"ping","method":"tools/call","params":{"name":"echo","arguments":{"text":"b2"}}}`, `12`},
		{"name twice", `{"jsonrpc":"2.0","id":13,"method":"tools/call","params":{"name":"crash","name":"echo","arguments":{"text":"b3"}}}`, `13`},
		{"argument keys differing in case", `{"jsonrpc":"2.0","id":14,"method":"tools/call","params":{"name":"echo","arguments":{"text":"b4","TEXT":"other"}}}`, `14`},
		{"nested keys differing in case", `{"jsonrpc":"2.0","id":15,"method":"tools/call","params":{"name":"echo","arguments":{"text":"b5","o":[{"k":1,"K":2}]}}}`, `15`},
		{"escaped duplicate key", `{"jsonrpc":"2.0","id":16,"method":"tools\/call","params":{"name":"echo","arguments":{"text":"b6","t\u0065xt":"x"}}}`, `16`},
		{"_meta keys differing in case", `{"jsonrpc":"2.0","id":17,"method":"tools/call","params":{"name":"echo","arguments":{"text":"b7"},"_meta":{"a":1,"A":2}}}`, `17`},
		{"string id", `{"jsonrpc":"2.0","id":"s-18","method":"tools/call","params":{"name":"echo","NAME":"crash","arguments":{"text":"b8"}}}`, `"s-18"`},
		// Go's encoding/json (and so an mcp-go server) matches keys without
		// regard to case, Unicode folding included: a key that only folds to
		// one the proxy routes on is a key the proxy would not see.
		{"method only in another case", `{"jsonrpc":"2.0","id":19,"Method":"tools/call","params":{"name":"echo","arguments":{"text":"b9"}}}`, `19`},
		{"params spelled with a long s", `{"jsonrpc":"2.0","id":20,"method":"tools/call","param` + "\u017f" + `":{"name":"echo","arguments":{"text":"b10"}}}`, `20`},
		{"arguments spelled with a long s", `{"jsonrpc":"2.0","id":21,"method":"tools/call","params":{"name":"echo","argument` + "\u017f" + `":{"text":"b11"}}}`, `21`},
		{"name in another case", `{"jsonrpc":"2.0","id":22,"method":"tools/call","params":{"Name":"echo","arguments":{"text":"b12"}}}`, `22`},
		// A top-level member the scanner refuses (invalid UTF-8) must not
		// let an escaped "tools\/call" through.
		{"invalid UTF-8 beside an escaped method", `{"jsonrpc":"2.0","id":23,"x":"` + "\xff" + `","method":"tools\/call","params":{"name":"echo","arguments":{"text":"b13"}}}`, `23`},
		{"a call without an id", `{"jsonrpc":"2.0","method":"tools/call","params":{"name":"echo","arguments":{"text":"b14"}}}`, ``},
	}
	p := startProxy(t, proxyOpts{guard: &testGuard{}})
	lr := initRaw(t, p)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p.send(tc.line + "\n")
			// A ping behind it shows whether anything came back first.
			p.send(`{"jsonrpc":"2.0","id":"after","method":"ping"}` + "\n")
			line := lr.next(10 * time.Second)
			r := decodeRPC(t, line)
			if tc.id == "" && string(r.ID) != `"after"` {
				t.Fatalf("got %s, want no answer before the ping's", line)
			}
			if tc.id != "" {
				if string(r.ID) != tc.id || r.Error == nil || r.Error.Code != -32600 {
					t.Fatalf("got %s, want a -32600 error for id %s", line, tc.id)
				}
				if !strings.HasPrefix(r.Error.Message, "aim-mcp: ") {
					t.Errorf("error message %q does not say who refused it", r.Error.Message)
				}
				if r := decodeRPC(t, lr.next(10*time.Second)); string(r.ID) != `"after"` {
					t.Fatalf("got id %s, want the ping's answer", r.ID)
				}
			}
		})
	}
	if code := p.close(); code != 0 {
		t.Errorf("exit code: got %d, want 0", code)
	}
	log := p.serverLog()
	for i := range tests {
		if marker := fmt.Sprintf(`"b%d"`, i+1); strings.Contains(log, marker) || strings.Contains(p.wire.String(), marker) {
			t.Errorf("case %q reached the server", tests[i].name)
		}
	}
	recs := p.reg.records(t)
	if n := len(only(recs, registry.KindBypass)); n != len(tests) {
		t.Errorf("bypass records: got %d, want %d", n, len(tests))
	}
	if n := len(only(recs, registry.KindCall)); n != 0 {
		t.Errorf("call records: got %d, want 0", n)
	}
}

// TestBatch: every tools/call in a batch is checked and recorded on its own.
func TestBatch(t *testing.T) {
	g := &testGuard{deny: map[string]Verdict{"sleep": {Decision: "deny", Reason: "no sleeping"}}}
	p := startProxy(t, proxyOpts{guard: g})
	lr := initRaw(t, p)
	p.send(`[` + strings.Join([]string{
		`{"jsonrpc":"2.0","id":21,"method":"tools/call","params":{"name":"echo","arguments":{"text":"in a batch"}}}`,
		`{"jsonrpc":"2.0","id":22,"method":"ping"}`,
		`{"jsonrpc":"2.0","id":23,"method":"tools/call","params":{"name":"sleep","arguments":{"ms":1,"tag":"batch-denied"}}}`,
		`{"jsonrpc":"2.0","id":24,"method":"tools/call","params":{"name":"echo","NAME":"sleep","arguments":{"text":"batch-ambiguous"}}}`,
	}, ",") + "]\n")
	got := map[string]string{}
	for range 4 {
		r := decodeRPC(t, lr.next(10*time.Second))
		switch {
		case r.Error != nil:
			got[string(r.ID)] = fmt.Sprint("error ", r.Error.Code)
		case r.Result != nil && len(r.Result.Content) > 0:
			got[string(r.ID)] = fmt.Sprint(r.Result.IsError, " ", r.Result.Content[0].Text)
		default:
			got[string(r.ID)] = "result"
		}
	}
	want := map[string]string{
		"21": "false in a batch",
		"22": "result",
		"23": `true aim-mcp: call to "sleep" was not run: no sleeping`,
		"24": "error -32600",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("answers by id (-want +got):\n%s", diff)
	}
	p.close()
	log := p.serverLog()
	if !strings.Contains(log, `"id":21,"method":"tools/call"`) || !strings.Contains(log, `"id":22,"method":"ping"`) {
		t.Errorf("the server did not get the allowed elements:\n%s", log)
	}
	if strings.Contains(log, "batch-denied") || strings.Contains(log, "batch-ambiguous") {
		t.Errorf("the server got a refused element:\n%s", log)
	}
	var recs []string
	for _, r := range p.reg.records(t) {
		if r.Kind == registry.KindCall || r.Kind == registry.KindOutcome || r.Kind == registry.KindDenied || r.Kind == registry.KindBypass {
			recs = append(recs, fmt.Sprintf("%s %s %s %s", r.Kind, r.Tool, r.Decision, r.RequestID))
		}
	}
	slices.Sort(recs)
	wantRecs := []string{"bypass  refused 24", "call echo allow 21", "denied sleep deny 23", "outcome echo success 21"}
	if diff := cmp.Diff(wantRecs, recs); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

// failingJournal refuses records of one kind.
type failingJournal struct {
	Journal
	kind string
}

func (f failingJournal) Append(ctx context.Context, evs ...registry.Event) error {
	for _, ev := range evs {
		if ev.Kind == f.kind {
			return errors.New("disk full")
		}
	}
	return f.Journal.Append(ctx, evs...)
}

// TestFailClosed: without a registry, or when the call cannot be recorded,
// calls are refused while everything else still flows.
func TestFailClosed(t *testing.T) {
	tests := []struct {
		name     string
		opts     func(reg *testRegistry) proxyOpts
		text     string // in the denial
		stderr   string
		decision string // of the denied record, "" when nothing can be written
	}{
		{
			name:   "setup fails",
			opts:   func(*testRegistry) proxyOpts { return proxyOpts{setupErr: errors.New("database is locked")} },
			text:   "the aim-mcp registry is unavailable: database is locked",
			stderr: "registry unavailable, tool calls will be refused: database is locked",
		},
		{
			name: "no setup",
			opts: func(*testRegistry) proxyOpts { return proxyOpts{noSetup: true} },
			text: "the aim-mcp registry is unavailable: no registry configured",
		},
		{
			name: "the call record cannot be written",
			opts: func(reg *testRegistry) proxyOpts {
				j := reg.journal(t)
				return proxyOpts{setup: func(ctx context.Context) (Decider, Journal, error) {
					return nil, failingJournal{j, registry.KindCall}, nil
				}}
			},
			text:     "aim-mcp could not record the call, so it was not run: disk full",
			stderr:   "audit log: disk full",
			decision: "fail_closed",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reg := newRegistry(t)
			o := tc.opts(reg)
			o.reg = reg
			p := startProxy(t, o)
			c := p.connect(legacy)
			got, res := call(t, c, "echo", map[string]any{"text": "must not run"})
			if !res.IsError || !strings.Contains(got, tc.text) {
				t.Errorf("call: got %q (isError %v), want an isError result containing %q", got, res.IsError, tc.text)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			//lint:ignore SA1019 a legacy connection: the ping is sent, and must pass through
			if err := c.Ping(ctx); err != nil {
				t.Errorf("Ping: %v", err)
			}
			if _, err := c.ListTools(ctx, mcp.ListToolsRequest{}); err != nil {
				t.Errorf("ListTools: %v", err)
			}
			c.Close()
			if code := p.wait(20 * time.Second); code != 0 {
				t.Errorf("exit code: got %d, want 0", code)
			}
			if !strings.Contains(p.reports.String(), tc.stderr) {
				t.Errorf("reports: got %q, want them to contain %q", p.reports, tc.stderr)
			}
			if strings.Contains(p.serverLog(), "must not run") {
				t.Errorf("the server got the call")
			}
			denied := only(p.reg.records(t), registry.KindDenied)
			if tc.decision == "" && len(denied) != 0 || tc.decision != "" && (len(denied) != 1 || denied[0].Decision != tc.decision) {
				t.Errorf("denied records: got %v, want decision %q", denied, tc.decision)
			}
		})
	}
}

// TestConcurrentCalls: 64 calls in flight at once, answered out of order,
// each gets its own answer and its own pair of records.
func TestConcurrentCalls(t *testing.T) {
	const n = 64
	p := startProxy(t, proxyOpts{guard: &testGuard{}})
	c := p.connect(legacy)
	perm := rand.Perm(n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			req := mcp.CallToolRequest{}
			req.Params.Name = "sleep"
			tag := fmt.Sprint("t", i)
			req.Params.Arguments = map[string]any{"ms": perm[i] * 4, "tag": tag}
			res, err := c.CallTool(ctx, req)
			if err != nil {
				errs <- fmt.Errorf("call %d: %v", i, err)
			} else if got := resultText(res); got != "slept "+tag {
				errs <- fmt.Errorf("call %d: got %q, want %q", i, got, "slept "+tag)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	c.Close()
	p.wait(20 * time.Second)
	recs := p.reg.records(t)
	var callOrder, outcomeOrder []string
	for _, r := range recs {
		switch r.Kind {
		case registry.KindCall:
			callOrder = append(callOrder, string(r.RequestID))
		case registry.KindOutcome:
			outcomeOrder = append(outcomeOrder, string(r.RequestID))
			if r.Decision != "success" {
				t.Errorf("outcome %s: got %s, want success", r.RequestID, r.Decision)
			}
		}
	}
	if len(callOrder) != n || len(outcomeOrder) != n {
		t.Fatalf("records: got %d calls and %d outcomes, want %d each", len(callOrder), len(outcomeOrder), n)
	}
	if slices.Equal(callOrder, outcomeOrder) {
		t.Errorf("the answers came back in the order of the calls; want them out of order")
	}
	sortedCalls, sortedOutcomes := slices.Sorted(slices.Values(callOrder)), slices.Sorted(slices.Values(outcomeOrder))
	if diff := cmp.Diff(sortedCalls, sortedOutcomes); diff != "" {
		t.Errorf("request ids of calls and outcomes differ (-calls +outcomes):\n%s", diff)
	}
	if len(slices.Compact(sortedCalls)) != n {
		t.Errorf("request ids of the call records are not distinct: %v", sortedCalls)
	}
}

// TestCancelForwarded: cancelling a call that reached the server passes the
// cancellation on.
func TestCancelForwarded(t *testing.T) {
	p := startProxy(t, proxyOpts{guard: &testGuard{}})
	c := p.connect(legacy)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		req := mcp.CallToolRequest{}
		req.Params.Name = "sleep"
		req.Params.Arguments = map[string]any{"ms": 30000, "tag": "long"}
		_, err := c.CallTool(ctx, req)
		done <- err
	}()
	eventually(t, 10*time.Second, "the call to reach the server", func() bool {
		return strings.Contains(p.serverLog(), `"tag":"long"`)
	})
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("CallTool: got %v, want context.Canceled", err)
	}
	eventually(t, 10*time.Second, "the server to cancel the sleep", func() bool {
		return strings.Contains(p.serverLog(), "#cancelled sleep long")
	})
	if !strings.Contains(p.serverLog(), `"method":"notifications/cancelled"`) {
		t.Errorf("the server never got notifications/cancelled")
	}
	c.Close()
	p.wait(20 * time.Second)
	k := kinds(p.reg.records(t))
	if k[registry.KindCall] != 1 || k[registry.KindOutcome] != 1 {
		t.Errorf("records: got %v, want one call and one outcome", k)
	}
}

// TestCancelHeld: a call waiting for a decision is dropped by the client's
// cancel, with no answer; other traffic flows around it meanwhile.
func TestCancelHeld(t *testing.T) {
	g := &testGuard{block: map[string]bool{"sleep": true}, entered: make(chan string, 4)}
	p := startProxy(t, proxyOpts{guard: g})
	lr := initRaw(t, p)
	p.send(toolCall(`31`, "sleep", `{"ms":1,"tag":"held"}`))
	select {
	case <-g.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the guard never saw the call")
	}
	// The pump is free: a ping and another call pass the held one.
	p.send(`{"jsonrpc":"2.0","id":32,"method":"ping"}` + "\n")
	p.send(toolCall(`33`, "echo", `{"text":"meanwhile"}`))
	got := map[string]bool{}
	for range 2 {
		got[string(decodeRPC(t, lr.next(10*time.Second)).ID)] = true
	}
	if !got["32"] || !got["33"] {
		t.Fatalf("answers: got ids %v, want 32 and 33", got)
	}
	p.send(`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":31,"reason":"user"}}` + "\n")
	p.send(`{"jsonrpc":"2.0","id":34,"method":"ping"}` + "\n")
	if r := decodeRPC(t, lr.next(10*time.Second)); string(r.ID) != "34" {
		t.Errorf("got id %s, want 34 (no answer to the cancelled call)", r.ID)
	}
	lr.none(200 * time.Millisecond)
	p.close()
	log := p.serverLog()
	if strings.Contains(log, `"held"`) || strings.Contains(log, `"requestId":31`) {
		t.Errorf("the server saw the held call or its cancel:\n%s", log)
	}
	recs := p.reg.records(t)
	denied := only(recs, registry.KindDenied)
	if len(denied) != 1 || denied[0].Decision != "cancelled" || string(denied[0].RequestID) != "31" {
		t.Errorf("denied records: got %v, want one for id 31, decision cancelled", denied)
	}
	for _, r := range only(recs, registry.KindCall) {
		if string(r.RequestID) == "31" {
			t.Errorf("the cancelled call has a call record")
		}
	}
}

// TestCancelBeforeSetup: a call cancelled while the registry is still
// opening is dropped like any held call.
func TestCancelBeforeSetup(t *testing.T) {
	release := make(chan struct{})
	reg := newRegistry(t)
	j := reg.journal(t)
	p := startProxy(t, proxyOpts{reg: reg, setup: func(ctx context.Context) (Decider, Journal, error) {
		<-release
		return nil, j, nil
	}})
	lr := p.lines()
	p.send(toolCall(`41`, "echo", `{"text":"early"}`))
	p.send(`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":41}}` + "\n")
	p.send(`{"jsonrpc":"2.0","id":42,"method":"ping"}` + "\n")
	if r := decodeRPC(t, lr.next(10*time.Second)); string(r.ID) != "42" {
		t.Errorf("got id %s, want the ping's 42 while setup runs", r.ID)
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
	lr.none(200 * time.Millisecond)
	p.close()
	if strings.Contains(p.serverLog(), "early") {
		t.Errorf("the server got the cancelled call")
	}
	denied := only(p.reg.records(t), registry.KindDenied)
	if len(denied) != 1 || denied[0].Decision != "cancelled" {
		t.Errorf("denied records: got %v, want one with decision cancelled", denied)
	}
}

// TestStdinClosesWhileHeld: the client leaves while a call waits for a
// decision; the call is given up after the grace period, not run.
func TestStdinClosesWhileHeld(t *testing.T) {
	g := &testGuard{block: map[string]bool{"echo": true}, entered: make(chan string, 1)}
	p := startProxy(t, proxyOpts{guard: g, grace: 300 * time.Millisecond})
	lr := initRaw(t, p)
	p.send(toolCall(`51`, "echo", `{"text":"too late"}`))
	<-g.entered
	start := time.Now()
	if code := p.close(); code != 0 {
		t.Errorf("exit code: got %d, want 0", code)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("shutdown took %v, want about the grace period", d)
	}
	r := decodeRPC(t, lr.next(time.Second))
	if string(r.ID) != "51" || r.Result == nil || !r.Result.IsError {
		t.Errorf("got %+v, want an isError result for 51", r)
	}
	if strings.Contains(p.serverLog(), "too late") {
		t.Errorf("the server got the call after stdin closed")
	}
	denied := only(p.reg.records(t), registry.KindDenied)
	if len(denied) != 1 || denied[0].Decision != "timeout" {
		t.Errorf("denied records: got %v, want one with the guard's decision", denied)
	}
}

// TestAsk: a guard may ask the client through elicitation; the request uses
// the proxy's own id space and its answer is not forwarded to the server.
func TestAsk(t *testing.T) {
	var answer json.RawMessage
	var askErr error
	g := &askGuard{answer: &answer, err: &askErr}
	p := startProxy(t, proxyOpts{guard: g})
	c := p.connect(legacy, client.WithElicitationHandler(handlers{}))
	if got, _ := call(t, c, "echo", map[string]any{"text": "asked"}); got != "asked" {
		t.Errorf("echo: got %q, want asked", got)
	}
	c.Close()
	p.wait(20 * time.Second)
	if askErr != nil {
		t.Fatalf("Ask: %v", askErr)
	}
	if !strings.Contains(string(answer), `"colour":"blue"`) {
		t.Errorf("Ask answer: got %s, want the client's content", answer)
	}
	if w := p.wire.String(); !strings.Contains(w, `"id":"aim-mcp:1"`) || !strings.Contains(w, `"method":"elicitation/create"`) {
		t.Errorf("the client never got the proxy's elicitation request")
	}
	if strings.Contains(p.serverLog(), "aim-mcp:1") {
		t.Errorf("the answer to the proxy's request reached the server")
	}
}

type askGuard struct {
	answer *json.RawMessage
	err    *error
}

func (g *askGuard) Check(ctx context.Context, c *Call) Verdict {
	if c.Ask == nil {
		*g.err = errors.New("no Ask although the client declared elicitation")
		return Verdict{Decision: "deny", Reason: "no ask"}
	}
	*g.answer, *g.err = c.Ask(ctx, "elicitation/create", map[string]any{
		"message": "allow?", "requestedSchema": map[string]any{"type": "object"}})
	return Verdict{Allow: true, Decision: "approved"}
}
