// Package mcpproxy is the stdio relay between an MCP client and the real
// server. It forwards every line byte for byte in both directions, except a
// client's tools/call: that one is held aside, decided by a [Guard], recorded
// in a [Journal] and only then forwarded, or answered with an isError result.
//
// The pump never waits for a decision. A call that might wait (for a
// person, the network, another proxy's lock on the registry) is held on a
// goroutine of its own, so pings, cancels, other calls and the server's own
// requests keep flowing while a human thinks; a call the guard can decide at
// once, and record without waiting, is done in line. Only what must be
// parsed is parsed: the top-level members of client lines, the params of
// tools/call, and the answers to the few requests the proxy observes.
package mcpproxy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opena2a-org/aim-mcp/internal/canon"
	"github.com/opena2a-org/aim-mcp/internal/redact"
	"github.com/opena2a-org/aim-mcp/registry"
)

// Guard decides tool calls.
type Guard interface {
	// Check decides c. It may take as long as it needs (a human may be
	// asked); ctx ends when the client cancels the call or the proxy stops.
	Check(ctx context.Context, c *Call) Verdict
}

// ToolsObserver is implemented by guards that want every tools/list answer
// (for risk from annotations, and for pinning).
type ToolsObserver interface {
	ToolsListed(ctx context.Context, result json.RawMessage)
	ToolsChanged(ctx context.Context)
}

// OutcomeObserver is implemented by guards that want to know how each
// forwarded call ended (a remote registry logs it too).
type OutcomeObserver interface {
	Outcome(ctx context.Context, c *Call, o Outcome)
}

// Journal commits records to the audit chain. The proxy fills in kind, tool,
// decision, request id and data; the journal adds the session's server.
// Several events given at once are committed together, in order.
type Journal interface {
	Append(ctx context.Context, evs ...registry.Event) error
}

// QuickGuard is implemented by guards that can often decide at once, with
// nothing to wait for. Quick returns ok false when the call may have to
// wait (for a person, the network, the registry), and the proxy then holds
// it and asks Check.
type QuickGuard interface {
	Quick(c *Call) (v Verdict, ok bool)
}

// TryJournal is implemented by journals that can try a commit without
// waiting for the registry's write lock, returning registry.ErrBusy when
// they would have to.
type TryJournal interface {
	TryAppend(ctx context.Context, evs ...registry.Event) error
}

// Checkpointer is implemented by journals whose storage wants tidying off
// the hot path now and then (the SQLite WAL's checkpoint).
type Checkpointer interface {
	Checkpoint(ctx context.Context) error
}

// Call is one tools/call as the client sent it.
type Call struct {
	ID         json.RawMessage // the caller's raw id, echoed as is
	Tool       string
	Args       json.RawMessage // the raw arguments, {} when absent
	ArgsDigest string          // digest of the canonical arguments
	Meta       json.RawMessage // params._meta, if any
	Modern     bool            // the request declares protocol 2026-07-28 or later
	Line       []byte          // the exact bytes that are forwarded
	Client     ClientInfo
	// Ask sends a request to the client (elicitation/create) and waits for
	// its answer. It is nil when the client did not declare elicitation.
	Ask func(ctx context.Context, method string, params any) (json.RawMessage, error)

	value    any // Args decoded, numbers as json.Number
	redacted json.RawMessage
}

// Value is the decoded arguments (numbers as json.Number), nil when they
// are not valid JSON.
func (c *Call) Value() any { return c.value }

// RedactedArgs is the arguments as the audit log shows them.
func (c *Call) RedactedArgs() json.RawMessage {
	if c.redacted == nil {
		if c.value == nil {
			c.redacted = Redacted(c.Args)
		} else {
			c.redacted = redactedJSON(c.value)
		}
	}
	return c.redacted
}

// ClientInfo is what the client said about itself.
type ClientInfo struct {
	Name         string          `json:"name,omitempty"`
	Version      string          `json:"version,omitempty"`
	Protocol     string          `json:"protocol,omitempty"`
	Capabilities json.RawMessage `json:"-"`
}

// Verdict is a guard's answer.
type Verdict struct {
	Allow      bool
	Decision   string // what the record says: allow, deny, approved, approval_required, ...
	Risk       string
	Source     string // the rule or signal that decided
	Reason     string // shown to the model when the call is refused
	Next       string // what the person should do next, appended to Reason
	ApprovalID string
	Approver   string
	Data       map[string]any // more evidence for the record
	// FailOpen marks a call allowed by fail_mode open while the registry is
	// unavailable: it runs even when its record cannot be written.
	FailOpen bool
}

// Outcome is how a forwarded call ended.
type Outcome struct {
	Status    string // success, tool_error, rpc_error, input_required, cancelled, server_exited
	Duration  time.Duration
	Size      int
	Digest    string
	ErrorCode int
	ErrorText string
}

// Options configure a proxy.
type Options struct {
	Command []string // the real server: argv[0] resolved on PATH
	Env     []string // its environment; nil means the proxy's
	Stdin   io.Reader
	Stdout  io.Writer
	Stderr  io.Writer
	Log     *slog.Logger
	// Setup runs once the child has started, so slow work (opening the
	// registry, loading keys) does not count against the client's start-up
	// timeout. Until it returns, tool calls wait. A nil guard allows every
	// call; a setup error makes every call fail closed with that reason.
	Setup func(ctx context.Context) (Guard, Journal, error)
	// Fallback decides calls when Setup failed (the registry is down); its
	// fail-open verdicts run without a record. Nil refuses every call.
	Fallback Guard
	// Signals are passed on to the server's process group.
	Signals <-chan os.Signal
	// Grace periods of the shutdown after stdin closes (defaults 2s and 3s).
	StdinGrace, TermGrace time.Duration
}

