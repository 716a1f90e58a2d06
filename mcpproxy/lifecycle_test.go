package mcpproxy

import (
	"context"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/opena2a-org/aim-mcp/registry"
)

// withGrandchild runs the fake server through sh, which leaves a sleeper
// behind holding the server's stdout, as npx and uvx leave node and python.
func withGrandchild() []string {
	return []string{"sh", "-c", envFake + `=sleeper "$0" </dev/null & exec "$0"`, os.Args[0]}
}

// TestCrash: the server dies in the middle of a call.
func TestCrash(t *testing.T) {
	p := startProxy(t, proxyOpts{})
	c := p.connect(legacy)
	req := mcp.CallToolRequest{}
	req.Params.Name = "crash"
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := c.CallTool(ctx, req)
	if !errors.Is(err, transport.ErrTransportClosed) {
		t.Errorf("CallTool(crash): got %v, want the transport to close", err)
	}
	if code := p.wait(10 * time.Second); code != 3 {
		t.Errorf("exit code: got %d, want the server's 3", code)
	}
	var ee *ExitError
	if want := `server "` + os.Args[0] + `" exited with status 3`; !errors.As(p.err, &ee) || !ee.Crashed || ee.Error() != want {
		t.Errorf("Run: got %#v, want a crash: %q", p.err, want)
	}
	recs := p.reg.records(t)
	var got []string
	for _, r := range recs {
		if r.Kind == registry.KindCall || r.Kind == registry.KindOutcome || r.Kind == registry.KindSessionEnd {
			got = append(got, r.Kind+" "+r.Tool+" "+r.Decision)
		}
	}
	want := []string{"call crash allow", "outcome crash server_exited", "session_end  exited with status 3"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("records: got %q, want %q", got, want)
	}
	end := data(t, only(recs, registry.KindSessionEnd)[0])
	if end["crashed"] != true || end["exit_code"] != float64(3) {
		t.Errorf("session_end data: got %v, want crashed true and exit_code 3", end)
	}
}

// TestCommandNotFound: a server that cannot be started is a clear error and
// the exit code a shell would give.
func TestCommandNotFound(t *testing.T) {
	setupCalled := false
	p := startProxy(t, proxyOpts{command: []string{"aim-mcp-no-such-server"},
		setup: func(context.Context) (Decider, Journal, error) { setupCalled = true; return nil, nil, nil }})
	p.wait(10 * time.Second)
	var se *StartError
	want := `start server: "aim-mcp-no-such-server": command not found`
	if !errors.As(p.err, &se) || !errors.Is(p.err, ErrCommandNotFound) || se.Command != "aim-mcp-no-such-server" || se.Error() != want {
		t.Errorf("Run: got %#v, want a StartError %q wrapping ErrCommandNotFound", p.err, want)
	}
	if p.stderr.String() != "" || p.reports.String() != "" {
		t.Errorf("stderr %q, reports %q: want nothing", p.stderr, p.reports)
	}
	if setupCalled {
		t.Errorf("Setup ran for a server that never started")
	}
}

// TestShutdownLeavesNoProcess: on stdin EOF the server exits, and the
// grandchild that still holds its stdout is killed with the group.
func TestShutdownLeavesNoProcess(t *testing.T) {
	requireProc(t)
	p := startProxy(t, proxyOpts{command: withGrandchild()})
	c := p.connect(legacy)
	if got, _ := call(t, c, "echo", map[string]any{"text": "hi"}); got != "hi" {
		t.Errorf("echo: got %q, want hi", got)
	}
	sleeper := sleeperPid(t, p.serverLog)
	start := time.Now()
	c.Close()
	if code := p.wait(10 * time.Second); code != 0 {
		t.Errorf("exit code: got %d, want 0", code)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("shutdown took %v, want well under the grace periods", d)
	}
	if !strings.Contains(p.serverLog(), "#stdin closed") {
		t.Errorf("the server never saw stdin close")
	}
	start0 := only(p.reg.records(t), registry.KindSessionStart)[0]
	pgid := int(data(t, start0)["pid"].(float64))
	eventually(t, 5*time.Second, "the process group to be empty", func() bool {
		return len(groupMembers(pgid)) == 0
	})
	waitGone(t, sleeper)
}

