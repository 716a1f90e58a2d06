// Package aim puts a remote AIM server in front of a proxy's local policy:
// a policy hook that asks AIM's verify-action about each tool call and
// applies the fail mode when AIM cannot answer, and an observer of the
// proxy that sends outcomes and capability requests off the pump. It uses
// registry/remote as its HTTP client; nothing below imports it.
package aim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/opena2a-org/aim-mcp/audit"
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
	// DB keeps AIM's verdicts for every proxy of the home; nil keeps them
	// in memory.
	DB     *registry.DB
	Config config.Config
	// Local is the local policy's decision of a call, whose risk the fail
	// mode goes by when AIM cannot answer: the proxy's [policy.Guard.Local].
	// Nil decides by the config's rules and the tool's name alone.
	Local func(ctx context.Context, c *mcpproxy.Call) policy.Decision
	// CallTimeout bounds AIM's answer for one call, retries included;
	// 0 means Config.CallTimeout.
	CallTimeout time.Duration
	// ProbeTimeout bounds the health check a call makes when AIM was
	// unreachable at the last call: 0 means a second.
	ProbeTimeout time.Duration
	// Requests remembers which capabilities were requested; nil keeps
	// that in memory for the session only.
	Requests *RequestLog
	// QueueSize bounds the outcomes and capability requests waiting to
	// be sent; beyond it they are dropped (the local chain has them).
	QueueSize int
	Logger    *slog.Logger
}

// Hook puts AIM in front of the local policy of one server's proxy. Its
// Before asks AIM's verify-action about the capability of a tools/call
// (mcp_tool:<tool>): AIM's denial, with its reason, decides; AIM's
// allowance lets the local policy decide, so the local policy can make a
// decision stricter, never looser. AIM's answer is kept in the registry
// for Config.AIMVerifyTTL and reused by every proxy of the home, which
// keeps a busy machine inside AIM's rate limit. When AIM cannot answer,
// the fail mode decides (high and critical risk denied, low and medium as
// fail_mode says). Outcomes (when Config.AIMLogOutcomes) and capability
// requests go to AIM from a queue of their own: the pump never waits.
type Hook struct {
	opt HookOptions
	log *slog.Logger

	sem     chan struct{} // one agent resolution at a time
	mu      sync.Mutex
	agent   *remote.Identity
	audit   map[*mcpproxy.Call]auditEntry
	memory  map[string]registry.AIMVerdict // this proxy's copy of the verdicts it read or made
	flights map[string]chan struct{}       // capability -> the check in flight
	down    error                          // AIM unreachable at the last attempt
	probing bool
	limited time.Time // AIM's rate limit holds until then
	limit   error
	asked   map[string]bool // capabilities requested this session

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
)

