// Package aim puts a remote AIM server in front of a proxy's local policy:
// a policy hook that asks AIM's verify-action about each tool call and
// applies the fail mode when AIM cannot answer, and an observer of the
// proxy that sends outcomes and capability requests off the pump. It uses
// registry/remote as its HTTP client; nothing below imports it.
package aim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/opena2a-org/aim-mcp/config"
	"github.com/opena2a-org/aim-mcp/mcpproxy"
	"github.com/opena2a-org/aim-mcp/policy"
	"github.com/opena2a-org/aim-mcp/registry"
	"github.com/opena2a-org/aim-mcp/registry/remote"
)

// HookOptions configure a Hook.
type HookOptions struct {
	Client *remote.Client
	Server registry.Server // the local server the proxy runs
	// Agent returns the server's agent in AIM: it loads the key, and
	// registers the server first when it has none. It is called again
	// until it succeeds.
	Agent func(ctx context.Context) (remote.Identity, error)
	// DB and Config give the risk of a call when AIM cannot answer, for
	// the fail mode. DB may be nil (config rules only).
	DB     *registry.DB
	Config config.Config
	// CallTimeout bounds AIM's answer for one call, retries included;
	// 0 means Config.CallTimeout.
	CallTimeout time.Duration
	// Cooldown is how long, after AIM could not answer, calls go straight
	// to the fail mode instead of waiting for AIM again: 0 means 10s,
	// negative means never.
	Cooldown time.Duration
	// Requests remembers which capabilities were requested; nil keeps
	// that in memory for the session only.
	Requests *RequestLog
	// QueueSize bounds the outcomes and capability requests waiting to
	// be sent; beyond it they are dropped (the local chain has them).
	QueueSize int
	Logger    *slog.Logger
}

// Hook puts AIM in front of the local policy of one server's proxy. Its
// Before asks AIM's verify-action about every tools/call: AIM's denial,
// with its reason, decides; AIM's allowance lets the local policy decide,
// so the local policy can make a decision stricter, never looser. When AIM
// cannot answer, the fail mode decides (high and critical risk denied,
// low and medium as fail_mode says). Outcomes go to AIM's log-action and
// the tools a server lists are requested as capabilities, from a queue of
// their own: the pump never waits for them.
type Hook struct {
	opt HookOptions
	log *slog.Logger

	sem   chan struct{} // one agent resolution at a time
	mu    sync.Mutex
	agent *remote.Identity
	notes map[string]*policy.Annotations
	audit map[*mcpproxy.Call]auditEntry
	down  error
	until time.Time
	asked map[string]bool // capabilities requested this session

	jobs   chan func(context.Context)
	closed bool
	done   chan struct{}
	bg     context.Context
	stop   context.CancelFunc
}

type auditEntry struct {
	id    remote.Identity
	audit string
	at    time.Time
}

var (
	_ policy.Hook              = (*Hook)(nil)
	_ mcpproxy.OutcomeObserver = (*Hook)(nil)
	_ mcpproxy.ToolsObserver   = (*Hook)(nil)
)

// NewHook starts a hook; Close stops it.
func NewHook(opt HookOptions) *Hook {
	if opt.CallTimeout <= 0 {
		opt.CallTimeout = opt.Config.CallTimeout
	}
	if opt.CallTimeout <= 0 {
		opt.CallTimeout = 5 * time.Second
	}
	if opt.Cooldown == 0 {
		opt.Cooldown = 10 * time.Second
	}
	if opt.QueueSize <= 0 {
		opt.QueueSize = 256
	}
	h := &Hook{opt: opt, log: opt.Logger, sem: make(chan struct{}, 1),
		notes: map[string]*policy.Annotations{}, audit: map[*mcpproxy.Call]auditEntry{}, asked: map[string]bool{},
		jobs: make(chan func(context.Context), opt.QueueSize), done: make(chan struct{})}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	h.bg, h.stop = context.WithCancel(context.Background())
	go h.work()
	return h
}

