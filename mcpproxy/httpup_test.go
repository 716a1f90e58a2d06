package mcpproxy

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestReadSSE(t *testing.T) {
	stream := ": keep-alive\r\n" +
		"id: p1\ndata:\n\n" + // a priming event: an id, no message
		"event: message\nid: e2\ndata: {\"a\":\ndata: 1}\n\n" +
		"retry: 1500\ndata: {\"b\":2}\r\n\r\n" +
		"data: {\"cut\":" // a stream that ends mid-event drops it
	var got []sseEvent
	if err := readSSE(strings.NewReader(stream), 1<<10, func(ev sseEvent) bool { got = append(got, ev); return true }); err != nil {
		t.Fatal(err)
	}
	want := []sseEvent{{id: "p1"}, {id: "e2", data: []byte("{\"a\":\n1}")}, {id: "e2", data: []byte(`{"b":2}`), retry: 1500 * time.Millisecond}}
	if len(got) != len(want) {
		t.Fatalf("got %d events %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i].id != want[i].id || string(got[i].data) != string(want[i].data) || got[i].retry != want[i].retry {
			t.Errorf("event %d: got {%q %q %v}, want {%q %q %v}", i, got[i].id, got[i].data, got[i].retry, want[i].id, want[i].data, want[i].retry)
		}
	}
	big := "data: " + strings.Repeat("x", 40<<10) + "\n\n"
	err := readSSE(strings.NewReader(big), 32<<10, func(sseEvent) bool { t.Error("an oversized event was dispatched"); return true })
	if !errors.Is(err, errFrameTooLarge) {
		t.Errorf("oversized event: got %v, want errFrameTooLarge", err)
	}
	many := strings.Repeat("data: "+strings.Repeat("y", 1000)+"\n", 40) + "\n"
	if err := readSSE(strings.NewReader(many), 32<<10, func(sseEvent) bool { return true }); !errors.Is(err, errFrameTooLarge) {
		t.Errorf("event of many short data lines over the bound: got %v, want errFrameTooLarge", err)
	}
}

// fakeRemote is a streamable HTTP server of the 2025-06-18 kind: a session
// id from initialize, SSE replies to tools/call, 202 for notifications, a
// GET stream, DELETE. restart forgets every session, as a restarted server.
type fakeRemote struct {
	t  *testing.T
	mu sync.Mutex
	// what it saw
	methods  []string
	headers  []http.Header // of each POST
	deleted  []string
	inits    int
	sessions map[string]bool
	n        int
	gets     int
	getTries int
	// behaviour
	getStream bool
	release   chan struct{} // tools/call "slow" waits for it
	bigReply  int           // tools/call "big" answers this many bytes
	pushes    chan string   // messages for the GET stream
}

func newFakeRemote(t *testing.T) (*fakeRemote, *httptest.Server) {
	f := &fakeRemote{t: t, sessions: map[string]bool{}, release: make(chan struct{}), pushes: make(chan string, 4)}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeRemote) restart() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sessions = map[string]bool{}
}

