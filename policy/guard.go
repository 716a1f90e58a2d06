package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/opena2a-org/aim-mcp/audit"
	"github.com/opena2a-org/aim-mcp/config"
	"github.com/opena2a-org/aim-mcp/mcpproxy"
	"github.com/opena2a-org/aim-mcp/registry"
)

// Guard is the proxy's policy: it classifies each call, allows, denies or
// holds it for a human, and falls back to the fail mode when the registry
// cannot answer.
type Guard struct {
	db     *registry.DB
	server registry.Server
	cfg    config.Config
	static []*Rule // from config.yaml

	// Poll is how often a held call looks for a human's answer.
	Poll time.Duration
	// Held is told of each new approval that waits for a person outside
	// the client (the client could not, or did not, ask by elicitation),
	// so the person can be told where to answer. It must not block.
	Held func(a registry.Approval)

	mu      sync.Mutex
	rules   []*Rule
	version string
	checked time.Time
	tools   map[string]*Annotations
	extra   []Hook
}

// Hook lets another concern (tool pinning, a remote AIM) weigh in on a call
// before the policy does. A non-nil verdict decides; a non-empty require
// makes a call the policy would allow need a human, with that reason. A
// hook that also implements mcpproxy.ToolsObserver or OutcomeObserver gets
// those observations too.
type Hook interface {
	Before(ctx context.Context, c *mcpproxy.Call) (require string, v *mcpproxy.Verdict)
}

// NewGuard prepares the policy of one server.
func NewGuard(ctx context.Context, db *registry.DB, server registry.Server, cfg config.Config) (*Guard, error) {
	static, err := ConfigRules(cfg)
	if err != nil {
		return nil, err
	}
	g := &Guard{db: db, server: server, cfg: cfg, static: static, Poll: 200 * time.Millisecond, tools: map[string]*Annotations{}}
	if _, err := g.currentRules(ctx); err != nil {
		return nil, err
	}
	// The annotations the server gave last time hold until it lists its
	// tools again: a client may call before it lists.
	if tools, err := db.Tools(ctx, server.ID); err == nil {
		for _, t := range tools {
			g.tools[t.Name] = ParseAnnotations(t.Annotations)
		}
	}
	return g, nil
}

// AddHook adds a concern consulted before the policy.
func (g *Guard) AddHook(h Hook) { g.extra = append(g.extra, h) }

