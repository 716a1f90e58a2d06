package registry

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkObserveTools5000 is the registry's share of a server's first
// list of 5,000 tools (every one inserted) and of a later session's
// (every one compared, none written).
func BenchmarkObserveTools5000(b *testing.B) {
	ctx := context.Background()
	var defs []ToolDef
	for i := range 5000 {
		defs = append(defs, def(fmt.Sprintf("tool_%d", i),
			fmt.Sprintf(`Reads record %d of the inventory and returns its fields, as {"type":"object","properties":{"id":{"type":"string"}}}.`, i)))
	}
	open := func(b *testing.B) (*DB, Server) {
		db, err := Open(ctx, filepath.Join(b.TempDir(), "aim.db"), Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { db.Close() })
		s, _, err := db.Register(ctx, Registration{Client: "test", Name: "srv", Command: "srv"})
		if err != nil {
			b.Fatal(err)
		}
		return db, s
	}
	b.Run("first", func(b *testing.B) {
		for range b.N {
			b.StopTimer()
			db, s := open(b)
			b.StartTimer()
			if _, err := db.ObserveTools(ctx, s.ID, defs, time.Now()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("compare", func(b *testing.B) {
		db, s := open(b)
		if _, err := db.ObserveTools(ctx, s.ID, defs, time.Now()); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for range b.N {
			if _, err := db.CompareTools(ctx, s.ID, defs, time.Now()); err != nil {
				b.Fatal(err)
			}
		}
	})
}