func (f *fakeRemote) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sid := r.Header.Get("Mcp-Session-Id")
	f.mu.Lock()
	known := f.sessions[sid]
	f.mu.Unlock()
	switch r.Method {
	case http.MethodDelete:
		f.mu.Lock()
		f.deleted = append(f.deleted, sid)
		f.mu.Unlock()
		return
	case http.MethodGet:
		f.mu.Lock()
		f.getTries++
		f.mu.Unlock()
		if !f.getStream {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		if !known {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		f.mu.Lock()
		f.gets++
		f.mu.Unlock()
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "id: g0\ndata:\n\n")
		w.(http.Flusher).Flush()
		for {
			select {
			case m := <-f.pushes:
				fmt.Fprintf(w, "data: %s\n\n", m)
				w.(http.Flusher).Flush()
			case <-r.Context().Done():
				return
			}
		}
	}
	body, _ := io.ReadAll(r.Body)
	var m struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
		Params struct {
			Name string `json:"name"`
		} `json:"params"`
	}
	json.Unmarshal(body, &m)
	f.mu.Lock()
	f.methods = append(f.methods, m.Method)
	f.headers = append(f.headers, r.Header.Clone())
	f.mu.Unlock()
	if m.Method == "initialize" {
		f.mu.Lock()
		f.inits++
		f.n++
		sid = fmt.Sprintf("s%d", f.n)
		f.sessions[sid] = true
		f.mu.Unlock()
		w.Header().Set("Mcp-Session-Id", sid)
		w.Header().Set("Content-Type", "application/json")
		// Pretty-printed, as some servers do: it must reach the client as one line.
		fmt.Fprintf(w, "{\n  \"jsonrpc\": \"2.0\",\n  \"id\": %s,\n  \"result\": {\"protocolVersion\": \"2025-06-18\"}\n}\n", m.ID)
		return
	}
	if !known {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	if len(m.ID) == 0 || m.Method == "" {
		w.WriteHeader(http.StatusAccepted)
		return
	}
	switch {
	case m.Method == "tools/call" && m.Params.Name == "slow":
		<-f.release
	case m.Method == "tools/call" && m.Params.Name == "big":
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"result":{"text":"%s"}}`, m.ID, strings.Repeat("z", f.bigReply))
		return
	case m.Method == "tools/call" && m.Params.Name == "bigsse":
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprintf(w, "data: {\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":{\"text\":\"%s\"}}\n\n", m.ID, strings.Repeat("z", f.bigReply))
		return
	case m.Method == "tools/call" && m.Params.Name == "login":
		w.Header().Set("WWW-Authenticate", `Bearer resource_metadata="x"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	case m.Method == "tools/call" && m.Params.Name == "toolarge":
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		fmt.Fprint(w, `{"jsonrpc":"2.0","error":{"code":-32000,"message":"Payload too large"},"id":null}`)
		return
	case m.Method == "tools/call" && m.Params.Name == "invalid":
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"jsonrpc":"2.0","error":{"code":-32602,"message":"no such tool"},"id":%s}`, m.ID)
		return
	case m.Method == "tools/call" && m.Params.Name == "html":
		w.WriteHeader(http.StatusBadGateway)
		fmt.Fprint(w, "<html>bad gateway</html>")
		return
	}
	if m.Method == "tools/call" {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprintf(w, "id: 1\ndata:\n\n")
		fmt.Fprintf(w, "data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progress\":1}}\n\n")
		fmt.Fprintf(w, "data: {\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":{\"content\":[]}}\n\n", m.ID)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"result":{}}`, m.ID)
}

func (f *fakeRemote) seen() (methods []string, headers []http.Header, deleted []string, inits int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.methods...), append([]http.Header(nil), f.headers...), append([]string(nil), f.deleted...), f.inits
}

// remoteClient drives an httpUp as the pumps do: frames in, lines out.
type remoteClient struct {
	t     *testing.T
	up    *httpUp
	lines chan string
}

