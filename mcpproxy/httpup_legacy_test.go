package mcpproxy

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// legacyServer speaks the HTTP+SSE transport of 2024-11-05: GET /sse opens
// a session's stream, whose first event names /message?s=N; a POST there
// is answered on the stream. tools/call "drop" ends the stream unanswered,
// as a server that restarts. A POST to /sse (a streamable HTTP attempt) is
// refused with 405.
type legacyServer struct {
	endpoint string // the endpoint event's data; "" for the usual
	mu       sync.Mutex
	streams  map[string]chan string
	n        int
	gets     int
	inits    int
	ssePosts int
}

func (s *legacyServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/sse" && r.Method == http.MethodPost:
		s.mu.Lock()
		s.ssePosts++
		s.mu.Unlock()
		w.WriteHeader(http.StatusMethodNotAllowed)
	case r.URL.Path == "/sse" && r.Method == http.MethodGet:
		s.mu.Lock()
		s.gets++
		s.n++
		id := fmt.Sprint(s.n)
		ch := make(chan string, 16)
		s.streams[id] = ch
		s.mu.Unlock()
		w.Header().Set("Content-Type", "text/event-stream")
		ep := s.endpoint
		if ep == "" {
			ep = "/message?s=" + id
		}
		fmt.Fprintf(w, "event: endpoint\ndata: %s\n\n", ep)
		w.(http.Flusher).Flush()
		for {
			select {
			case m, ok := <-ch:
				if !ok {
					return
				}
				fmt.Fprintf(w, "event: message\ndata: %s\n\n", m)
				w.(http.Flusher).Flush()
			case <-r.Context().Done():
				return
			}
		}
	case r.URL.Path == "/message" && r.Method == http.MethodPost:
		s.mu.Lock()
		ch := s.streams[r.URL.Query().Get("s")]
		s.mu.Unlock()
		if ch == nil {
			http.Error(w, "unknown session", http.StatusNotFound)
			return
		}
		body, _ := io.ReadAll(r.Body)
		var m struct {
			ID     json.RawMessage
			Method string
			Params struct{ Name string }
		}
		json.Unmarshal(body, &m)
		w.WriteHeader(http.StatusAccepted)
		switch {
		case len(m.ID) == 0:
		case m.Method == "initialize":
			s.mu.Lock()
			s.inits++
			s.mu.Unlock()
			ch <- fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"result":{"protocolVersion":"2024-11-05"}}`, m.ID)
		case m.Params.Name == "drop":
			s.mu.Lock()
			delete(s.streams, r.URL.Query().Get("s"))
			s.mu.Unlock()
			close(ch)
		default:
			ch <- fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"result":{}}`, m.ID)
		}
	default:
		http.NotFound(w, r)
	}
}

// TestRemoteLegacy: with auto, a server that refuses the initialize POST
// is spoken to over its SSE stream; when the stream ends under a request,
// that request gets an error, and the next one opens a new stream on
// which the client's initialize is replayed, unseen by the client.
func TestRemoteLegacy(t *testing.T) {
	s := &legacyServer{streams: map[string]chan string{}}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close) // after the session's own cleanup ends its stream
	c := newRemoteClient(t, &Remote{URL: srv.URL + "/sse", Transport: "auto"})
	c.send(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2024-11-05"}}`)
	if l := c.next(); l != `{"jsonrpc":"2.0","id":0,"result":{"protocolVersion":"2024-11-05"}}` {
		t.Fatalf("initialize: got %s", l)
	}
	c.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	c.send(`{"jsonrpc":"2.0","id":1,"method":"ping"}`)
	if l := c.next(); l != `{"jsonrpc":"2.0","id":1,"result":{}}` {
		t.Fatalf("ping: got %s", l)
	}
	// A tool call's answer comes on the stream, often before its POST's 202:
	// it is passed on once the POST is answered, so its outcome record can
	// say how it came.
	c.send(`{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"echo"}}`)
	if l := c.next(); l != `{"jsonrpc":"2.0","id":5,"result":{}}` {
		t.Fatalf("tools/call: got %s", l)
	}
	o := c.up.outcomeContext([]byte("5"))
	retries, _ := o["retries"].(map[string]any)
	if o["http_status"] != http.StatusAccepted || o["reply"] != "sse" || o["token_fingerprint"] != "none" || retries == nil || retries["auth"] != 0 {
		t.Errorf("the call's outcome context: %v; want HTTP 202, sse, no token, no retries", o)
	}
	c.send(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"drop"}}`)
	if l := c.next(); !strings.Contains(l, `"id":2,"error"`) || !strings.Contains(l, "closed its event stream before answering") {
		t.Fatalf("call whose stream ended: got %s", l)
	}
	c.send(`{"jsonrpc":"2.0","id":3,"method":"ping"}`)
	if l := c.next(); l != `{"jsonrpc":"2.0","id":3,"result":{}}` {
		t.Fatalf("ping on a new stream: got %s (the replayed initialize's answer must not reach the client)", l)
	}
	if d := c.up.describe(); d["transport"] != "sse" || d["protocol_version"] != "2024-11-05" {
		t.Errorf("describe: %v", d)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ssePosts != 1 || s.gets != 2 || s.inits != 2 {
		t.Errorf("server saw %d POSTs to /sse, %d streams, %d initializes; want 1, 2, 2", s.ssePosts, s.gets, s.inits)
	}
}

// An endpoint on another origin would send the client's messages, and the
// headers, elsewhere: refused.
func TestRemoteLegacyForeignEndpoint(t *testing.T) {
	s := &legacyServer{streams: map[string]chan string{}, endpoint: "http://elsewhere.example/message"}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close) // after the session's own cleanup ends its stream
	c := newRemoteClient(t, &Remote{URL: srv.URL + "/sse", Transport: "sse"})
	c.send(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2024-11-05"}}`)
	if l := c.next(); !strings.Contains(l, `"id":0,"error"`) || !strings.Contains(l, "endpoint on another origin (http://elsewhere.example/message)") {
		t.Fatalf("initialize: got %s", l)
	}
}