// Proxy relays one session.
type Proxy struct {
	opt Options
	log *slog.Logger
	ctx context.Context

	toClient frameWriter
	toServer frameWriter

	ready   chan struct{}
	guard   Guard
	journal Journal
	down    error // why the registry is unavailable

	mu       sync.Mutex
	held     map[string]*heldCall
	inflight map[string]*inflight
	nTracked atomic.Int32 // len(inflight), read without the lock by the server pump
	asks     map[string]chan json.RawMessage
	askSeq   int64
	client   ClientInfo

	w     writer
	calls sync.WaitGroup // held calls
	// observers are added by the server's pump, which may run while
	// drainHeld waits on calls; they are waited for once that pump is done.
	observers sync.WaitGroup
	listing   gate   // tools/list answers being compared with the pins
	lastList  string // digest of the last tools/list answer (under mu)

	heldCtx  context.Context // parent of every held call
	stopHeld context.CancelFunc
}

type heldCall struct {
	cancel    context.CancelFunc
	cancelled bool
}

type inflight struct {
	method string
	call   *Call
	start  time.Time
	params []byte // initialize/server/discover: kept to record the client
}

// frameWriter writes whole frames, one Write each, under one lock, so frames
// from the pump and from held calls never interleave.
type frameWriter struct {
	mu  sync.Mutex
	w   io.Writer
	err error
}

func (f *frameWriter) write(frame []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.writeLocked(frame)
}

func (f *frameWriter) writeLocked(frame []byte) error {
	if f.err != nil {
		return f.err
	}
	_, f.err = f.w.Write(frame)
	return f.err
}

// Run relays until the server exits and returns the exit code the proxy
// should exit with: the server's, 127 when it cannot be started.
func Run(ctx context.Context, opt Options) int {
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.StdinGrace == 0 {
		opt.StdinGrace = 2 * time.Second
	}
	if opt.TermGrace == 0 {
		opt.TermGrace = 3 * time.Second
	}
	p := &Proxy{
		opt: opt, log: opt.Log, ctx: ctx,
		toClient: frameWriter{w: opt.Stdout},
		ready:    make(chan struct{}),
		held:     map[string]*heldCall{},
		inflight: map[string]*inflight{},
		asks:     map[string]chan json.RawMessage{},
		w:        writer{kick: make(chan struct{}, 1), stop: make(chan struct{})},
	}
	return p.run(ctx)
}

func (p *Proxy) run(ctx context.Context) int {
	child, err := startChild(p.opt.Command, p.opt.Env, p.opt.Stderr)
	if err != nil {
		fmt.Fprintf(p.opt.Stderr, "aim-mcp: error: %v\n", err)
		if errors.Is(err, errNotFound) {
			fmt.Fprintf(p.opt.Stderr, "aim-mcp: hint: the client starts servers with a reduced PATH; use an absolute path for %q in the config\n", p.opt.Command[0])
			return 127
		}
		return 126
	}
	p.toServer.w = child.stdin
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	p.ctx = ctx
	started := time.Now()

	recorded := make(chan struct{})
	go p.recorder(recorded)
	// Setup and records outlive a shutdown: what was seen is written.
	go p.setup(context.WithoutCancel(ctx), child)
	p.heldCtx, p.stopHeld = context.WithCancel(ctx)
	defer p.stopHeld()

	serverDone := make(chan struct{})
	go func() {
		defer close(serverDone)
		p.pump(child.stdout, p.fromServer)
	}()
	clientDone := make(chan struct{})
	go func() {
		defer close(clientDone)
		p.pump(p.opt.Stdin, p.fromClient)
	}()

	exited := make(chan struct{})
	go func() { child.wait(); close(exited) }()

	stopping := false // we asked the server to stop: its exit is no crash
	var stdinClosed chan struct{}
	var stdinTimer, termTimer <-chan time.Time
	for running := true; running; {
		select {
		case <-clientDone:
			clientDone = nil
			stopping = true
			// Calls the client sent before it closed stdin still reach the
			// server when they are decided in time; then the server sees EOF.
			stdinClosed = make(chan struct{})
			go func() {
				p.drainHeld()
				child.stdin.Close()
				close(stdinClosed)
			}()
		case <-stdinClosed:
			stdinClosed = nil
			stdinTimer = time.After(p.opt.StdinGrace)
		case <-stdinTimer:
			p.log.Debug("server still running after stdin closed; sending SIGTERM")
			child.signal(sigTerm)
			termTimer = time.After(p.opt.TermGrace)
		case <-termTimer:
			p.log.Debug("server still running after SIGTERM; sending SIGKILL")
			child.kill()
		case s := <-p.opt.Signals:
			stopping = true
			child.signalOS(s)
			if termTimer == nil {
				termTimer = time.After(p.opt.TermGrace)
			}
		case <-exited:
			running = false
		}
	}
	// The server is gone. Forward what it left in the pipe, then make sure
	// no grandchild holding the pipe outlives us.
	select {
	case <-serverDone:
	case <-time.After(500 * time.Millisecond):
	}
	child.kill()
	child.stdout.Close()
	<-serverDone

	code, how := child.exitStatus()
	crashed := !stopping && code != 0
	p.finish(crashed)
	p.stopHeld() // nobody is left to run them
	p.calls.Wait()
	p.observers.Wait()
	p.record(registry.Event{Kind: registry.KindSessionEnd, Decision: how, Data: map[string]any{
		"exit_code": code, "exit": how, "crashed": crashed,
		"duration_ms": time.Since(started).Milliseconds(),
	}})
	close(p.w.stop)
	<-recorded
	if crashed {
		fmt.Fprintf(p.opt.Stderr, "aim-mcp: error: server %q %s\n", p.opt.Command[0], how)
	}
	return code
}

