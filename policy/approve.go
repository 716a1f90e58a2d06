package policy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/opena2a-org/aim-mcp/audit"
	"github.com/opena2a-org/aim-mcp/internal/fold"
	"github.com/opena2a-org/aim-mcp/mcpproxy"
	"github.com/opena2a-org/aim-mcp/registry"
)

// A call the policy sends to a person waits here: for an answer in the
// client (elicitation) when it can ask, else in the dashboard or the CLI.

// approve holds the call until a human answers, the wait runs out or the
// client gives up.
func (g *Guard) approve(ctx context.Context, c *mcpproxy.Call, d Decision, v mcpproxy.Verdict) mcpproxy.Verdict {
	start := time.Now()
	a, created, err := g.db.RequestApproval(ctx, registry.Approval{
		ServerID: g.server.ID, Server: g.server.Name, Tool: c.Tool, ArgsDigest: c.ArgsDigest,
		Args: c.ApproverArgs(), Full: c.Args, Risk: d.Risk, Reason: d.ActionSource,
	}, g.cfg.ApprovalTTL)
	if err != nil {
		return FailMode(g.cfg, d, err)
	}
	v.ApprovalID = a.ID
	if a.Status == registry.ApprovalApproved {
		return g.spend(ctx, a, v, start)
	}
	if created && g.tooManyPrompts() {
		g.db.DecideApproval(context.WithoutCancel(ctx), a.ID, registry.ApprovalDenied, "aim-mcp", "approval rate limit")
		v.Decision = audit.Deny
		v.Reason = fmt.Sprintf("more than %d approval requests for server %q in the last minute; refused to spare the person approving from prompt fatigue",
			g.cfg.ApprovalRate, g.server.Name)
		v.Next = "Wait a minute, or add a rule with `aim-mcp policy add`"
		return v
	}
	// The person may reveal what the masked form hides: the exact
	// arguments are kept, private, until the approval ends (written with
	// a new approval; this is for one asked for again, whose file an
	// answer may have taken). When they cannot be, "approvals show
	// --reveal" says so and the masked form is still there to decide on.
	g.db.KeepArgs(a, c.Args)
	deadline := start.Add(g.cfg.ApprovalWait)
	if c.Ask != nil {
		if out, done := g.elicit(ctx, c, a, d, v, deadline, start); done {
			return out
		}
	}
	if created && g.Held != nil {
		g.Held(a)
	}
	t := time.NewTicker(g.Poll)
	defer t.Stop()
	timeout := time.NewTimer(time.Until(deadline))
	defer timeout.Stop()
	for {
		select {
		case <-ctx.Done():
			g.db.CancelApproval(context.WithoutCancel(ctx), a.ID)
			v.Decision = audit.Cancelled
			return v
		case <-timeout.C:
			v.Decision = audit.ApprovalRequired
			v.Reason = fmt.Sprintf("it needs a person's approval (%s risk, %s); approval %s is waiting", d.Risk, d.ActionSource, a.ID)
			v.Next = fmt.Sprintf("Ask the user to approve it in the aim-mcp dashboard (`aim-mcp dashboard`) or with `aim-mcp approve %s` in a terminal, then ask again with the same arguments", a.ID)
			v.Data["wait_ms"] = time.Since(start).Milliseconds()
			return v
		case <-t.C:
		}
		cur, err := g.db.Approval(ctx, a.ID)
		if err != nil {
			if errors.Is(err, context.Canceled) {
				continue
			}
			return FailMode(g.cfg, d, err)
		}
		switch cur.Status {
		case registry.ApprovalApproved:
			return g.spend(ctx, cur, v, start)
		case registry.ApprovalDenied:
			v.Decision, v.Approver = audit.Denied, cur.DecidedBy
			v.Reason = fmt.Sprintf("%s denied it", cur.DecidedBy)
			if cur.Note != "" {
				v.Reason += ": " + cur.Note
			}
			v.Next = fmt.Sprintf("Approval %s was refused; do not retry unless the user asks: a new call asks for a new approval", cur.ID)
			v.Data["wait_ms"] = time.Since(start).Milliseconds()
			return v
		case registry.ApprovalExpired, registry.ApprovalCancelled, registry.ApprovalUsed:
			v.Decision = lapsed[cur.Status]
			v.Reason = fmt.Sprintf("approval %s is %s", cur.ID, cur.Status)
			v.Next = "Ask again to request a new approval"
			return v
		}
	}
}

