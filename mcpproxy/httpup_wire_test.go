package mcpproxy

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// wireServer answers every request with an empty result (initialize with
// version) and keeps the headers of each POST by method.
type wireServer struct {
	version string
	mu      sync.Mutex
	headers map[string]http.Header
}

func (s *wireServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	body, _ := io.ReadAll(r.Body)
	var m struct {
		ID     json.RawMessage
		Method string
	}
	json.Unmarshal(body, &m)
	s.mu.Lock()
	s.headers[m.Method] = r.Header.Clone()
	s.mu.Unlock()
	if len(m.ID) == 0 {
		w.WriteHeader(http.StatusAccepted)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	result := `{}`
	if m.Method == "initialize" {
		result = fmt.Sprintf(`{"protocolVersion":%q}`, s.version)
	}
	fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"result":%s}`, m.ID, result)
}

func (s *wireServer) header(method string) http.Header {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.headers[method]
}

// TestRemoteRouteHeaders: a 2026-07-28 request (its version in _meta, no
// session) carries Mcp-Method and, for the calls that name something,
// Mcp-Name, equal to the body; an older session sends neither.
func TestRemoteRouteHeaders(t *testing.T) {
	modern := &wireServer{headers: map[string]http.Header{}}
	srv := httptest.NewServer(modern)
	defer srv.Close()
	c := newRemoteClient(t, &Remote{URL: srv.URL})
	meta := `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}`
	for i, tc := range []struct{ method, params, name string }{
		{"server/discover", `{` + meta + `}`, ""},
		{"tools/call", `{"name":"get-sum","arguments":{"a":1},` + meta + `}`, "get-sum"},
		{"resources/read", `{"uri":"demo://resource/1",` + meta + `}`, "demo://resource/1"},
		{"prompts/get", `{"name":"simple-prompt",` + meta + `}`, "simple-prompt"},
	} {
		c.send(fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":%q,"params":%s}`, i, tc.method, tc.params))
		if l := c.next(); l != fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"result":{}}`, i) {
			t.Fatalf("%s: got %s", tc.method, l)
		}
		h := modern.header(tc.method)
		if h.Get("Mcp-Method") != tc.method || h.Get("Mcp-Name") != tc.name || h.Get("MCP-Protocol-Version") != "2026-07-28" {
			t.Errorf("%s: Mcp-Method %q, Mcp-Name %q, MCP-Protocol-Version %q; want %q, %q, 2026-07-28",
				tc.method, h.Get("Mcp-Method"), h.Get("Mcp-Name"), h.Get("MCP-Protocol-Version"), tc.method, tc.name)
		}
		if h.Get("Mcp-Session-Id") != "" {
			t.Errorf("%s: a session id without a session", tc.method)
		}
	}

	old := &wireServer{version: "2025-11-25", headers: map[string]http.Header{}}
	srv2 := httptest.NewServer(old)
	defer srv2.Close()
	c2 := newRemoteClient(t, &Remote{URL: srv2.URL})
	c2.send(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25"}}`)
	c2.next()
	c2.send(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get-sum"}}`)
	c2.next()
	if h := old.header("tools/call"); h.Get("Mcp-Method") != "" || h.Get("Mcp-Name") != "" || h.Get("MCP-Protocol-Version") != "2025-11-25" {
		t.Errorf("2025-11-25 session: headers %v", h)
	}
}

// TestRemoteTLSRecord: over https the session describes the server
// certificate's key hash and issuer, for the session record.
func TestRemoteTLSRecord(t *testing.T) {
	ws := &wireServer{version: "2025-06-18", headers: map[string]http.Header{}}
	srv := httptest.NewTLSServer(ws)
	defer srv.Close()
	c := newRemoteClient(t, &Remote{URL: srv.URL + "/mcp", Client: srv.Client()})
	c.initialize()
	c.send(`{"jsonrpc":"2.0","id":1,"method":"ping"}`)
	c.next()
	cert := srv.Certificate()
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	d := c.up.describe()
	if d["tls_spki_sha256"] != hex.EncodeToString(sum[:]) || d["tls_issuer"] != cert.Issuer.String() {
		t.Errorf("describe: %v; want key hash %x and issuer %q", d, sum, cert.Issuer.String())
	}
	if d["transport"] != "streamable-http" || d["protocol_version"] != "2025-06-18" {
		t.Errorf("describe: %v", d)
	}
}

// pollingServer closes each call's reply stream after its priming event
// (an id, no data, retry: 10ms); a GET with that Last-Event-ID brings the
// answer, unless empty is set: then every poll brings nothing new.
type pollingServer struct {
	empty bool
	mu    sync.Mutex
	lasts []string // Last-Event-ID of each GET
}

func (s *pollingServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/event-stream")
	if r.Method == http.MethodGet {
		s.mu.Lock()
		s.lasts = append(s.lasts, r.Header.Get("Last-Event-ID"))
		s.mu.Unlock()
		if r.Header.Get("Last-Event-ID") == "" {
			w.WriteHeader(http.StatusMethodNotAllowed) // no stream of its own
			return
		}
		if s.empty {
			fmt.Fprint(w, "retry: 10\n\n")
			return
		}
		fmt.Fprint(w, "id: p2\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":{}}\n\n")
		fmt.Fprint(w, "id: p3\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"done\":true}}\n\n")
		return
	}
	fmt.Fprint(w, "id: p1\nretry: 10\ndata:\n\n")
}

// TestRemoteResume: a reply stream the server closes before answering
// (2025-11-25) is resumed with GET and Last-Event-ID after the server's
// retry delay, and the answer arrives; a server whose polls bring nothing
// gets a bounded number of them and the request an error.
func TestRemoteResume(t *testing.T) {
	for _, empty := range []bool{false, true} {
		s := &pollingServer{empty: empty}
		srv := httptest.NewServer(s)
		t.Cleanup(srv.Close)
		c := newRemoteClient(t, &Remote{URL: srv.URL})
		c.send(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"long"}}`)
		if empty {
			if l := c.next(); !strings.Contains(l, `"id":1,"error"`) || !strings.Contains(l, "brought nothing in 3 polls") {
				t.Errorf("polls that bring nothing: got %s", l)
			}
			s.mu.Lock()
			if len(s.lasts) != resumeTries {
				t.Errorf("%d polls, want %d", len(s.lasts), resumeTries)
			}
			s.mu.Unlock()
			continue
		}
		if l := c.next(); l != `{"jsonrpc":"2.0","method":"notifications/message","params":{}}` {
			t.Errorf("first message after resuming: got %s", l)
		}
		if l := c.next(); l != `{"jsonrpc":"2.0","id":1,"result":{"done":true}}` {
			t.Errorf("answer after resuming: got %s", l)
		}
		s.mu.Lock()
		if len(s.lasts) != 1 || s.lasts[0] != "p1" {
			t.Errorf("GETs with Last-Event-ID %q, want one with p1", s.lasts)
		}
		s.mu.Unlock()
	}
}
