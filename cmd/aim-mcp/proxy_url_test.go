package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
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

	"github.com/opena2a-org/aim-mcp/internal/syncbuf"
)

// TestProxyURLErrors: a bad --url or header is refused before anything
// starts, in the CLI's words, with exit code 2.
func TestProxyURLErrors(t *testing.T) {
	t.Setenv("AIM_TEST_UNSET_TOKEN", "")
	os.Unsetenv("AIM_TEST_UNSET_TOKEN")
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"not a url", []string{"--url", "example.com/mcp"}, []string{`aim-mcp: error: --url "example.com/mcp" is not an http(s) URL`, "aim-mcp: hint: give the server's full URL"}},
		{"ftp", []string{"--url", "ftp://example.com/mcp"}, []string{"is not an http(s) URL"}},
		{"plain http", []string{"--url", "http://example.com/mcp"}, []string{"is plain http to another machine", "aim-mcp: hint: use the server's https URL"}},
		{"credentials", []string{"--url", "https://u:pw@example.com/mcp"}, []string{"holds credentials", "--header-env Authorization=ENVVAR"}},
		{"both", []string{"--url", "https://example.com/mcp", "--", "cat"}, []string{"either --url or a server command"}},
		{"transport", []string{"--url", "https://example.com/mcp", "--transport", "websocket"}, []string{`--transport "websocket" is not supported`, "sse (the older HTTP+SSE transport)"}},
		{"header syntax", []string{"--url", "https://example.com/mcp", "--header-env", "Authorization"}, []string{"want NAME=ENVVAR"}},
		{"header unset", []string{"--url", "https://example.com/mcp", "--header-env", "Authorization=AIM_TEST_UNSET_TOKEN"}, []string{"AIM_TEST_UNSET_TOKEN is not set", "set AIM_TEST_UNSET_TOKEN in the server entry's env"}},
		{"header without url", []string{"--header-env", "A=B", "--", "cat"}, []string{"need --url"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			args := append([]string{"proxy", "--server", "s", "--home", t.TempDir()}, tc.args...)
			if code := run(context.Background(), args, env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb}); code != 2 {
				t.Errorf("exit code %d, want 2; stderr:\n%s", code, errb.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(errb.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, errb.String())
				}
			}
			if out.Len() > 0 {
				t.Errorf("stdout: %s", out.String())
			}
		})
	}
}

// everythingHTTP is the reference server-everything serving streamable
// HTTP on a fixed port, so that it can be restarted in place.
type everythingHTTP struct {
	t    *testing.T
	js   string
	port int
	cmd  *exec.Cmd
	log  syncbuf.Buffer
}

func startEverythingHTTP(t *testing.T) *everythingHTTP {
	t.Helper()
	js, err := filepath.Abs("../../e2e/node/node_modules/@modelcontextprotocol/server-everything/dist/index.js")
	if err != nil {
		t.Fatal(err)
	}
	_, nodeErr := exec.LookPath("node")
	_, jsErr := os.Stat(js)
	if nodeErr != nil || jsErr != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("server-everything is needed in CI: node %v, package %v (run npm ci --prefix e2e/node)", nodeErr, jsErr)
		}
		t.Skipf("no node or server-everything (run npm ci --prefix e2e/node): %v %v", nodeErr, jsErr)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s := &everythingHTTP{t: t, js: js, port: port}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *everythingHTTP) start() {
	s.t.Helper()
	s.cmd = exec.Command("node", s.js, "streamableHttp")
	s.cmd.Env = append(os.Environ(), fmt.Sprintf("PORT=%d", s.port))
	s.cmd.Stdout, s.cmd.Stderr = &s.log, &s.log
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", s.port)); err == nil {
			c.Close()
			return
		}
	}
	s.t.Fatalf("server-everything did not listen on port %d within 20s:\n%s", s.port, s.log.String())
}

func (s *everythingHTTP) stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
	}
}

// recorder sits between the proxy and the server and keeps every request,
// to show what reached the network.
type recorder struct {
	mu   sync.Mutex
	reqs []string // "METHOD body" with headers of interest
	hdrs []http.Header
}

