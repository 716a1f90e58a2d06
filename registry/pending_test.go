package registry

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/opena2a-org/aim-mcp/internal/canon"
)

// pendingCall asks for an approval of a call with args and keeps them, as
// the proxy does.
func pendingCall(t *testing.T, db *DB, tool, args string, ttl time.Duration) Approval {
	t.Helper()
	d, err := canon.Digest([]byte(args))
	if err != nil {
		t.Fatal(err)
	}
	a, _, err := db.RequestApproval(context.Background(), Approval{ServerID: "s1", Server: "s", Tool: tool, ArgsDigest: d}, ttl)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.KeepArgs(a, []byte(args)); err != nil {
		t.Fatal(err)
	}
	return a
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// The full arguments of a pending approval are kept private and given back
// byte for byte while it waits; deciding or cancelling it removes them, and
// then they are reported gone.
func TestPendingArgsLifetime(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	const args = `{"password": "hunter2", "n": 1.0}`
	for _, end := range []struct {
		name string
		do   func(id string) error
		want string
	}{
		{"approve", func(id string) error { _, err := db.DecideApproval(ctx, id, ApprovalApproved, "alice", ""); return err }, ApprovalApproved},
		{"deny", func(id string) error { _, err := db.DecideApproval(ctx, id, ApprovalDenied, "alice", ""); return err }, ApprovalDenied},
		{"cancel", func(id string) error { return db.CancelApproval(ctx, id) }, ApprovalCancelled},
	} {
		a := pendingCall(t, db, end.name, args, time.Minute)
		path := filepath.Join(db.PendingDir(), a.ID+".json")
		if runtime.GOOS != "windows" {
			fi, err := os.Stat(path)
			if err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("%s: kept file %v, %v; want mode 0600", end.name, fi, err)
			}
			di, err := os.Stat(db.PendingDir())
			if err != nil || di.Mode().Perm() != 0o700 {
				t.Fatalf("%s: pending dir %v, %v; want mode 0700", end.name, di, err)
			}
		}
		_, got, err := db.PendingArgs(ctx, a.ID)
		if err != nil || string(got) != args {
			t.Fatalf("%s: PendingArgs = %q, %v; want the exact arguments", end.name, got, err)
		}
		if err := end.do(a.ID); err != nil {
			t.Fatal(err)
		}
		if exists(path) {
			t.Errorf("%s: the arguments are still kept after the approval ended", end.name)
		}
		cur, _, err := db.PendingArgs(ctx, a.ID)
		if !errors.Is(err, ErrArgsGone) || cur.Status != end.want {
			t.Errorf("%s: PendingArgs after = %s, %v; want %s and ErrArgsGone", end.name, cur.Status, err, end.want)
		}
	}
}

// Arguments kept for an approval that has expired are gone when it is next
// looked at, and those of approvals answered elsewhere (or unknown ones) go
// when a registry opens.
func TestPendingArgsSwept(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	short := pendingCall(t, db, "short", `{"a":1}`, 20*time.Millisecond)
	live := pendingCall(t, db, "live", `{"a":2}`, time.Minute)
	time.Sleep(40 * time.Millisecond)
	if _, _, err := db.PendingArgs(ctx, short.ID); !errors.Is(err, ErrArgsGone) {
		t.Errorf("PendingArgs of an expired approval = %v, want ErrArgsGone", err)
	}
	if exists(filepath.Join(db.PendingDir(), short.ID+".json")) {
		t.Error("the arguments of an expired approval are still kept")
	}

	expiring := pendingCall(t, db, "expiring", `{"a":3}`, 20*time.Millisecond)
	stray := filepath.Join(db.PendingDir(), "zzzzzzzz.json")
	os.WriteFile(stray, []byte(`{}`), 0o600)
	oldTmp := filepath.Join(db.PendingDir(), ".x.tmp")
	os.WriteFile(oldTmp, []byte(`{}`), 0o600)
	old := time.Now().Add(-time.Hour)
	os.Chtimes(oldTmp, old, old)
	freshTmp := filepath.Join(db.PendingDir(), ".y.tmp")
	os.WriteFile(freshTmp, []byte(`{}`), 0o600)
	time.Sleep(40 * time.Millisecond)

	again, err := Open(ctx, db.Path(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	for path, want := range map[string]bool{
		filepath.Join(db.PendingDir(), expiring.ID+".json"): false,
		stray:    false,
		oldTmp:   false,
		freshTmp: true,
		filepath.Join(db.PendingDir(), live.ID+".json"): true,
	} {
		if exists(path) != want {
			t.Errorf("after open, %s kept = %v, want %v", filepath.Base(path), !want, want)
		}
	}
}

// Arguments whose digest is not the one the approval binds are refused,
// and ids that are not ids name no file.
func TestPendingArgsTampered(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	a := pendingCall(t, db, "t", `{"path":"/tmp/a"}`, time.Minute)
	if err := os.WriteFile(filepath.Join(db.PendingDir(), a.ID+".json"), []byte(`{"path":"/etc/passwd"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, got, err := db.PendingArgs(ctx, a.ID); !errors.Is(err, ErrArgsTampered) || got != nil {
		t.Errorf("PendingArgs of a changed file = %q, %v; want ErrArgsTampered", got, err)
	}
	// The same value written otherwise (keys, spaces) is the same call.
	if err := os.WriteFile(filepath.Join(db.PendingDir(), a.ID+".json"), []byte(` { "path" : "/tmp/a" }`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.PendingArgs(ctx, a.ID); err != nil {
		t.Errorf("PendingArgs of an equivalent encoding = %v", err)
	}
	if err := db.KeepArgs(Approval{ID: "../../x"}, []byte(`{}`)); err == nil {
		t.Error("KeepArgs took a path for an id")
	}
	if _, _, err := db.PendingArgs(ctx, "../aim"); !errors.Is(err, ErrNotFound) {
		t.Errorf("PendingArgs(../aim) = %v, want ErrNotFound", err)
	}
}

// Arguments kept for an approval answered before they were written are not
// left behind.
func TestKeepArgsAfterAnswer(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	a, _, err := db.RequestApproval(ctx, Approval{ServerID: "s1", Tool: "t", ArgsDigest: "sha256:x"}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.DecideApproval(ctx, a.ID, ApprovalDenied, "alice", ""); err != nil {
		t.Fatal(err)
	}
	if err := db.KeepArgs(a, []byte(`{"a":1}`)); err != nil {
		t.Fatal(err)
	}
	if exists(filepath.Join(db.PendingDir(), a.ID+".json")) {
		t.Error("arguments kept for an approval that was already denied")
	}
}
