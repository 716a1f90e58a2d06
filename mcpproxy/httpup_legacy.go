package mcpproxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/opena2a-org/aim-mcp/internal/httpnote"
)

// The HTTP+SSE transport of 2024-11-05, which servers still offer: one GET
// stream carries everything the server sends; its first event names the
// endpoint that messages to the server are POSTed to, and a POST's answer
// comes back on the stream, not in the POST's reply.

// endpointWait bounds the wait for the stream's endpoint event.
const endpointWait = 15 * time.Second

// legacyState is the legacy transport's part of an httpUp.
type legacyState struct {
	connect  sync.Mutex // one stream opened at a time
	endpoint string     // where to POST; "" while no stream is open (h.mu)
	opened   bool       // a stream was open once: a new one must initialize again (h.mu)
	pending  map[string]*legacyWait
}

// legacyWait is a request waiting for its answer on the stream.
type legacyWait struct {
	done    chan struct{}
	lost    bool // the stream ended before the answer came
	swallow bool // the answer to a replayed initialize: the client has had one
	// held is a tool call's answer, kept back until its POST has been
	// answered: its outcome record then has the POST's status, whichever
	// came first (set before done is closed).
	held []byte
	hold bool
}

func (h *httpUp) isLegacy() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.legacy
}

// fallBack says whether the answer to the client's initialize means the
// server speaks only the legacy transport: the specification's rule for a
// client of both is a 4xx to the POST (400, 404, 405 here; a 400 that
// answers the request is an answer, not a refusal).
func (h *httpUp) fallBack(resp *http.Response, id []byte) bool {
	switch resp.StatusCode {
	case http.StatusNotFound, http.StatusMethodNotAllowed:
	case http.StatusBadRequest:
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		resp.Body = readCloser{io.MultiReader(bytes.NewReader(b), resp.Body), resp.Body}
		answers := false
		h.messages(b, func(line []byte) {
			if m := peek(line); bytes.Equal(m.ID, id) && m.Method == "" {
				answers = true
			}
		})
		if answers {
			return false
		}
	default:
		return false
	}
	resp.Body.Close()
	h.mu.Lock()
	h.legacy = true
	h.mu.Unlock()
	h.log.Info("remote server refused a streamable HTTP initialize; trying the legacy SSE transport", "url", h.shown, "status", resp.StatusCode)
	return true
}

// legacyRequest posts a request to the endpoint and waits for its answer
// on the stream, so that the session is not ended under it.
func (h *httpUp) legacyRequest(frame []byte, m upMessage) {
	ep, err := h.legacyEndpoint(m.Method == "initialize")
	if err != nil {
		h.failRemote(m.ID, err)
		return
	}
	// A tool call's outcome record says how its answer came (callnote.go):
	// the POST's status and token, over the stream.
	var cn *callNote
	ctx := h.ctx
	if m.Method == "tools/call" {
		cn = &callNote{}
		ctx, cn.note = httpnote.With(ctx)
	}
	var w *legacyWait
	key := string(m.ID)
	if len(m.ID) > 0 && !m.batch {
		w = &legacyWait{done: make(chan struct{}), hold: cn != nil}
		h.mu.Lock()
		h.leg.pending[key] = w
		h.mu.Unlock()
	}
	resp, err := h.legacyPost(ctx, ep, frame, m)
	if err != nil {
		h.noteCall(m.ID, cn, nil, nil)
		if w != nil {
			h.mu.Lock()
			taken := h.leg.pending[key] != w // by the stream: done is closed at once
			if !taken {
				delete(h.leg.pending, key)
			}
			h.mu.Unlock()
			if taken {
				<-w.done
				if w.held != nil { // answered all the same: the server has it
					h.emit(w.held)
					return
				}
			}
		}
		h.failRemote(m.ID, err)
		return
	}
	h.noteCall(m.ID, cn, resp, &resumable{sse: true})
	if w == nil {
		return
	}
	select {
	case <-w.done:
		switch {
		case w.lost:
			h.failRemote(m.ID, fmt.Errorf("the server closed its event stream before answering: %w", errSessionLost))
		case w.held != nil:
			h.emit(w.held)
		}
	case <-h.ctx.Done():
		h.fail(m.ID, context.Canceled)
	}
}

