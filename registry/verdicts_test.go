package registry

import (
	"context"
	"testing"
	"time"
)

func TestAIMVerdicts(t *testing.T) {
	db := open(t)
	ctx := context.Background()
	if _, ok, err := db.AIMVerdict(ctx, "a1", "mcp_tool:x"); ok || err != nil {
		t.Fatalf("AIMVerdict on an empty table = %v, %v", ok, err)
	}
	now := time.Now()
	if err := db.SaveAIMVerdict(ctx, AIMVerdict{AgentID: "a1", Capability: "mcp_tool:x", Allowed: true, AuditID: "u1", DecidedAt: now}); err != nil {
		t.Fatal(err)
	}
	// An older answer that arrives late does not replace a newer one.
	db.SaveAIMVerdict(ctx, AIMVerdict{AgentID: "a1", Capability: "mcp_tool:x", Allowed: false, Reason: "old", DecidedAt: now.Add(-time.Second)})
	v, ok, err := db.AIMVerdict(ctx, "a1", "mcp_tool:x")
	if !ok || err != nil || !v.Allowed || v.AuditID != "u1" || !v.DecidedAt.Equal(now.UTC().Truncate(time.Nanosecond)) && v.DecidedAt.Sub(now).Abs() > time.Microsecond {
		t.Fatalf("AIMVerdict = %+v, %v, %v; want the newer allowance", v, ok, err)
	}
	db.SaveAIMVerdict(ctx, AIMVerdict{AgentID: "a1", Capability: "mcp_tool:x", Allowed: false, Reason: "revoked", DecidedAt: now.Add(time.Second)})
	if v, _, _ := db.AIMVerdict(ctx, "a1", "mcp_tool:x"); v.Allowed || v.Reason != "revoked" {
		t.Errorf("after a newer denial: %+v", v)
	}
	if err := db.ForgetAIMVerdicts(ctx, "a1"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := db.AIMVerdict(ctx, "a1", "mcp_tool:x"); ok {
		t.Error("a forgotten verdict is still there")
	}
}