// TestShutdownDeafServer: a server that ignores stdin EOF and SIGTERM is
// killed after the grace periods.
func TestShutdownDeafServer(t *testing.T) {
	p := startProxy(t, proxyOpts{env: []string{envDeaf + "=1"}, grace: 200 * time.Millisecond})
	c := p.connect(legacy)
	start := time.Now()
	c.Close()
	if code := p.wait(10 * time.Second); code != 128+int(syscall.SIGKILL) {
		t.Errorf("exit code: got %d, want %d", code, 128+int(syscall.SIGKILL))
	}
	if d := time.Since(start); d < 400*time.Millisecond || d > 5*time.Second {
		t.Errorf("shutdown took %v, want about both grace periods (400ms)", d)
	}
	if !strings.Contains(p.serverLog(), "#signal terminated") {
		t.Errorf("the server never got SIGTERM:\n%s", p.serverLog())
	}
	end := data(t, only(p.reg.records(t), registry.KindSessionEnd)[0])
	if end["crashed"] != false || end["exit"] != "killed by killed" {
		t.Errorf("session_end: got %v, want crashed false, killed", end)
	}
	var ee *ExitError
	if !errors.As(p.err, &ee) || ee.Crashed || p.reports.String() != "" {
		t.Errorf("Run: got %#v, reports %q: want a requested stop, no crash, nothing reported", p.err, p.reports)
	}
}

// TestSignalsReachTheGroup: a signal to the proxy reaches the server and its
// grandchildren.
func TestSignalsReachTheGroup(t *testing.T) {
	requireProc(t)
	sigs := make(chan os.Signal, 1)
	p := startProxy(t, proxyOpts{command: withGrandchild(), signals: sigs})
	c := p.connect(legacy)
	defer c.Close()
	sleeper := sleeperPid(t, p.serverLog)
	sigs <- syscall.SIGTERM
	if code := p.wait(10 * time.Second); code != 0 {
		t.Errorf("exit code: got %d, want the server's 0", code)
	}
	log := p.serverLog()
	for _, s := range []string{"#signal terminated", "#sleeper signal terminated"} {
		if !strings.Contains(log, s) {
			t.Errorf("server log lacks %q:\n%s", s, log)
		}
	}
	waitGone(t, sleeper)
	if end := data(t, only(p.reg.records(t), registry.KindSessionEnd)[0]); end["crashed"] != false {
		t.Errorf("session_end: got %v, want crashed false", end)
	}
}

// TestInputAfterExit: Run has returned (the server exited on its own) while
// the client still writes; nothing may panic or reach a closed journal.
func TestInputAfterExit(t *testing.T) {
	p := startProxy(t, proxyOpts{command: []string{"sh", "-c", "exit 0"}})
	if code := p.wait(10 * time.Second); code != 0 {
		t.Fatalf("exit code: got %d, want 0", code)
	}
	p.send(`{"jsonrpc":"2.0","id":1,"method":"tools/call","METHOD":"x"}`+"\n",
		`{"jsonrpc":"2.0","method":"tools/call","params":{}}`+"\n",
		toolCall("2", "echo", "{}"),
		`{"jsonrpc":"2.0","id":3,"method":"ping"}`+"\n")
	time.Sleep(200 * time.Millisecond) // let the pump read them
	k := kinds(p.reg.records(t))
	if k[registry.KindSessionEnd] != 1 {
		t.Errorf("records: got %v, want one session_end", k)
	}
	last := p.reg.records(t)
	if n := len(last); n == 0 || last[n-1].Kind != registry.KindSessionEnd {
		t.Errorf("a record was written after session_end: %v", last[len(last)-1].Kind)
	}
}

// TestCrashWithGrandchild: the server dies on its own while a grandchild
// still holds its stdout and stderr (here a buffer, not a file, so os/exec
// copies it); the proxy must still see the exit, and clean up the group.
func TestCrashWithGrandchild(t *testing.T) {
	requireProc(t)
	p := startProxy(t, proxyOpts{command: withGrandchild()})
	c := p.connect(legacy)
	sleeper := sleeperPid(t, p.serverLog)
	req := mcp.CallToolRequest{}
	req.Params.Name = "crash"
	go c.CallTool(context.Background(), req)
	if code := p.wait(10 * time.Second); code != 3 {
		t.Errorf("exit code: got %d, want 3", code)
	}
	waitGone(t, sleeper)
	end := data(t, only(p.reg.records(t), registry.KindSessionEnd)[0])
	if end["crashed"] != true {
		t.Errorf("session_end: got %v, want crashed", end)
	}
}
