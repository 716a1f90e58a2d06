package mcpproxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opena2a-org/aim-mcp/internal/httpnote"
)

// Remote is a server reached over HTTP instead of a command the proxy
// starts. The client still talks stdio to the proxy; the proxy is the
// server's HTTP client, so a refused call never reaches the network.
type Remote struct {
	URL string
	// Transport is "http" (streamable HTTP), "sse" (the legacy HTTP+SSE
	// transport of 2024-11-05) or "auto": streamable HTTP, falling back to
	// SSE when the server refuses the initialize POST, as the
	// specification tells a client of both to do.
	Transport string
	// Headers go with every request. Their values come from the
	// environment and appear nowhere else: the session record lists the
	// names only.
	Headers http.Header
	// Client makes the requests; nil uses one of the upstream's own.
	Client *http.Client
	// MaxFrame bounds one message from the server (default 64 MiB): a
	// larger one is answered as an error.
	MaxFrame int
	// Describe, when set, adds to what the session record says of the
	// server (the login's issuer, client and token fingerprint).
	Describe func() map[string]any

	up atomic.Pointer[httpUp] // the session, once started: see TLSKey
}

const defaultMaxFrame = 64 << 20

// httpUp is a streamable HTTP session as the pumps see an upstream: frames
// written to it are POSTed, requests concurrently so a slow call does not
// hold up a ping, notifications and responses in the order they came; what
// the server sends back, on the POST replies and on the optional GET stream,
// comes out of Read as lines in the order it arrived.
type httpUp struct {
	url    string
	shown  string // url without secrets, for records and messages
	hdr    http.Header
	client *http.Client
	max    int
	log    *slog.Logger
	extra  func() map[string]any // Remote.Describe
	auto   bool                  // fall back to the legacy transport

	ctx    context.Context // ends when the session is stopped
	cancel context.CancelFunc

	out   *io.PipeReader
	outW  *io.PipeWriter
	outMu sync.Mutex // one line at a time

	inMu      sync.Mutex // guards closed and sends on queue
	closed    bool
	queue     chan []byte // frames in the client's order
	queueDone chan struct{}
	inflight  sync.WaitGroup // requests being sent or answered
	listening sync.WaitGroup // the GET stream

	mu         sync.Mutex
	session    string
	version    string
	changed    chan struct{} // closed and replaced when the session changes
	initLine   []byte        // the client's initialize, replayed after a restart
	initID     []byte
	initedLine []byte        // its notifications/initialized
	initWait   chan struct{} // closed when the initialize in flight is answered
	getStarted bool
	ended      bool       // no more requests or streams start
	reinitMu   sync.Mutex // one re-initialization at a time
	reinits    int        // sessions started again after the server lost one
	legacy     bool       // the server speaks the HTTP+SSE transport
	leg        legacyState
	failed     map[RemoteFailure]bool // kinds of failure reported already
	tlsSPKI    string                 // the server certificate's key hash
	tlsIssuer  string
	calls      map[string]callNote // how each tool call's answer came, until its outcome is recorded
	lastToken  string              // fingerprint of the token the last request carried

	report func(error)                            // see [Options.Report]
	record func(kind string, data map[string]any) // into the session's audit trail

	endOnce sync.Once
	done    chan struct{}
	how     string
}

