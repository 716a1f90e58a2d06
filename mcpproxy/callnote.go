package mcpproxy

import (
	"net/http"
	"strings"

	"github.com/opena2a-org/aim-mcp/internal/httpnote"
)

// remoteCalls is implemented by an upstream over the network: what a
// call's records say of the request that carried it. A child has nothing to
// add, so the stdio path pays one nil check.
type remoteCalls interface {
	// callContext goes into a call record, before the request is sent.
	callContext() map[string]any
	// outcomeContext goes into the outcome record of the call with id, once
	// (nil when nothing is known of it).
	outcomeContext(id []byte) map[string]any
}

var _ remoteCalls = (*httpUp)(nil)

// callNote is how one tool call's answer came.
type callNote struct {
	status  int    // the HTTP status of the POST that answered (0: none)
	format  string // "json" or "sse"
	token   string // fingerprint of the bearer token the request went with
	reinits int    // sessions started again because the server lost one
	resumes int    // GETs that resumed the reply stream
	note    *httpnote.Note
}

// reinitialized counts a re-initialization on the way; n may be nil.
func (n *callNote) reinitialized() {
	if n != nil {
		n.reinits++
	}
}

// noteCall keeps what the outcome record of the call with id will say; it
// runs before the answer is passed on, so the record finds it. n nil (not a
// tool call) keeps nothing.
func (h *httpUp) noteCall(id []byte, n *callNote, resp *http.Response, rs *resumable) {
	if n == nil || len(id) == 0 {
		return
	}
	c := *n
	c.token = "none"
	if resp != nil {
		c.status, c.format = resp.StatusCode, "json"
		if resp.Request != nil {
			c.token = bearerFingerprint(resp.Request.Header)
		}
	}
	if rs != nil {
		c.resumes = rs.resumes
		if rs.sse {
			c.format = "sse"
		}
	}
	h.mu.Lock()
	h.calls[string(id)] = c
	h.mu.Unlock()
}

// callContext: the upstream URL as shown (no credentials) and the
// fingerprint of the token the call is about to go with: the one the last
// request carried (a refresh on the way shows in the outcome). It runs on
// the pump, so it asks the login nothing: that may be refreshing.
func (h *httpUp) callContext() map[string]any {
	h.mu.Lock()
	tok := h.lastToken
	h.mu.Unlock()
	if tok == "" {
		tok = "none"
	}
	return map[string]any{"url": h.shown, "token_fingerprint": tok}
}

// noteToken keeps the fingerprint of the token a request carried.
func (h *httpUp) noteToken(resp *http.Response) {
	if resp.Request == nil {
		return
	}
	fp := bearerFingerprint(resp.Request.Header)
	h.mu.Lock()
	h.lastToken = fp
	h.mu.Unlock()
}

// outcomeContext: the HTTP status, JSON or SSE, the retries made and the
// token the request went with. The note is dropped: one outcome a call.
// Over the older HTTP+SSE transport the status is the POST's (202), and
// the answer came on the stream ("sse").
func (h *httpUp) outcomeContext(id []byte) map[string]any {
	h.mu.Lock()
	c, ok := h.calls[string(id)]
	delete(h.calls, string(id))
	h.mu.Unlock()
	d := map[string]any{"url": h.shown}
	if !ok {
		return d
	}
	if c.status != 0 {
		d["http_status"], d["reply"] = c.status, c.format
	}
	auth := 0
	if c.note != nil {
		auth = int(c.note.AuthRetries.Load())
	}
	d["retries"] = map[string]any{"auth": auth, "reinitialize": c.reinits, "resume": c.resumes}
	d["token_fingerprint"] = c.token
	return d
}

// bearerFingerprint is the fingerprint of the bearer token in hdr ("none"
// without one): a SHA-256 prefix, as the login shows it, never the token.
func bearerFingerprint(hdr http.Header) string {
	v := hdr.Get("Authorization")
	scheme, tok, ok := strings.Cut(v, " ")
	if !ok || !strings.EqualFold(scheme, "bearer") || tok == "" {
		return "none"
	}
	return httpnote.Fingerprint(tok)
}