// setup runs the caller's slow start-up work after the child started.
func (p *Proxy) setup(ctx context.Context, c *child) {
	defer close(p.ready)
	if p.opt.Setup == nil {
		p.down = errors.New("no registry configured")
		return
	}
	g, j, err := p.opt.Setup(ctx)
	if err != nil {
		p.down = err
		fmt.Fprintf(p.opt.Stderr, "aim-mcp: error: registry unavailable, tool calls will be refused: %v\n", err)
		return
	}
	// The session's first record goes in before anything queued meanwhile.
	if err := j.Append(ctx, registry.Event{Time: time.Now(), Kind: registry.KindSessionStart, Data: map[string]any{
		"pid": c.pid(), "command": redact.Argv(p.opt.Command, nil), "proxy_pid": os.Getpid(),
	}}); err != nil {
		p.down = err
		fmt.Fprintf(p.opt.Stderr, "aim-mcp: error: audit log unavailable, tool calls will be refused: %v\n", err)
		return
	}
	p.guard, p.journal = g, j
}

// drainHeld waits for the calls that are being decided, up to the stdin
// grace period, then gives up on the rest (a human will not answer in time).
func (p *Proxy) drainHeld() {
	<-p.ready
	done := make(chan struct{})
	go func() { p.calls.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(p.opt.StdinGrace):
		p.stopHeld()
		<-done
	}
}

// finish records an outcome for every call the server never answered.
func (p *Proxy) finish(crashed bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	status := "server_exited"
	for k, f := range p.inflight {
		delete(p.inflight, k)
		if f.call != nil {
			p.recordOutcome(f.call, Outcome{Status: status, Duration: time.Since(f.start), ErrorText: "the server exited before answering"})
		}
	}
	p.nTracked.Store(0)
}

// pump reads lines with no length limit and hands each to handle. A line is
// only valid during the call (the reader's buffer is reused) unless owned
// is true: then the pump lets go of it and handle may keep it.
func (p *Proxy) pump(r io.Reader, handle func(line []byte, owned bool)) {
	br := bufio.NewReaderSize(r, 64<<10)
	var big []byte
	var chunks [][]byte
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// Collect the pieces, then copy them once into a slice of the
			// exact size: appending would double the buffer, and a
			// multi-megabyte line would briefly take three times its size.
			n := 0
			chunks = chunks[:0]
			for errors.Is(err, bufio.ErrBufferFull) {
				chunks = append(chunks, bytes.Clone(line))
				n += len(line)
				line, err = br.ReadSlice('\n')
			}
			if cap(big) < n+len(line)+1 {
				big = make([]byte, 0, n+len(line)+1)
			}
			big = big[:0]
			for i, c := range chunks {
				big = append(big, c...)
				chunks[i] = nil
			}
			line = append(big, line...)
			big = line
		}
		// A one-off huge message is not kept for reuse: it goes to the
		// handler or back to the GC.
		owned := cap(big) > 1<<20 && len(line) > 0 && &line[0] == &big[0]
		if len(line) > 0 {
			if line[len(line)-1] != '\n' {
				line = append(line, '\n') // a last line without its newline
			}
			handle(line, owned)
		}
		if cap(big) > 1<<20 {
			big = nil
		}
		if err != nil {
			return
		}
	}
}

func trimLine(line []byte) []byte { return bytes.TrimSpace(line) }

// fromClient routes one client line.
func (p *Proxy) fromClient(line []byte, owned bool) {
	body := trimLine(line)
	if innerBreak(line) {
		m, _ := scanMessage(body) // for the id, when there is one
		p.refuse(body, m, errLineBreak)
		return
	}
	if len(body) == 0 {
		p.toServer.write(line)
		return
	}
	switch body[0] {
	case '{':
		p.clientMessage(line, body, owned)
	case '[':
		p.clientBatch(line, body)
	default:
		p.toServer.write(line)
	}
}

func (p *Proxy) clientMessage(line, body []byte, owned bool) {
	m, err := scanMessage(body)
	if err != nil {
		p.clientUnreadable(line, body, m, err)
		return
	}
	if !m.hasMethod {
		if m.hasID && p.answerAsk(m) {
			return
		}
		p.toServer.write(line)
		return
	}
	method, _ := decodeString(m.method)
	switch method {
	case "tools/call":
		if !m.hasID {
			// A notification cannot be answered or audited; servers
			// ignore it, but nothing unchecked may reach them.
			p.record(registry.Event{Kind: registry.KindBypass, Decision: "dropped",
				Data: map[string]any{"reason": "tools/call without an id", "size": len(body)}})
			return
		}
		p.intercept(line, body, m, owned)
		return
	case "notifications/cancelled":
		if p.cancelHeld(m.params) {
			return
		}
	case "initialize", "server/discover", "tools/list":
		if m.hasID {
			f := &inflight{method: method, start: time.Now()}
			if method != "tools/list" {
				f.params = bytes.Clone(m.params)
			}
			p.track(idKey(m.id), f)
		}
	}
	p.toServer.write(line)
}