func (h *httpUp) legacyNotify(frame []byte, m upMessage) {
	ep, err := h.legacyEndpoint(false)
	if err == nil {
		_, err = h.legacyPost(h.ctx, ep, frame, m)
	}
	if err != nil {
		h.log.Warn("remote server: message not delivered", "method", m.Method, "err", err)
		return
	}
	if m.Method == "notifications/initialized" {
		h.mu.Lock()
		h.initedLine = frame
		h.mu.Unlock()
	}
}

// legacyPost sends one message to the endpoint; its answer, if any, comes
// on the stream. The response is for its status and request: its body is
// read and closed.
func (h *httpUp) legacyPost(ctx context.Context, ep string, frame []byte, m upMessage) (*http.Response, error) {
	resp, err := h.post(ctx, ep, frame, m)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return resp, nil
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	return nil, &httpStatusError{code: resp.StatusCode, body: b}
}

// legacyEndpoint is where to POST, opening the stream when none is open.
// A stream opened after one was lost is a new session on the server: the
// client's initialize is replayed on it, unless this is that initialize.
func (h *httpUp) legacyEndpoint(initialize bool) (string, error) {
	h.leg.connect.Lock()
	defer h.leg.connect.Unlock()
	h.mu.Lock()
	ep, again := h.leg.endpoint, h.leg.opened
	h.mu.Unlock()
	if ep != "" {
		return ep, nil
	}
	ep, err := h.legacyOpen()
	if err != nil {
		return "", err
	}
	if again && !initialize {
		if err := h.legacyReplay(ep); err != nil {
			return "", err
		}
	}
	return ep, nil
}

