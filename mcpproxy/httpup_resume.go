package mcpproxy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// resumable is what a reply's event stream left to resume it by: since
// 2025-11-25 a server may close the stream before it answers, after a
// priming event (an id, no data) and a retry: delay, and the client polls
// with GET and Last-Event-ID so that no message is lost.
type resumable struct {
	sse     bool // the reply was an event stream
	resumes int  // GETs sent to resume it
	lastID  string
	retry   time.Duration
}

func (rs *resumable) note(ev sseEvent) {
	if ev.id != "" {
		rs.lastID = ev.id
	}
	if ev.retry > 0 {
		rs.retry = ev.retry
	}
}

// resumeTries bounds the polls in a row that bring nothing: a server that
// keeps answering with empty streams is gone, not slow.
const resumeTries = 3

// defaultRetry is the pause before a poll when the server named none.
const defaultRetry = time.Second

// resume polls the reply stream rs left off until done says the request
// is answered; deliver gets each message on the way.
func (h *httpUp) resume(rs *resumable, deliver func(line []byte), done func() bool) error {
	if rs.lastID == "" {
		return fmt.Errorf("the server closed the reply stream before answering, with no event id to resume from: %w", errSessionLost)
	}
	idle := 0
	for !done() {
		wait := rs.retry
		if wait <= 0 {
			wait = defaultRetry
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-h.ctx.Done():
			t.Stop()
			return h.ctx.Err()
		}
		req, err := http.NewRequestWithContext(h.ctx, http.MethodGet, h.url, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Accept", "text/event-stream")
		h.sessionHeaders(req, true)
		req.Header.Set("Last-Event-ID", rs.lastID)
		rs.resumes++
		resp, err := h.do(req)
		if err != nil {
			if idle++; idle >= resumeTries {
				return fmt.Errorf("resume the reply stream: %w", err)
			}
			continue
		}
		if resp.StatusCode != http.StatusOK || !isEventStream(resp.Header.Get("Content-Type")) {
			resp.Body.Close()
			return fmt.Errorf("the server closed the reply stream before answering and refused to resume it (HTTP %d): %w", resp.StatusCode, errSessionLost)
		}
		before := rs.lastID
		err = readSSE(resp.Body, h.max, func(ev sseEvent) bool {
			rs.note(ev)
			if len(bytes.TrimSpace(ev.data)) > 0 {
				h.messages(ev.data, deliver)
			}
			return !done()
		})
		resp.Body.Close()
		if err != nil && h.ctx.Err() != nil {
			return h.ctx.Err()
		}
		if rs.lastID != before {
			idle = 0
		} else if idle++; idle >= resumeTries {
			return fmt.Errorf("the server's reply stream brought nothing in %d polls: %w", resumeTries, errSessionLost)
		}
	}
	return nil
}

// statelessVersion is the revision that routes on headers and keeps no
// session.
const statelessVersion = "2026-07-28"

// metaVersion is the key under which a 2026-07-28 request names its
// protocol version.
const metaVersion = "io.modelcontextprotocol/protocolVersion"

// routeHeaders sets what a 2026-07-28 server routes by: Mcp-Method for
// every message with a method, Mcp-Name for the calls that name a tool, a
// resource or a prompt. Both must equal the body; older revisions get
// neither. ver is the session's version; a request's own _meta wins.
func routeHeaders(req *http.Request, frame []byte, m upMessage, ver string) {
	if m.Method == "" || m.batch {
		return
	}
	var p struct {
		Params struct {
			Name string                     `json:"name"`
			URI  string                     `json:"uri"`
			Meta map[string]json.RawMessage `json:"_meta"`
		} `json:"params"`
	}
	parsed := false
	if bytes.Contains(frame, []byte(metaVersion)) {
		parsed = json.Unmarshal(frame, &p) == nil
		var v string
		if parsed && json.Unmarshal(p.Params.Meta[metaVersion], &v) == nil && v != "" {
			ver = v
			req.Header.Set("MCP-Protocol-Version", v)
		}
	}
	if ver < statelessVersion {
		return
	}
	req.Header.Set("Mcp-Method", m.Method)
	switch m.Method {
	case "tools/call", "prompts/get", "resources/read":
	default:
		return
	}
	if !parsed && json.Unmarshal(frame, &p) != nil {
		return
	}
	name := p.Params.Name
	if m.Method == "resources/read" {
		name = p.Params.URI
	}
	if name != "" && headerSafe(name) {
		req.Header.Set("Mcp-Name", name)
	}
}

// headerSafe: printable ASCII only; anything else cannot go in a header
// as it is.
func headerSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