// Before implements policy.Hook.
func (h *Hook) Before(ctx context.Context, c *mcpproxy.Call) (string, *mcpproxy.Verdict) {
	if err := h.isDown(); err != nil {
		return h.unavailable(ctx, c, err)
	}
	vctx, cancel := context.WithTimeout(ctx, h.opt.CallTimeout)
	defer cancel()
	id, err := h.identity(vctx)
	if err == nil {
		var d *remote.Decision
		d, err = h.opt.Client.VerifyAction(vctx, id, remote.Action{Type: remote.Capability(c.Tool), Resource: c.Tool, Metadata: h.metadata(c)})
		if err == nil {
			h.up()
			h.remember(c, id, d.AuditID)
			return "", nil
		}
	}
	var te *remote.TimeoutError
	if errors.As(err, &te) && te.Timeout == 0 {
		te.Timeout = h.opt.CallTimeout
	}
	return h.refuse(ctx, c, err)
}

// metadata is the context AIM's audit row gets: no arguments (they may hold
// secrets), only their digest.
func (h *Hook) metadata(c *mcpproxy.Call) map[string]any {
	md := map[string]any{
		"server": h.opt.Server.Name, "client": h.opt.Server.Client, "tool": c.Tool,
		"args_sha256": c.ArgsDigest, "via": "aim-mcp",
	}
	if c.Client.Name != "" {
		md["mcp_client"] = c.Client.Name
	}
	return md
}

// refuse turns a failed check into the verdict.
func (h *Hook) refuse(ctx context.Context, c *mcpproxy.Call, err error) (string, *mcpproxy.Verdict) {
	var ve *remote.VerificationError
	switch {
	case errors.As(err, &ve):
		h.up()
		h.requestLater([]string{c.Tool})
		d := h.local(ctx, c)
		name := h.opt.Server.Name
		agent := ""
		if a := h.cachedAgent(); a != nil {
			agent = " (" + a.AgentID + ")"
		}
		reason := strings.TrimSuffix(ve.Reason, ".")
		if reason == "" {
			reason = "no reason given"
		}
		next := fmt.Sprintf("An AIM admin must grant the capability %q to the agent of server %q%s", ve.Action, name, agent)
		if h.opt.Client.HasAPIKey() {
			next += "; aim-mcp has requested it"
		}
		return "", &mcpproxy.Verdict{Decision: "deny", Risk: d.Risk, Source: "AIM",
			Reason: "AIM denied it: " + reason, Next: next,
			Data: map[string]any{"aim_reason": ve.Reason, "aim_audit_id": ve.AuditID, "aim_action": ve.Action}}
	case ctx.Err() != nil:
		return "", &mcpproxy.Verdict{Decision: "cancelled", Source: "AIM", Reason: "the client cancelled the call"}
	case remote.Unavailable(err):
		h.markDown(err)
		return h.unavailable(ctx, c, err)
	}
	// AIM answered, and the answer is no: a credential, a deleted agent,
	// an agent name taken by someone else. Fail closed, whatever the risk.
	d := h.local(ctx, c)
	v := &mcpproxy.Verdict{Decision: "fail_closed", Risk: d.Risk, Source: "AIM",
		Reason: "AIM could not check it: " + err.Error(), Data: map[string]any{"aim_error": err.Error()}}
	var hint remote.Hinter
	if errors.As(err, &hint) {
		v.Next = "To fix it: " + hint.Hint()
	}
	return "", v
}

// unavailable applies the fail mode. A call the fail mode lets run gets no
// say from AIM at all: the other hooks (pins) and the local policy still
// decide it, so an unreachable AIM never loosens anything.
func (h *Hook) unavailable(ctx context.Context, c *mcpproxy.Call, err error) (string, *mcpproxy.Verdict) {
	d := h.local(ctx, c)
	v := policy.FailMode(h.opt.Config, d, err)
	if v.Allow {
		h.log.Warn("AIM unavailable: fail_mode open leaves the call to the local policy", "tool", c.Tool, "error", err.Error())
		return "", nil
	}
	v.Source = "AIM unavailable; " + v.Source
	if v.Data == nil {
		v.Data = map[string]any{}
	}
	v.Data["aim_error"] = err.Error()
	v.Next = "Run `aim-mcp status` in a terminal to see whether AIM answers"
	return "", &v
}

