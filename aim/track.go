package aim

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/opena2a-org/aim-mcp/audit"
	"github.com/opena2a-org/aim-mcp/mcpproxy"
	"github.com/opena2a-org/aim-mcp/registry"
)

// Track decides the action, records it, runs fn and records how fn ended:
// the guide's @track_action and @require_approval in one. The risk is the
// action's own word about itself (rules still override it). An action the
// policy allows runs at once; one that needs approval waits for a person
// (`aim-mcp approve ID`, the dashboard) until ctx's deadline, or until the
// approval expires when ctx has none; one that is denied never runs.
//
// fn runs at most once, and only after its call record is committed to the
// chain. A refusal is a *DeniedError, a wait that ran out an
// *ApprovalTimeoutError; otherwise Track returns what fn returned.
func (a *Agent) Track(ctx context.Context, action string, risk Risk, fn func(context.Context) error, opts ...CallOption) error {
	if risk == "" {
		return fmt.Errorf("aim: action %q: Track needs a risk", action)
	}
	c, err := a.newCall(action, risk, "", opts)
	if err != nil {
		return err
	}
	deadline, _ := ctx.Deadline()
	if _, err := a.authorize(ctx, c, deadline); err != nil {
		return err
	}
	start := time.Now()
	ferr := a.run(ctx, c, start, fn)
	a.tellAIM(ctx, c, time.Since(start), ferr)
	if err := a.outcome(ctx, c, time.Since(start), ferr); err != nil {
		return errors.Join(ferr, err)
	}
	return ferr
}

// run runs fn; a panic is recorded as the outcome, then goes on up.
func (a *Agent) run(ctx context.Context, c *call, start time.Time, fn func(context.Context) error) error {
	defer func() {
		if p := recover(); p != nil {
			a.outcome(ctx, c, time.Since(start), fmt.Errorf("panic: %v", p))
			panic(p)
		}
	}()
	return fn(ctx)
}

// decisionLogged marks the call record of an action logged after it ran,
// which nobody verified beforehand.
const decisionLogged = "logged"

// LogAction records an action that ran without Track: a call record that
// says it was only logged, then its outcome (result nil for success); the
// guide's log_action. It decides nothing.
func (a *Agent) LogAction(ctx context.Context, action string, result error, opts ...CallOption) error {
	c, err := a.newCall(action, "", "", opts)
	if err != nil {
		return err
	}
	v := verdict{decision: decisionLogged, source: "logged by the agent after it ran; not verified beforehand"}
	if err := a.append(ctx, registry.KindCall, c, v); err != nil {
		return fmt.Errorf("aim: log %q: %w", action, err)
	}
	return a.outcome(ctx, c, 0, result)
}

// append commits one record of c to the chain, signed with the agent's key.
func (a *Agent) append(ctx context.Context, kind string, c *call, v verdict) error {
	data := map[string]any{
		"args":        mcpproxy.Redacted(c.raw),
		"args_digest": c.digest,
		"via":         c.via,
	}
	for k, val := range map[string]string{"risk": v.risk, "source": v.source, "reason": v.reason,
		"approval_id": v.approvalID, "approver": v.approver} {
		if val != "" {
			data[k] = val
		}
	}
	if v.waitMS > 0 {
		data["wait_ms"] = v.waitMS
	}
	_, err := a.db.Append(ctx, a.key, registry.Event{ServerID: a.srv.ID, Server: a.srv.Name, Client: a.srv.Client,
		Kind: kind, Tool: c.action, Decision: string(v.decision), RequestID: c.id, Data: data})
	return err
}

// outcome records how the action ended: success, or tool_error with the
// error's text.
func (a *Agent) outcome(ctx context.Context, c *call, took time.Duration, result error) error {
	status := audit.Success
	data := map[string]any{"duration_ms": float64(took.Microseconds()) / 1000, "via": c.via}
	if result != nil {
		status = audit.ToolError
		data["error"] = result.Error()
	}
	return a.appendOutcome(ctx, c, status, data)
}

func (a *Agent) appendOutcome(ctx context.Context, c *call, status audit.Status, data map[string]any) error {
	// The outcome is written even when ctx ended with the action.
	_, err := a.db.Append(context.WithoutCancel(ctx), a.key, registry.Event{ServerID: a.srv.ID, Server: a.srv.Name,
		Client: a.srv.Client, Kind: registry.KindOutcome, Tool: c.action, Decision: string(status), RequestID: c.id, Data: data})
	if err != nil {
		return fmt.Errorf("aim: record the outcome of %q: %w", c.action, err)
	}
	return nil
}

// newRequestID pairs an action's call and outcome records, as a JSON-RPC
// id pairs a proxied call's.
func newRequestID() string { return "aim-" + uuid.NewString() }
