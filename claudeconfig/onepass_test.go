package claudeconfig

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// many is a config of n servers in the shapes Wrap handles differently:
// multi-line args, one-line args, no args, empty args, and ones it skips.
func many(n int) string {
	var b strings.Builder
	b.WriteString("{\n  \"mcpServers\": {")
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "\n    \"s%d\": ", i)
		switch i % 5 {
		case 0:
			fmt.Fprintf(&b, "{\n      \"command\": \"npx\",\n      \"args\": [\n        \"-y\",\n        \"pkg-%d\"\n      ]\n    }", i)
		case 1:
			fmt.Fprintf(&b, "{\"command\": \"node\", \"args\": [\"/srv/%d.js\", \"--x=\\u00e9\"], \"env\": {\"K\": \"v\"}}", i)
		case 2:
			b.WriteString("{\n      \"command\": \"/usr/bin/uvx\"\n    }")
		case 3:
			b.WriteString(`{"command": "a", "args": []}`)
		case 4:
			b.WriteString(`{"url": "https://example.com/mcp"}`)
		}
	}
	b.WriteString("\n  },\n  \"after\": [1, 2, {\"k\": \"v\"}]\n}")
	return b.String()
}

// TestOnePass checks that queuing every entry's edits and applying them at
// once gives byte for byte what applying them one entry at a time gives
// (each Bytes() call below applies what is queued), and that unwrapping them
// all at once gives the original file back.
func TestOnePass(t *testing.T) {
	for name, tc := range map[string]struct {
		src string
		f   Format
	}{
		"desktop":    {desktop, ClaudeDesktop},
		"crlf":       {strings.ReplaceAll(desktop, "\n", "\r\n"), ClaudeDesktop},
		"tabs":       {strings.ReplaceAll(desktop, "  ", "\t"), ClaudeDesktop},
		"jsonc":      {jsonc, vscode},
		"jsonc args": {jsoncArgs, vscode},
		"many":       {many(200), ClaudeDesktop},
	} {
		t.Run(name, func(t *testing.T) {
			stepwise, batch := parse(t, tc.src, tc.f), parse(t, tc.src, tc.f)
			wrapped := 0
			for _, e := range batch.Entries() {
				if e.Skip != "" {
					continue
				}
				if _, err := stepwise.Wrap(e.Root, e.Name, spec); err != nil {
					t.Fatalf("Wrap(%q) error: %v", e.Name, err)
				}
				stepwise.Bytes()
				if changed, err := batch.Wrap(e.Root, e.Name, spec); !changed || err != nil {
					t.Fatalf("Wrap(%q) = %v, %v; want true, nil", e.Name, changed, err)
				}
				wrapped++
			}
			if got, want := string(batch.Bytes()), string(stepwise.Bytes()); got != want {
				t.Fatalf("one pass differs from one entry at a time (-got +want):\n%s", cmp.Diff(got, want))
			}
			n := 0
			for _, e := range batch.Entries() {
				if e.Wrapped {
					n++
					if _, err := batch.Unwrap(e.Root, e.Name); err != nil {
						t.Fatalf("Unwrap(%q) error: %v", e.Name, err)
					}
				}
			}
			if n != wrapped {
				t.Errorf("%d entries wrapped after one pass, want %d", n, wrapped)
			}
			// Entries that had no args keep an empty array; every other
			// byte is back.
			want := tc.src
			if name == "many" {
				want = strings.ReplaceAll(want, "\"/usr/bin/uvx\"\n", "\"/usr/bin/uvx\",\n      \"args\": []\n")
			}
			if name != "many" && strings.Contains(want, "uvx") {
				return // covered by TestUnwrapNoArgs
			}
			if got := string(batch.Bytes()); got != want {
				t.Errorf("unwrap in one pass (-got +want):\n%s", cmp.Diff(got, want))
			}
		})
	}
}

