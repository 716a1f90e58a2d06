package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opena2a-org/aim-mcp/internal/syncbuf"
)

// remoteSession is one aim-mcp proxy --url run in this process, with the
// client's side of its stdio.
type remoteSession struct {
	*stdioClient
	stderr *syncbuf.Buffer
	exit   chan int
	home   string
}

func startRemoteProxy(t *testing.T, server string, args ...string) *remoteSession {
	t.Helper()
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("AIM_MCP_SYSLOG", "off")
	s := &remoteSession{stderr: &syncbuf.Buffer{}, exit: make(chan int, 1), home: t.TempDir()}
	stdinR, stdinW := io.Pipe()
	stdoutR, stdoutW := io.Pipe()
	go func() {
		code := run(context.Background(), append([]string{"proxy", "--server", server, "--home", s.home}, args...),
			env{stdin: stdinR, stdout: stdoutW, stderr: s.stderr})
		stdoutW.Close()
		s.exit <- code
	}()
	s.stdioClient = &stdioClient{t: t, in: stdinW, lines: make(chan map[string]any, 64)}
	go func() {
		defer close(s.lines)
		sc := bufio.NewScanner(stdoutR)
		sc.Buffer(nil, 16<<20)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				s.lines <- m
			}
		}
	}()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("proxy stderr:\n%s", s.stderr.String())
		}
	})
	return s
}

// stop closes stdin and waits for the proxy to exit.
func (s *remoteSession) stop() {
	s.t.Helper()
	s.in.Close()
	select {
	case <-s.exit:
	case <-time.After(20 * time.Second):
		s.t.Fatal("the proxy did not exit after stdin closed")
	}
}

// records are the session's audit records of kind.
func (s *remoteSession) records(server, kind string) []map[string]any {
	s.t.Helper()
	var out, errb strings.Builder
	if code := run(context.Background(), []string{"logs", "--json", "--server", server, "--kind", kind, "--home", s.home},
		env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb}); code != 0 {
		s.t.Fatalf("logs: exit %d: %s", code, errb.String())
	}
	var recs []map[string]any
	if err := json.Unmarshal([]byte(out.String()), &recs); err != nil {
		s.t.Fatalf("logs: %v\n%s", err, out.String())
	}
	return recs
}

var initParams = map[string]any{"protocolVersion": "2025-06-18", "capabilities": map[string]any{},
	"clientInfo": map[string]any{"name": "aim-mcp-test", "version": "1"}}

