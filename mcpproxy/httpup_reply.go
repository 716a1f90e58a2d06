package mcpproxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// What comes back from a remote server: the replies to POSTs and the GET
// stream, turned into lines for the server's pump.

// reply delivers what resp carries as lines. For a request (id set) an
// error status or a message over the bound becomes an error answer to it,
// and failed is true; each message that answers id is also given to
// answered.
func (h *httpUp) reply(resp *http.Response, id json.RawMessage, answered func(line []byte)) (failed bool) {
	err := h.readReply(resp, id, nil, func(line []byte) {
		if answered != nil && len(id) > 0 {
			if m := peek(line); bytes.Equal(m.ID, id) && m.Method == "" {
				answered(line)
			}
		}
		h.emit(line)
	})
	if err == nil {
		return false
	}
	if len(id) == 0 {
		h.log.Warn("remote server: reply dropped", "err", err)
		return false
	}
	h.fail(id, err)
	return true
}

// readReply reads the messages in resp's body, JSON or server-sent events,
// and closes it. A non-2xx status is an error unless its body answers the
// request id. rs, when given, learns what an event stream left to resume
// it by.
func (h *httpUp) readReply(resp *http.Response, id json.RawMessage, rs *resumable, fn func(line []byte)) error {
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusAccepted || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	ct := resp.Header.Get("Content-Type")
	if resp.StatusCode/100 == 2 && isEventStream(ct) {
		if rs == nil {
			rs = &resumable{}
		}
		rs.sse = true
		return readSSE(resp.Body, h.max, func(ev sseEvent) bool {
			rs.note(ev)
			if len(bytes.TrimSpace(ev.data)) > 0 {
				h.messages(ev.data, fn)
			}
			return true
		})
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, int64(h.max)+1))
	if err != nil {
		return fmt.Errorf("read the server's reply: %w", err)
	}
	if len(b) > h.max {
		return fmt.Errorf("the server's reply is over %d bytes: %w", h.max, errFrameTooLarge)
	}
	if resp.StatusCode/100 == 2 {
		if !h.messages(b, fn) {
			return fmt.Errorf("the server's reply (HTTP %d, %s) is %w", resp.StatusCode, orNone(ct), errNotMCP)
		}
		return nil
	}
	// An error status may carry the JSON-RPC error that answers the
	// request: it is passed on. Anything else (an error with id null, a
	// page) becomes the error answer.
	var lines [][]byte
	h.messages(b, func(line []byte) { lines = append(lines, bytes.Clone(line)) })
	for _, l := range lines {
		if m := peek(l); len(id) > 0 && bytes.Equal(m.ID, id) && m.Method == "" {
			for _, l := range lines {
				fn(l)
			}
			return nil
		}
	}
	return &httpStatusError{code: resp.StatusCode, body: b}
}

// messages gives fn each JSON-RPC message in b (one, or a batch) as one
// line without newlines; false when b is no JSON.
func (h *httpUp) messages(b []byte, fn func(line []byte)) bool {
	b = bytes.TrimSpace(b)
	if !json.Valid(b) {
		return false
	}
	if b[0] == '[' {
		var batch []json.RawMessage
		if json.Unmarshal(b, &batch) != nil {
			return false
		}
		for _, m := range batch {
			fn(oneLine(m))
		}
		return true
	}
	if b[0] != '{' {
		return false
	}
	fn(oneLine(b))
	return true
}

// oneLine keeps a message on one line: the stdio transport is
// newline-delimited, and servers may pretty-print.
func oneLine(b []byte) []byte {
	if bytes.ContainsAny(b, "\r\n") {
		var c bytes.Buffer
		if json.Compact(&c, b) == nil {
			return c.Bytes()
		}
	}
	return b
}

func isEventStream(ct string) bool {
	return len(ct) >= 17 && bytes.EqualFold([]byte(ct[:17]), []byte("text/event-stream"))
}

