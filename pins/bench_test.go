package pins

import (
	"context"
	"testing"

	"github.com/opena2a-org/aim-mcp/audit"
	"github.com/opena2a-org/aim-mcp/mcpproxy"
)

// BenchmarkBefore is what pinning adds to each call's decision.
func BenchmarkBefore(b *testing.B) {
	s := newSession(b, audit.ActionApprove)
	s.list(toolA, toolB, toolC)
	c := &mcpproxy.Call{Tool: "b"}
	ctx := context.Background()
	b.ResetTimer()
	for range b.N {
		if req, v := s.hook.Before(ctx, c); req != "" || v != nil {
			b.Fatal(req)
		}
	}
}
