package registry

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestPeerPins: the first value pins; another is reported once, however
// often it is seen; the pinned one again reverts; accept pins the current
// one; the tools' pins never see a peer pin.
func TestPeerPins(t *testing.T) {
	db, s := openTestDB(t)
	ctx := context.Background()
	now := time.Now()
	observe := func(v string) string {
		t.Helper()
		c, ok, err := db.ObservePeer(ctx, s.ID, PeerTLS, v, now)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return ""
		}
		return c.Change + ":" + c.Pin.State
	}
	for i, step := range []struct{ value, want string }{
		{"k1", "pinned:pinned"}, {"k1", ""}, {"k2", "changed:changed"}, {"k2", ""},
		{"k3", "changed:changed"}, {"k1", "reverted:pinned"}, {"k2", "changed:changed"},
	} {
		if got := observe(step.value); got != step.want {
			t.Errorf("step %d (%s): %q, want %q", i, step.value, got, step.want)
		}
	}
	if _, _, err := db.ObservePeer(ctx, s.ID, "tls", "k", now); err == nil {
		t.Error("a pin name without @ was taken")
	}
	if has, _ := db.HasPins(ctx, s.ID); has {
		t.Error("a peer pin counts as a tool pin")
	}
	if _, err := db.AcceptPeers(ctx, s.ID, []string{PeerIssuer}, now); !errors.Is(err, ErrNotFound) {
		t.Errorf("accept of a pin never seen: %v", err)
	}
	cs, err := db.AcceptPeers(ctx, s.ID, nil, now)
	if err != nil || len(cs) != 1 || cs[0].From != ToolChanged || cs[0].Pin.Pinned != "k2" || cs[0].Before.Pinned != "k1" {
		t.Fatalf("AcceptPeers: %+v, %v", cs, err)
	}
	if got := observe("k2"); got != "" {
		t.Errorf("the accepted key again: %q", got)
	}
	ps, err := db.PeerPins(ctx, s.ID)
	if err != nil || len(ps) != 1 || ps[0].State != ToolPinned || ps[0].Pinned != "k2" {
		t.Errorf("PeerPins: %+v, %v", ps, err)
	}
}