// spend uses a granted approval for this call; it is single use.
func (g *Guard) spend(ctx context.Context, a registry.Approval, v mcpproxy.Verdict, start time.Time) mcpproxy.Verdict {
	ok, err := g.db.UseApproval(ctx, a.ID)
	if err != nil || !ok {
		v.Decision = "approval_used"
		v.Reason = fmt.Sprintf("approval %s was already used by another call", a.ID)
		v.Next = "Ask again to request a new approval"
		return v
	}
	v.Allow, v.Decision, v.Approver = true, audit.Approved, a.DecidedBy
	v.Data["wait_ms"] = time.Since(start).Milliseconds()
	return v
}

// tooManyPrompts counts this server's approval requests in the last minute.
func (g *Guard) tooManyPrompts() bool {
	if g.cfg.ApprovalRate <= 0 {
		return false
	}
	n, err := g.db.CountApprovalsSince(context.Background(), g.server.ID, time.Now().Add(-time.Minute))
	return err == nil && n > g.cfg.ApprovalRate
}

// promptKeep is how much of each end of a long value the in-client prompt
// shows: enough to recognise it, short enough that every other argument
// still fits in the dialog.
const promptKeep = 256

// elicit asks the person inside the client. It reports done when they
// answered yes or no; a decline, a cancel or an error falls back to the
// terminal.
func (g *Guard) elicit(ctx context.Context, c *mcpproxy.Call, a registry.Approval, d Decision, v mcpproxy.Verdict,
	deadline, start time.Time) (mcpproxy.Verdict, bool) {
	ectx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	args := fold.JSON(a.Args, promptKeep)
	if len(args) < len(a.Args) { // folding is all that makes it shorter
		args += fmt.Sprintf("\n(Long values are folded; `aim-mcp approvals show %s` shows every byte.)", a.ID)
	}
	if strings.Contains(args, "[REDACTED ") {
		args += fmt.Sprintf("\n(Secrets are hidden, with their length; `aim-mcp approvals show %s --reveal` shows them.)", a.ID)
	}
	msg := fmt.Sprintf("aim-mcp: allow the tool %q of server %q to run?\nRisk: %s (%s).\nArguments: %s\n"+
		"Approval id %s; you can also answer with `aim-mcp approve %s` or `aim-mcp deny %s`.",
		c.Tool, g.server.Name, d.Risk, d.ActionSource, args, a.ID, a.ID, a.ID)
	raw, err := c.Ask(ectx, "elicitation/create", map[string]any{
		"message": msg,
		"requestedSchema": map[string]any{
			"type": "object",
			"properties": map[string]any{"approve": map[string]any{
				"type": "boolean", "title": "Allow this call",
				"description": "Yes runs the call once; no refuses it.",
			}},
			"required": []string{"approve"},
		},
	})
	if err != nil {
		return v, false
	}
	var resp struct {
		Result *struct {
			Action  string `json:"action"`
			Content struct {
				Approve *bool `json:"approve"`
			} `json:"content"`
		} `json:"result"`
	}
	if json.Unmarshal(raw, &resp) != nil || resp.Result == nil || resp.Result.Action != "accept" || resp.Result.Content.Approve == nil {
		return v, false
	}
	v.Data["asked"] = "elicitation"
	if *resp.Result.Content.Approve {
		cur, err := g.db.DecideApproval(context.WithoutCancel(ctx), a.ID, registry.ApprovalApproved, "client", "approved in the client")
		if err != nil {
			return v, false // answered meanwhile in a terminal: let the poll see it
		}
		return g.spend(ctx, cur, v, start), true
	}
	if _, err := g.db.DecideApproval(context.WithoutCancel(ctx), a.ID, registry.ApprovalDenied, "client", "denied in the client"); err != nil {
		return v, false
	}
	v.Decision, v.Approver = audit.Denied, "client"
	v.Reason = "the user denied it in the client"
	v.Next = fmt.Sprintf("Approval %s was refused; do not retry unless the user asks", a.ID)
	v.Data["wait_ms"] = time.Since(start).Milliseconds()
	return v, true
}
