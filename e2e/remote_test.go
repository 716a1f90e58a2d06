//go:build linux

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/opena2a-org/aim-mcp/internal/syncbuf"
)

// nodeServer is a Node MCP server listening on HTTP for one test.
type nodeServer struct {
	cmd *exec.Cmd
	log syncbuf.Buffer
}

// startNodeServer runs node with args in e2e/node and waits until port
// listens (server-everything takes a few seconds).
func startNodeServer(t *testing.T, h *harness, port int, env []string, args ...string) *nodeServer {
	t.Helper()
	s := &nodeServer{cmd: exec.Command("node", args...)}
	s.cmd.Dir = h.nodeDir
	s.cmd.Env = append(os.Environ(), env...)
	s.cmd.Stdout, s.cmd.Stderr = &s.log, &s.log
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.cmd.Process.Kill()
		s.cmd.Wait()
		if t.Failed() {
			t.Logf("server log:\n%s", tail(s.log.String(), 4000))
		}
	})
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			return s
		}
	}
	t.Fatalf("node %v did not listen on port %d within 30s", args, port)
	return nil
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// remoteDrive runs remote.mjs (the official client) with args and returns
// its document.
func remoteDrive(t *testing.T, h *harness, run, label string, args ...string) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), driverTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", append([]string{filepath.Join(h.nodeDir, "remote.mjs")}, args...)...)
	cmd.Dir = h.nodeDir
	cmd.Env = testEnv(userHome(run), "AIM_MCP_SYSLOG=off")
	cmd.WaitDelay = 5 * time.Second
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: node remote.mjs %s: %v\n%s", label, strings.Join(args, " "), err, tail(stderr.String(), 4000))
	}
	var doc map[string]any
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("%s: driver output is not JSON: %v\n%s", label, err, out)
	}
	return doc
}

// remoteRecords are the audit records of server in home.
func remoteRecords(t *testing.T, run, home, server string) []struct {
	Kind, Tool, Decision string
	Data                 map[string]any
} {
	t.Helper()
	out, _, err := aim(t, userHome(run), "logs", "--json", "--server", server, "--home", home)
	if err != nil {
		t.Fatalf("aim-mcp logs: %v\n%s", err, out)
	}
	var recs []struct {
		Kind, Tool, Decision string
		Data                 map[string]any
	}
	if err := json.Unmarshal(out, &recs); err != nil {
		t.Fatalf("logs: %v\n%s", err, out)
	}
	return recs
}

// TestRemoteLegacySSE: server-everything in its sse mode (the HTTP+SSE
// transport of 2024-11-05), driven by the official client directly and
// through aim-mcp proxy --url, with --transport sse and with auto (which
// must fall back to SSE when the POST of initialize is refused): the
// results are equal, and the records name the transport used.
func TestRemoteLegacySSE(t *testing.T) {
	h := setup(t)
	run := runDir(t)
	writeConfig(t, userHome(run), transparentConfig)
	port := freePort(t)
	startNodeServer(t, h, port, []string{fmt.Sprintf("PORT=%d", port)}, h.everything, "sse")
	u := fmt.Sprintf("http://127.0.0.1:%d/sse", port)

	direct := remoteDrive(t, h, run, "direct", "--url", u, "--transport", "sse")
	if direct["echo"] == nil || direct["sampling"] == nil {
		t.Fatalf("direct run is incomplete: %v", direct)
	}
	for _, tr := range []string{"sse", "auto"} {
		home := filepath.Join(run, "home-"+tr)
		proxied := remoteDrive(t, h, run, "through aim-mcp ("+tr+")", "--", aimBin, "proxy", "--server", "ev-"+tr, "--home", home, "--url", u, "--transport", tr)
		if d := cmp.Diff(direct, proxied); d != "" {
			t.Errorf("--transport %s: results differ from a direct connection (-direct +proxied):\n%s", tr, d)
		}
		var calls, outcomes int
		var end map[string]any
		for _, r := range remoteRecords(t, run, home, "ev-"+tr) {
			switch r.Kind {
			case "call":
				calls++
			case "outcome":
				outcomes++
			case "session_end":
				end = r.Data
			}
		}
		if calls != 4 || outcomes != 4 {
			t.Errorf("--transport %s: %d call and %d outcome records, want 4 and 4", tr, calls, outcomes)
		}
		if end["transport"] != "sse" || end["protocol_version"] != "2025-11-25" {
			t.Errorf("--transport %s: session_end %v, want transport sse and the negotiated version", tr, end)
		}
	}
}

// getRecorder is a reverse proxy in front of a server that notes the
// Last-Event-ID of every GET.
type getRecorder struct {
	mu    sync.Mutex
	lasts []string
}

func (g *getRecorder) handler(target string) http.Handler {
	u, _ := url.Parse(target)
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.FlushInterval = -1
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			g.mu.Lock()
			g.lasts = append(g.lasts, r.Header.Get("Last-Event-ID"))
			g.mu.Unlock()
		}
		rp.ServeHTTP(w, r)
	})
}

// TestRemotePolling: the TypeScript SDK's ssePollingExample closes a
// call's event stream midway (2025-11-25: a priming event, retry: and a
// closed stream) and sends the rest while the client is away. Through
// aim-mcp the client gets every message and the answer, as directly; the
// proxy resumed with GET and Last-Event-ID.
func TestRemotePolling(t *testing.T) {
	h := setup(t)
	// The example listens on 3001 and nowhere else.
	if l, err := net.Listen("tcp", "127.0.0.1:3001"); err != nil {
		t.Skipf("port 3001, where the SDK's ssePollingExample listens, is taken: %v", err)
	} else {
		l.Close()
	}
	run := runDir(t)
	writeConfig(t, userHome(run), transparentConfig)
	startNodeServer(t, h, 3001, nil, filepath.Join(h.nodeDir, "node_modules/@modelcontextprotocol/sdk/dist/esm/examples/server/ssePollingExample.js"))
	rec := &getRecorder{}
	front := httptest.NewServer(rec.handler("http://127.0.0.1:3001"))
	defer front.Close()

	direct := remoteDrive(t, h, run, "direct", "--scenario", "polling", "--url", front.URL+"/mcp")
	if !strings.Contains(fmt.Sprint(direct["logs"]), "sent while client disconnected") {
		t.Fatalf("the direct run lost the message sent while it was away: %v", direct)
	}
	rec.mu.Lock()
	rec.lasts = nil
	rec.mu.Unlock()
	home := filepath.Join(run, "home")
	proxied := remoteDrive(t, h, run, "through aim-mcp", "--scenario", "polling", "--", aimBin, "proxy", "--server", "poll", "--home", home, "--url", front.URL+"/mcp")
	if d := cmp.Diff(direct, proxied); d != "" {
		t.Errorf("results differ from a direct connection (-direct +proxied):\n%s", d)
	}
	rec.mu.Lock()
	lasts := rec.lasts
	rec.mu.Unlock()
	resumed := false
	for _, l := range lasts {
		resumed = resumed || l != ""
	}
	if !resumed {
		t.Errorf("the proxy never sent a GET with Last-Event-ID (GETs: %q)", lasts)
	}
	for _, r := range remoteRecords(t, run, home, "poll") {
		if r.Kind == "outcome" && r.Tool == "long-task" && r.Decision != "success" {
			t.Errorf("long-task outcome: %s %v", r.Decision, r.Data)
		}
	}
}
