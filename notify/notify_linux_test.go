package notify

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opena2a-org/aim-mcp/internal/dbustest"
)

func TestDesktopNotification(t *testing.T) {
	addr := dbustest.SessionBus(t)
	svc := dbustest.NotificationService(t, addr)
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	n := &Notifier{Bus: addr, Now: func() time.Time { return now }}
	ctx := context.Background()
	note := Note{Key: "ap1", Title: "approval needed: everything · get-sum · high", Body: "rule 1", Link: "http://127.0.0.1:47321/approvals?id=ap1&token=t"}
	for range 3 { // the same approval, asked again: one notification
		if err := n.Send(ctx, note); err != nil {
			t.Fatal(err)
		}
	}
	got := svc.Received()
	if len(got) != 1 {
		t.Fatalf("received %d notifications for one approval, want 1: %+v", len(got), got)
	}
	if got[0].App != "aim-mcp" || got[0].Summary != note.Title || !strings.Contains(got[0].Body, note.Link) {
		t.Errorf("received %+v, want the title and the link", got[0])
	}
	// A burst of held calls: a few per minute, then quiet.
	var limited int
	for i := range 10 {
		err := n.Send(ctx, Note{Key: string(rune('b' + i)), Title: "t"})
		if errors.Is(err, ErrLimited) {
			limited++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if got := len(svc.Received()); got != PerMinute {
		t.Errorf("after a burst: %d notifications, want %d (the limit per minute)", got, PerMinute)
	}
	if limited != 10-(PerMinute-1) {
		t.Errorf("%d held back, want %d", limited, 10-(PerMinute-1))
	}
	now = now.Add(time.Minute)
	if err := n.Send(ctx, Note{Key: "later", Title: "t"}); err != nil {
		t.Errorf("a minute later: %v, want sent", err)
	}
}

// TestNoSessionBus: with no session bus in sight, Send says so and starts
// none (godbus's own fallback would run dbus-launch).
func TestNoSessionBus(t *testing.T) {
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	t.Setenv("PATH", t.TempDir()) // no dbus-launch to find, were it looked for
	err := (&Notifier{}).Send(context.Background(), Note{Key: "k", Title: "t"})
	if !errors.Is(err, ErrNoSessionBus) {
		t.Fatalf("Send with no session bus: %v, want ErrNoSessionBus", err)
	}
}

// TestRuntimeDirBus: a desktop session whose address is not exported (a
// proxy started by a service manager) is still found in $XDG_RUNTIME_DIR.
func TestRuntimeDirBus(t *testing.T) {
	addr := dbustest.SessionBus(t)
	path, ok := strings.CutPrefix(addr, "unix:path=")
	if !ok {
		t.Skipf("the test bus is at %s, not a unix path", addr)
	}
	path, _, _ = strings.Cut(path, ",") // drop the guid
	dir := t.TempDir()
	if err := os.Symlink(path, filepath.Join(dir, "bus")); err != nil {
		t.Fatal(err)
	}
	svc := dbustest.NotificationService(t, addr)
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
	t.Setenv("XDG_RUNTIME_DIR", dir)
	if err := (&Notifier{}).Send(context.Background(), Note{Key: "k", Title: "found"}); err != nil {
		t.Fatal(err)
	}
	if got := svc.Received(); len(got) != 1 || got[0].Summary != "found" {
		t.Errorf("received %+v, want the one note", got)
	}
}