// clientUnreadable handles a client line the scanner refused. A line that
// may be a tools/call is refused: it is ambiguous, or it spells tools/call,
// or it has escapes that could spell it ("tools\/call"). Any other line goes
// on as it came.
func (p *Proxy) clientUnreadable(line, body []byte, m message, err error) {
	if errors.Is(err, errAmbiguous) || errors.Is(err, errTooDeep) || bytes.Contains(body, []byte("tools/call")) || bytes.IndexByte(body, '\\') >= 0 {
		p.refuse(body, m, err)
		return
	}
	p.toServer.write(line)
}

// refuse answers a line that is not forwarded, because the server might read
// it as a call that was never checked.
func (p *Proxy) refuse(body []byte, m message, err error) {
	id := json.RawMessage("null")
	if m.hasID {
		id = m.id
	}
	p.toClient.write(rpcError(id, -32600, "aim-mcp: refused an ambiguous or malformed request: "+err.Error()))
	p.record(registry.Event{Kind: registry.KindBypass, Decision: "refused", RequestID: jsonOrNil(m.id),
		Data: map[string]any{"reason": err.Error(), "size": len(body), "digest": canon.Sum(body)}})
}

// clientBatch checks each element of a JSON-RPC batch. A batch that holds no
// tools/call passes as it came; otherwise each element goes its own way, as
// if it had arrived alone, so every call is checked. Batches were dropped
// from MCP in 2025-06-18 and no known client sends them.
func (p *Proxy) clientBatch(line, body []byte) {
	var elems []json.RawMessage
	if err := json.Unmarshal(body, &elems); err != nil {
		p.clientUnreadable(line, body, message{}, err)
		return
	}
	hasCall := false
	for _, e := range elems {
		m, err := scanMessage(e)
		if err != nil {
			// The whole batch goes as it came, or is refused.
			p.clientUnreadable(line, body, m, err)
			return
		}
		if method, _ := decodeString(m.method); method == "tools/call" || method == "notifications/cancelled" {
			hasCall = true
		}
	}
	if !hasCall {
		p.toServer.write(line)
		return
	}
	for _, e := range elems {
		line := append(bytes.Clone(e), '\n')
		p.clientMessage(line, line[:len(e)], true)
	}
}

func (p *Proxy) track(k string, f *inflight) {
	p.mu.Lock()
	if _, ok := p.inflight[k]; !ok {
		p.nTracked.Add(1)
	}
	p.inflight[k] = f
	p.mu.Unlock()
}

// intercept holds a tools/call and decides it on its own goroutine.
func (p *Proxy) intercept(line, body []byte, m message, owned bool) {
	own := line
	if !owned {
		own = bytes.Clone(line) // the call outlives the reader's buffer
	}
	var params []byte
	if m.params != nil { // a call without params has no span to take
		off := cap(line) - cap(m.params)
		params = own[off : off+len(m.params)]
	}
	c := &Call{ID: bytes.Clone(own[cap(line)-cap(m.id):][:len(m.id)]), Line: own, Args: json.RawMessage("{}")}
	if len(params) > 0 {
		if err := checkKeys(params); err != nil {
			p.refuse(body, m, err)
			return
		}
		pm, err := members(params)
		if err != nil {
			p.refuse(body, m, err)
			return
		}
		for key := range pm {
			if err := foldedKey(key, "name", "arguments", "_meta"); err != nil {
				p.refuse(body, m, err)
				return
			}
		}
		c.Tool, _ = decodeString(pm["name"])
		if a := pm["arguments"]; len(a) > 0 && !bytes.Equal(a, []byte("null")) {
			c.Args = a
		}
		if meta := pm["_meta"]; len(meta) > 0 {
			c.Meta = meta
			if mm, err := members(meta); err == nil {
				if v, ok := decodeString(mm["io.modelcontextprotocol/protocolVersion"]); ok {
					c.Modern = v >= "2026-07-28"
				}
			}
		}
	}
	// Decode the arguments once: the digest, the log's redacted copy and
	// the policy's conditions all read the same value.
	if v, err := decodeValue(c.Args); err == nil {
		c.value = v
		c.ArgsDigest = canon.DigestValue(v)
	} else {
		c.ArgsDigest = canon.Sum(c.Args)
	}
	k := idKey(c.ID)
	if p.inline(c, k) {
		return
	}
	ctx, cancel := context.WithCancel(p.heldCtx)
	h := &heldCall{cancel: cancel}
	p.mu.Lock()
	c.Client = p.client
	if p.client.Capabilities != nil && bytes.Contains(p.client.Capabilities, []byte(`"elicitation"`)) {
		c.Ask = p.ask
	}
	p.held[k] = h
	p.mu.Unlock()
	p.calls.Add(1)
	go p.handle(ctx, h, c, k)
}