// local is the local policy's risk and action for the call.
func (h *Hook) local(ctx context.Context, c *mcpproxy.Call) policy.Decision {
	var rules []*policy.Rule
	var err error
	if h.opt.DB != nil {
		rules, err = policy.AllRules(context.WithoutCancel(ctx), h.opt.DB, h.opt.Config)
	}
	if h.opt.DB == nil || err != nil {
		rules, _ = policy.ConfigRules(h.opt.Config)
	}
	h.mu.Lock()
	notes := h.notes[c.Tool]
	h.mu.Unlock()
	return policy.Decide(policy.Input{Server: h.opt.Server.Name, Tool: c.Tool, Args: c.Args, Annotations: notes}, rules, h.opt.Config)
}

// identity resolves the agent once; concurrent callers wait for the one
// that is resolving.
func (h *Hook) identity(ctx context.Context) (remote.Identity, error) {
	if a := h.cachedAgent(); a != nil {
		return *a, nil
	}
	select {
	case h.sem <- struct{}{}:
	case <-ctx.Done():
		return remote.Identity{}, ctx.Err()
	}
	defer func() { <-h.sem }()
	if a := h.cachedAgent(); a != nil {
		return *a, nil
	}
	if h.opt.Agent == nil {
		return remote.Identity{}, errors.New("no AIM agent for this server")
	}
	id, err := h.opt.Agent(ctx)
	if err != nil {
		if ctx.Err() != nil && !remote.Unavailable(err) {
			return remote.Identity{}, &remote.TimeoutError{URL: h.opt.Client.URL(), Err: ctx.Err()}
		}
		return remote.Identity{}, err
	}
	h.mu.Lock()
	h.agent = &id
	h.mu.Unlock()
	return id, nil
}

func (h *Hook) cachedAgent() *remote.Identity {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.agent
}

func (h *Hook) isDown() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.down != nil && time.Now().Before(h.until) {
		return h.down
	}
	return nil
}

func (h *Hook) markDown(err error) {
	if h.opt.Cooldown < 0 {
		return
	}
	h.mu.Lock()
	h.down, h.until = err, time.Now().Add(h.opt.Cooldown)
	h.mu.Unlock()
}

func (h *Hook) up() {
	h.mu.Lock()
	h.down = nil
	h.mu.Unlock()
}

// remember keeps a call's audit id for its outcome. Calls the local policy
// then refused never have one: entries older than an hour are dropped.
func (h *Hook) remember(c *mcpproxy.Call, id remote.Identity, audit string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := time.Now()
	if len(h.audit) >= 1024 {
		for k, e := range h.audit {
			if now.Sub(e.at) > time.Hour {
				delete(h.audit, k)
			}
		}
	}
	h.audit[c] = auditEntry{id: id, audit: audit, at: now}
}

// Outcome implements mcpproxy.OutcomeObserver. It only queues: it runs on
// the proxy's pump, sometimes under the proxy's lock.
func (h *Hook) Outcome(_ context.Context, c *mcpproxy.Call, o mcpproxy.Outcome) {
	h.mu.Lock()
	e, ok := h.audit[c]
	delete(h.audit, c)
	h.mu.Unlock()
	if !ok || e.audit == "" {
		return
	}
	errText := o.ErrorText
	if len(errText) > 500 {
		errText = errText[:500] + "…"
	}
	r := remote.Result{Success: o.Status == "success", Error: errText, Detail: map[string]any{
		"status": o.Status, "tool": c.Tool, "server": h.opt.Server.Name,
		"duration_ms": o.Duration.Milliseconds(), "size": o.Size, "result_sha256": o.Digest,
	}}
	if o.ErrorCode != 0 {
		r.Detail["error_code"] = o.ErrorCode
	}
	if r.Error == "" && !r.Success {
		r.Error = o.Status
	}
	h.enqueue(func(ctx context.Context) {
		if err := h.opt.Client.LogAction(ctx, e.id, e.audit, r); err != nil {
			h.log.Debug("AIM log-action failed; the local chain has the outcome", "tool", c.Tool, "error", err.Error())
		}
	})
}