func (r *recorder) wrap(target string) http.Handler {
	u, _ := url.Parse(target)
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.FlushInterval = -1                    // server-sent events pass at once
	rp.ErrorLog = log.New(io.Discard, "", 0) // the server's restart cuts a stream
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(body))
		r.mu.Lock()
		r.reqs = append(r.reqs, req.Method+" "+string(body))
		r.hdrs = append(r.hdrs, req.Header.Clone())
		r.mu.Unlock()
		rp.ServeHTTP(w, req)
	})
}

func (r *recorder) all() ([]string, []http.Header) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.reqs...), append([]http.Header(nil), r.hdrs...)
}

// stdioClient is the MCP client's side of the proxy's stdio.
type stdioClient struct {
	t     *testing.T
	in    io.WriteCloser
	lines chan map[string]any
}

func (c *stdioClient) send(v map[string]any) {
	c.t.Helper()
	v["jsonrpc"] = "2.0"
	b, _ := json.Marshal(v)
	if _, err := c.in.Write(append(b, '\n')); err != nil {
		c.t.Fatal(err)
	}
}

// call sends a request and waits for its answer, passing over what else
// the server sends.
func (c *stdioClient) call(id int, method string, params any) map[string]any {
	c.t.Helper()
	c.send(map[string]any{"id": id, "method": method, "params": params})
	timeout := time.After(20 * time.Second)
	for {
		select {
		case m, ok := <-c.lines:
			if !ok {
				c.t.Fatalf("%s: the proxy closed stdout", method)
			}
			if fmt.Sprint(m["id"]) == fmt.Sprint(id) && m["method"] == nil {
				return m
			}
		case <-timeout:
			c.t.Fatalf("%s: no answer within 20s", method)
		}
	}
}

func echoText(t *testing.T, m map[string]any) (string, bool) {
	t.Helper()
	r, _ := m["result"].(map[string]any)
	if r == nil {
		t.Fatalf("no result: %v", m)
	}
	content, _ := r["content"].([]any)
	var text string
	for _, c := range content {
		if cm, ok := c.(map[string]any); ok {
			text += fmt.Sprint(cm["text"])
		}
	}
	isErr, _ := r["isError"].(bool)
	return text, isErr
}

