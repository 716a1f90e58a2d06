package registry

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
)

// BenchmarkServersBrief10000 is the registry's share of "aim-mcp list" at
// ten thousand registered servers: every row read, in order.
func BenchmarkServersBrief10000(b *testing.B) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(b.TempDir(), "aim.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ins := make([]Registration, 10000)
	for i := range ins {
		// Registered out of name order, as servers come and go.
		ins[i] = Registration{Client: "claude-desktop", Name: fmt.Sprintf("srv%d", (i*7919)%10000), Command: "npx",
			Args: []string{"-y", "@modelcontextprotocol/server-everything", "stdio"}, EnvNames: []string{"K"}}
	}
	if _, err := db.RegisterAll(ctx, ins); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if s, err := db.ServersBrief(ctx); err != nil || len(s) != 10000 {
			b.Fatalf("%d servers, %v", len(s), err)
		}
	}
}