// ToolsListed implements mcpproxy.ToolsObserver: it keeps the annotations
// (for the fail mode's risk) and requests each tool as a capability.
func (h *Hook) ToolsListed(_ context.Context, result json.RawMessage) {
	var r struct {
		Tools []struct {
			Name        string              `json:"name"`
			Annotations *policy.Annotations `json:"annotations"`
		} `json:"tools"`
	}
	if json.Unmarshal(result, &r) != nil {
		return
	}
	var names []string
	h.mu.Lock()
	for _, t := range r.Tools {
		h.notes[t.Name] = t.Annotations
		names = append(names, t.Name)
	}
	h.mu.Unlock()
	h.requestLater(names)
}

// ToolsChanged implements mcpproxy.ToolsObserver; the next list is what counts.
func (h *Hook) ToolsChanged(context.Context) {}

// requestLater queues capability requests for the tools not yet asked for.
func (h *Hook) requestLater(tools []string) {
	h.mu.Lock()
	var todo []string
	for _, t := range tools {
		if t != "" && !h.asked[t] {
			h.asked[t] = true
			todo = append(todo, t)
		}
	}
	h.mu.Unlock()
	if len(todo) == 0 || !h.opt.Client.HasAPIKey() {
		return
	}
	h.enqueue(func(ctx context.Context) { h.request(ctx, todo) })
}

func (h *Hook) request(ctx context.Context, tools []string) {
	id, err := h.identity(ctx)
	if err != nil {
		h.log.Debug("AIM capability requests skipped", "error", err.Error())
		return
	}
	var granted []string
	if a, err := h.opt.Client.Agent(ctx, id.AgentID); err == nil {
		granted = a.Capabilities
	}
	var done []string
	for _, t := range tools {
		want := remote.Capability(t)
		if Granted(granted, want) || h.opt.Requests.Requested(id.AgentID, want) {
			continue
		}
		reason := fmt.Sprintf("aim-mcp: MCP server %q offers the tool %q; grant %q to let it run", h.opt.Server.Name, t, want)
		if err := h.opt.Client.RequestCapability(ctx, id.AgentID, want, reason); err != nil {
			h.log.Debug("AIM capability request failed", "capability", want, "error", err.Error())
			continue
		}
		done = append(done, want)
	}
	if err := h.opt.Requests.Add(id.AgentID, done...); err != nil {
		h.log.Debug("remember capability requests", "error", err.Error())
	}
}

// Granted reports whether capability matches one of the granted ones,
// exactly or by a granted "prefix*", as AIM's check does.
func Granted(granted []string, capability string) bool {
	for _, g := range granted {
		if g == capability || strings.HasSuffix(g, "*") && strings.HasPrefix(capability, strings.TrimSuffix(g, "*")) {
			return true
		}
	}
	return false
}

// enqueue hands a job to the worker without ever waiting: a full queue
// drops it.
func (h *Hook) enqueue(job func(context.Context)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	select {
	case h.jobs <- job:
	default:
		h.log.Debug("AIM queue full: dropped a log-action or capability request (the local chain has the record)")
	}
}

// jobTimeout bounds each queued job, so that a long Retry-After (AIM's rate
// limit answers 60 s) drops the job instead of stalling the queue.
const jobTimeout = 30 * time.Second

func (h *Hook) work() {
	defer close(h.done)
	for job := range h.jobs {
		ctx, cancel := context.WithTimeout(h.bg, jobTimeout)
		job(ctx)
		cancel()
	}
}

// Close sends what is queued, waiting at most wait, then stops the worker.
func (h *Hook) Close(wait time.Duration) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	close(h.jobs)
	h.mu.Unlock()
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-h.done:
	case <-t.C:
		h.stop()
		<-h.done
	}
	h.stop()
}