func orNone(s string) string {
	if s == "" {
		return "no content type"
	}
	return s
}

type httpStatusError struct {
	code int
	body []byte
}

// html says the body is a web page: the URL is no MCP endpoint.
func (e *httpStatusError) html() bool {
	t := bytes.TrimSpace(e.body)
	return len(t) > 0 && t[0] == '<'
}

func (e *httpStatusError) Error() string {
	s := fmt.Sprintf("the server answered HTTP %d %s", e.code, http.StatusText(e.code))
	var rpc struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	t := bytes.TrimSpace(e.body)
	switch {
	case json.Unmarshal(t, &rpc) == nil && rpc.Error.Message != "":
		s += ": " + rpc.Error.Message
	case len(t) > 0 && len(t) <= 200 && !bytes.ContainsAny(t, "\r\n<"):
		s += ": " + string(t)
	}
	if e.code == http.StatusUnauthorized {
		s += " (it refused the credentials it was given: a header from --header-env holds a wrong or expired token)"
	}
	return s
}

// emit writes one line to the client's side, in arrival order.
func (h *httpUp) emit(line []byte) {
	h.outMu.Lock()
	defer h.outMu.Unlock()
	buf := make([]byte, 0, len(line)+1)
	buf = append(append(buf, line...), '\n')
	h.outW.Write(buf)
}

// fail answers the request id with a JSON-RPC error saying what went wrong.
func (h *httpUp) fail(id json.RawMessage, err error) {
	if len(id) == 0 {
		h.log.Warn("remote server", "url", h.shown, "err", err)
		return
	}
	if h.ctx.Err() != nil && errors.Is(err, context.Canceled) {
		err = errors.New("the session ended before the server answered")
	}
	h.emit(bytes.TrimSuffix(rpcError(id, -32603, fmt.Sprintf("aim-mcp: remote server %s: %v", h.shown, err)), []byte("\n")))
}

// listen keeps the optional GET stream open for what the server sends on
// its own (requests, notifications), reopening it when it ends, after a
// new session, or after an error with a growing pause. 405 means the
// server offers none.
func (h *httpUp) listen() {
	defer h.listening.Done()
	backoff := time.Second
	last, lastSID := "", ""
	for h.ctx.Err() == nil {
		h.mu.Lock()
		sid, changed := h.session, h.changed
		h.mu.Unlock()
		if sid != lastSID {
			last, lastSID = "", sid
		}
		req, err := http.NewRequestWithContext(h.ctx, http.MethodGet, h.url, nil)
		if err != nil {
			return
		}
		req.Header.Set("Accept", "text/event-stream")
		h.sessionHeaders(req, true)
		if last != "" {
			req.Header.Set("Last-Event-ID", last)
		}
		resp, err := h.do(req)
		var pause time.Duration
		switch {
		case err != nil:
			pause, backoff = backoff, min(backoff*2, 30*time.Second)
		case resp.StatusCode == http.StatusMethodNotAllowed:
			resp.Body.Close()
			return
		case resp.StatusCode == http.StatusOK && isEventStream(resp.Header.Get("Content-Type")):
			backoff, pause = time.Second, time.Second
			err := readSSE(resp.Body, h.max, func(ev sseEvent) bool {
				if ev.id != "" {
					last = ev.id
				}
				if ev.retry > 0 {
					pause = ev.retry
				}
				if len(bytes.TrimSpace(ev.data)) > 0 {
					h.messages(ev.data, h.emit)
				}
				return true
			})
			resp.Body.Close()
			if err != nil && h.ctx.Err() == nil {
				h.log.Warn("remote server: stream ended", "err", err)
			}
		default:
			// The session is not (or no longer) known: wait for a new one.
			resp.Body.Close()
			select {
			case <-changed:
			case <-h.ctx.Done():
			}
			continue
		}
		select {
		case <-time.After(pause):
		case <-changed:
		case <-h.ctx.Done():
		}
	}
}