// NewHook starts a hook; Close stops it.
func NewHook(opt HookOptions) *Hook {
	if opt.CallTimeout <= 0 {
		opt.CallTimeout = opt.Config.CallTimeout
	}
	if opt.CallTimeout <= 0 {
		opt.CallTimeout = 5 * time.Second
	}
	if opt.ProbeTimeout <= 0 {
		opt.ProbeTimeout = time.Second
	}
	if opt.QueueSize <= 0 {
		opt.QueueSize = 256
	}
	h := &Hook{opt: opt, log: opt.Logger, sem: make(chan struct{}, 1),
		audit: map[*mcpproxy.Call]auditEntry{}, asked: map[string]bool{},
		memory: map[string]registry.AIMVerdict{}, flights: map[string]chan struct{}{},
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
	vctx, cancel := context.WithTimeout(ctx, h.opt.CallTimeout)
	defer cancel()
	capability := remote.Capability(c.Tool)
	if a := h.cachedAgent(); a != nil {
		if v, ok := h.fresh(ctx, a.AgentID, capability); ok {
			return h.apply(ctx, c, v)
		}
	}
	if err := h.blocked(vctx); err != nil {
		return h.unavailable(ctx, c, err)
	}
	id, err := h.identity(vctx)
	if err != nil {
		return h.refuse(ctx, c, err)
	}
	v, err := h.check(vctx, id, c)
	if invalidSignature(err) {
		// "aim-mcp keys rotate" may have given the agent a new key, here
		// and in AIM, while this proxy ran: read it again, and ask once
		// more with it.
		if again, ok := h.reloadIdentity(vctx, id); ok {
			v, err = h.check(vctx, again, c)
		}
	}
	if err != nil {
		return h.refuse(ctx, c, err)
	}
	return h.apply(ctx, c, v)
}

// invalidSignature reports whether AIM refused a request's signature: the
// agent's key is not the one AIM holds.
func invalidSignature(err error) bool {
	var ae *remote.AuthenticationError
	return errors.As(err, &ae) && ae.Message == "Invalid signature"
}

// reloadIdentity forgets the agent's identity and resolves it again; ok
// when the key is not the one used (it was rotated since).
func (h *Hook) reloadIdentity(ctx context.Context, used remote.Identity) (remote.Identity, bool) {
	h.mu.Lock()
	if h.agent != nil && h.agent.Key == used.Key {
		h.agent = nil
	}
	h.mu.Unlock()
	id, err := h.identity(ctx)
	if err != nil || id.Key == nil || used.Key != nil && id.Key.PublicString() == used.Key.PublicString() {
		return id, false
	}
	return id, true
}

// check asks AIM about the call's capability, unless another call of this
// proxy is asking already: then it waits for that answer.
func (h *Hook) check(ctx context.Context, id remote.Identity, c *mcpproxy.Call) (registry.AIMVerdict, error) {
	capability := remote.Capability(c.Tool)
	for {
		if v, ok := h.fresh(ctx, id.AgentID, capability); ok {
			return v, nil
		}
		h.mu.Lock()
		wait, busy := h.flights[capability]
		if !busy {
			h.flights[capability] = make(chan struct{})
		}
		h.mu.Unlock()
		if !busy {
			break
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return registry.AIMVerdict{}, &remote.TimeoutError{URL: h.opt.Client.URL(), Timeout: h.opt.CallTimeout, Err: ctx.Err()}
		}
	}
	defer func() {
		h.mu.Lock()
		close(h.flights[capability])
		delete(h.flights, capability)
		h.mu.Unlock()
	}()
	d, err := h.opt.Client.VerifyAction(ctx, id, remote.Action{Type: capability, Resource: c.Tool, Metadata: h.metadata(c)})
	v := registry.AIMVerdict{AgentID: id.AgentID, Capability: capability, DecidedAt: time.Now()}
	var ve *remote.VerificationError
	switch {
	case err == nil:
		v.Allowed, v.Reason, v.AuditID = true, d.Reason, d.AuditID
	case errors.As(err, &ve):
		v.Reason, v.AuditID = ve.Reason, ve.AuditID
	default:
		var rl *remote.RateLimitError
		if errors.As(err, &rl) {
			// Another proxy may have asked in time.
			if v, ok := h.fresh(ctx, id.AgentID, capability); ok {
				return v, nil
			}
			h.rateLimited(rl)
		}
		var te *remote.TimeoutError
		if errors.As(err, &te) && te.Timeout == 0 {
			te.Timeout = h.opt.CallTimeout
		}
		return registry.AIMVerdict{}, err
	}
	h.up()
	h.save(ctx, v)
	return v, nil
}

// fresh is the verdict kept for (agent, capability), when it is younger
// than the TTL: this proxy's copy first, then the registry's, which
// another proxy of the home may have refreshed.
func (h *Hook) fresh(ctx context.Context, agentID, capability string) (registry.AIMVerdict, bool) {
	ttl := h.opt.Config.AIMVerifyTTL
	if ttl <= 0 {
		return registry.AIMVerdict{}, false
	}
	young := func(v registry.AIMVerdict) bool {
		age := time.Since(v.DecidedAt)
		return age < ttl && age > -time.Minute
	}
	key := agentID + " " + capability
	h.mu.Lock()
	v, ok := h.memory[key]
	h.mu.Unlock()
	if ok && young(v) {
		return v, true
	}
	if h.opt.DB == nil {
		return registry.AIMVerdict{}, false
	}
	v, ok, err := h.opt.DB.AIMVerdict(context.WithoutCancel(ctx), agentID, capability)
	if err != nil {
		h.log.Debug("read AIM verdict", "error", err.Error())
	}
	if !ok || !young(v) {
		return registry.AIMVerdict{}, false
	}
	h.mu.Lock()
	h.memory[key] = v
	h.mu.Unlock()
	return v, true
}

func (h *Hook) save(ctx context.Context, v registry.AIMVerdict) {
	if h.opt.Config.AIMVerifyTTL <= 0 {
		return
	}
	h.mu.Lock()
	h.memory[v.AgentID+" "+v.Capability] = v
	h.mu.Unlock()
	if h.opt.DB != nil {
		if err := h.opt.DB.SaveAIMVerdict(context.WithoutCancel(ctx), v); err != nil {
			h.log.Debug("keep AIM verdict", "error", err.Error())
		}
	}
}

// apply turns AIM's verdict into the hook's say: none when AIM allows (the
// local policy decides), a denial with AIM's reason otherwise.
func (h *Hook) apply(ctx context.Context, c *mcpproxy.Call, v registry.AIMVerdict) (string, *mcpproxy.Verdict) {
	if v.Allowed {
		h.remember(c, v)
		return "", nil
	}
	return h.refuse(ctx, c, &remote.VerificationError{Action: v.Capability, Reason: v.Reason, AuditID: v.AuditID})
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

// refuse turns a failed check into the verdict, by the kind of refusal.
func (h *Hook) refuse(ctx context.Context, c *mcpproxy.Call, err error) (string, *mcpproxy.Verdict) {
	if ctx.Err() != nil {
		return "", &mcpproxy.Verdict{Decision: audit.Cancelled, Source: "AIM", Reason: "the client cancelled the call"}
	}
	kind := Classify(err)
	switch kind {
	case Unreachable:
		h.markDown(err)
		return h.unavailable(ctx, c, err)
	case RateLimited:
		return h.unavailable(ctx, c, err)
	}
	d := h.local(ctx, c)
	agent := ""
	if a := h.cachedAgent(); a != nil {
		agent = " (" + a.AgentID + ")"
	}
	name := h.opt.Server.Name
	var ve *remote.VerificationError
	if errors.As(err, &ve) {
		h.up()
		reason := strings.TrimSuffix(ve.Reason, ".")
		if reason == "" {
			reason = "no reason given"
		}
		v := &mcpproxy.Verdict{Decision: audit.Deny, Risk: d.Risk, Source: "AIM", Reason: "AIM denied it: " + reason,
			Data: map[string]any{"aim_refusal": string(kind), "aim_reason": ve.Reason, "aim_audit_id": ve.AuditID, "aim_action": ve.Action}}
		switch kind {
		case NotVerified:
			v.Next = fmt.Sprintf("The agent of server %q%s is suspended or not verified in AIM; an AIM admin must verify it again", name, agent)
		default:
			h.requestLater(c.Tool)
			v.Reason = fmt.Sprintf("AIM denied it: the capability %q is not granted (%s)", ve.Action, reason)
			v.Next = fmt.Sprintf("An AIM admin must grant the capability %q, or %q for every tool, to the agent of server %q%s",
				ve.Action, remote.Capability("*"), name, agent)
			if h.opt.Client.HasAPIKey() {
				v.Next += "; aim-mcp has requested it"
			}
		}
		return "", v
	}
	// AIM answered, and the answer is no: a credential, a deleted agent,
	// an agent name taken by someone else. Fail closed, whatever the risk.
	v := &mcpproxy.Verdict{Decision: audit.FailClosed, Risk: d.Risk, Source: "AIM",
		Reason: "AIM could not check it: " + err.Error(), Data: map[string]any{"aim_refusal": string(kind), "aim_error": err.Error()}}
	var hint remote.Hinter
	var ae *remote.AuthenticationError
	switch {
	case errors.As(err, &ae) && invalidSignature(err):
		v.Next = "To fix it: the agent's key was rotated in AIM; " + remote.RotateHint(name)
	case errors.As(err, &hint):
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
	kind := Classify(err)
	v.Source = "AIM unavailable; " + v.Source
	if v.Data == nil {
		v.Data = map[string]any{}
	}
	v.Data["aim_error"] = err.Error()
	v.Data["aim_refusal"] = string(kind)
	if kind == RateLimited {
		v.Reason = fmt.Sprintf("AIM's rate limit was hit (%v), and %s risk calls are refused until AIM answers again", err, d.Risk)
		v.Next = "Wait for the time AIM asks, or raise aim_verify_ttl in config.yaml so that fewer calls ask AIM"
		return "", &v
	}
	v.Reason = fmt.Sprintf("AIM is down or unreachable (%v), and %s risk calls are refused then", err, d.Risk)
	v.Next = "Run `aim-mcp status` in a terminal to see whether AIM answers; the next call asks AIM again"
	return "", &v
}

// local is the local policy's risk and action for the call.
func (h *Hook) local(ctx context.Context, c *mcpproxy.Call) policy.Decision {
	if h.opt.Local != nil {
		return h.opt.Local(ctx, c)
	}
	rules, _ := policy.ConfigRules(h.opt.Config)
	return policy.Decide(policy.Input{Server: h.opt.Server.Name, Tool: c.Tool, Args: c.Args}, rules, h.opt.Config)
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

// blocked says why AIM is not to be asked now: its rate limit still holds,
// or it was unreachable and a health probe (made by this call, unless
// another call is making one) says it still is. After AIM comes back the
// next call's probe finds it, with no cooldown to wait out.
func (h *Hook) blocked(ctx context.Context) error {
	h.mu.Lock()
	if h.limit != nil && time.Now().Before(h.limited) {
		err := h.limit
		h.mu.Unlock()
		return err
	}
	down, probing := h.down, h.probing
	if down == nil {
		h.mu.Unlock()
		return nil
	}
	if probing {
		h.mu.Unlock()
		return down
	}
	h.probing = true
	h.mu.Unlock()
	pctx, cancel := context.WithTimeout(ctx, h.opt.ProbeTimeout)
	err := h.opt.Client.Health(pctx)
	cancel()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.probing = false
	if err != nil && remote.Unavailable(err) {
		h.down = err
		return err
	}
	h.down = nil
	return nil
}

func (h *Hook) markDown(err error) {
	h.mu.Lock()
	h.down = err
	h.mu.Unlock()
}

func (h *Hook) rateLimited(rl *remote.RateLimitError) {
	wait := rl.RetryAfter
	if wait <= 0 {
		wait = time.Second
	}
	h.mu.Lock()
	h.limit, h.limited = rl, time.Now().Add(wait)
	h.mu.Unlock()
}

func (h *Hook) up() {
	h.mu.Lock()
	h.down, h.limit = nil, nil
	h.mu.Unlock()
}

// remember keeps a call's audit id for its outcome, when outcomes go to
// AIM. Calls the local policy then refused never have one: entries older
// than an hour are dropped.
func (h *Hook) remember(c *mcpproxy.Call, v registry.AIMVerdict) {
	if !h.opt.Config.AIMLogOutcomes || v.AuditID == "" {
		return
	}
	a := h.cachedAgent()
	if a == nil {
		return
	}
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
	h.audit[c] = auditEntry{id: *a, audit: v.AuditID, at: now}
}
