package aim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/opena2a-org/aim-mcp/audit"
	"github.com/opena2a-org/aim-mcp/internal/canon"
	"github.com/opena2a-org/aim-mcp/mcpproxy"
	"github.com/opena2a-org/aim-mcp/policy"
	"github.com/opena2a-org/aim-mcp/registry"
)

// Risk is an action's risk level, as the SDK guide's risk_level.
type Risk string

// Risk levels. By default low and medium run at once, high and critical
// wait for a person; config.yaml's actions and policy rules change that.
const (
	Low      Risk = policy.Low
	Medium   Risk = policy.Medium
	High     Risk = policy.High
	Critical Risk = policy.Critical
)

// CallOption adds to one action: its arguments, its risk.
type CallOption func(*call)

// WithArgs gives the action's parameters (the guide's parameters). They are
// what a person approving sees, secrets masked, and an approval is bound to
// them: approving a refund of order 7 does not approve order 8. Values that
// look like secrets are redacted in the record; its digest covers them.
func WithArgs(args map[string]any) CallOption {
	return func(c *call) {
		for k, v := range args {
			c.args[k] = v
		}
	}
}

// WithRisk declares the action's risk (VerifyAction's risk_level; Track
// takes it as an argument).
func WithRisk(r Risk) CallOption { return func(c *call) { c.risk = r } }

// call is one action on its way through the decision and the chain.
type call struct {
	action string
	risk   Risk
	args   map[string]any
	raw    json.RawMessage
	digest string
	ann    *policy.Annotations // a middleware's tool annotations
	id     json.RawMessage     // pairs the call and outcome records
	via    string              // which layer decided: sdk or middleware
	mc     *mcpproxy.Call      // the call as the remote AIM saw it, if one did
}

func (a *Agent) newCall(action string, risk Risk, resource string, opts []CallOption) (*call, error) {
	if action == "" {
		return nil, errors.New("aim: an action needs a name")
	}
	c := &call{action: action, risk: risk, args: map[string]any{}, via: "sdk"}
	if resource != "" {
		c.args["resource"] = resource
	}
	for _, o := range opts {
		o(c)
	}
	if c.risk != "" && !validRisk(c.risk) {
		return nil, fmt.Errorf("aim: action %q: unknown risk %q: want low, medium, high or critical", action, c.risk)
	}
	raw, err := json.Marshal(c.args)
	if err != nil {
		return nil, fmt.Errorf("aim: action %q: arguments: %w", action, err)
	}
	c.setArgs(raw)
	return c, nil
}

// setArgs takes the action's arguments as JSON, as the wire gives a tool
// call's, and gives the call its digest and id.
func (c *call) setArgs(raw json.RawMessage) {
	c.raw = raw
	var err error
	if c.digest, err = canon.Digest(raw); err != nil {
		c.digest = canon.Sum(raw) // not JSON: bound to the bytes, as the proxy does
	}
	c.id, _ = json.Marshal(newRequestID())
}

func validRisk(r Risk) bool {
	switch r {
	case Low, Medium, High, Critical:
		return true
	}
	return false
}

// Decision is what the policy says about an action, before anyone is asked.
type Decision struct {
	// Action is allow, approve (a person must agree first) or deny.
	Action string `json:"action"`
	// Allowed says the action may run now, with no person asked.
	Allowed    bool   `json:"allowed"`
	Risk       Risk   `json:"risk"`
	RiskSource string `json:"risk_source"` // a rule, "declared by the caller", the name, the default
	Source     string `json:"source"`      // what set the action: a rule, or the default for the risk
	Reason     string `json:"reason,omitempty"`
}

// VerifyAction asks the policy about an action without running or
// recording it: the guide's verify_action. resource, when not empty, is the
// argument "resource" that rules' conditions and approvals see; WithArgs
// adds others, WithRisk declares the risk. It waits for nobody: an action
// that needs approval comes back with Action "approve" and Allowed false.
// When the registry cannot be read the fail mode decides and the error says
// why.
func (a *Agent) VerifyAction(ctx context.Context, action, resource string, opts ...CallOption) (Decision, error) {
	c, err := a.newCall(action, "", resource, opts)
	if err != nil {
		return Decision{}, err
	}
	d, hv, err := a.decideAll(ctx, c)
	if hv != nil {
		return Decision{Action: string(audit.ActionDeny), Risk: Risk(hv.Risk), RiskSource: d.RiskSource,
			Source: hv.Source, Reason: aimReason(hv)}, nil
	}
	if err != nil {
		v := policy.FailMode(a.cfg, d, err)
		action := audit.ActionDeny
		if v.Allow {
			action = audit.ActionAllow // fail_mode open, low or medium risk
		}
		return Decision{Action: string(action), Allowed: v.Allow, Risk: Risk(d.Risk), RiskSource: d.RiskSource,
			Source: v.Source, Reason: v.Reason}, fmt.Errorf("aim: verify %q: %w", action, err)
	}
	out := Decision{Action: string(d.Action), Allowed: d.Action == audit.ActionAllow, Risk: Risk(d.Risk),
		RiskSource: d.RiskSource, Source: d.ActionSource}
	switch d.Action {
	case audit.ActionDeny:
		out.Reason = fmt.Sprintf("denied by %s (risk %s)", d.ActionSource, d.Risk)
	case audit.ActionApprove:
		out.Reason = fmt.Sprintf("it needs a person's approval (%s risk, %s)", d.Risk, d.ActionSource)
	}
	return out, nil
}