// inline decides, records and forwards a call on the pump itself when
// nothing can make it wait: setup is done, no tools/list answer is being
// compared, the guard is sure at once, and the registry's write lock is
// free right now. Handing the call to a goroutine of its own costs more
// than all of that (~0.1 ms of a round trip here); anything that might
// wait still goes that way, so the pump never blocks.
func (p *Proxy) inline(c *Call, k string) bool {
	select {
	case <-p.ready:
	default:
		return false
	}
	// Counted with the held calls, so the session's end waits for it.
	p.calls.Add(1)
	defer p.calls.Done()
	if p.down != nil || p.journal == nil || p.listing.busy() || p.heldCtx.Err() != nil {
		return false // (the last: the session is ending, and calls are cancelled)
	}
	if _, ok := p.journal.(TryJournal); !ok {
		return false
	}
	p.mu.Lock()
	c.Client = p.client
	_, pending := p.held[k]
	p.mu.Unlock()
	if pending {
		return false // a duplicate id: let the held path sort it out
	}
	v := Verdict{Allow: true, Decision: "allow", Source: "default"}
	if p.guard != nil {
		q, ok := p.guard.(QuickGuard)
		if !ok {
			return false
		}
		if v, ok = q.Quick(c); !ok {
			return false
		}
	}
	if !v.Allow {
		p.toClient.write(denial(c, v))
		p.record(p.callEvent(registry.KindDenied, c, v))
		return true
	}
	if !p.w.commitMu.TryLock() {
		return false
	}
	ev := p.callEvent(registry.KindCall, c, v)
	ev.Time = time.Now()
	err := p.flushLocked(&ev, true)
	p.w.commitMu.Unlock()
	if errors.Is(err, registry.ErrBusy) {
		return false
	}
	if err != nil {
		v = unrecorded(err)
		p.toClient.write(denial(c, v))
		p.record(p.callEvent(registry.KindDenied, c, v))
		return true
	}
	c.value = nil
	p.toServer.mu.Lock()
	p.track(k, &inflight{method: "tools/call", call: c, start: time.Now()})
	p.toServer.writeLocked(c.Line)
	p.toServer.mu.Unlock()
	c.Line, c.Args = nil, nil
	return true
}

// unrecorded refuses a call whose record could not be committed: every
// call that runs leaves a record first.
func unrecorded(err error) Verdict {
	return Verdict{Decision: "fail_closed", Source: "audit",
		Reason: "aim-mcp could not record the call, so it was not run: " + err.Error()}
}

// handle decides one held call, then forwards it or answers it.
func (p *Proxy) handle(ctx context.Context, h *heldCall, c *Call, k string) {
	defer p.calls.Done()
	defer h.cancel()
	select {
	case <-p.ready:
	case <-ctx.Done():
	}
	p.listing.wait(ctx)
	var v Verdict
	select {
	case <-p.ready:
		v = p.decide(ctx, c)
	default:
		// Given up while setup still runs: the guard and journal are not
		// there to read yet, and there is nothing left to decide.
		v = Verdict{Decision: "cancelled", Reason: "aim-mcp stopped before the call was decided"}
	}
	if v.Allow && p.journal == nil && v.FailOpen {
		fmt.Fprintf(p.opt.Stderr, "aim-mcp: warning: call to %q runs unrecorded (fail_mode open, registry unavailable)\n", c.Tool)
	} else if v.Allow {
		err := p.commit(p.callEvent(registry.KindCall, c, v))
		c.value = nil // decided and recorded: a big argument need not live on
		if err != nil && v.FailOpen {
			fmt.Fprintf(p.opt.Stderr, "aim-mcp: warning: call to %q runs unrecorded (fail_mode open): %v\n", c.Tool, err)
		} else if err != nil {
			fmt.Fprintf(p.opt.Stderr, "aim-mcp: error: audit log: %v\n", err)
			v = unrecorded(err)
		}
	}
	// Take the server's writer first: a cancel that arrives after the call
	// left the held set must reach the server after the call, not before.
	p.toServer.mu.Lock()
	p.mu.Lock()
	cancelled := h.cancelled
	delete(p.held, k)
	if !cancelled && v.Allow {
		if _, ok := p.inflight[k]; !ok {
			p.nTracked.Add(1)
		}
		p.inflight[k] = &inflight{method: "tools/call", call: c, start: time.Now()}
	}
	p.mu.Unlock()
	if !cancelled && v.Allow {
		p.toServer.writeLocked(c.Line)
		p.toServer.mu.Unlock()
		// Forwarded: a multi-megabyte request need not live until the
		// answer comes (the id is a copy of its own).
		c.Line, c.Args = nil, nil
		return
	}
	p.toServer.mu.Unlock()
	if cancelled {
		v.Decision, v.Reason = "cancelled", "the client cancelled the call before it was decided"
		if v.Allow {
			// The call record is already committed: close it.
			p.recordOutcome(c, Outcome{Status: "cancelled"})
			return
		}
	} else {
		p.toClient.write(denial(c, v))
	}
	p.record(p.callEvent(registry.KindDenied, c, v))
}

func (p *Proxy) decide(ctx context.Context, c *Call) Verdict {
	if (p.down != nil || p.journal == nil) && p.opt.Fallback != nil {
		return p.opt.Fallback.Check(ctx, c)
	}
	if p.down != nil || p.journal == nil {
		reason := "the aim-mcp registry is unavailable"
		if p.down != nil {
			reason += ": " + p.down.Error()
		}
		return Verdict{Decision: "fail_closed", Source: "registry", Reason: reason,
			Next: "run `aim-mcp list` in a terminal to see what is wrong"}
	}
	if ctx.Err() != nil {
		return Verdict{Decision: "cancelled"}
	}
	if p.guard == nil {
		return Verdict{Allow: true, Decision: "allow", Source: "default"}
	}
	return p.guard.Check(ctx, c)
}

