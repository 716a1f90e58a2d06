package aim

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/opena2a-org/aim-mcp/policy"
)

// SDKMiddleware protects a server built on the official Go SDK
// (github.com/modelcontextprotocol/go-sdk) in-process, as ToolMiddleware
// does for mcp-go: each tools/call is decided, recorded and, when the
// policy says so, held for a person's approval, with agent's identity, and
// a refused call gets an isError result that says why. Install it with
// server.AddReceivingMiddleware(aim.SDKMiddleware(agent)). Under "aim-mcp
// proxy" (Proxied) it passes calls through: the proxy records them.
//
// The tools' annotations count as at the proxy. The middleware reads them
// from the server's own tools/list, so a client that never lists tools
// cannot make a destructive tool look harmless.
func SDKMiddleware(agent *Agent) sdk.Middleware {
	if sayLayer(agent) {
		return func(next sdk.MethodHandler) sdk.MethodHandler { return next }
	}
	return func(next sdk.MethodHandler) sdk.MethodHandler {
		hints := &sdkHints{next: next}
		return func(ctx context.Context, method string, req sdk.Request) (sdk.Result, error) {
			call, ok := req.(*sdk.CallToolRequest)
			if !ok || call.Params == nil {
				return next(ctx, method, req)
			}
			if agent == nil {
				return sdkRefusal(noIdentity), nil
			}
			c, err := agent.beginTool(ctx, call.Params.Name, call.Params.Arguments, hints.of(ctx, call))
			if err != nil {
				return sdkRefusal(refusal(c.action, err)), nil
			}
			start := time.Now()
			res, err := next(ctx, method, req)
			var b []byte
			isError := false
			if r, ok := res.(*sdk.CallToolResult); ok && r != nil {
				b, _ = json.Marshal(r)
				isError = r.IsError
			}
			agent.endTool(ctx, c, start, b, isError, err)
			return res, err
		}
	}
}

func sdkRefusal(text string) *sdk.CallToolResult {
	return &sdk.CallToolResult{IsError: true, Content: []sdk.Content{&sdk.TextContent{Text: text}}}
}

// sdkHints are the annotations of the server's tools, read by asking the
// server's own handler for tools/list (not the client) the first time a
// call names a tool it does not know yet.
type sdkHints struct {
	next  sdk.MethodHandler
	mu    sync.Mutex
	tools map[string]*policy.Annotations
}

func (h *sdkHints) of(ctx context.Context, call *sdk.CallToolRequest) *policy.Annotations {
	h.mu.Lock()
	defer h.mu.Unlock()
	if a, ok := h.tools[call.Params.Name]; ok {
		return a
	}
	tools := map[string]*policy.Annotations{}
	var cursor string
	for range 100 { // a bound on pages, against a server that never ends its list
		res, err := h.next(ctx, "tools/list", &sdk.ListToolsRequest{Session: call.Session, Params: &sdk.ListToolsParams{Cursor: cursor}})
		list, ok := res.(*sdk.ListToolsResult)
		if err != nil || !ok || list == nil {
			break
		}
		for _, t := range list.Tools {
			tools[t.Name] = sdkAnnotations(t.Annotations)
		}
		if cursor = list.NextCursor; cursor == "" {
			break
		}
	}
	h.tools = tools
	return tools[call.Params.Name]
}

// sdkAnnotations keeps the hints that speak to risk. The SDK's
// readOnlyHint is a plain bool, so false there means "not said".
func sdkAnnotations(t *sdk.ToolAnnotations) *policy.Annotations {
	if t == nil {
		return nil
	}
	a := policy.Annotations{Destructive: t.DestructiveHint, OpenWorld: t.OpenWorldHint}
	if t.ReadOnlyHint {
		a.ReadOnly = &t.ReadOnlyHint
	}
	if a == (policy.Annotations{}) {
		return nil
	}
	return &a
}
