package claudeconfig

import (
	"fmt"
	"strings"
	"testing"
)

// wrappedConfig is a pretty-printed config of n servers as install leaves
// it: each launched through aim-mcp proxy, with one env variable.
func wrappedConfig(n int) []byte {
	var b strings.Builder
	b.WriteString("{\n  \"numStartups\": 42,\n  \"mcpServers\": {")
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `
    "srv%d": {
      "command": "/opt/aim/aim-mcp",
      "args": [
        "proxy",
        "--server",
        "srv%d",
        "--home",
        "/home/u/.aim-mcp",
        "--",
        "npx",
        "-y",
        "@modelcontextprotocol/server-everything",
        "stdio"
      ],
      "env": {
        "K": "v"
      }
    }`, i, i)
	}
	b.WriteString("\n  }\n}\n")
	return []byte(b.String())
}

// BenchmarkParseEntries10000 is what "aim-mcp list" pays for its config
// at ten thousand servers: the parse and the entries handed out.
func BenchmarkParseEntries10000(b *testing.B) {
	src := wrappedConfig(10000)
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		f, err := Parse("bench.json", src, ClaudeDesktop)
		if err != nil {
			b.Fatal(err)
		}
		if es := f.Entries(); len(es) != 10000 || !es[9999].Wrapped {
			b.Fatalf("%d entries", len(es))
		}
	}
}