func (p *Proxy) callEvent(kind string, c *Call, v Verdict) registry.Event {
	data := map[string]any{
		"args":        c.RedactedArgs(),
		"args_digest": c.ArgsDigest,
	}
	for k, val := range map[string]string{"risk": v.Risk, "source": v.Source, "reason": v.Reason,
		"approval_id": v.ApprovalID, "approver": v.Approver, "client": c.Client.Name} {
		if val != "" {
			data[k] = val
		}
	}
	if c.Modern {
		data["modern"] = true
	}
	for k, val := range v.Data {
		data[k] = val
	}
	return registry.Event{Kind: kind, Tool: c.Tool, Decision: v.Decision, RequestID: c.ID, Data: data}
}

// cancelHeld drops a held call named by a notifications/cancelled. It
// reports whether the notification was consumed.
func (p *Proxy) cancelHeld(params []byte) bool {
	pm, err := members(params)
	if err != nil {
		return false
	}
	id, ok := pm["requestId"]
	if !ok {
		return false
	}
	k := idKey(id)
	p.mu.Lock()
	defer p.mu.Unlock()
	h, ok := p.held[k]
	if !ok {
		return false
	}
	h.cancelled = true
	h.cancel()
	return true
}

// fromServer routes one server line. Forwarding comes first; what is
// observed is worked out afterwards.
func (p *Proxy) fromServer(line []byte, _ bool) {
	if innerBreak(line) {
		p.splitServerLine(line)
		return
	}
	body := trimLine(line)
	if len(body) > 0 && body[0] != '{' && body[0] != '[' {
		p.toClient.write(line)
		shown := body
		if len(shown) > 512 {
			shown = shown[:512]
		}
		p.record(registry.Event{Kind: registry.KindNoise, Data: map[string]any{
			"line": string(shown), "size": len(body)}})
		return
	}
	if p.nTracked.Load() == 0 && !bytes.Contains(body, []byte("list_changed")) {
		p.toClient.write(line)
		return
	}
	if len(body) == 0 || body[0] != '{' {
		p.toClient.write(line)
		return
	}
	m, err := scanMessage(body)
	if errors.Is(err, errTooDeep) {
		p.serverTooDeep(body, m)
		return
	}
	if err != nil || m.hasMethod || !m.hasID {
		p.toClient.write(line)
		if err == nil && m.hasMethod {
			if method, _ := decodeString(m.method); method == "notifications/tools/list_changed" {
				p.mu.Lock()
				p.lastList = "" // the next answer is compared in full
				p.mu.Unlock()
				p.observe(func(o ToolsObserver) { o.ToolsChanged(p.ctx) }, nil)
			}
		}
		return
	}
	k := idKey(m.id)
	p.mu.Lock()
	f, ok := p.inflight[k]
	if ok {
		delete(p.inflight, k)
		p.nTracked.Add(-1)
	}
	p.mu.Unlock()
	if ok && f.method == "initialize" {
		// Learn the client's capabilities before the client can act on
		// the answer: its first call may need to ask it something.
		p.observeInit(f, m)
	}
	var result []byte
	var repeat bool
	if ok && f.method == "tools/list" && m.result != nil {
		// The same one-page answer as last time, with no list_changed in
		// between, has nothing new to compare: clients list often.
		sum := canon.Sum(m.result)
		p.mu.Lock()
		repeat = sum == p.lastList && !bytes.Contains(m.result, []byte(`"nextCursor"`))
		p.lastList = sum
		p.mu.Unlock()
		if !repeat {
			// Calls the client makes after it has this answer are decided
			// after the answer is compared with the pins, not before.
			result = bytes.Clone(m.result)
			p.listing.enter()
		}
	}
	p.toClient.write(line)
	if !ok {
		return
	}
	switch f.method {
	case "tools/call":
		p.recordOutcome(f.call, outcomeOf(m, time.Since(f.start)))
	case "tools/list":
		switch {
		case result != nil:
			p.observe(func(o ToolsObserver) { o.ToolsListed(p.ctx, result) }, &p.listing)
			p.record(registry.Event{Kind: registry.KindToolsList, Data: toolsSummary(result)})
		case repeat:
			p.record(registry.Event{Kind: registry.KindToolsList, Data: map[string]any{
				"digest": p.lastList, "same_as_last": true}})
		}
	case "server/discover":
		p.observeInit(f, m)
	}
}

// observe hands an observation to the guard off the pump, once setup is
// done; g, when given, was entered by the caller and is left afterwards.
func (p *Proxy) observe(f func(ToolsObserver), g *gate) {
	p.observers.Add(1)
	go func() {
		defer p.observers.Done()
		if g != nil {
			defer g.leave()
		}
		<-p.ready
		if o, ok := p.guard.(ToolsObserver); ok {
			f(o)
		}
	}()
}

// gate counts observations in progress; calls wait until there are none.
type gate struct {
	mu   sync.Mutex
	n    int
	zero chan struct{} // closed when n drops to 0
}

func (g *gate) enter() {
	g.mu.Lock()
	if g.n == 0 {
		g.zero = make(chan struct{})
	}
	g.n++
	g.mu.Unlock()
}

func (g *gate) leave() {
	g.mu.Lock()
	if g.n--; g.n == 0 {
		close(g.zero)
	}
	g.mu.Unlock()
}

// busy reports whether an observation is in progress.
func (g *gate) busy() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.n > 0
}

