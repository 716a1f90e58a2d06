package registry

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/opena2a-org/aim-mcp/identity"
)

func BenchmarkAppend(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	db, err := Open(ctx, filepath.Join(dir, "aim.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	s, _, err := db.Register(ctx, Registration{Client: "c", Name: "s", Command: "x"})
	if err != nil {
		b.Fatal(err)
	}
	key, _ := db.Key(s)
	ev := Event{ServerID: s.ID, Server: s.Name, Kind: KindCall, Tool: "echo", Decision: "allow",
		RequestID: []byte("7"), Data: map[string]any{"args": map[string]any{"message": "hi"}, "args_digest": "sha256:abc"}}
	b.ResetTimer()
	for range b.N {
		if _, err := db.Append(ctx, key, ev); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSpoolAppend is a call's commit on the proxy's hot path: one
// line written to the session's spool (BenchmarkAppend is what it was).
func BenchmarkSpoolAppend(b *testing.B) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(b.TempDir(), "aim.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	s, _, err := db.Register(ctx, Registration{Client: "c", Name: "s", Command: "x"})
	if err != nil {
		b.Fatal(err)
	}
	key, _ := db.Key(s)
	sess, err := db.StartSession(ctx, s, key)
	if err != nil {
		b.Fatal(err)
	}
	defer sess.Close(ctx)
	ev := Event{Kind: KindCall, Tool: "echo", Decision: "allow",
		RequestID: []byte("7"), Data: map[string]any{"args": map[string]any{"message": "hi"}, "args_digest": "sha256:abc"}}
	b.ResetTimer()
	for range b.N {
		if err := sess.Append(ev); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSign(b *testing.B) {
	k, _ := identity.Generate()
	msg := make([]byte, 32)
	for range b.N {
		k.Sign(msg)
	}
}