// TestQueuedTwice edits one entry again while its first edit is queued: the
// second edit sees the first.
func TestQueuedTwice(t *testing.T) {
	cf := parse(t, desktop, ClaudeDesktop)
	root := []string{"mcpServers"}
	if _, err := cf.Wrap(root, "filesystem", spec); err != nil {
		t.Fatal(err)
	}
	other := ProxySpec{Exe: "/usr/local/bin/aim-mcp", Home: "/h"}
	if changed, err := cf.Wrap(root, "filesystem", other); !changed || err != nil {
		t.Fatalf("re-pointing Wrap() = %v, %v; want true, nil", changed, err)
	}
	if changed, err := cf.Wrap(root, "github / issues", spec); !changed || err != nil {
		t.Fatalf("Wrap() = %v, %v; want true, nil", changed, err)
	}
	e := findEntry(t, cf, "filesystem")
	if !e.Wrapped || e.Proxy.Exe != other.Exe || e.Proxy.Home != "/h" {
		t.Errorf("entry after two queued wraps = %+v", e)
	}
	if changed, err := cf.Unwrap(root, "filesystem"); !changed || err != nil {
		t.Fatalf("Unwrap() = %v, %v", changed, err)
	}
	if changed, err := cf.Unwrap(root, "github / issues"); !changed || err != nil {
		t.Fatalf("Unwrap() = %v, %v", changed, err)
	}
	if got := string(cf.Bytes()); got != desktop {
		t.Errorf("after wrap, re-point, unwrap (-got +want):\n%s", cmp.Diff(got, desktop))
	}
}

// TestKeepsOnlyServers: a big config around the servers (Claude Code's
// history) is checked but not kept as a tree, and survives edits intact.
func TestKeepsOnlyServers(t *testing.T) {
	src := `{"projects": {"/p": {"history": [{"display": "x\u00e9", "n": [1, 2]}], "mcpServers": {"a": {"command": "x"}}}},` +
		` "mcpServers": {"b": {"command": "y", "args": ["1"]}}, "tips": {"t": "v"}}`
	f := Format{Roots: [][]string{{"mcpServers"}, {"projects", "*", "mcpServers"}}}
	cf := parse(t, src, f)
	for _, e := range cf.Entries() {
		if _, err := cf.Wrap(e.Root, e.Name, spec); err != nil {
			t.Fatal(err)
		}
	}
	got := string(cf.Bytes())
	for _, keep := range []string{`"history": [{"display": "x\u00e9", "n": [1, 2]}]`, `"tips": {"t": "v"}`} {
		if !strings.Contains(got, keep) {
			t.Errorf("edited file lost %s:\n%s", keep, got)
		}
	}
	if n := strings.Count(got, `"proxy"`); n != 2 {
		t.Errorf("%d entries wrapped, want 2:\n%s", n, got)
	}
	if _, err := Parse("x.json", []byte(`{"history": [{"a": 1, "a": 2}], "mcpServers": {}}`), f); err == nil {
		t.Error("a duplicate key outside the servers was accepted")
	}
}

// TestLimits: a config past a limit is refused with an error naming it.
func TestLimits(t *testing.T) {
	// A sparse file: refused before it is read.
	big := filepath.Join(t.TempDir(), "big.json")
	if err := os.WriteFile(big, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, MaxFileSize+1); err != nil {
		t.Fatal(err)
	}
	_, err := Load(big, ClaudeDesktop)
	var le *LimitError
	if !errors.As(err, &le) || le.What != "bytes" || !strings.Contains(err.Error(), "at most 256 MiB") {
		t.Errorf("Load of %d bytes: %v, want a LimitError naming 256 MiB", MaxFileSize+1, err)
	}
	var b strings.Builder
	b.WriteString(`{"mcpServers": {`)
	for i := range MaxEntries + 1 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"s%d": {}`, i)
	}
	b.WriteString("}}")
	_, err = Parse("many.json", []byte(b.String()), ClaudeDesktop)
	if !errors.As(err, &le) || le.What != "servers" || le.Has != MaxEntries+1 {
		t.Errorf("Parse of %d servers: %v, want a LimitError", MaxEntries+1, err)
	}
}