// legacyOpen opens the stream and waits for its endpoint event; the stream
// is then read until it ends.
func (h *httpUp) legacyOpen() (string, error) {
	req, err := http.NewRequestWithContext(h.ctx, http.MethodGet, h.url, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Accept", "text/event-stream")
	for k, v := range h.hdr {
		req.Header[k] = v
	}
	resp, err := h.do(req)
	if err != nil {
		return "", err
	}
	h.noteTLS(resp)
	if resp.StatusCode != http.StatusOK || !isEventStream(resp.Header.Get("Content-Type")) {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		if resp.StatusCode/100 == 2 {
			return "", fmt.Errorf("the server's answer to GET (%s) is no event stream: %w", orNone(resp.Header.Get("Content-Type")), errNotMCP)
		}
		return "", &httpStatusError{code: resp.StatusCode, body: b}
	}
	endpoint := make(chan string, 1)
	streamErr := make(chan error, 1)
	h.listening.Add(1)
	go func() {
		defer h.listening.Done()
		sent := false
		err := readSSE(resp.Body, h.max, func(ev sseEvent) bool {
			switch {
			case ev.event == "endpoint" && !sent:
				ep, err := h.resolveEndpoint(ev.data)
				if err != nil {
					streamErr <- err
					return false
				}
				sent = true
				h.mu.Lock()
				h.leg.endpoint, h.leg.opened = ep, true
				h.mu.Unlock()
				endpoint <- ep
			case ev.event == "" || ev.event == "message":
				if len(bytes.TrimSpace(ev.data)) > 0 {
					h.messages(ev.data, h.legacyDeliver)
				}
			}
			return true
		})
		resp.Body.Close()
		if err != nil && h.ctx.Err() == nil {
			h.log.Warn("remote server: event stream ended", "url", h.shown, "err", err)
		}
		if !sent {
			select {
			case streamErr <- fmt.Errorf("the server's event stream ended before it named an endpoint: %w", errNotMCP):
			default:
			}
		}
		h.legacyLost()
	}()
	timer := time.NewTimer(endpointWait)
	defer timer.Stop()
	select {
	case ep := <-endpoint:
		return ep, nil
	case err := <-streamErr:
		resp.Body.Close()
		return "", err
	case <-timer.C:
		resp.Body.Close()
		return "", fmt.Errorf("the server's event stream named no endpoint within %v: %w", endpointWait, errNotMCP)
	case <-h.ctx.Done():
		resp.Body.Close()
		return "", h.ctx.Err()
	}
}

// resolveEndpoint turns the endpoint event's URI into the URL to POST to.
// It must be on the stream's own origin: messages carry the client's
// arguments, and the headers go with them.
func (h *httpUp) resolveEndpoint(data []byte) (string, error) {
	base, err := url.Parse(h.url)
	if err != nil {
		return "", err
	}
	ref, err := url.Parse(strings.TrimSpace(string(data)))
	if err != nil {
		return "", fmt.Errorf("the server's endpoint event %q is no URI: %w", data, errNotMCP)
	}
	u := base.ResolveReference(ref)
	if u.Scheme != base.Scheme || u.Host != base.Host {
		return "", fmt.Errorf("the server named an endpoint on another origin (%s): %w", shownURL(u), errNotMCP)
	}
	return u.String(), nil
}

// legacyDeliver passes one message from the stream to the client and wakes
// the request it answers.
func (h *httpUp) legacyDeliver(line []byte) {
	m := peek(line)
	var w *legacyWait
	if m.Method == "" && len(m.ID) > 0 {
		h.mu.Lock()
		w = h.leg.pending[string(m.ID)]
		delete(h.leg.pending, string(m.ID))
		initAnswer := bytes.Equal(m.ID, h.initID)
		h.mu.Unlock()
		if w != nil && initAnswer {
			h.noteVersion(line)
		}
	}
	switch {
	case w != nil && w.hold:
		w.held = line // passed on by the request, once its POST is answered
	case w == nil || !w.swallow:
		h.emit(line)
	}
	if w != nil {
		close(w.done)
	}
}

// legacyLost: the stream ended. The requests still waiting get an error;
// the next message opens a new stream.
func (h *httpUp) legacyLost() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.leg.endpoint = ""
	for k, w := range h.leg.pending {
		w.lost = true
		close(w.done)
		delete(h.leg.pending, k)
	}
}

// legacyReplay initializes a new stream's session as the client did the
// first one: its initialize (the answer swallowed), then its initialized.
func (h *httpUp) legacyReplay(ep string) error {
	h.mu.Lock()
	init, initID, inited := h.initLine, h.initID, h.initedLine
	h.mu.Unlock()
	if init == nil {
		return errors.New("the server lost the session and there is no initialize to replay")
	}
	h.log.Warn("remote server closed its event stream; initializing again", "url", h.shown)
	w := &legacyWait{done: make(chan struct{}), swallow: true}
	h.mu.Lock()
	h.leg.pending[string(initID)] = w
	h.mu.Unlock()
	if _, err := h.legacyPost(h.ctx, ep, init, peek(init)); err != nil {
		return fmt.Errorf("initialize again: %w", err)
	}
	timer := time.NewTimer(endpointWait)
	defer timer.Stop()
	select {
	case <-w.done:
		if w.lost {
			return fmt.Errorf("initialize again: the stream ended: %w", errSessionLost)
		}
	case <-timer.C:
		return fmt.Errorf("initialize again: no answer within %v: %w", endpointWait, errSessionLost)
	case <-h.ctx.Done():
		return h.ctx.Err()
	}
	h.mu.Lock()
	h.reinits++
	h.mu.Unlock()
	if inited != nil {
		_, err := h.legacyPost(h.ctx, ep, inited, peek(inited))
		return err
	}
	return nil
}