func newRemoteClient(t *testing.T, r *Remote) *remoteClient {
	up, err := startRemote(r, slog.New(slog.DiscardHandler), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &remoteClient{t: t, up: up, lines: make(chan string, 64)}
	go func() {
		sc := bufio.NewScanner(up)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		close(c.lines)
	}()
	t.Cleanup(func() { up.kill(); up.wait(); up.closeOutput() })
	return c
}

func (c *remoteClient) send(frame string) {
	c.t.Helper()
	if _, err := c.up.Write([]byte(frame + "\n")); err != nil {
		c.t.Fatalf("write %s: %v", frame, err)
	}
}

func (c *remoteClient) next() string {
	c.t.Helper()
	select {
	case l, ok := <-c.lines:
		if !ok {
			c.t.Fatal("the upstream closed its output")
		}
		return l
	case <-time.After(5 * time.Second):
		c.t.Fatal("no line from the upstream within 5s")
	}
	return ""
}

func (c *remoteClient) initialize() {
	c.t.Helper()
	c.send(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18"}}`)
	if l := c.next(); l != `{"jsonrpc":"2.0","id":0,"result":{"protocolVersion":"2025-06-18"}}` {
		c.t.Fatalf("initialize answer: got %s", l)
	}
	c.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
}

func TestRemoteSession(t *testing.T) {
	f, srv := newFakeRemote(t)
	c := newRemoteClient(t, &Remote{URL: srv.URL + "/mcp?key=k", Headers: http.Header{"X-Api-Key": {"sekrit"}}})
	c.initialize()
	c.send(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}}`)
	// The SSE reply's events, each a line, in order; the priming event none.
	if l := c.next(); !strings.Contains(l, `"notifications/progress"`) {
		t.Errorf("first line of the SSE reply: got %s", l)
	}
	if l := c.next(); l != `{"jsonrpc":"2.0","id":1,"result":{"content":[]}}` {
		t.Errorf("answer: got %s", l)
	}
	c.send(`{"jsonrpc":"2.0","id":2,"method":"ping"}`)
	if l := c.next(); l != `{"jsonrpc":"2.0","id":2,"result":{}}` {
		t.Errorf("ping answer: got %s", l)
	}
	d := c.up.describe()
	if d["url"] != srv.URL+"/mcp?key=REDACTED" || d["protocol_version"] != "2025-06-18" || fmt.Sprint(d["header_names"]) != "[X-Api-Key]" {
		t.Errorf("describe: got %v", d)
	}
	if strings.Contains(fmt.Sprint(d), "sekrit") {
		t.Errorf("describe shows a header value: %v", d)
	}
	// The GET stream is tried once the session is initialized.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		f.mu.Lock()
		n := f.getTries
		f.mu.Unlock()
		if n > 0 {
			break
		}
	}
	time.Sleep(50 * time.Millisecond) // room for a wrong retry
	c.up.closeInput()
	c.up.wait()
	methods, headers, deleted, _ := f.seen()
	if strings.Join(methods, ",") != "initialize,notifications/initialized,tools/call,ping" {
		t.Errorf("the server saw %v", methods)
	}
	for i, h := range headers {
		if h.Get("Accept") != "application/json, text/event-stream" || h.Get("Content-Type") != "application/json" || h.Get("X-Api-Key") != "sekrit" {
			t.Errorf("POST %d (%s) headers: %v", i, methods[i], h)
		}
		wantSID, wantVer := "s1", "2025-06-18"
		if i == 0 {
			wantSID, wantVer = "", ""
		}
		if h.Get("Mcp-Session-Id") != wantSID || h.Get("Mcp-Protocol-Version") != wantVer {
			t.Errorf("POST %d (%s): session %q version %q, want %q %q", i, methods[i], h.Get("Mcp-Session-Id"), h.Get("Mcp-Protocol-Version"), wantSID, wantVer)
		}
	}
	if strings.Join(deleted, ",") != "s1" {
		t.Errorf("DELETE on close: got %v, want [s1]", deleted)
	}
	if code, how := c.up.exitStatus(); code != 0 || !strings.Contains(how, srv.URL) {
		t.Errorf("exitStatus: %d %q", code, how)
	}
	if _, ok := <-c.lines; ok {
		t.Error("output still open after the session ended")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.getTries != 1 {
		t.Errorf("GET tried %d times; after a 405 the server has no stream, want 1", f.getTries)
	}
}

// A slow call does not hold up a ping sent after it.
func TestRemoteConcurrent(t *testing.T) {
	f, srv := newFakeRemote(t)
	c := newRemoteClient(t, &Remote{URL: srv.URL})
	c.initialize()
	c.send(`{"jsonrpc":"2.0","id":"slow","method":"tools/call","params":{"name":"slow"}}`)
	c.send(`{"jsonrpc":"2.0","id":"p","method":"ping"}`)
	if l := c.next(); l != `{"jsonrpc":"2.0","id":"p","result":{}}` {
		t.Fatalf("first answer: got %s, want the ping's", l)
	}
	close(f.release)
	c.next() // progress
	if l := c.next(); !strings.Contains(l, `"id":"slow"`) {
		t.Errorf("slow call's answer: got %s", l)
	}
}

// A server that lost the session (404) gets the client's initialize again,
// once; the client sees only its call's answer.
func TestRemoteReplayAfterRestart(t *testing.T) {
	f, srv := newFakeRemote(t)
	c := newRemoteClient(t, &Remote{URL: srv.URL})
	c.initialize()
	c.send(`{"jsonrpc":"2.0","id":1,"method":"ping"}`)
	c.next()
	f.restart()
	c.send(`{"jsonrpc":"2.0","id":2,"method":"ping"}`)
	if l := c.next(); l != `{"jsonrpc":"2.0","id":2,"result":{}}` {
		t.Fatalf("after the restart: got %s", l)
	}
	methods, headers, _, inits := f.seen()
	if inits != 2 {
		t.Errorf("initialize sent %d times, want 2", inits)
	}
	want := "initialize,notifications/initialized,ping,ping,initialize,notifications/initialized,ping"
	if strings.Join(methods, ",") != want {
		t.Errorf("the server saw %v, want %s", methods, want)
	}
	if sid := headers[len(headers)-1].Get("Mcp-Session-Id"); sid != "s2" {
		t.Errorf("retried with session %q, want s2", sid)
	}
	c.up.closeInput()
	c.up.wait()
	if _, how := c.up.exitStatus(); !strings.Contains(how, "initialized again 1 times") {
		t.Errorf("exitStatus: %q", how)
	}
	select {
	case l, ok := <-c.lines:
		if ok {
			t.Errorf("an extra line reached the client: %s", l)
		}
	case <-time.After(time.Second):
	}
}

// What goes wrong on the way becomes an error answer to the request, and
// the session goes on.
func TestRemoteErrors(t *testing.T) {
	f, srv := newFakeRemote(t)
	f.bigReply = 64 << 10
	c := newRemoteClient(t, &Remote{URL: srv.URL, MaxFrame: 32 << 10})
	c.initialize()
	for _, tc := range []struct {
		name, want string
		code       int
	}{
		{"big", "is over 32768 bytes", -32603},
		{"bigsse", "over 32768 bytes: message too large", -32603},
		{"html", "HTTP 502 Bad Gateway", -32603},
		{"login", "HTTP 401 Unauthorized (it refused the credentials it was given", -32603},
		// An error with id null is no answer: the client gets one for its id.
		{"toolarge", "HTTP 413 Request Entity Too Large: Payload too large", -32603},
		// An error status with the request's own answer: passed on.
		{"invalid", "no such tool", -32602},
	} {
		c.send(`{"jsonrpc":"2.0","id":"` + tc.name + `","method":"tools/call","params":{"name":"` + tc.name + `"}}`)
		l := c.next()
		var r struct {
			ID    string
			Error struct {
				Code    int
				Message string
			}
		}
		if json.Unmarshal([]byte(l), &r) != nil || r.ID != tc.name || r.Error.Code != tc.code || !strings.Contains(r.Error.Message, tc.want) {
			t.Errorf("%s: got %s, want an error naming %q", tc.name, l, tc.want)
		}
	}
	c.send(`{"jsonrpc":"2.0","id":9,"method":"ping"}`)
	if l := c.next(); l != `{"jsonrpc":"2.0","id":9,"result":{}}` {
		t.Errorf("ping after errors: got %s", l)
	}
	srv.Close() // unreachable now
	c.send(`{"jsonrpc":"2.0","id":10,"method":"ping"}`)
	if l := c.next(); !strings.Contains(l, `"id":10,"error"`) || !strings.Contains(l, "aim-mcp: remote server") {
		t.Errorf("unreachable: got %s", l)
	}
}

// The GET stream carries what the server sends on its own.
func TestRemoteGetStream(t *testing.T) {
	f, srv := newFakeRemote(t)
	f.getStream = true
	c := newRemoteClient(t, &Remote{URL: srv.URL})
	c.initialize()
	f.pushes <- `{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}`
	if l := c.next(); l != `{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}` {
		t.Errorf("GET stream: got %s", l)
	}
	c.up.closeInput()
	done := make(chan struct{})
	go func() { c.up.wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the open GET stream kept the session from ending")
	}
	if _, _, deleted, _ := f.seen(); len(deleted) != 1 {
		t.Errorf("DELETE: %v", deleted)
	}
}