// startRemote prepares the session; nothing is sent until the client's
// first frame. report and record (either may be nil) hear of the first
// failure of each kind.
func startRemote(r *Remote, log *slog.Logger, report func(error), record func(string, map[string]any)) (*httpUp, error) {
	u, err := url.Parse(r.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("remote server: %q is not an http(s) URL", r.URL)
	}
	client := r.Client
	if client == nil {
		client = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	max := r.MaxFrame
	if max <= 0 {
		max = defaultMaxFrame
	}
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	h := &httpUp{
		url: r.URL, shown: shownURL(u), hdr: r.Headers.Clone(), client: client, max: max, log: log, extra: r.Describe,
		auto: r.Transport == "" || r.Transport == "auto",
		ctx:  ctx, cancel: cancel, out: pr, outW: pw,
		queue: make(chan []byte, 256), queueDone: make(chan struct{}),
		changed: make(chan struct{}), done: make(chan struct{}),
		legacy: r.Transport == "sse", leg: legacyState{pending: map[string]*legacyWait{}},
		failed: map[RemoteFailure]bool{}, report: report, record: record,
		calls: map[string]callNote{},
	}
	r.up.Store(h)
	go h.send()
	return h, nil
}

// shownURL is u without its user info and query values, which may hold
// credentials.
func shownURL(u *url.URL) string {
	c := *u
	c.User = nil
	if c.RawQuery != "" {
		q := c.Query()
		for k := range q {
			q[k] = []string{"REDACTED"}
		}
		c.RawQuery = q.Encode()
	}
	c.Fragment = ""
	return c.String()
}

var _ upstream = (*httpUp)(nil)

func (h *httpUp) Read(p []byte) (int, error) { return h.out.Read(p) }

// Write queues one frame. It does not wait for the network: the sender
// posts it, and a request's answer comes back through Read.
func (h *httpUp) Write(frame []byte) (int, error) {
	body := bytes.TrimSpace(frame)
	if len(body) == 0 {
		return len(frame), nil
	}
	h.inMu.Lock()
	defer h.inMu.Unlock()
	if h.closed {
		return 0, io.ErrClosedPipe
	}
	select {
	case h.queue <- bytes.Clone(body):
		return len(frame), nil
	case <-h.ctx.Done():
		return 0, io.ErrClosedPipe
	}
}

// upMessage is what the sender needs to know of a frame.
type upMessage struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	batch  bool
}

func (m upMessage) request() bool { return m.batch || (m.Method != "" && len(m.ID) > 0) }

func peek(frame []byte) upMessage {
	var m upMessage
	if len(frame) > 0 && frame[0] == '[' {
		m.batch = true
		return m
	}
	if json.Unmarshal(frame, &m) != nil {
		return upMessage{}
	}
	if string(m.ID) == "null" {
		m.ID = nil
	}
	return m
}

// send posts the queued frames: each request on a goroutine of its own,
// each notification or response before anything queued after it.
func (h *httpUp) send() {
	defer close(h.queueDone)
	for frame := range h.queue {
		m := peek(frame)
		var initDone chan struct{}
		if m.Method == "initialize" && m.request() {
			initDone = make(chan struct{})
			h.mu.Lock()
			h.initLine, h.initID, h.initWait = frame, bytes.Clone(m.ID), initDone
			h.mu.Unlock()
		} else {
			// Nothing else goes out before the session exists: a client
			// that does not wait for the answer must not reach the server
			// first.
			h.awaitInit()
		}
		if m.request() {
			h.mu.Lock()
			if h.ended { // stopped: nobody would read the answer
				h.mu.Unlock()
				continue
			}
			h.inflight.Add(1)
			h.mu.Unlock()
			go func() {
				defer h.inflight.Done()
				h.request(frame, m)
				if initDone != nil {
					close(initDone)
				}
			}()
			continue
		}
		h.notify(frame, m)
	}
}

// awaitInit waits for the answer to the client's initialize, if one is on
// its way.
func (h *httpUp) awaitInit() {
	h.mu.Lock()
	w := h.initWait
	h.mu.Unlock()
	if w == nil {
		return
	}
	select {
	case <-w:
	case <-h.ctx.Done():
	}
}

func (h *httpUp) notify(frame []byte, m upMessage) {
	if h.isLegacy() {
		h.legacyNotify(frame, m)
		return
	}
	resp, err := h.post(h.ctx, h.url, frame, m)
	if err != nil {
		h.log.Warn("remote server: message not delivered", "method", m.Method, "err", err)
		return
	}
	h.reply(resp, nil, nil)
	if m.Method != "notifications/initialized" || resp.StatusCode/100 != 2 {
		return
	}
	h.mu.Lock()
	h.initedLine = frame
	start := !h.getStarted && !h.ended && !h.legacy
	h.getStarted = true
	h.mu.Unlock()
	if start {
		h.listening.Add(1)
		go h.listen()
	}
}