// ConfigRules compiles the rules of config.yaml.
func ConfigRules(cfg config.Config) ([]*Rule, error) {
	var out []*Rule
	for i, cr := range cfg.Policy {
		when, err := ParseWhen(cr.When)
		if err != nil {
			return nil, fmt.Errorf("config.yaml policy rule %d: %w", i+1, err)
		}
		r := &Rule{Server: cr.Server, Tool: cr.Tool, When: when, Risk: cr.Risk, Action: audit.Action(cr.Action),
			Origin: fmt.Sprintf("config.yaml rule %d", i+1)}
		if err := r.Compile(); err != nil {
			return nil, fmt.Errorf("config.yaml policy rule %d: %w", i+1, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// FromStored compiles a rule kept in the registry.
func FromStored(sr registry.StoredRule) (*Rule, error) {
	r := &Rule{ID: sr.ID, Server: sr.Server, Tool: sr.Tool, Risk: sr.Risk, Action: audit.Action(sr.Action),
		Origin: fmt.Sprintf("rule %d", sr.ID)}
	if sr.WhenOp != "" {
		r.When = &Cond{Ptr: sr.WhenPtr, Op: sr.WhenOp, Value: sr.WhenValue}
	}
	if err := r.Compile(); err != nil {
		return nil, fmt.Errorf("rule %d: %w", sr.ID, err)
	}
	return r, nil
}

// AllRules returns the config rules and the stored ones, compiled.
func AllRules(ctx context.Context, db *registry.DB, cfg config.Config) ([]*Rule, error) {
	rules, err := ConfigRules(cfg)
	if err != nil {
		return nil, err
	}
	stored, err := db.Rules(ctx)
	if err != nil {
		return nil, err
	}
	for _, sr := range stored {
		r, err := FromStored(sr)
		if err != nil {
			return nil, err
		}
		rules = append(rules, r)
	}
	return rules, nil
}

// currentRules reloads stored rules when they changed, at most once a
// second, so "aim-mcp policy add" reaches running proxies.
func (g *Guard) currentRules(ctx context.Context) ([]*Rule, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.checked.IsZero() && time.Since(g.checked) < time.Second {
		return g.rules, nil
	}
	v, err := g.db.RulesVersion(ctx)
	if err != nil {
		return g.rules, err
	}
	if !g.checked.IsZero() && v == g.version {
		g.checked = time.Now()
		return g.rules, nil
	}
	stored, err := g.db.Rules(ctx)
	if err != nil {
		return g.rules, err
	}
	rules := append([]*Rule(nil), g.static...)
	for _, sr := range stored {
		r, err := FromStored(sr)
		if err != nil {
			return g.rules, err
		}
		rules = append(rules, r)
	}
	g.rules, g.version, g.checked = rules, v, time.Now()
	return rules, nil
}

// ParseAnnotations reads a tool's stored annotations; nil when it has none.
func ParseAnnotations(raw json.RawMessage) *Annotations {
	if len(raw) == 0 {
		return nil
	}
	var a Annotations
	if json.Unmarshal(raw, &a) != nil || (a == Annotations{}) {
		return nil
	}
	return &a
}

// ToolsListed keeps each tool's annotations for risk.
func (g *Guard) ToolsListed(ctx context.Context, result json.RawMessage) {
	var r struct {
		Tools []struct {
			Name        string       `json:"name"`
			Annotations *Annotations `json:"annotations"`
		} `json:"tools"`
	}
	if json.Unmarshal(result, &r) != nil {
		return
	}
	g.mu.Lock()
	for _, t := range r.Tools {
		g.tools[t.Name] = t.Annotations
	}
	g.mu.Unlock()
	for _, h := range g.extra {
		if o, ok := h.(mcpproxy.ToolsObserver); ok {
			o.ToolsListed(ctx, result)
		}
	}
}

// FilterTools lets the hooks that filter tools/list answers (the pins'
// quarantine) leave tools out of what the client sees.
func (g *Guard) FilterTools(ctx context.Context, result json.RawMessage) (json.RawMessage, bool) {
	changed := false
	for _, h := range g.extra {
		if f, ok := h.(mcpproxy.ToolsFilter); ok {
			if out, ok := f.FilterTools(ctx, result); ok {
				result, changed = out, true
			}
		}
	}
	return result, changed
}

// ToolsChanged passes the server's list_changed on to the hooks that care.
func (g *Guard) ToolsChanged(ctx context.Context) {
	for _, h := range g.extra {
		if o, ok := h.(mcpproxy.ToolsObserver); ok {
			o.ToolsChanged(ctx)
		}
	}
}

// Outcome passes a call's outcome on to the hooks that care (a remote
// registry logs it).
func (g *Guard) Outcome(ctx context.Context, c *mcpproxy.Call, o mcpproxy.Outcome) {
	for _, h := range g.extra {
		if obs, ok := h.(mcpproxy.OutcomeObserver); ok {
			obs.Outcome(ctx, c, o)
		}
	}
}

func (g *Guard) annotations(tool string) *Annotations {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.tools[tool]
}

// Check implements mcpproxy.Decider.
func (g *Guard) Check(ctx context.Context, c *mcpproxy.Call) mcpproxy.Verdict {
	start := time.Now()
	v := g.check(ctx, c)
	if v.Data == nil {
		v.Data = map[string]any{}
	}
	v.Data["decision_ms"] = float64(time.Since(start).Microseconds()) / 1000
	return v
}

func (g *Guard) check(ctx context.Context, c *mcpproxy.Call) mcpproxy.Verdict {
	var required string
	for _, h := range g.extra {
		req, v := h.Before(ctx, c)
		if v != nil {
			return *v
		}
		if req != "" {
			required = req
		}
	}
	v, d, done := g.policy(ctx, c, required)
	if done {
		return v
	}
	return g.approve(ctx, c, d, v)
}

// QuickHook is a Hook that can sometimes answer at once, without waiting
// for the network or the registry's write lock: ok false means "ask Before".
type QuickHook interface {
	Quick(c *mcpproxy.Call) (require string, v *mcpproxy.Verdict, ok bool)
}

// Quick implements mcpproxy.QuickDecider: the decision when it needs nobody to
// wait for (allow or deny, every hook sure at once); ok false otherwise,
// and the proxy then holds the call and asks Check.
func (g *Guard) Quick(c *mcpproxy.Call) (mcpproxy.Verdict, bool) {
	start := time.Now()
	for _, h := range g.extra {
		q, ok := h.(QuickHook)
		if !ok {
			return mcpproxy.Verdict{}, false
		}
		req, v, ok := q.Quick(c)
		if !ok || req != "" {
			return mcpproxy.Verdict{}, false
		}
		if v != nil {
			return *v, true
		}
	}
	v, _, done := g.policy(context.Background(), c, "")
	if !done || v.Decision == audit.FailClosed || v.FailOpen {
		return mcpproxy.Verdict{}, false // the slow path explains failures
	}
	v.Data["decision_ms"] = float64(time.Since(start).Microseconds()) / 1000
	return v, true
}

// Local is the local policy's risk and action for c: the rules of the
// registry and config.yaml (the last ones read, when the registry does not
// answer) and the annotations the server gave the tool. A hook that must
// decide on its own (the AIM hook's fail mode) asks this instead of
// deciding again.
func (g *Guard) Local(ctx context.Context, c *mcpproxy.Call) Decision {
	d, _ := g.decide(ctx, c)
	return d
}

func (g *Guard) decide(ctx context.Context, c *mcpproxy.Call) (Decision, error) {
	rules, err := g.currentRules(ctx)
	return Decide(Input{Server: g.server.Name, Tool: c.Tool, Args: c.Args, Value: c.Value(), Annotations: g.annotations(c.Tool)}, rules, g.cfg), err
}

// policy applies the rules: done with an allow or deny verdict, or not done
// when a person must approve (v and d then describe why).
func (g *Guard) policy(ctx context.Context, c *mcpproxy.Call, required string) (v mcpproxy.Verdict, d Decision, done bool) {
	d, err := g.decide(ctx, c)
	if err != nil {
		return FailMode(g.cfg, d, err), d, true
	}
	v = mcpproxy.Verdict{Risk: d.Risk, Source: d.ActionSource + "; risk from " + d.RiskSource,
		Data: map[string]any{"action": d.Action}}
	action := d.Action
	if required != "" && action == audit.ActionAllow {
		action = audit.ActionApprove
		d.ActionSource = required
		v.Source = required
	}
	switch action {
	case audit.ActionAllow:
		v.Allow, v.Decision = true, audit.Allow
		return v, d, true
	case audit.ActionDeny:
		v.Decision = audit.Deny
		v.Reason = fmt.Sprintf("denied by %s (risk %s)", d.ActionSource, d.Risk)
		v.Next = fmt.Sprintf("To see why, run `aim-mcp policy check --server %s --tool %s --args %s` in a terminal",
			shellQuote(g.server.Name), shellQuote(c.Tool), shellQuote(string(c.RedactedArgs())))
		return v, d, true
	}
	return v, d, false
}

// Offline is the guard of a proxy whose registry could not be opened: it
// applies the fail mode to the risk the config and the tool's name give.
type Offline struct {
	Config config.Config
	Cause  error
}

// Check implements mcpproxy.Decider.
func (o Offline) Check(ctx context.Context, c *mcpproxy.Call) mcpproxy.Verdict {
	rules, _ := ConfigRules(o.Config)
	d := Decide(Input{Tool: c.Tool, Args: c.Args}, rules, o.Config)
	return FailMode(o.Config, d, o.Cause)
}

// FailMode decides a call when the registry cannot answer: high and critical
// are denied; low and medium follow fail_mode.
func FailMode(cfg config.Config, d Decision, cause error) mcpproxy.Verdict {
	v := mcpproxy.Verdict{Risk: d.Risk, Source: "fail mode (" + cfg.FailMode + "); risk from " + d.RiskSource}
	if riskRank(d.Risk) < riskRank(High) && cfg.FailMode == "open" && d.Action != audit.ActionDeny {
		v.Allow, v.FailOpen, v.Decision = true, true, "allow_fail_open"
		return v
	}
	v.Decision = audit.FailClosed
	v.Reason = fmt.Sprintf("the aim-mcp registry is unavailable (%v), and %s risk calls are refused then", cause, d.Risk)
	v.Next = "Run `aim-mcp list` in a terminal to see what is wrong"
	return v
}

// Explain decides a call as a proxy of server would, without running it:
// the rules of cfg and the registry, and the annotations the server last
// listed for tool (from any client's proxy of that server). It answers
// "aim-mcp policy check" and the dashboard's "what would happen".
func Explain(ctx context.Context, db *registry.DB, cfg config.Config, server, tool string, args json.RawMessage) (Decision, error) {
	rules, err := AllRules(ctx, db, cfg)
	if err != nil {
		return Decision{}, err
	}
	in := Input{Server: server, Tool: tool, Args: args}
	if servers, err := db.FindServers(ctx, server); err == nil {
		for _, s := range servers {
			if t, err := db.Tool(ctx, s.ID, tool); err == nil {
				if a := ParseAnnotations(t.Annotations); a != nil {
					in.Annotations = a
					break
				}
			}
		}
	}
	return Decide(in, rules, cfg), nil
}

// Store checks a rule and keeps it in the registry; running proxies pick it
// up within a second. when is a condition as ParseWhen reads it ("" for
// none). A bad rule is an error that says what is wrong and stores nothing.
func Store(ctx context.Context, db *registry.DB, server, tool, when, risk string, action audit.Action) (*Rule, error) {
	cond, err := ParseWhen(when)
	if err != nil {
		return nil, fmt.Errorf("when: %w", err)
	}
	r := &Rule{Server: server, Tool: tool, When: cond, Risk: risk, Action: action}
	if err := r.Compile(); err != nil {
		return nil, err
	}
	sr := registry.StoredRule{Server: r.Server, Tool: r.Tool, Risk: r.Risk, Action: string(r.Action)}
	if cond != nil {
		sr.WhenPtr, sr.WhenOp, sr.WhenValue = cond.Ptr, cond.Op, cond.Value
	}
	sr, err = db.AddRule(ctx, sr)
	if err != nil {
		return nil, err
	}
	r.ID, r.Origin = sr.ID, fmt.Sprintf("rule %d", sr.ID)
	return r, nil
}

// Describe says a rule in one line, as the commands print it.
func (r *Rule) Describe() string {
	s := fmt.Sprintf("server %q tool %q", r.Server, r.Tool)
	if r.When != nil {
		s += " when " + r.When.String()
	}
	if r.Risk != "" {
		s += " risk " + r.Risk
	}
	if r.Action != "" {
		s += " action " + string(r.Action)
	}
	return s
}

// lapsed is the decision of a call whose approval can no longer be used.
var lapsed = map[string]audit.Decision{
	registry.ApprovalExpired:   audit.ApprovalExpired,
	registry.ApprovalCancelled: audit.ApprovalCancelled,
	registry.ApprovalUsed:      audit.ApprovalUsed,
}

// shellQuote writes s for a POSIX shell: as is when plain, else in single
// quotes, so a hint's command line can be pasted as it is.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:@+=,", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
