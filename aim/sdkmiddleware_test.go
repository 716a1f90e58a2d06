package aim

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/opena2a-org/aim-mcp/config"
	"github.com/opena2a-org/aim-mcp/mcpproxy"
	"github.com/opena2a-org/aim-mcp/registry"
)

// sdkSession serves a notes server built on the official Go SDK, with
// mw installed, to a client of the same SDK over in-memory transports.
func sdkSession(t *testing.T, mw sdk.Middleware, ran *int, mu *sync.Mutex) *sdk.ClientSession {
	t.Helper()
	s := sdk.NewServer(&sdk.Implementation{Name: "notes", Version: "1.0.0"}, nil)
	s.AddReceivingMiddleware(mw)
	handler := func(ctx context.Context, req *sdk.CallToolRequest) (*sdk.CallToolResult, error) {
		mu.Lock()
		*ran++
		mu.Unlock()
		return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: "ok"}}}, nil
	}
	yes, no := true, false
	schema := map[string]any{"type": "object"}
	s.AddTool(&sdk.Tool{Name: "add_note", InputSchema: schema, Annotations: &sdk.ToolAnnotations{DestructiveHint: &no}}, handler)
	s.AddTool(&sdk.Tool{Name: "wipe_notes", InputSchema: schema, Annotations: &sdk.ToolAnnotations{DestructiveHint: &yes}}, handler)
	ct, st := sdk.NewInMemoryTransports()
	ss, err := s.Connect(t.Context(), st, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ss.Close() })
	cs, err := sdk.NewClient(&sdk.Implementation{Name: "test-client", Version: "1"}, nil).Connect(t.Context(), ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

func resultText(r *sdk.CallToolResult) string {
	var b strings.Builder
	for _, c := range r.Content {
		if tc, ok := c.(*sdk.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

// TestSDKMiddleware: an official-SDK server protected in-process decides
// by the tools' own annotations even when the client never listed them: a
// harmless tool runs and is recorded; a destructive one waits for a person
// and, with nobody answering, never runs and gets an isError result.
func TestSDKMiddleware(t *testing.T) {
	h := newHome(t)
	cfg := config.Defaults()
	cfg.ApprovalWait = 200 * time.Millisecond // nobody answers in this test
	agent := h.secure(t, "sdk-notes", WithAgentType(MCPServer), WithConfig(cfg))
	var ran int
	var mu sync.Mutex
	cs := sdkSession(t, SDKMiddleware(agent), &ran, &mu)

	res, err := cs.CallTool(t.Context(), &sdk.CallToolParams{Name: "add_note", Arguments: map[string]any{"text": "hi"}})
	if err != nil || res.IsError || ran != 1 {
		t.Fatalf("add_note: err %v, isError %v, ran %d; want it run once", err, res != nil && res.IsError, ran)
	}
	res, err = cs.CallTool(t.Context(), &sdk.CallToolParams{Name: "wipe_notes", Arguments: map[string]any{}})
	if err != nil || !res.IsError || ran != 1 {
		t.Fatalf("wipe_notes: err %v, isError %v, ran %d; want an isError result and no run", err, res != nil && res.IsError, ran)
	}
	if txt := resultText(res); !strings.Contains(txt, "approval") || !strings.Contains(txt, "aim-mcp approve") {
		t.Errorf("the refusal does not say how to approve: %q", txt)
	}
	recs, err := agent.AuditLogs(t.Context(), LogFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		got = append(got, r.Kind+":"+r.Tool)
	}
	want := []string{registry.KindCall + ":add_note", registry.KindOutcome + ":add_note", registry.KindDenied + ":wipe_notes"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("records %v, want %v", got, want)
	}
	h.run(t, "audit", "verify")
}

// TestSDKMiddlewareProxied: under the proxy the middleware passes calls
// through and records nothing, so no call is recorded twice.
func TestSDKMiddlewareProxied(t *testing.T) {
	h := newHome(t)
	agent := h.secure(t, "sdk-proxied", WithAgentType(MCPServer))
	t.Setenv(mcpproxy.ProxiedEnv, "1")
	var ran int
	var mu sync.Mutex
	cs := sdkSession(t, SDKMiddleware(agent), &ran, &mu)
	if res, err := cs.CallTool(t.Context(), &sdk.CallToolParams{Name: "wipe_notes", Arguments: map[string]any{}}); err != nil || res.IsError || ran != 1 {
		t.Fatalf("wipe_notes under the proxy: err %v, ran %d; want it run (the proxy decided)", err, ran)
	}
	if recs, _ := agent.AuditLogs(t.Context(), LogFilter{}); len(recs) != 0 {
		t.Errorf("the middleware recorded %d records under the proxy; want none", len(recs))
	}
}

// TestSDKMiddlewareNoAgent: without an identity no tool runs.
func TestSDKMiddlewareNoAgent(t *testing.T) {
	var ran int
	var mu sync.Mutex
	cs := sdkSession(t, SDKMiddleware(nil), &ran, &mu)
	res, err := cs.CallTool(t.Context(), &sdk.CallToolParams{Name: "add_note", Arguments: map[string]any{}})
	if err != nil || !res.IsError || ran != 0 {
		t.Fatalf("no agent: err %v, isError %v, ran %d; want a refusal", err, res != nil && res.IsError, ran)
	}
}
