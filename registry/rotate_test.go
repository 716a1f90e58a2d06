package registry

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

func TestRotateKeyKeepsTheChainOne(t *testing.T) {
	db := open(t)
	ctx := context.Background()
	s, _, _ := db.Register(ctx, Registration{Client: "c", Name: "s", Command: "x"})
	other, _, _ := db.Register(ctx, Registration{Client: "c", Name: "other", Command: "x"})
	old, _ := db.Key(s)
	okey, _ := db.Key(other)
	appendCall := func(srv Server, key Signer) {
		t.Helper()
		if _, err := db.Append(ctx, key, Event{ServerID: srv.ID, Server: srv.Name, Kind: KindCall, Tool: "t"}); err != nil {
			t.Fatal(err)
		}
	}
	appendCall(s, old)
	appendCall(other, okey)
	rotated, err := db.RotateKey(ctx, s, "test")
	if err != nil {
		t.Fatal(err)
	}
	if rotated.PublicKey == s.PublicKey {
		t.Fatal("RotateKey kept the public key")
	}
	if again, _ := db.Server(ctx, "c", "s"); again.PublicKey != rotated.PublicKey {
		t.Errorf("the registry says %s, want the new key", again.PublicKey)
	}
	next, err := db.Key(rotated)
	if err != nil || next.PublicString() != rotated.PublicKey {
		t.Fatalf("the stored key after rotation: %v", err)
	}
	if db.Keys().Exists(nextKey(s.ID)) {
		t.Error("the waiting key file is still there")
	}
	appendCall(rotated, next)
	appendCall(other, okey)
	// Twice: a second rotation follows the first.
	rotated2, err := db.RotateKey(ctx, rotated, "")
	if err != nil {
		t.Fatal(err)
	}
	next2, _ := db.Key(rotated2)
	appendCall(rotated2, next2)
	if v, err := db.Verify(ctx, ""); err != nil || !v.OK() || v.Records != 7 {
		t.Fatalf("Verify across two rotations = %+v, %v; want 7 good records", v, err)
	}
	if v, err := db.Verify(ctx, s.ID); err != nil || !v.OK() {
		t.Fatalf("Verify of the rotated server = %+v, %v", v, err)
	}
	// A record signed with a retired key after its rotation is bad.
	appendCall(rotated2, old)
	v, err := db.Verify(ctx, "")
	if err != nil || v.OK() || v.BadSeq != 8 || !strings.Contains(v.Reason, "signature") {
		t.Errorf("Verify with a retired key's record = %+v, %v; want record 8 bad", v, err)
	}
}

// TestRotateUnderARunningSession: a proxy that runs through a rotation
// (keys rotate in another process) signs what it moves afterwards with the
// new key, so the chain still verifies without restarting it.
func TestRotateUnderARunningSession(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "aim.db")
	proxyDB, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer proxyDB.Close()
	srv, _, _ := proxyDB.Register(ctx, Registration{Client: "c", Name: "s", Command: "x"})
	key, _ := proxyDB.Key(srv)
	sess, err := proxyDB.StartSession(ctx, srv, key)
	if err != nil {
		t.Fatal(err)
	}
	call := func(n int) {
		t.Helper()
		if err := sess.Append(Event{Kind: KindCall, Tool: "echo", Decision: "allow", RequestID: []byte(fmt.Sprint(n))}); err != nil {
			t.Fatal(err)
		}
		if err := sess.Move(ctx); err != nil {
			t.Fatal(err)
		}
	}
	call(1)
	cli := reopen(t, path) // aim-mcp keys rotate, in a process of its own
	rotated, err := cli.RotateKey(ctx, srv, "test")
	if err != nil {
		t.Fatal(err)
	}
	call(2)
	call(3)
	if err := sess.Close(ctx); err != nil {
		t.Fatal(err)
	}
	v, err := cli.Verify(ctx, "")
	if err != nil || !v.OK() {
		t.Fatalf("Verify after a rotation under a running session = %+v, %v; want intact", v, err)
	}
	// Verify follows the server to its new key at the key_rotated record:
	// calls 2 and 3 verify only if the new key signed them.
	if recs, err := cli.Records(ctx, Filter{Kind: KindCall}); err != nil || len(recs) != 3 {
		t.Fatalf("call records: %d, %v", len(recs), err)
	}
	if rotated.PublicKey == srv.PublicKey {
		t.Fatal("the key was not rotated")
	}
}