// TestProxyURLFailures: a server that cannot be reached, whose certificate
// is not trusted, that answers a web page, or that drops a reply stream
// midway. Each request gets a JSON-RPC error naming the trouble; stderr
// says so once, with a hint, however many requests failed; the audit log
// has one remote_error record; the proxy does not hammer the server.
func TestProxyURLFailures(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	// A credential in the query is never shown.
	closedURL := closed.URL + "/mcp?token=s3cret"
	closed.Close()

	tlsSrv := httptest.NewUnstartedServer(http.NotFoundHandler())
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	tlsSrv.StartTLS()
	defer tlsSrv.Close()

	var htmlHits sync.Map
	html := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := htmlHits.LoadOrStore(r.Method, new(int))
		*n.(*int)++
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<!doctype html><html><body>Welcome to our product</body></html>")
	}))
	defer html.Close()

	var mu sync.Mutex
	var posts, gets int
	vanish := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		if r.Method == http.MethodGet {
			gets++
		} else if r.Method == http.MethodPost {
			posts++
		}
		mu.Unlock()
		if r.Method != http.MethodPost {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		body, _ := io.ReadAll(r.Body)
		switch {
		case strings.Contains(string(body), `"initialize"`):
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Mcp-Session-Id", "s1")
			fmt.Fprintf(w, `{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-06-18","capabilities":{},"serverInfo":{"name":"vanish","version":"1"}}}`)
		case !strings.Contains(string(body), `"id"`):
			w.WriteHeader(http.StatusAccepted)
		default:
			// The reply stream opens, then the server is gone.
			w.Header().Set("Content-Type", "text/event-stream")
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		}
	}))
	defer vanish.Close()

	for _, tc := range []struct {
		name, url, err, hint, failure string
		initOK                        bool
	}{
		{"unreachable", closedURL, "connection refused", "check that the server is running", "unreachable", false},
		{"tls", tlsSrv.URL + "/mcp", "certificate", "the server's certificate is not trusted", "tls", false},
		{"html", html.URL + "/mcp", "is not an MCP reply", "the URL answers, but not as an MCP server", "not_mcp", false},
		{"vanish", vanish.URL + "/mcp", "closed the reply stream before answering", "the server dropped the session mid-call", "session_lost", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startRemoteProxy(t, tc.name, "--url", tc.url)
			init := s.call(1, "initialize", initParams)
			if tc.initOK != (init["error"] == nil) {
				t.Fatalf("initialize: %v", init)
			}
			if tc.initOK {
				s.send(map[string]any{"method": "notifications/initialized"})
			}
			// Two requests in flight at once, then one more.
			s.send(map[string]any{"id": 2, "method": "tools/list", "params": map[string]any{}})
			s.send(map[string]any{"id": 3, "method": "prompts/list", "params": map[string]any{}})
			answers := map[string]map[string]any{}
			for len(answers) < 2 {
				select {
				case m := <-s.lines:
					answers[fmt.Sprint(m["id"])] = m
				case <-time.After(20 * time.Second):
					t.Fatalf("answers: %v", answers)
				}
			}
			answers["4"] = s.call(4, "ping", map[string]any{})
			if !tc.initOK {
				answers["1"] = init
			}
			for id, m := range answers {
				e, _ := m["error"].(map[string]any)
				if msg := fmt.Sprint(e["message"]); e == nil || !strings.Contains(msg, "aim-mcp: remote server") || (id != "4" || !tc.initOK) && !strings.Contains(msg, tc.err) {
					t.Errorf("request %s: got %v, want a JSON-RPC error naming %q", id, m, tc.err)
				}
			}
			s.stop()
			if strings.Contains(s.stderr.String()+fmt.Sprint(answers), "s3cret") {
				t.Error("the credential in the URL's query was shown")
			}
			var errs, hints []string
			for _, l := range strings.Split(s.stderr.String(), "\n") {
				if strings.HasPrefix(l, "aim-mcp: error: remote server") {
					errs = append(errs, l)
				}
				if strings.HasPrefix(l, "aim-mcp: hint: ") {
					hints = append(hints, l)
				}
			}
			if len(errs) != 1 || !strings.Contains(errs[0], tc.err) || len(hints) != 1 || !strings.Contains(hints[0], tc.hint) {
				t.Errorf("stderr: want one error naming %q and one hint %q; got\n%s", tc.err, tc.hint, s.stderr.String())
			}
			recs := s.records(tc.name, "remote_error")
			if len(recs) != 1 {
				t.Fatalf("remote_error records: %v", recs)
			}
			shown := strings.Replace(tc.url, "s3cret", "REDACTED", 1)
			if d, _ := recs[0]["data"].(map[string]any); d["failure"] != tc.failure || d["url"] != shown {
				t.Errorf("remote_error record: %v", recs[0])
			}
		})
	}
	// No retry storm: every request was sent once.
	mu.Lock()
	defer mu.Unlock()
	if posts != 5 || gets > 1 {
		t.Errorf("the vanishing server saw %d POSTs and %d GETs; want 5 (initialize, initialized, three requests) and at most 1 (the optional stream it refuses)", posts, gets)
	}
	if n, ok := htmlHits.Load(http.MethodPost); !ok || *n.(*int) != 4 {
		t.Errorf("the HTML server saw %d POSTs, want 4 (initialize, then three requests)", *n.(*int))
	}
}