// decide runs the proxy's decision for the action: the rules of the
// registry and config.yaml, then the declared risk, the annotations, the
// name and the default.
func (a *Agent) decide(ctx context.Context, c *call) (policy.Decision, error) {
	in := policy.Input{Server: a.srv.Name, Tool: c.action, Args: c.raw, Annotations: c.ann, Declared: string(c.risk)}
	rules, err := policy.AllRules(ctx, a.db, a.cfg)
	if err != nil {
		rules, _ = policy.ConfigRules(a.cfg)
		return policy.Decide(in, rules, a.cfg), err
	}
	return policy.Decide(in, rules, a.cfg), nil
}

// verdict is how an action was decided, as its records say.
type verdict struct {
	decision   audit.Decision
	risk       string
	source     string
	reason     string
	approvalID string
	approver   string
	waitMS     int64
}

// authorize decides the action and, for approve, waits for a person until
// the deadline (zero: until the approval expires). An action that may run
// has its call record committed when authorize returns nil; one that may
// not has its denied record, and the error is a *DeniedError or an
// *ApprovalTimeoutError.
func (a *Agent) authorize(ctx context.Context, c *call, deadline time.Time) (verdict, error) {
	d, hv, err := a.decideAll(ctx, c)
	if hv != nil {
		v := verdict{decision: hv.Decision, risk: hv.Risk, source: hv.Source, reason: aimReason(hv)}
		return v, a.refuse(ctx, c, v)
	}
	v := verdict{risk: d.Risk, source: d.ActionSource + "; risk from " + d.RiskSource}
	switch {
	case err != nil:
		fm := policy.FailMode(a.cfg, d, err)
		v.source, v.reason = fm.Source, fm.Reason
		if !fm.Allow {
			v.decision = audit.FailClosed
			return v, a.refuse(ctx, c, v)
		}
		v.decision = audit.Decision(fm.Decision)
	case d.Action == audit.ActionAllow:
		v.decision = audit.Allow
	case d.Action == audit.ActionDeny:
		v.decision = audit.Deny
		v.reason = fmt.Sprintf("denied by %s (risk %s)", d.ActionSource, d.Risk)
		return v, a.refuse(ctx, c, v)
	default:
		if v, err = a.approve(ctx, c, d, v, deadline); err != nil {
			return v, err
		}
	}
	if err := a.append(ctx, registry.KindCall, c, v); err != nil {
		v.decision, v.reason = audit.FailClosed, "it could not be recorded, so it was not run: "+err.Error()
		return v, a.refuse(ctx, c, v)
	}
	return v, nil
}

// refuse records a refused action and returns the error that says so.
func (a *Agent) refuse(ctx context.Context, c *call, v verdict) error {
	if err := a.append(context.WithoutCancel(ctx), registry.KindDenied, c, v); err != nil {
		a.log.Error("aim: the refusal could not be recorded", "action", c.action, "err", err)
	}
	if v.decision == audit.ApprovalRequired || v.decision == audit.ApprovalExpired {
		return &ApprovalTimeoutError{Action: c.action, Risk: Risk(v.risk), ApprovalID: v.approvalID}
	}
	return &DeniedError{Action: c.action, Risk: Risk(v.risk), Decision: string(v.decision), Reason: v.reason,
		ApprovalID: v.approvalID, Approver: v.approver}
}

