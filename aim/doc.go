// Package aim gives a Go agent, or an MCP server written in Go, the
// identity, policy, human approval and signed audit trail that aim-mcp's
// proxy gives the MCP servers a desktop client launches. It mirrors the AIM
// SDK guide's API in Go's idiom:
//
//	agent, err := aim.Secure(ctx, "billing-agent")  // secure("billing-agent")
//	err = agent.Track(ctx, "refund", aim.High, func(ctx context.Context) error {
//		return refund(ctx, order)                    // @agent.track_action / @agent.require_approval
//	}, aim.WithArgs(map[string]any{"order": order.ID}))
//
// Everything lives where the proxy keeps it: the same home ($AIM_MCP_HOME,
// or --home's default), the same embedded registry, the same policy rules
// ("aim-mcp policy add", config.yaml), the same approvals ("aim-mcp
// approve", the dashboard) and the same hash-chained, signed audit chain,
// so "aim-mcp logs", "aim-mcp trust" and "aim-mcp audit verify" show an
// agent's actions beside the proxies' tool calls.
//
// An action is decided as a proxied tool call is (policy.Decide), with the
// risk the code declares standing where a tool's annotations would: rules
// first, then the declared risk, then the action's name, then the default.
// "allow" runs at once; "approve" waits for a person up to the context's
// deadline; "deny" never runs. A call record is committed to the chain
// before the action runs and an outcome record after, both signed with the
// agent's own key.
//
// [ToolMiddleware] applies the same to each tool call of an mcp-go server,
// unless the server runs under "aim-mcp proxy": then the proxy decides and
// records, and the middleware steps aside so nothing is recorded twice.
//
// This package uses the embedded registry only; a home set up for a remote
// AIM server (--aim-url) is not consulted by it yet.
package aim