// TestProxyURLEverything: the official server-everything over streamable
// HTTP through "aim-mcp proxy --url": listing, an allowed call, a call the
// policy refuses (it never reaches the network; both are recorded), and a
// server restarted mid-session after which calls still work.
func TestProxyURLEverything(t *testing.T) {
	srv := startEverythingHTTP(t)
	rec := &recorder{}
	front := httptest.NewServer(rec.wrap(fmt.Sprintf("http://127.0.0.1:%d", srv.port)))
	defer front.Close()

	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("AIM_MCP_SYSLOG", "off")
	const token = "tok-5e3b-never-recorded"
	t.Setenv("AIM_TEST_REMOTE_TOKEN", token)
	aimHome := t.TempDir()
	cli := func(args ...string) string {
		var out, errb bytes.Buffer
		if code := run(context.Background(), append(args, "--home", aimHome), env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb}); code != 0 {
			t.Fatalf("aim-mcp %s: exit %d\n%s", strings.Join(args, " "), code, errb.String())
		}
		return out.String()
	}
	cli("policy", "add", "--server", "ev", "--tool", "echo", "--when", "/message^=forbidden", "--action", "deny")

	stdinR, stdinW := io.Pipe()
	stdoutR, stdoutW := io.Pipe()
	var stderr syncbuf.Buffer
	exit := make(chan int, 1)
	go func() {
		code := run(context.Background(), []string{"proxy", "--server", "ev", "--home", aimHome,
			"--url", front.URL + "/mcp", "--header-env", "X-Test-Token=AIM_TEST_REMOTE_TOKEN"},
			env{stdin: stdinR, stdout: stdoutW, stderr: &stderr})
		stdoutW.Close()
		exit <- code
	}()
	c := &stdioClient{t: t, in: stdinW, lines: make(chan map[string]any, 64)}
	go func() {
		defer close(c.lines)
		sc := bufio.NewScanner(stdoutR)
		sc.Buffer(nil, 16<<20)
		for sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Errorf("a line that is not JSON reached the client: %q", sc.Text())
				continue
			}
			c.lines <- m
		}
	}()
	defer func() {
		if t.Failed() {
			t.Logf("proxy stderr:\n%s\nserver log:\n%s", stderr.String(), srv.log.String())
		}
	}()

	init := c.call(1, "initialize", map[string]any{"protocolVersion": "2025-06-18", "capabilities": map[string]any{},
		"clientInfo": map[string]any{"name": "aim-mcp-test", "version": "1"}})
	if r, _ := init["result"].(map[string]any); r == nil || r["protocolVersion"] != "2025-06-18" {
		t.Fatalf("initialize: %v", init)
	}
	c.send(map[string]any{"method": "notifications/initialized"})
	list := c.call(2, "tools/list", map[string]any{})
	if !strings.Contains(fmt.Sprint(list["result"]), "name:echo") {
		t.Fatalf("tools/list has no echo: %v", list)
	}
	if text, isErr := echoText(t, c.call(3, "tools/call", map[string]any{"name": "echo", "arguments": map[string]any{"message": "hello remote"}})); isErr || text != "Echo: hello remote" {
		t.Errorf("allowed echo: %q isError=%v", text, isErr)
	}
	if text, isErr := echoText(t, c.call(4, "tools/call", map[string]any{"name": "echo", "arguments": map[string]any{"message": "forbidden words"}})); !isErr || strings.Contains(text, "Echo:") {
		t.Errorf("denied echo: %q isError=%v, want the proxy's refusal", text, isErr)
	}

	// The server restarts: its sessions are gone.
	srv.stop()
	srv.start()
	if text, isErr := echoText(t, c.call(5, "tools/call", map[string]any{"name": "echo", "arguments": map[string]any{"message": "after restart"}})); isErr || text != "Echo: after restart" {
		t.Errorf("echo after the server restarted: %q isError=%v", text, isErr)
	}

	stdinW.Close()
	select {
	case code := <-exit:
		if code != 0 {
			t.Errorf("proxy exit code %d", code)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the proxy did not exit after stdin closed")
	}

	reqs, hdrs := rec.all()
	var inits, deletes int
	for i, r := range reqs {
		if strings.Contains(r, "forbidden") {
			t.Errorf("the refused call reached the server: %s", r)
		}
		if hdrs[i].Get("X-Test-Token") != token {
			t.Errorf("request %d (%.40s) without the header from --header-env", i, r)
		}
		if strings.HasPrefix(r, "POST ") && strings.Contains(r, `"method":"initialize"`) {
			inits++
		}
		if strings.HasPrefix(r, "DELETE ") {
			deletes++
		}
	}
	if inits != 2 {
		t.Errorf("initialize reached the server %d times, want 2 (the client's, and once after the restart)", inits)
	}
	if deletes != 1 {
		t.Errorf("DELETE sent %d times, want 1", deletes)
	}

	logs := cli("logs", "--json", "--server", "ev")
	if strings.Contains(logs, token) || strings.Contains(stderr.String(), token) {
		t.Error("the header's value is in the audit log or on stderr")
	}
	var records []struct {
		Kind, Tool, Decision string
		Data                 map[string]any
	}
	if err := json.Unmarshal([]byte(logs), &records); err != nil {
		t.Fatal(err)
	}
	var allowed, denied, outcomes int
	for _, r := range records {
		args := fmt.Sprint(r.Data["args"])
		switch {
		case r.Kind == "session_start":
			if r.Data["url"] != front.URL+"/mcp" || fmt.Sprint(r.Data["header_names"]) != "[X-Test-Token]" || r.Data["transport"] != "streamable-http" {
				t.Errorf("session_start: %v", r.Data)
			}
		case r.Kind == "session_end":
			if r.Data["protocol_version"] != "2025-06-18" || !strings.Contains(r.Decision, "initialized again 1 times") {
				t.Errorf("session_end: %s %v", r.Decision, r.Data)
			}
		case r.Kind == "call" && r.Tool == "echo" && r.Decision == "allow":
			allowed++
		case r.Kind == "denied" && r.Tool == "echo" && strings.Contains(args, "forbidden"):
			denied++
		case r.Kind == "outcome" && r.Tool == "echo" && r.Decision == "success":
			outcomes++
		}
	}
	if allowed != 2 || denied != 1 || outcomes != 2 {
		t.Errorf("records: %d allowed calls, %d denied, %d outcomes; want 2, 1, 2\n%s", allowed, denied, outcomes, logs)
	}
}
