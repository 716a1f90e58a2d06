package aim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/opena2a-org/aim-mcp/audit"
	"github.com/opena2a-org/aim-mcp/internal/canon"
	"github.com/opena2a-org/aim-mcp/mcpproxy"
	"github.com/opena2a-org/aim-mcp/policy"
)

// Proxied says whether this process is an MCP server that "aim-mcp proxy"
// started: the proxy then decides and records its tool calls.
func Proxied() bool { return os.Getenv(mcpproxy.ProxiedEnv) == "1" }

// ToolMiddleware protects an mcp-go server in-process: each tool call is
// decided, recorded and, when the policy says so, held for a person's
// approval, as the proxy does for a wrapped server, with agent's identity.
// Install it with server.WithToolHandlerMiddleware. The tool's
// annotations (readOnlyHint, destructiveHint, openWorldHint) count as they
// do at the proxy. A refused call is answered with an isError result that
// says why and what to do, not a protocol error. A call waiting for a
// person waits up to config.yaml's approval_wait (or the request's
// deadline, if sooner), under the client's own timeout.
//
// When the server runs under "aim-mcp proxy" (Proxied), the proxy has
// decided and recorded each call already: the middleware passes calls
// through, so nothing is asked or recorded twice. Either way it logs, once,
// which layer records.
func ToolMiddleware(agent *Agent) server.ToolHandlerMiddleware {
	if sayLayer(agent) {
		return func(next server.ToolHandlerFunc) server.ToolHandlerFunc { return next }
	}
	if agent == nil {
		return func(server.ToolHandlerFunc) server.ToolHandlerFunc {
			return func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				return mcp.NewToolResultError(noIdentity), nil
			}
		}
	}
	return func(next server.ToolHandlerFunc) server.ToolHandlerFunc {
		return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return agent.toolCall(ctx, req, next)
		}
	}
}

// noIdentity is a middleware's answer when Secure failed: no tool runs.
const noIdentity = "aim-mcp: the server has no aim identity (aim.Secure failed), so its tools do not run"

// sayLayer logs, once per middleware, which layer decides and records the
// server's tool calls, and reports whether it is the proxy (Proxied): the
// middleware then passes calls through.
func sayLayer(agent *Agent) (proxied bool) {
	proxied = Proxied()
	switch {
	case agent == nil:
	case proxied:
		agent.log.Info("aim: this server runs under aim-mcp proxy, which decides and records its tool calls; the in-process middleware passes them through",
			"server", agent.srv.Name)
	default:
		agent.log.Info("aim: the in-process middleware decides and records this server's tool calls", "server", agent.srv.Name, "home", agent.home)
	}
	return proxied
}

func (a *Agent) toolCall(ctx context.Context, req mcp.CallToolRequest, next server.ToolHandlerFunc) (*mcp.CallToolResult, error) {
	raw := req.Params.RawArguments
	if len(raw) == 0 && req.Params.Arguments != nil {
		raw, _ = json.Marshal(req.Params.Arguments)
	}
	var ann *policy.Annotations
	if s := server.ServerFromContext(ctx); s != nil {
		if t := s.GetTool(req.Params.Name); t != nil {
			ann = annotations(t.Tool.Annotations)
		}
	}
	c, err := a.beginTool(ctx, req.Params.Name, raw, ann)
	if err != nil {
		return mcp.NewToolResultError(refusal(c.action, err)), nil
	}
	start := time.Now()
	res, err := next(ctx, req)
	var b []byte
	if res != nil {
		b, _ = json.Marshal(res)
	}
	a.endTool(ctx, c, start, b, res != nil && res.IsError, err)
	return res, err
}

// beginTool decides a middleware's tool call and, when it may run, commits
// its call record: the same decision, approval wait and record as the
// proxy's, with the server's identity. A call waiting for a person waits
// up to config.yaml's approval_wait, or the request's deadline if sooner.
// An error means the call must not run; refusal says why to the model.
func (a *Agent) beginTool(ctx context.Context, name string, raw json.RawMessage, ann *policy.Annotations) (*call, error) {
	c := &call{action: name, via: "middleware", ann: ann}
	if len(raw) == 0 || string(raw) == "null" {
		raw = json.RawMessage("{}")
	}
	c.setArgs(raw)
	deadline := time.Now().Add(a.cfg.ApprovalWait)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_, err := a.authorize(ctx, c, deadline)
	return c, err
}

// endTool records how a middleware's tool call ended: result is the
// result as JSON (nil when the handler failed with err).
func (a *Agent) endTool(ctx context.Context, c *call, start time.Time, result []byte, isError bool, err error) {
	took := time.Since(start)
	status := audit.Success
	data := map[string]any{"duration_ms": float64(took.Microseconds()) / 1000, "via": c.via}
	switch {
	case err != nil:
		status, data["error"] = audit.RPCError, err.Error()
	case result != nil:
		data["size"], data["result_digest"] = len(result), canon.Sum(result)
		if isError {
			status = audit.ToolError
		}
	}
	var failed error
	if status != audit.Success {
		failed = errors.New(string(status))
	}
	a.tellAIM(ctx, c, took, failed)
	if rerr := a.appendOutcome(ctx, c, status, data); rerr != nil {
		a.log.Error("aim: a tool call's outcome could not be recorded", "tool", c.action, "err", rerr)
	}
}

// annotations keeps the hints that speak to risk.
func annotations(t mcp.ToolAnnotation) *policy.Annotations {
	a := policy.Annotations{ReadOnly: t.ReadOnlyHint, Destructive: t.DestructiveHint, OpenWorld: t.OpenWorldHint}
	if a == (policy.Annotations{}) {
		return nil
	}
	return &a
}

// refusal is the text of the isError result a refused call gets, in the
// proxy's words.
func refusal(tool string, err error) string {
	text := fmt.Sprintf("aim-mcp: call to %q was not run: ", tool)
	var de *DeniedError
	var te *ApprovalTimeoutError
	switch {
	case errors.As(err, &te):
		text += fmt.Sprintf("it needs a person's approval; approval %s is waiting. Ask the user to approve it in the aim-mcp dashboard (`aim-mcp dashboard`) or with `aim-mcp approve %s` in a terminal, then ask again with the same arguments",
			te.ApprovalID, te.ApprovalID)
	case errors.As(err, &de):
		text += de.Reason
	default:
		text += err.Error()
	}
	return text
}