// wait returns when no observation is in progress, or ctx is done.
func (g *gate) wait(ctx context.Context) {
	g.mu.Lock()
	if g.n == 0 {
		g.mu.Unlock()
		return
	}
	zero := g.zero
	g.mu.Unlock()
	select {
	case <-zero:
	case <-ctx.Done():
	}
}

func outcomeOf(m message, d time.Duration) Outcome {
	o := Outcome{Status: "success", Duration: d}
	switch {
	case m.error != nil:
		o.Status, o.Size, o.Digest = "rpc_error", len(m.error), canon.Sum(m.error)
		var e struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		}
		json.Unmarshal(m.error, &e)
		o.ErrorCode, o.ErrorText = e.Code, e.Message
	case m.result != nil:
		o.Size, o.Digest = len(m.result), canon.Sum(m.result)
		if rm, err := members(m.result); err == nil {
			if bytes.Equal(rm["isError"], []byte("true")) {
				o.Status = "tool_error"
			}
			if rt, _ := decodeString(rm["resultType"]); rt == "input_required" {
				o.Status = "input_required"
			}
		}
	}
	return o
}

func (p *Proxy) recordOutcome(c *Call, o Outcome) {
	data := map[string]any{"duration_ms": float64(o.Duration.Microseconds()) / 1000, "size": o.Size}
	if o.Digest != "" {
		data["result_digest"] = o.Digest
	}
	if o.ErrorCode != 0 {
		data["error_code"] = o.ErrorCode
	}
	if o.ErrorText != "" {
		data["error"] = o.ErrorText
	}
	p.record(registry.Event{Kind: registry.KindOutcome, Tool: c.Tool, Decision: o.Status, RequestID: c.ID, Data: data})
	if obs, ok := p.guard.(OutcomeObserver); ok {
		obs.Outcome(p.ctx, c, o)
	}
}

func toolsSummary(result []byte) map[string]any {
	var r struct {
		Tools []struct {
			Name string `json:"name"`
		} `json:"tools"`
		NextCursor string `json:"nextCursor"`
	}
	json.Unmarshal(result, &r)
	names := make([]string, len(r.Tools))
	for i, t := range r.Tools {
		names[i] = t.Name
	}
	return map[string]any{"tools": names, "count": len(names), "digest": canon.Sum(result)}
}

// observeInit records who met whom, and keeps the client's capabilities for
// the calls that follow (elicitation is asked only of clients that offer it).
func (p *Proxy) observeInit(f *inflight, m message) {
	var req struct {
		ProtocolVersion string          `json:"protocolVersion"`
		Capabilities    json.RawMessage `json:"capabilities"`
		ClientInfo      struct {
			Name    string `json:"name"`
			Version string `json:"version"`
		} `json:"clientInfo"`
	}
	json.Unmarshal(f.params, &req)
	var res struct {
		ProtocolVersion   string   `json:"protocolVersion"`
		SupportedVersions []string `json:"supportedVersions"`
		ServerInfo        struct {
			Name    string `json:"name"`
			Version string `json:"version"`
		} `json:"serverInfo"`
	}
	json.Unmarshal(m.result, &res)
	if f.method == "initialize" {
		p.mu.Lock()
		p.client = ClientInfo{Name: req.ClientInfo.Name, Version: req.ClientInfo.Version,
			Protocol: res.ProtocolVersion, Capabilities: req.Capabilities}
		p.mu.Unlock()
	}
	data := map[string]any{
		"method": f.method,
		"client": map[string]string{"name": req.ClientInfo.Name, "version": req.ClientInfo.Version},
		"server": map[string]string{"name": res.ServerInfo.Name, "version": res.ServerInfo.Version},
	}
	if res.ProtocolVersion != "" {
		data["protocol"] = res.ProtocolVersion
	}
	if len(res.SupportedVersions) > 0 {
		data["supported_versions"] = res.SupportedVersions
	}
	if m.error != nil {
		data["error"] = json.RawMessage(m.error)
	}
	p.record(registry.Event{Kind: registry.KindInitialize, Data: data})
}

// ask sends a request of the proxy's own to the client, with an id from a
// space of its own, and waits for the answer, which is not forwarded.
func (p *Proxy) ask(ctx context.Context, method string, params any) (json.RawMessage, error) {
	p.mu.Lock()
	p.askSeq++
	id := "aim-mcp:" + strconv.FormatInt(p.askSeq, 10)
	ch := make(chan json.RawMessage, 1)
	p.asks["s"+id] = ch
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.asks, "s"+id)
		p.mu.Unlock()
	}()
	frame, err := marshalNoEscape(map[string]any{"jsonrpc": "2.0", "id": id, "method": method, "params": params})
	if err != nil {
		return nil, err
	}
	if err := p.toClient.write(append(frame, '\n')); err != nil {
		return nil, err
	}
	select {
	case resp := <-ch:
		return resp, nil
	case <-ctx.Done():
		note, _ := marshalNoEscape(map[string]any{"jsonrpc": "2.0", "method": "notifications/cancelled",
			"params": map[string]any{"requestId": id, "reason": "aim-mcp: no longer needed"}})
		p.toClient.write(append(note, '\n'))
		return nil, ctx.Err()
	}
}

// answerAsk consumes the client's answer to one of the proxy's own requests.
func (p *Proxy) answerAsk(m message) bool {
	if !bytes.HasPrefix(m.id, []byte(`"aim-mcp:`)) {
		return false
	}
	p.mu.Lock()
	ch, ok := p.asks[idKey(m.id)]
	p.mu.Unlock()
	if ok {
		resp, _ := marshalNoEscape(map[string]any{"result": jsonOrNil(m.result), "error": jsonOrNil(m.error)})
		ch <- resp
	}
	return true // ours even when late: the server never sent this id
}

