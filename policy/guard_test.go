package policy

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opena2a-org/aim-mcp/audit"
	"github.com/opena2a-org/aim-mcp/config"
	"github.com/opena2a-org/aim-mcp/mcpproxy"
	"github.com/opena2a-org/aim-mcp/registry"
)

// TestMain doubles as a tiny MCP server, so the guard is tested through the
// real proxy and a real child process.
func TestMain(m *testing.M) {
	if os.Getenv("AIM_MCP_POLICY_TEST_SERVER") == "1" {
		serve()
		return
	}
	os.Exit(m.Run())
}

// serve answers initialize, ping, tools/list and tools/call on stdio.
func serve() {
	r := bufio.NewReader(os.Stdin)
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			return
		}
		var req struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
			Params struct {
				Name      string          `json:"name"`
				Arguments json.RawMessage `json:"arguments"`
			} `json:"params"`
		}
		if json.Unmarshal(line, &req) != nil || req.ID == nil {
			continue
		}
		var result any = map[string]any{}
		switch req.Method {
		case "initialize":
			result = map[string]any{"protocolVersion": "2025-11-25", "capabilities": map[string]any{"tools": map[string]any{}},
				"serverInfo": map[string]any{"name": "policy-test", "version": "1"}}
		case "tools/call":
			result = map[string]any{"content": []any{map[string]any{"type": "text",
				"text": fmt.Sprintf("ran %s %s", req.Params.Name, req.Params.Arguments)}}}
		}
		out, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": req.ID, "result": result})
		os.Stdout.Write(append(out, '\n'))
	}
}

// session is a proxy in front of the test server, with the guard under test.
type session struct {
	t      *testing.T
	db     *registry.DB
	in     io.WriteCloser
	mu     sync.Mutex
	waits  map[string]chan map[string]any
	asks   chan map[string]any // requests the proxy sends to the client
	done   chan error
	stderr *strings.Builder
}