// request posts a request and turns its reply into lines; whatever goes
// wrong becomes an error answer to it, so the client is never left waiting.
func (h *httpUp) request(frame []byte, m upMessage) {
	if h.isLegacy() {
		h.legacyRequest(frame, m)
		return
	}
	sid := h.sessionID()
	// A tool call's outcome record says how its answer came (callnote.go).
	var cn *callNote
	ctx := h.ctx
	if m.Method == "tools/call" {
		cn = &callNote{}
		ctx, cn.note = httpnote.With(ctx)
	}
	resp, err := h.post(ctx, h.url, frame, m)
	if err == nil && m.Method == "initialize" && h.auto && h.fallBack(resp, m.ID) {
		h.legacyRequest(frame, m)
		return
	}
	if err == nil && m.Method != "initialize" && sid != "" && sessionGone(resp) {
		resp.Body.Close()
		cn.reinitialized()
		if err = h.reinitialize(sid); err == nil {
			resp, err = h.post(ctx, h.url, frame, m)
		}
	}
	if err != nil {
		h.noteCall(m.ID, cn, nil, nil)
		h.failRemote(m.ID, err)
		return
	}
	answered := false
	var rs resumable
	deliver := func(line []byte) {
		if !answered && len(m.ID) > 0 {
			if r := peek(line); bytes.Equal(r.ID, m.ID) && r.Method == "" {
				if m.Method == "initialize" {
					h.noteInitialized(resp, line)
				}
				h.noteCall(m.ID, cn, resp, &rs)
				answered = true
			}
		}
		h.emit(line)
	}
	err = h.readReply(resp, m.ID, &rs, deliver)
	if !answered && !m.batch && rs.sse && !errors.Is(err, errFrameTooLarge) {
		// The server closed the reply stream before answering, on purpose
		// (2025-11-25 lets it, to be polled) or not.
		err = h.resume(&rs, deliver, func() bool { return answered })
	}
	if !answered {
		h.noteCall(m.ID, cn, resp, &rs)
	}
	switch {
	case answered:
		if err != nil {
			h.log.Debug("remote server: reply stream ended badly after the answer", "err", err)
		}
	case err != nil:
		h.failRemote(m.ID, err)
	case !m.batch:
		h.failRemote(m.ID, fmt.Errorf("the server sent no answer (HTTP %d): %w", resp.StatusCode, errNotMCP))
	}
}

// noteInitialized takes the session id and protocol version from the
// answer to the client's initialize.
func (h *httpUp) noteInitialized(resp *http.Response, line []byte) {
	h.noteVersion(line)
	h.mu.Lock()
	defer h.mu.Unlock()
	if sid := resp.Header.Get("Mcp-Session-Id"); sid != "" && sid != h.session {
		h.session = sid
		close(h.changed)
		h.changed = make(chan struct{})
	}
}

// noteVersion takes the protocol version from the answer to initialize.
func (h *httpUp) noteVersion(line []byte) {
	var r struct {
		Result struct {
			ProtocolVersion string `json:"protocolVersion"`
		} `json:"result"`
	}
	json.Unmarshal(line, &r)
	if r.Result.ProtocolVersion != "" {
		h.mu.Lock()
		h.version = r.Result.ProtocolVersion
		h.mu.Unlock()
	}
}

func (h *httpUp) sessionID() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.session
}

// sessionGone says the server no longer knows the session: 404 as the
// specification says, or the 400 "no valid session ID" some servers send
// (the TypeScript SDK's examples, server-everything).
func sessionGone(resp *http.Response) bool {
	switch resp.StatusCode {
	case http.StatusNotFound:
		return true
	case http.StatusBadRequest:
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		resp.Body = readCloser{io.MultiReader(bytes.NewReader(b), resp.Body), resp.Body}
		return bytes.Contains(bytes.ToLower(b), []byte("session"))
	}
	return false
}

// readCloser reads what was peeked at, then the rest, and closes the body.
type readCloser struct {
	io.Reader
	io.Closer
}

// reinitialize starts a new session after the server lost stale: the
// client's initialize again (its answer swallowed: the client has had
// one), then its initialized notification. Several requests that met the
// lost session share one re-initialization.
func (h *httpUp) reinitialize(stale string) error {
	h.reinitMu.Lock()
	defer h.reinitMu.Unlock()
	h.mu.Lock()
	cur, init, initID, inited := h.session, h.initLine, h.initID, h.initedLine
	h.mu.Unlock()
	if cur != stale {
		return nil // another request did it already
	}
	if init == nil {
		return errors.New("the server lost the session and there is no initialize to replay")
	}
	h.log.Warn("remote server lost the session; initializing again", "url", h.shown)
	resp, err := h.post(h.ctx, h.url, init, peek(init))
	if err != nil {
		return fmt.Errorf("initialize again: %w", err)
	}
	got := false
	h.readReply(resp, initID, nil, func(line []byte) {
		if m := peek(line); bytes.Equal(m.ID, initID) && m.Method == "" {
			h.noteInitialized(resp, line)
			got = true
		}
	})
	if !got || resp.StatusCode/100 != 2 {
		return fmt.Errorf("initialize again: the server answered HTTP %d: %w", resp.StatusCode, errSessionLost)
	}
	h.mu.Lock()
	h.reinits++
	h.mu.Unlock()
	if inited != nil {
		if resp, err := h.post(h.ctx, h.url, inited, peek(inited)); err == nil {
			io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
		}
	}
	return nil
}