// approve asks a person through the registry's approvals, the ones
// "aim-mcp approve" and the dashboard answer, and waits for the answer.
func (a *Agent) approve(ctx context.Context, c *call, d policy.Decision, v verdict, deadline time.Time) (verdict, error) {
	start := time.Now()
	ap, created, err := a.db.RequestApproval(ctx, registry.Approval{
		ServerID: a.srv.ID, Server: a.srv.Name, Tool: c.action, ArgsDigest: c.digest,
		Args: mcpproxy.Approver(c.raw), Full: c.raw, Risk: d.Risk, Reason: d.ActionSource,
	}, a.cfg.ApprovalTTL)
	if err != nil {
		fm := policy.FailMode(a.cfg, d, err)
		v.decision, v.source, v.reason = audit.FailClosed, fm.Source, fm.Reason
		return v, a.refuse(ctx, c, v)
	}
	v.approvalID = ap.ID
	if created && a.tooManyPrompts(ctx) {
		a.db.DecideApproval(context.WithoutCancel(ctx), ap.ID, registry.ApprovalDenied, "aim-mcp", "approval rate limit")
		v.decision = audit.Deny
		v.reason = fmt.Sprintf("more than %d approval requests for %q in the last minute; refused to spare the person approving from prompt fatigue",
			a.cfg.ApprovalRate, a.srv.Name)
		return v, a.refuse(ctx, c, v)
	}
	if created {
		a.log.Info("aim: an action waits for a person's approval", "agent", a.srv.Name, "action", c.action,
			"risk", d.Risk, "approval", ap.ID, "approve", "aim-mcp approve "+ap.ID)
	}
	if deadline.IsZero() || deadline.After(ap.ExpiresAt) {
		deadline = ap.ExpiresAt
	}
	timeout := time.NewTimer(time.Until(deadline))
	defer timeout.Stop()
	tick := time.NewTicker(a.poll)
	defer tick.Stop()
	for {
		switch ap.Status {
		case registry.ApprovalApproved:
			ok, err := a.db.UseApproval(ctx, ap.ID)
			if err != nil || !ok {
				v.decision = audit.ApprovalUsed
				v.reason = fmt.Sprintf("approval %s was already used by another call", ap.ID)
				return v, a.refuse(ctx, c, v)
			}
			v.decision, v.approver, v.waitMS = audit.Approved, ap.DecidedBy, time.Since(start).Milliseconds()
			return v, nil
		case registry.ApprovalDenied:
			v.decision, v.approver, v.waitMS = audit.Denied, ap.DecidedBy, time.Since(start).Milliseconds()
			v.reason = fmt.Sprintf("%s denied it", ap.DecidedBy)
			if ap.Note != "" {
				v.reason += ": " + ap.Note
			}
			return v, a.refuse(ctx, c, v)
		case registry.ApprovalExpired:
			v.decision, v.reason = audit.ApprovalExpired, fmt.Sprintf("approval %s expired", ap.ID)
			return v, a.refuse(ctx, c, v)
		case registry.ApprovalCancelled, registry.ApprovalUsed:
			v.decision, v.reason = lapsed[ap.Status], fmt.Sprintf("approval %s is %s", ap.ID, ap.Status)
			return v, a.refuse(ctx, c, v)
		}
		select {
		case <-timeout.C:
			// Left pending: approved later, the same action passes next time.
			v.decision, v.waitMS = audit.ApprovalRequired, time.Since(start).Milliseconds()
			v.reason = fmt.Sprintf("it needs a person's approval (%s risk, %s); approval %s is waiting", d.Risk, d.ActionSource, ap.ID)
			return v, a.refuse(ctx, c, v)
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				v.decision, v.waitMS = audit.ApprovalRequired, time.Since(start).Milliseconds()
				v.reason = fmt.Sprintf("it needs a person's approval (%s risk, %s); approval %s is waiting", d.Risk, d.ActionSource, ap.ID)
				return v, a.refuse(ctx, c, v)
			}
			a.db.CancelApproval(context.WithoutCancel(ctx), ap.ID)
			v.decision, v.reason = audit.Cancelled, "the caller gave up before a person answered"
			a.append(context.WithoutCancel(ctx), registry.KindDenied, c, v)
			return v, fmt.Errorf("aim: action %q: %w", c.action, ctx.Err())
		case <-tick.C:
		}
		cur, err := a.db.Approval(ctx, ap.ID)
		if err != nil {
			if ctx.Err() != nil {
				continue // the select says how it ended
			}
			fm := policy.FailMode(a.cfg, d, err)
			v.decision, v.source, v.reason = audit.FailClosed, fm.Source, fm.Reason
			return v, a.refuse(ctx, c, v)
		}
		ap = cur
	}
}

var lapsed = map[string]audit.Decision{
	registry.ApprovalCancelled: audit.ApprovalCancelled,
	registry.ApprovalUsed:      audit.ApprovalUsed,
}

// tooManyPrompts applies config.yaml's approval_rate to the agent, as the
// proxy applies it to a server.
func (a *Agent) tooManyPrompts(ctx context.Context) bool {
	if a.cfg.ApprovalRate <= 0 {
		return false
	}
	n, err := a.db.CountApprovalsSince(ctx, a.srv.ID, time.Now().Add(-time.Minute))
	return err == nil && n > a.cfg.ApprovalRate
}