func jsonOrNil(b []byte) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	return bytes.Clone(b)
}

// writer owns the session's records on their way to the journal. Records
// that nobody waits for (outcomes, noise) queue up; a call's record is
// committed by whoever decided the call (the pump in line, or the call's
// own goroutine), together with everything queued before it, in one
// transaction. So a call costs one commit, not two, and nobody hands the
// commit off to another goroutine and back.
type writer struct {
	commitMu sync.Mutex // one commit at a time, in order
	mu       sync.Mutex
	queue    []registry.Event
	retried  int // how many records at the queue's head failed once already
	kick     chan struct{}
	stop     chan struct{}
}

// record queues an event for the journal. Nothing is dropped: if the queue
// cannot be written now, it is tried again with the next commit.
func (p *Proxy) record(ev registry.Event) {
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	p.w.mu.Lock()
	p.w.queue = append(p.w.queue, ev)
	p.w.mu.Unlock()
	select {
	case p.w.kick <- struct{}{}:
	default:
	}
}

// commit appends ev after everything queued and returns once it is
// committed.
func (p *Proxy) commit(ev registry.Event) error {
	ev.Time = time.Now()
	p.w.commitMu.Lock()
	defer p.w.commitMu.Unlock()
	return p.flushLocked(&ev, false)
}

// flush writes the queue in one transaction.
func (p *Proxy) flush() error {
	p.w.commitMu.Lock()
	defer p.w.commitMu.Unlock()
	return p.flushLocked(nil, false)
}

// flushLocked writes the queue, and then ev when given, in one
// transaction; commitMu is held. With try it never waits for the
// registry's write lock: it returns registry.ErrBusy and leaves the queue
// as it was.
func (p *Proxy) flushLocked(ev *registry.Event, try bool) error {
	p.w.mu.Lock()
	queued, retried := p.w.queue, p.w.retried
	p.w.queue, p.w.retried = nil, 0
	p.w.mu.Unlock()
	evs := queued
	if ev != nil {
		evs = append(queued[:len(queued):len(queued)], *ev)
	}
	if len(evs) == 0 {
		return nil
	}
	if p.journal == nil {
		return errors.New("no audit log") // fail closed: no call ran, nowhere to write
	}
	var err error
	if try {
		err = p.journal.(TryJournal).TryAppend(context.Background(), evs...)
		if errors.Is(err, registry.ErrBusy) {
			p.w.mu.Lock()
			p.w.queue = append(queued[:len(queued):len(queued)], p.w.queue...)
			p.w.retried = retried
			p.w.mu.Unlock()
			return err
		}
	} else {
		err = p.journal.Append(context.Background(), evs...)
	}
	if err == nil {
		return nil
	}
	fmt.Fprintf(p.opt.Stderr, "aim-mcp: error: audit log: %v\n", err)
	// Records that failed twice are reported lost; the rest go back to the
	// head of the queue for the next commit.
	for _, lost := range queued[:retried] {
		fmt.Fprintf(p.opt.Stderr, "aim-mcp: error: audit log: a %s record could not be written\n", lost.Kind)
	}
	again := queued[retried:]
	p.w.mu.Lock()
	p.w.queue = append(again[:len(again):len(again)], p.w.queue...)
	p.w.retried = len(again)
	p.w.mu.Unlock()
	return err
}

// linger is how long queued records wait for a call's commit to share:
// one transaction per call instead of two keeps the hot path short.
const linger = 20 * time.Millisecond

// recorder flushes queued records that no call took along, after linger,
// and everything left when the session ends.
func (p *Proxy) recorder(done chan<- struct{}) {
	defer close(done)
	<-p.ready
	for {
		select {
		case <-p.w.kick:
		case <-p.w.stop:
			p.flush()
			p.flush() // once more for what failed the first time
			return
		}
		select {
		case <-time.After(linger):
		case <-p.w.stop:
		}
		p.flush()
		if cp, ok := p.journal.(Checkpointer); ok {
			if err := cp.Checkpoint(context.Background()); err != nil {
				p.log.Debug("checkpoint", "error", err)
			}
		}
	}
}

// denial is the isError tool result that answers a refused call.
func denial(c *Call, v Verdict) []byte {
	text := fmt.Sprintf("aim-mcp: call to %q was not run: %s", c.Tool, v.Reason)
	if v.Next != "" {
		text += ". " + v.Next
	}
	result := map[string]any{
		"content": []any{map[string]any{"type": "text", "text": text}},
		"isError": true,
		"_meta": map[string]any{"dev.aim-mcp/decision": map[string]any{
			"decision": v.Decision, "risk": v.Risk, "source": v.Source, "approval_id": v.ApprovalID,
		}},
	}
	if c.Modern {
		result["resultType"] = "complete"
	}
	b, _ := marshalNoEscape(response{JSONRPC: "2.0", ID: c.ID, Result: result})
	return append(b, '\n')
}

// response keeps jsonrpc and id first, as people reading logs expect.
type response struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  any             `json:"result,omitempty"`
	Error   any             `json:"error,omitempty"`
}

func rpcError(id json.RawMessage, code int, msg string) []byte {
	b, _ := marshalNoEscape(response{JSONRPC: "2.0", ID: id,
		Error: map[string]any{"code": code, "message": msg}})
	return append(b, '\n')
}