// post sends one frame m to u. initialize leaves out the session headers.
func (h *httpUp) post(ctx context.Context, u string, frame []byte, m upMessage) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(frame))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	ver := h.sessionHeaders(req, m.Method != "initialize")
	routeHeaders(req, frame, m, ver)
	resp, err := h.do(req)
	if err == nil {
		h.noteTLS(resp)
		h.noteToken(resp)
	}
	return resp, err
}

// sessionHeaders sets the caller's headers and, with session, the
// session's own; it returns the protocol version in use.
func (h *httpUp) sessionHeaders(req *http.Request, session bool) string {
	for k, v := range h.hdr {
		req.Header[k] = v
	}
	h.mu.Lock()
	sid, ver, legacy := h.session, h.version, h.legacy
	h.mu.Unlock()
	if !session || legacy {
		return ver
	}
	if sid != "" {
		req.Header.Set("Mcp-Session-Id", sid)
	}
	if ver != "" {
		req.Header.Set("MCP-Protocol-Version", ver)
	}
	return ver
}

// closeInput: the client is done. Answers still on their way are
// delivered, then the session is deleted.
func (h *httpUp) closeInput() error {
	h.inMu.Lock()
	if !h.closed {
		h.closed = true
		close(h.queue)
	}
	h.inMu.Unlock()
	go func() {
		<-h.queueDone
		h.inflight.Wait()
		h.end("session with " + h.shown + " ended")
	}()
	return nil
}

// end stops what is still running, deletes the session and lets wait
// return. Only the first call counts.
func (h *httpUp) end(how string) {
	h.endOnce.Do(func() {
		h.mu.Lock()
		h.ended = true
		h.mu.Unlock()
		h.cancel()
		h.inflight.Wait()
		h.listening.Wait()
		h.deleteSession()
		if h.reinits > 0 {
			how += fmt.Sprintf(" (initialized again %d times after the server lost the session)", h.reinits)
		}
		h.how = how
		h.outW.Close()
		close(h.done)
	})
}

// deleteSession tells the server the session is over; a server that does
// not allow it (405) or is gone is no matter.
func (h *httpUp) deleteSession() {
	sid := h.sessionID()
	if sid == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, h.url, nil)
	if err != nil {
		return
	}
	h.sessionHeaders(req, true)
	resp, err := h.do(req)
	if err != nil {
		h.log.Debug("remote server: delete session", "err", err)
		return
	}
	resp.Body.Close()
}

func (h *httpUp) closeOutput() error { return h.out.Close() }
func (h *httpUp) wait()              { <-h.done }
func (h *httpUp) terminate()         { go h.end("session with " + h.shown + " stopped by aim-mcp") }
func (h *httpUp) kill()              { go h.end("session with " + h.shown + " stopped by aim-mcp") }
func (h *httpUp) signalOS(s os.Signal) {
	go h.end("session with " + h.shown + " ended by " + s.String())
}

// exitStatus: a session has no exit code of its own; the proxy exits 0.
func (h *httpUp) exitStatus() (int, string) { return 0, h.how }

// describe is what the session record says about the server: never a
// header's value.
func (h *httpUp) describe() map[string]any {
	names := make([]string, 0, len(h.hdr))
	for k := range h.hdr {
		names = append(names, k)
	}
	slices.Sort(names)
	d := map[string]any{}
	if h.extra != nil {
		d = h.extra()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	transport := "streamable-http"
	if h.legacy {
		transport = "sse"
	}
	d["url"], d["transport"], d["header_names"] = h.shown, transport, names
	if h.version != "" {
		d["protocol_version"] = h.version
	}
	if h.tlsSPKI != "" {
		d["tls_spki_sha256"], d["tls_issuer"] = h.tlsSPKI, h.tlsIssuer
	}
	return d
}
