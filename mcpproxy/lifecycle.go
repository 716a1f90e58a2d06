package mcpproxy

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"time"

	"github.com/opena2a-org/aim-mcp/poison"

	"github.com/opena2a-org/aim-mcp/audit"
	"github.com/opena2a-org/aim-mcp/internal/redact"
	"github.com/opena2a-org/aim-mcp/registry"
)

// Run relays until the server exits. It returns nil when the server exited
// with code 0, an [*ExitError] with its code otherwise, and a [*StartError]
// when it could not be started. What goes wrong meanwhile is given to
// [Options.Report]; the session carries on.
func Run(ctx context.Context, opt Options) error {
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.StdinGrace == 0 {
		opt.StdinGrace = 2 * time.Second
	}
	if opt.TermGrace == 0 {
		opt.TermGrace = 3 * time.Second
	}
	if opt.Report == nil {
		opt.Report = func(error) {}
	}
	ready := make(chan struct{})
	p := &Proxy{
		opt: opt, log: opt.Log, ctx: ctx,
		toClient: frameWriter{w: opt.Stdout},
		ready:    ready,
		rec:      newRecorder(ready, opt.Report, opt.Log),
		held:     map[string]*heldCall{},
		inflight: map[string]*inflight{},
		asks:     map[string]chan json.RawMessage{},
		scan:     poison.New(nil),
	}
	return p.run(ctx)
}

func (p *Proxy) run(ctx context.Context) error {
	if p.opt.Remote != nil {
		up, err := startRemote(p.opt.Remote, p.log, p.opt.Report, func(kind string, data map[string]any) {
			p.rec.record(registry.Event{Kind: kind, Data: data})
		})
		if err != nil {
			return &StartError{Command: p.opt.Remote.URL, Err: err}
		}
		return p.relay(ctx, up)
	}
	child, err := startChild(p.opt.Command, p.opt.Env, p.opt.Stderr, p.opt.Supervise)
	if err != nil {
		cmd := ""
		if len(p.opt.Command) > 0 {
			cmd = p.opt.Command[0]
		}
		return &StartError{Command: cmd, Err: err}
	}
	return p.relay(ctx, child)
}

// relay runs one session with up, until up is gone.
func (p *Proxy) relay(ctx context.Context, up upstream) error {
	p.toServer.w = up
	p.remote, _ = up.(remoteCalls)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	p.ctx = ctx
	started := time.Now()

	go p.rec.run()
	// Setup and records outlive a shutdown: what was seen is written.
	go p.setup(context.WithoutCancel(ctx), up)
	p.heldCtx, p.stopHeld = context.WithCancel(ctx)
	defer p.stopHeld()

	serverDone := make(chan struct{})
	go func() {
		defer close(serverDone)
		p.pump(up, p.fromServer)
	}()
	clientDone := make(chan struct{})
	go func() {
		defer close(clientDone)
		p.pump(p.opt.Stdin, p.fromClient)
	}()

	exited := make(chan struct{})
	go func() { up.wait(); close(exited) }()

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
				up.closeInput()
				close(stdinClosed)
			}()
		case <-stdinClosed:
			stdinClosed = nil
			stdinTimer = time.After(p.opt.StdinGrace)
		case <-stdinTimer:
			p.log.Debug("server still running after stdin closed; sending SIGTERM")
			up.terminate()
			termTimer = time.After(p.opt.TermGrace)
		case <-termTimer:
			p.log.Debug("server still running after SIGTERM; sending SIGKILL")
			up.kill()
		case s := <-p.opt.Signals:
			stopping = true
			up.signalOS(s)
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
	up.kill()
	up.closeOutput()
	<-serverDone

	code, how := up.exitStatus()
	crashed := !stopping && code != 0
	p.finish(crashed)
	p.stopHeld() // nobody is left to run them
	p.calls.Wait()
	p.observers.Wait()
	end := map[string]any{
		"exit_code": code, "exit": how, "crashed": crashed,
		"duration_ms": time.Since(started).Milliseconds(),
	}
	p.mu.Lock()
	if p.listRepeats > 0 {
		end["tools_list_repeats"] = p.listRepeats
	}
	p.mu.Unlock()
	// A remote session's protocol version, transport (after a fallback)
	// and server certificate are known only once the client initialized,
	// which may be after the session_start record.
	d := up.describe()
	for _, k := range []string{"protocol_version", "transport", "tls_spki_sha256", "tls_issuer"} {
		if v, ok := d[k]; ok && len(p.opt.Command) == 0 {
			end[k] = v
		}
	}
	p.rec.record(registry.Event{Kind: registry.KindSessionEnd, Decision: how, Data: end})
	p.rec.close()
	if code == 0 {
		return nil
	}
	return &ExitError{Command: p.serverName(), Code: code, How: how, Crashed: crashed}
}

// setup runs the caller's slow start-up work after the child started.
func (p *Proxy) setup(ctx context.Context, up upstream) {
	defer close(p.ready)
	if p.opt.Setup == nil {
		p.down = errors.New("no registry configured")
		return
	}
	g, j, err := p.opt.Setup(ctx)
	if err != nil {
		p.down = err
		p.opt.Report(&SetupError{Err: err})
		return
	}
	// The session's first record goes in before anything queued meanwhile.
	data := up.describe()
	if len(p.opt.Command) > 0 {
		data["command"] = redact.Argv(p.opt.Command, nil)
	}
	data["proxy_pid"] = os.Getpid()
	if err := j.Append(ctx, registry.Event{Time: time.Now(), Kind: registry.KindSessionStart, Data: data}); err != nil {
		p.down = err
		p.opt.Report(&SetupError{Audit: true, Err: err})
		return
	}
	p.decider, p.rec.journal = g, j
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
	status := audit.ServerExited
	for k, f := range p.inflight {
		delete(p.inflight, k)
		if f.call != nil {
			p.recordOutcome(f.call, Outcome{Status: status, Duration: time.Since(f.start), ErrorText: "the server exited before answering"})
		}
	}
	p.nTracked.Store(0)
}

// serverName names the server in errors: its command, or its URL.
func (p *Proxy) serverName() string {
	if len(p.opt.Command) > 0 {
		return p.opt.Command[0]
	}
	if p.opt.Remote != nil {
		return p.opt.Remote.URL
	}
	return ""
}
