package mcpproxy

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/opena2a-org/aim-mcp/registry"
)

// fakePythonServer reads stdin the way the Python SDK's stdio server does
// (a text stream with universal newlines: "\r", "\n" and "\r\n" all end a
// line), logs each message it reads, logs "#ran TOOL" for every tools/call
// it runs and answers every request. With AIM_MCP_FAKE_OUT set, the bytes of
// that file answer tools/list, verbatim.
func fakePythonServer(r io.Reader, w io.Writer) int {
	log := openFakeLog()
	var toolsList []byte
	if name := os.Getenv(envOut); name != "" {
		b, err := os.ReadFile(name)
		if err != nil {
			fmt.Fprintln(os.Stderr, "python server:", err)
			return 2
		}
		toolsList = b
	}
	br := bufio.NewReader(r)
	var line []byte
	handle := func() {
		if len(line) == 0 {
			return
		}
		log.line(line)
		var req struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
			Params struct {
				Name string `json:"name"`
			} `json:"params"`
		}
		if json.Unmarshal(line, &req) != nil || req.ID == nil || req.Method == "" {
			return
		}
		result := `{}`
		switch req.Method {
		case "initialize":
			result = `{"protocolVersion":"2025-06-18","capabilities":{"tools":{}},"serverInfo":{"name":"py","version":"1"}}`
		case "tools/call":
			log.event("ran %s", req.Params.Name)
			result = `{"content":[{"type":"text","text":"ran ` + req.Params.Name + `"}]}`
		case "tools/list":
			if toolsList != nil {
				w.Write(toolsList)
				return
			}
		}
		fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"result":%s}`+"\n", req.ID, result)
	}
	for {
		c, err := br.ReadByte()
		if err != nil {
			handle()
			return 0
		}
		if c == '\r' || c == '\n' {
			handle()
			line = line[:0]
			continue
		}
		line = append(line, c)
	}
}

// TestLineBoundary: a client line with a raw carriage return inside would be
// two messages to a server that splits lines on '\r' too; it is refused
// with -32600 and recorded, and no part of it reaches the server.
func TestLineBoundary(t *testing.T) {
	deny := Verdict{Decision: "deny", Reason: "never"}
	call := func(id, tool string) string {
		return `{"jsonrpc":"2.0","id":` + id + `,"method":"tools/call","params":{"name":"` + tool + `","arguments":{}}}`
	}
	tests := []struct {
		name, line string
		id         string // of the -32600 answer
	}{
		{"after a line that is not JSON", "junk\r" + call("31", "danger"), "null"},
		{"after a harmless request", `{"jsonrpc":"2.0","id":32,"method":"ping"}` + "\r" + call("33", "danger"), "32"},
		{"as whitespace inside a call", `{"jsonrpc":"2.0","id":34,` + "\r" + `"method":"tools/call","params":{"name":"danger"}}`, "34"},
		{"two carriage returns", `{"jsonrpc":"2.0","id":35,"method":"ping"}` + "\r\r" + call("36", "danger"), "35"},
	}
	p := startProxy(t, proxyOpts{mode: "python", guard: &testGuard{deny: map[string]Verdict{"danger": deny}}})
	lr := initRaw(t, p)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p.send(tc.line + "\n")
			r := decodeRPC(t, lr.next(10*time.Second))
			if string(r.ID) != tc.id || r.Error == nil || r.Error.Code != -32600 {
				t.Fatalf("got %+v, want a -32600 error for id %s", r, tc.id)
			}
			if !strings.Contains(r.Error.Message, "carriage return") {
				t.Errorf("error message %q does not say why", r.Error.Message)
			}
		})
	}
	// A line that ends in CR LF is one line to every reader: it passes.
	p.send(call("40", "fine") + "\r\n")
	if r := decodeRPC(t, lr.next(10*time.Second)); string(r.ID) != "40" || r.Result == nil || r.Result.IsError {
		t.Fatalf("CR LF line: got %+v, want the server's answer", r)
	}
	p.close()
	log := p.serverLog()
	if strings.Contains(log, "#ran danger") || strings.Contains(log, `"ping"`) {
		t.Errorf("the server read part of a refused line:\n%s", log)
	}
	if !strings.Contains(log, "#ran fine") {
		t.Errorf("the CR LF call did not run:\n%s", log)
	}
	recs := p.reg.records(t)
	if n := len(only(recs, registry.KindBypass)); n != len(tests) {
		t.Errorf("bypass records: got %d, want %d", n, len(tests))
	}
}

// TestLineBoundaryFromServer: a server line with a raw carriage return is
// split, so every client reads the parts the proxy observed: a tools/list
// answer hidden behind a '\r' is still seen (and would be pinned).
func TestLineBoundaryFromServer(t *testing.T) {
	hidden := `{"jsonrpc":"2.0","id":"list","result":{"tools":[{"name":"hidden","inputSchema":{"type":"object"}}]}}`
	g := &testGuard{}
	p := startProxy(t, proxyOpts{mode: "python", guard: g, rawOut: []byte("banner\r" + hidden + "\n")})
	lr := initRaw(t, p)
	p.send(`{"jsonrpc":"2.0","id":"list","method":"tools/list"}` + "\n")
	if got := string(lr.next(10 * time.Second)); got != "banner\n" {
		t.Fatalf("first part: got %q, want the banner alone", got)
	}
	if got := string(lr.next(10 * time.Second)); got != hidden+"\n" {
		t.Fatalf("second part: got %q, want the answer alone", got)
	}
	p.close()
	g.mu.Lock()
	listed := len(g.listed)
	g.mu.Unlock()
	if listed != 1 {
		t.Errorf("tools/list answers observed: got %d, want 1", listed)
	}
	recs := p.reg.records(t)
	if b := only(recs, registry.KindBypass); len(b) != 1 || b[0].Decision != "split" {
		t.Errorf("bypass records: got %+v, want one split", b)
	}
}

// TestTooDeep: nesting beyond maxDepth is refused with a clear error and
// recorded, in a call, in any other request, and in a server's answer; and
// a few million levels do not take the proxy down.
func TestTooDeep(t *testing.T) {
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	tests := []struct {
		name, line, id string
	}{
		{"call arguments", `{"jsonrpc":"2.0","id":51,"method":"tools/call","params":{"name":"fine","arguments":{"a":` + deep(maxDepth) + `}}}`, "51"},
		{"call arguments, millions deep", `{"jsonrpc":"2.0","id":52,"method":"tools/call","params":{"name":"fine","arguments":{"a":` + deep(3_000_000) + `}}}`, "52"},
		{"another request", `{"jsonrpc":"2.0","id":53,"method":"resources/read","params":{"a":` + deep(maxDepth) + `}}`, "53"},
	}
	answer := `{"jsonrpc":"2.0","id":"list","result":{"tools":[],"x":` + deep(maxDepth) + "}}\n"
	p := startProxy(t, proxyOpts{mode: "python", guard: &testGuard{}, rawOut: []byte(answer)})
	lr := initRaw(t, p)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p.send(tc.line + "\n")
			r := decodeRPC(t, lr.next(30*time.Second))
			if string(r.ID) != tc.id || r.Error == nil || r.Error.Code != -32600 || !strings.Contains(r.Error.Message, "nested deeper") {
				t.Fatalf("got %+v, want a -32600 'nested deeper' error for id %s", r, tc.id)
			}
		})
	}
	// Just inside the limit passes.
	p.send(`{"jsonrpc":"2.0","id":54,"method":"tools/call","params":{"name":"fine","arguments":{"a":` + deep(maxDepth-3) + `}}}` + "\n")
	if r := decodeRPC(t, lr.next(10*time.Second)); string(r.ID) != "54" || r.Result == nil {
		t.Fatalf("call inside the limit: got %+v, want the server's answer", r)
	}
	p.send(`{"jsonrpc":"2.0","id":"list","method":"tools/list"}` + "\n")
	if r := decodeRPC(t, lr.next(10*time.Second)); string(r.ID) != `"list"` || r.Error == nil || r.Error.Code != -32603 {
		t.Fatalf("deep server answer: got %+v, want a -32603 error", r)
	}
	if code := p.close(); code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
	log := p.serverLog()
	for _, id := range []string{`"id":51`, `"id":52`, `"id":53`} {
		if strings.Contains(log, id) {
			t.Errorf("request %s reached the server", id)
		}
	}
	recs := p.reg.records(t)
	if n := len(only(recs, registry.KindBypass)); n != len(tests)+1 {
		t.Errorf("bypass records: got %d, want %d", n, len(tests)+1)
	}
	if n := len(only(recs, registry.KindSessionEnd)); n != 1 {
		t.Errorf("session_end records: got %d, want 1", n)
	}
}