func start(t *testing.T, cfg config.Config, rules ...registry.StoredRule) *session {
	t.Helper()
	ctx := context.Background()
	db, err := registry.Open(ctx, filepath.Join(t.TempDir(), "aim.db"), registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, r := range rules {
		if _, err := db.AddRule(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	srv, _, err := db.Register(ctx, registry.Registration{Client: "test", Name: "srv", Command: "x"})
	if err != nil {
		t.Fatal(err)
	}
	key, err := db.Key(srv)
	if err != nil {
		t.Fatal(err)
	}
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	s := &session{t: t, db: db, in: inW, waits: map[string]chan map[string]any{},
		asks: make(chan map[string]any, 4), done: make(chan error, 1), stderr: &strings.Builder{}}
	t.Setenv("AIM_MCP_POLICY_TEST_SERVER", "1")
	go func() {
		s.done <- mcpproxy.Run(ctx, mcpproxy.Options{
			Command: []string{os.Args[0]}, Stdin: inR, Stdout: outW, Stderr: syncWriter{s},
			Setup: func(ctx context.Context) (mcpproxy.Decider, mcpproxy.Journal, error) {
				g, err := NewGuard(ctx, db, srv, cfg)
				if err != nil {
					return nil, nil, err
				}
				g.Poll = 20 * time.Millisecond
				return g, &mcpproxy.RegistryJournal{DB: db, Key: key, Server: srv}, nil
			},
			StdinGrace: 100 * time.Millisecond, TermGrace: 100 * time.Millisecond,
		})
		outW.Close()
	}()
	go s.read(outR)
	t.Cleanup(func() {
		inW.Close()
		select {
		case <-s.done:
		case <-time.After(waitLong):
			t.Error("proxy did not stop")
		}
	})
	return s
}

type syncWriter struct{ s *session }

func (w syncWriter) Write(b []byte) (int, error) {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	return w.s.stderr.Write(b)
}

func (s *session) read(r io.Reader) {
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadBytes('\n')
		if err != nil {
			return
		}
		var m map[string]any
		if json.Unmarshal(line, &m) != nil {
			continue
		}
		if _, ok := m["method"]; ok {
			s.asks <- m
			continue
		}
		id, _ := json.Marshal(m["id"])
		s.mu.Lock()
		ch := s.waits[string(id)]
		s.mu.Unlock()
		if ch != nil {
			ch <- m
		}
	}
}

func (s *session) send(v any) {
	b, _ := json.Marshal(v)
	if _, err := s.in.Write(append(b, '\n')); err != nil {
		s.t.Fatal(err)
	}
}

// request sends a request and returns where its response will arrive.
func (s *session) request(id int, method string, params any) chan map[string]any {
	ch := make(chan map[string]any, 1)
	s.mu.Lock()
	s.waits[fmt.Sprint(id)] = ch
	s.mu.Unlock()
	s.send(map[string]any{"jsonrpc": "2.0", "id": id, "method": method, "params": params})
	return ch
}

func (s *session) call(id int, tool string, args any) chan map[string]any {
	return s.request(id, "tools/call", map[string]any{"name": tool, "arguments": args})
}

func (s *session) initialize(caps map[string]any) {
	got := s.wait(s.request(0, "initialize", map[string]any{"protocolVersion": "2025-11-25",
		"capabilities": caps, "clientInfo": map[string]any{"name": "test-client", "version": "1"}}), waitLong)
	if got == nil {
		s.t.Fatal("no answer to initialize")
	}
}

// records returns the records f selects once there are at least n of them
// (or after waitLong): a live session's records reach the chain from its
// spool a moment after they are committed there.
func (s *session) records(f registry.Filter, n int) []registry.Record {
	s.t.Helper()
	deadline := time.Now().Add(waitLong)
	for {
		recs, err := s.db.Records(context.Background(), f)
		if err != nil {
			s.t.Fatal(err)
		}
		if len(recs) >= n || time.Now().After(deadline) {
			return recs
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitLong bounds a wait for something that must happen. It is long because
// the race detector on a loaded two-core machine makes a proxy's start-up
// take seconds; a wait that ends early costs nothing.
const waitLong = 10 * time.Second

func (s *session) wait(ch chan map[string]any, d time.Duration) map[string]any {
	s.t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(d):
		return nil
	}
}

// text is the first content text of a tools/call result, and whether it
// was an error result.
func text(m map[string]any) (string, bool) {
	res, _ := m["result"].(map[string]any)
	content, _ := res["content"].([]any)
	if len(content) == 0 {
		return "", false
	}
	first, _ := content[0].(map[string]any)
	isErr, _ := res["isError"].(bool)
	t, _ := first["text"].(string)
	return t, isErr
}

// pending waits for an approval to appear, as "aim-mcp approvals" would show it.
func (s *session) pending(n int) []registry.Approval {
	s.t.Helper()
	deadline := time.Now().Add(waitLong)
	for time.Now().Before(deadline) {
		list, err := s.db.Approvals(context.Background(), registry.ApprovalPending)
		if err != nil {
			s.t.Fatal(err)
		}
		if len(list) >= n {
			return list
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.t.Fatalf("fewer than %d approvals pending after 2s", n)
	return nil
}

func approveRule() registry.StoredRule {
	return registry.StoredRule{Server: "*", Tool: "get-sum", Action: string(audit.ActionApprove)}
}

func testConfig(wait time.Duration) config.Config {
	cfg := config.Defaults()
	cfg.ApprovalWait = wait
	return cfg
}

// A held call lets pings and other calls through; approving it lets the
// real result through.
func TestApproveWhileHeld(t *testing.T) {
	s := start(t, testConfig(10*time.Second), approveRule())
	s.initialize(map[string]any{})
	held := s.call(1, "get-sum", map[string]any{"a": 1, "b": 2})
	list := s.pending(1)
	if got := s.wait(s.request(2, "ping", map[string]any{}), waitLong); got == nil {
		t.Fatal("ping not answered while a call was held")
	}
	if got, _ := text(s.wait(s.call(3, "echo", map[string]any{"m": "x"}), waitLong)); !strings.HasPrefix(got, "ran echo") {
		t.Fatalf("other call while held: got %q, want the real result", got)
	}
	select {
	case m := <-held:
		t.Fatalf("held call answered before approval: %v", m)
	default:
	}
	a := list[0]
	if a.Tool != "get-sum" || a.Server != "srv" || a.Risk != Low {
		t.Errorf("approval = %s %s %s, want get-sum srv low", a.Tool, a.Server, a.Risk)
	}
	if _, err := s.db.DecideApproval(context.Background(), a.ID, registry.ApprovalApproved, "alice", ""); err != nil {
		t.Fatal(err)
	}
	got, isErr := text(s.wait(held, waitLong))
	if isErr || got != `ran get-sum {"a":1,"b":2}` {
		t.Fatalf("approved call: got %q (isError %v), want the real result", got, isErr)
	}
	recs := s.records(registry.Filter{Kind: registry.KindCall, Tool: "get-sum"}, 1)
	if len(recs) != 1 || recs[0].Decision != "approved" || !strings.Contains(string(recs[0].Data), `"approver":"alice"`) {
		t.Errorf("call record = %+v, want one approved by alice", recs)
	}
}

// When nobody answers in time, the client is told how to approve; the
// identical call then passes once, and other arguments need a new approval.
func TestApprovalTimeoutThenRetry(t *testing.T) {
	s := start(t, testConfig(300*time.Millisecond), approveRule())
	s.initialize(map[string]any{})
	args := map[string]any{"a": 1, "b": 2}
	got, isErr := text(s.wait(s.call(1, "get-sum", args), waitLong))
	a := s.pending(1)[0]
	if !isErr || !strings.Contains(got, "aim-mcp approve "+a.ID) || !strings.Contains(got, "ask again") {
		t.Fatalf("timed out call: got %q (isError %v), want the approval command for %s", got, isErr, a.ID)
	}
	if _, err := s.db.DecideApproval(context.Background(), a.ID, registry.ApprovalApproved, "alice", ""); err != nil {
		t.Fatal(err)
	}
	// Key order and spacing do not matter: the digest is canonical.
	if got, isErr := text(s.wait(s.call(2, "get-sum", map[string]any{"b": 2, "a": 1}), waitLong)); isErr || !strings.HasPrefix(got, "ran get-sum") {
		t.Fatalf("retry after approval: got %q (isError %v), want the real result", got, isErr)
	}
	// Single use: the same call needs approval again.
	if got, isErr := text(s.wait(s.call(3, "get-sum", args), waitLong)); !isErr || !strings.Contains(got, "needs a person's approval") {
		t.Fatalf("second retry: got %q (isError %v), want it held again", got, isErr)
	}
	// Other arguments are another call, with another approval.
	got, _ = text(s.wait(s.call(4, "get-sum", map[string]any{"a": 5, "b": 5}), waitLong))
	if strings.Contains(got, a.ID) {
		t.Fatalf("other arguments reused approval %s: %q", a.ID, got)
	}
}

func TestDenyWhileHeld(t *testing.T) {
	s := start(t, testConfig(10*time.Second), approveRule())
	s.initialize(map[string]any{})
	held := s.call(1, "get-sum", map[string]any{"a": 1})
	a := s.pending(1)[0]
	if _, err := s.db.DecideApproval(context.Background(), a.ID, registry.ApprovalDenied, "bob", "not today"); err != nil {
		t.Fatal(err)
	}
	got, isErr := text(s.wait(held, waitLong))
	if !isErr || !strings.Contains(got, "bob denied it: not today") {
		t.Fatalf("denied call: got %q (isError %v), want bob's reason", got, isErr)
	}
	if _, err := s.db.DecideApproval(context.Background(), a.ID, registry.ApprovalApproved, "bob", ""); err == nil {
		t.Error("approving an answered approval succeeded, want an error")
	}
}

// A client's cancel of a held call drops it silently and cancels its approval.
func TestCancelWhileHeld(t *testing.T) {
	s := start(t, testConfig(10*time.Second), approveRule())
	s.initialize(map[string]any{})
	held := s.call(7, "get-sum", map[string]any{"a": 1})
	a := s.pending(1)[0]
	s.send(map[string]any{"jsonrpc": "2.0", "method": "notifications/cancelled", "params": map[string]any{"requestId": 7}})
	if m := s.wait(held, 500*time.Millisecond); m != nil {
		t.Fatalf("cancelled call was answered: %v", m)
	}
	deadline := time.Now().Add(waitLong)
	for {
		cur, _ := s.db.Approval(context.Background(), a.ID)
		if cur.Status == registry.ApprovalCancelled {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("approval status %s, want cancelled", cur.Status)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A client that offers elicitation is asked first; yes runs the call, and
// a decline falls back to the terminal.
func TestElicitation(t *testing.T) {
	for _, tt := range []struct {
		name   string
		answer map[string]any
	}{
		{"accept", map[string]any{"action": "accept", "content": map[string]any{"approve": true}}},
		{"refuse", map[string]any{"action": "accept", "content": map[string]any{"approve": false}}},
		{"decline", map[string]any{"action": "decline"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := start(t, testConfig(10*time.Second), approveRule())
			s.initialize(map[string]any{"elicitation": map[string]any{}})
			held := s.call(1, "get-sum", map[string]any{"a": 1})
			var ask map[string]any
			select {
			case ask = <-s.asks:
			case <-time.After(waitLong):
				t.Fatal("no elicitation/create request reached the client")
			}
			msg, _ := ask["params"].(map[string]any)["message"].(string)
			if ask["method"] != "elicitation/create" || !strings.HasPrefix(fmt.Sprint(ask["id"]), "aim-mcp:") || !strings.Contains(msg, "get-sum") {
				t.Fatalf("request to the client = %v, want elicitation/create with an aim-mcp id naming the tool", ask)
			}
			s.send(map[string]any{"jsonrpc": "2.0", "id": ask["id"], "result": tt.answer})
			switch tt.name {
			case "accept":
				if got, isErr := text(s.wait(held, waitLong)); isErr || !strings.HasPrefix(got, "ran get-sum") {
					t.Fatalf("accepted: got %q (isError %v), want the real result", got, isErr)
				}
				recs := s.records(registry.Filter{Kind: registry.KindCall}, 1)
				if len(recs) != 1 || !strings.Contains(string(recs[0].Data), `"approver":"client"`) {
					t.Errorf("call record = %v, want approver client", recs)
				}
			case "refuse":
				if got, isErr := text(s.wait(held, waitLong)); !isErr || !strings.Contains(got, "denied it in the client") {
					t.Fatalf("refused: got %q (isError %v), want a denial", got, isErr)
				}
			case "decline":
				if m := s.wait(held, 300*time.Millisecond); m != nil {
					t.Fatalf("declined elicitation answered the call: %v", m)
				}
				a := s.pending(1)[0]
				s.db.DecideApproval(context.Background(), a.ID, registry.ApprovalApproved, "alice", "")
				if got, isErr := text(s.wait(held, waitLong)); isErr || !strings.HasPrefix(got, "ran get-sum") {
					t.Fatalf("terminal approval after decline: got %q (isError %v)", got, isErr)
				}
			}
		})
	}
}

// Too many prompts a minute are refused, against approval fatigue.
func TestApprovalRateLimit(t *testing.T) {
	cfg := testConfig(50 * time.Millisecond)
	cfg.ApprovalRate = 2
	s := start(t, cfg, approveRule())
	s.initialize(map[string]any{})
	var last string
	for i := range 3 {
		last, _ = text(s.wait(s.call(i+1, "get-sum", map[string]any{"a": i}), waitLong))
	}
	if !strings.Contains(last, "approval requests") || !strings.Contains(last, "last minute") {
		t.Fatalf("third prompt in a minute: got %q, want the rate-limit refusal", last)
	}
}

// With the registry gone, high risk calls are refused and low ones follow
// fail_mode.
func TestFailMode(t *testing.T) {
	for _, mode := range []string{"closed", "open"} {
		t.Run(mode, func(t *testing.T) {
			cfg := testConfig(time.Second)
			cfg.FailMode = mode
			s := start(t, cfg)
			s.initialize(map[string]any{})
			if got, _ := text(s.wait(s.call(1, "get_x", map[string]any{}), waitLong)); !strings.HasPrefix(got, "ran get_x") {
				t.Fatalf("before the failure: got %q", got)
			}
			time.Sleep(1100 * time.Millisecond) // let the guard's rule cache expire
			s.db.Close()
			low, lowErr := text(s.wait(s.call(2, "get_x", map[string]any{}), waitLong))
			high, highErr := text(s.wait(s.call(3, "delete_x", map[string]any{}), waitLong))
			if !highErr || !strings.Contains(high, "unavailable") {
				t.Errorf("high risk with the registry down: got %q (isError %v), want refused", high, highErr)
			}
			if mode == "closed" && (!lowErr || !strings.Contains(low, "unavailable")) {
				t.Errorf("low risk, fail closed: got %q (isError %v), want refused", low, lowErr)
			}
			if mode == "open" && (lowErr || !strings.HasPrefix(low, "ran get_x")) {
				t.Errorf("low risk, fail open: got %q (isError %v), want it run", low, lowErr)
			}
		})
	}
}

// A refusal names the command that reproduces it, with the call's own
// arguments.
func TestDenyHintCarriesArgs(t *testing.T) {
	s := start(t, testConfig(time.Second), registry.StoredRule{Server: "*", Tool: "rm", Action: string(audit.ActionDeny)})
	s.initialize(map[string]any{})
	got, isErr := text(s.wait(s.call(1, "rm", map[string]any{"path": "it's"}), 2*time.Second))
	want := `aim-mcp policy check --server srv --tool rm --args '{"path":"it'\''s"}'`
	if !isErr || !strings.Contains(got, want) {
		t.Errorf("refusal %q (isError %v), want it to name %s", got, isErr, want)
	}
}

// The person asked sees every argument, whole, with secrets masked by their
// length, and may reveal the exact arguments while the approval waits: they
// are kept private until it is decided.
func TestApproverSeesWhatRuns(t *testing.T) {
	s := start(t, testConfig(10*time.Second), approveRule())
	s.initialize(map[string]any{})
	long := strings.Repeat("q", 5120) + "TAIL"
	args := `{"password":"hunter2","content":"` + long + `","n":1.50}`
	held := s.call(1, "get-sum", json.RawMessage(args))
	a := s.pending(1)[0]
	for _, want := range []string{`"content":"` + long + `"`, `"password":"[REDACTED 7 bytes]"`, `"n":1.50`} {
		if !strings.Contains(string(a.Args), want) {
			t.Errorf("approval args = %.120q..., want them to hold %.60q", a.Args, want)
		}
	}
	if strings.Contains(string(a.Args), "hunter2") {
		t.Errorf("approval args hold the secret: %.200q", a.Args)
	}
	_, full, err := s.db.PendingArgs(context.Background(), a.ID)
	if err != nil || string(full) != args {
		t.Fatalf("PendingArgs = %.80q, %v; want the exact arguments", full, err)
	}
	if _, err := s.db.DecideApproval(context.Background(), a.ID, registry.ApprovalApproved, "alice", ""); err != nil {
		t.Fatal(err)
	}
	if got, isErr := text(s.wait(held, waitLong)); isErr || !strings.HasPrefix(got, "ran get-sum") {
		t.Fatalf("approved call: got %.80q (isError %v), want the real result", got, isErr)
	}
	if _, _, err := s.db.PendingArgs(context.Background(), a.ID); !errors.Is(err, registry.ErrArgsGone) {
		t.Errorf("PendingArgs after approval = %v, want ErrArgsGone", err)
	}
	if _, err := os.Stat(filepath.Join(s.db.PendingDir(), a.ID+".json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the kept arguments outlived the approval: %v", err)
	}
}

// The prompt inside the client folds a long value with a marker, shows a
// secret's length, and says how to see all of it and reveal the secret.
func TestElicitationShowsFolded(t *testing.T) {
	s := start(t, testConfig(10*time.Second), approveRule())
	s.initialize(map[string]any{"elicitation": map[string]any{}})
	s.call(1, "get-sum", map[string]any{"token": "abcdefghijkl", "body": strings.Repeat("b", 5000) + "END"})
	var ask map[string]any
	select {
	case ask = <-s.asks:
	case <-time.After(waitLong):
		t.Fatal("no elicitation/create request reached the client")
	}
	msg, _ := ask["params"].(map[string]any)["message"].(string)
	a := s.pending(1)[0]
	for _, want := range []string{`…[+4491 bytes]…`, "END", `"token":"[REDACTED 12 bytes]"`,
		"aim-mcp approvals show " + a.ID + "`", "aim-mcp approvals show " + a.ID + " --reveal"} {
		if !strings.Contains(msg, want) {
			t.Errorf("prompt = %q, want it to hold %q", msg, want)
		}
	}
	if strings.Contains(msg, "abcdefghijkl") || len(msg) > 2000 {
		t.Errorf("prompt holds the secret or all of the long value (%d bytes): %q", len(msg), msg)
	}
}
