package claudeconfig

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/opena2a-org/aim-mcp/internal/jsonedit"
)

// desktop is a Claude Desktop config as the app writes it: two-space
// indent, no trailing newline, app-owned keys around mcpServers.
const desktop = `{
  "preferences": {
    "menuBarEnabled": false,
    "quickEntryShortcut": "off",
    "sidebarMode": "chat",
    "coworkScheduledTasksEnabled": true,
    "nested": {
      "list": [1, 2.5e3, -0, null, true],
      "empty": {}
    }
  },
  "mcpServers": {
    "filesystem": {
      "command": "npx",
      "args": [
        "-y",
        "@modelcontextprotocol/server-filesystem",
        "/Users/alice/Desktop",
        "/Users/alice/\u0141\u00f3d\u017a files"
      ]
    },
    "github / issues": {
      "command": "docker",
      "args": ["run", "-i", "--rm", "-e", "GITHUB_TOKEN", "ghcr.io/github/github-mcp-server"],
      "env": {
        "GITHUB_TOKEN": "ghp_secret",
        "A_FIRST": "1"
      }
    },
    "Łódź files": {
      "command": "/usr/local/bin/uvx",
      "env": {
        "PATH": "${PATH}:/opt/homebrew/bin"
      }
    },
    "figma": {
      "command": "node",
      "args": ["/Users/alice/Library/Application Support/Claude/Claude Extensions/figma/index.js"],
      "extensionId": "ant.dir.figma"
    },
    "remote": {
      "url": "https://mcp.example.com/sse",
      "type": "sse"
    },
    "empty": {}
  },
  "globalShortcut": "Alt+Space",
  "isUsingBuiltInNodeForMcp": false
}`

// jsonc is a VS Code mcp.json with comments in odd places and trailing commas.
const jsonc = `// VS Code user MCP config
{
  /* inputs first */ "inputs": [],
  "servers": { // the servers
    "memory" /* name */ : {
      "type": "stdio",
      "command": /* which */ "npx", // trailing
      "args": ["-y", "@modelcontextprotocol/server-memory",],
    },
    "web": {"type": "http", "url": "https://example.com/mcp",},
  },
}
`

// jsoncArgs has comments between the arguments of a server.
const jsoncArgs = `{
  "servers": {
    "fs": {
      "command": "npx",
      "args": [
        // the package
        "-y", "@modelcontextprotocol/server-filesystem", /* pinned later */
        "/home/alice/src", // allowed dir
      ],
    },
  },
}
`

var vscode = Format{Roots: [][]string{{"servers"}}, JSONC: true}

var spec = ProxySpec{Exe: "/opt/aim/bin/aim-mcp", Home: "/Users/alice/.aim-mcp"}

func parse(t *testing.T, src string, f Format) *File {
	t.Helper()
	cf, err := Parse("test.json", []byte(src), f)
	if err != nil {
		t.Fatalf("Parse() error: %v", err)
	}
	return cf
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		src  string
		f    Format
	}{
		{"claude desktop", desktop, ClaudeDesktop},
		{"trailing newline", desktop + "\n", ClaudeDesktop},
		{"crlf", strings.ReplaceAll(desktop, "\n", "\r\n"), ClaudeDesktop},
		{"tabs", strings.ReplaceAll(desktop, "  ", "\t"), ClaudeDesktop},
		{"jsonc", jsonc, vscode},
		{"no servers", `{"preferences":{}}`, ClaudeDesktop},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cf := parse(t, tt.src, tt.f)
			if got := string(cf.Bytes()); got != tt.src {
				t.Errorf("Bytes() differs from input (-got +want):\n%s", cmp.Diff(got, tt.src))
			}
			if cf.Changed() {
				t.Error("Changed() = true after Parse")
			}
		})
	}
}

func TestEntries(t *testing.T) {
	root := []string{"mcpServers"}
	want := []Entry{{
		Root: root, Name: "filesystem", Command: "npx",
		Args:     []string{"-y", "@modelcontextprotocol/server-filesystem", "/Users/alice/Desktop", "/Users/alice/Łódź files"},
		Original: []string{"npx", "-y", "@modelcontextprotocol/server-filesystem", "/Users/alice/Desktop", "/Users/alice/Łódź files"},
	}, {
		Root: root, Name: "github / issues", Command: "docker",
		Args:     []string{"run", "-i", "--rm", "-e", "GITHUB_TOKEN", "ghcr.io/github/github-mcp-server"},
		EnvNames: []string{"A_FIRST", "GITHUB_TOKEN"},
		Original: []string{"docker", "run", "-i", "--rm", "-e", "GITHUB_TOKEN", "ghcr.io/github/github-mcp-server"},
	}, {
		Root: root, Name: "Łódź files", Command: "/usr/local/bin/uvx",
		EnvNames: []string{"PATH"}, Original: []string{"/usr/local/bin/uvx"},
	}, {
		Root: root, Name: "figma", Command: "node",
		Args:        []string{"/Users/alice/Library/Application Support/Claude/Claude Extensions/figma/index.js"},
		ExtensionID: "ant.dir.figma", Skip: SkipExtension,
		Original: []string{"node", "/Users/alice/Library/Application Support/Claude/Claude Extensions/figma/index.js"},
	}, {
		Root: root, Name: "remote", URL: "https://mcp.example.com/sse", Type: "sse", Skip: SkipRemote,
		Remote: &Remote{URLKey: "url", URL: "https://mcp.example.com/sse", Transport: "sse"},
	}, {
		Root: root, Name: "empty", Skip: SkipNoCommand,
	}}
	got := parse(t, desktop, ClaudeDesktop).Entries()
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("Entries() (-got +want):\n%s", diff)
	}
}

func TestEntriesWrapped(t *testing.T) {
	src := `{"mcpServers": {
  "a": {"command": "C:\\Program Files\\aim-mcp\\AIM-MCP.EXE", "args": ["proxy", "--client=cursor", "-server", "x", "--verbose", "--home", "/h", "--", "npx", "--", "y"]},
  "b": {"command": "/bin/aim-mcp", "args": ["proxy", "--server", "b"]},
  "c": {"command": "/bin/aim-mcp", "args": ["list", "--", "x"]},
  "d": {"command": "/bin/aim-mcp", "args": ["proxy", "--server", "d", "--url", "https://mcp.example.com/mcp"]}
}}`
	got := parse(t, src, ClaudeDesktop).Entries()
	want := []Entry{{
		Root: []string{"mcpServers"}, Name: "a", Command: `C:\Program Files\aim-mcp\AIM-MCP.EXE`,
		Args:    []string{"proxy", "--client=cursor", "-server", "x", "--verbose", "--home", "/h", "--", "npx", "--", "y"},
		Wrapped: true, Proxy: ProxySpec{Exe: `C:\Program Files\aim-mcp\AIM-MCP.EXE`, Client: "cursor", Server: "x", Home: "/h"},
		Original: []string{"npx", "--", "y"},
	}, {
		Root: []string{"mcpServers"}, Name: "b", Command: "/bin/aim-mcp", Args: []string{"proxy", "--server", "b"},
		Wrapped: true, Proxy: ProxySpec{Exe: "/bin/aim-mcp", Server: "b"},
	}, {
		Root: []string{"mcpServers"}, Name: "c", Command: "/bin/aim-mcp", Args: []string{"list", "--", "x"},
		Original: []string{"/bin/aim-mcp", "list", "--", "x"},
	}, {
		// A remote server put behind the proxy by hand: nothing to wrap
		// or unwrap.
		Root: []string{"mcpServers"}, Name: "d", Command: "/bin/aim-mcp", Args: []string{"proxy", "--server", "d", "--url", "https://mcp.example.com/mcp"},
		Proxy: ProxySpec{Exe: "/bin/aim-mcp", Server: "d", URL: "https://mcp.example.com/mcp"}, Skip: SkipProxyURL,
	}}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("Entries() (-got +want):\n%s", diff)
	}
}

// TestEntriesOwnLists checks that the lists Entries hands out, which share
// one array, are each the caller's: appending to one, or writing into it,
// changes no other entry and not the file's own.
func TestEntriesOwnLists(t *testing.T) {
	src := `{"mcpServers": {
  "a": {"command": "x", "args": ["1", "2"], "env": {"A": "v"}},
  "b": {"command": "y", "args": ["3"], "env": {"B": "v"}}
}}`
	f := parse(t, src, ClaudeDesktop)
	es := f.Entries()
	_ = append(es[0].Args, "appended")
	_ = append(es[0].Root, "appended")
	_ = append(es[0].EnvNames, "appended")
	_ = append(es[0].Original, "appended")
	es[1].Args[0] = "changed"
	if got := es[0].EnvNames; !slices.Equal(got, []string{"A"}) {
		t.Errorf("first entry's EnvNames = %q after appending to its Args", got)
	}
	if got := es[0].Original; !slices.Equal(got, []string{"x", "1", "2"}) {
		t.Errorf("first entry's Original = %q after appending to its EnvNames", got)
	}
	if got := es[1].Root; !slices.Equal(got, []string{"mcpServers"}) {
		t.Errorf("second entry's Root = %q after appending to the first's", got)
	}
	if got := es[1].EnvNames; !slices.Equal(got, []string{"B"}) {
		t.Errorf("second entry's EnvNames = %q after appending to the first's", got)
	}
	if got := es[1].Original; !slices.Equal(got, []string{"y", "3"}) {
		t.Errorf("second entry's Original = %q after appending to the first's", got)
	}
	if got := f.Entries()[1].Args; !slices.Equal(got, []string{"3"}) {
		t.Errorf("the file's entry's Args = %q after the caller changed its copy", got)
	}
}

func TestWrap(t *testing.T) {
	tests := []struct {
		name     string
		src      string
		f        Format
		server   string
		spec     ProxySpec
		old, new string // the only change expected in the file
	}{{
		name: "multi-line args", src: desktop, server: "filesystem", spec: spec,
		old: `      "command": "npx",
      "args": [
        "-y",`,
		new: `      "command": "/opt/aim/bin/aim-mcp",
      "args": [
        "proxy",
        "--server",
        "filesystem",
        "--home",
        "/Users/alice/.aim-mcp",
        "--",
        "npx",
        "-y",`,
	}, {
		name: "single-line args, client", src: desktop, server: "github / issues",
		spec: ProxySpec{Exe: `C:\aim\aim-mcp.exe`, Client: "cursor", Home: `C:\Users\a\.aim-mcp`},
		old: `"command": "docker",
      "args": ["run",`,
		new: `"command": "C:\\aim\\aim-mcp.exe",
      "args": ["proxy", "--client", "cursor", "--server", "github / issues", "--home", "C:\\Users\\a\\.aim-mcp", "--", "docker", "run",`,
	}, {
		name: "no args in a multi-line entry", src: desktop, server: "Łódź files", spec: spec,
		old: `"command": "/usr/local/bin/uvx",
`,
		new: `"command": "/opt/aim/bin/aim-mcp",
      "args": [
        "proxy",
        "--server",
        "Łódź files",
        "--home",
        "/Users/alice/.aim-mcp",
        "--",
        "/usr/local/bin/uvx"
      ],
`,
	}, {
		name: "crlf", src: strings.ReplaceAll(desktop, "\n", "\r\n"), server: "Łódź files", spec: ProxySpec{Exe: "/bin/aim-mcp"},
		old: "\"command\": \"/usr/local/bin/uvx\",\r\n",
		new: "\"command\": \"/bin/aim-mcp\",\r\n      \"args\": [\r\n        \"proxy\",\r\n        \"--server\",\r\n        \"Łódź files\",\r\n        \"--\",\r\n        \"/usr/local/bin/uvx\"\r\n      ],\r\n",
	}, {
		name: "tabs", src: strings.ReplaceAll(desktop, "  ", "\t"), server: "Łódź files", spec: ProxySpec{Exe: "/bin/aim-mcp", Client: DefaultClient},
		old: "\"command\": \"/usr/local/bin/uvx\",\n",
		new: "\"command\": \"/bin/aim-mcp\",\n\t\t\t\"args\": [\n\t\t\t\t\"proxy\",\n\t\t\t\t\"--server\",\n\t\t\t\t\"Łódź files\",\n\t\t\t\t\"--\",\n\t\t\t\t\"/usr/local/bin/uvx\"\n\t\t\t],\n",
	}, {
		name: "no args, one-line entry, compact colon", src: `{"mcpServers":{"x":{"command":"uvx"}}}`, server: "x", spec: ProxySpec{Exe: "/bin/aim-mcp"},
		old: `"command":"uvx"`,
		new: `"command":"/bin/aim-mcp", "args":["proxy", "--server", "x", "--", "uvx"]`,
	}, {
		name: "compact args and escapes kept", src: `{"mcpServers":{"x":{"args":["a\/b","\u00e9"],"command":"n\u0070x"}}}`,
		server: "x", spec: ProxySpec{Exe: "/bin/aim-mcp", Server: "other"},
		old: `{"args":["a\/b","\u00e9"],"command":"n\u0070x"}`,
		new: `{"args":["proxy","--server","other","--","n\u0070x","a\/b","\u00e9"],"command":"/bin/aim-mcp"}`,
	}, {
		name: "empty args stay single-line", src: "{\"mcpServers\": {\n  \"x\": {\n    \"command\": \"uvx\",\n    \"args\": []\n  }\n}}", server: "x", spec: ProxySpec{Exe: "/bin/aim-mcp"},
		old: `"command": "uvx",
    "args": []`,
		new: `"command": "/bin/aim-mcp",
    "args": ["proxy", "--server", "x", "--", "uvx"]`,
	}, {
		name: "jsonc", src: jsonc, f: vscode, server: "memory", spec: ProxySpec{Exe: "/bin/aim-mcp", Client: "vscode"},
		old: `"command": /* which */ "npx", // trailing
      "args": ["-y", "@modelcontextprotocol/server-memory",],`,
		new: `"command": /* which */ "/bin/aim-mcp", // trailing
      "args": ["proxy", "--client", "vscode", "--server", "memory", "--", "npx", "-y", "@modelcontextprotocol/server-memory",],`,
	}, {
		name: "comments inside args", src: jsoncArgs, f: vscode, server: "fs", spec: ProxySpec{Exe: "/bin/aim-mcp", Client: "vscode"},
		old: `"command": "npx",
      "args": [
        // the package
        "-y",`,
		new: `"command": "/bin/aim-mcp",
      "args": [
        // the package
        "proxy", "--client", "vscode", "--server", "fs", "--", "npx", "-y",`,
	}, {
		name: "first element after the bracket", src: "{\"mcpServers\": {\"x\": {\"command\": \"npx\", \"args\": [\"-y\",\n    \"pkg\"]}}}",
		server: "x", spec: ProxySpec{Exe: "/bin/aim-mcp"},
		old: "\"command\": \"npx\", \"args\": [\"-y\",\n",
		new: "\"command\": \"/bin/aim-mcp\", \"args\": [\"proxy\",\n    \"--server\",\n    \"x\",\n    \"--\",\n    \"npx\",\n    \"-y\",\n",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if strings.Count(tt.src, tt.old) != 1 {
				t.Fatalf("bad test: %q occurs %d times", tt.old, strings.Count(tt.src, tt.old))
			}
			cf := parse(t, tt.src, tt.f)
			root := cf.Entries()[0].Root
			changed, err := cf.Wrap(root, tt.server, tt.spec)
			if err != nil || !changed {
				t.Fatalf("Wrap() = %v, %v; want true, nil", changed, err)
			}
			want := strings.Replace(tt.src, tt.old, tt.new, 1)
			if got := string(cf.Bytes()); got != want {
				t.Errorf("Wrap() result (-got +want):\n%s", cmp.Diff(got, want))
			}
			e := findEntry(t, cf, tt.server)
			if !e.Wrapped {
				t.Errorf("entry not Wrapped after Wrap: %+v", e)
			}

			// Wrapping again changes nothing.
			if changed, err := cf.Wrap(root, tt.server, tt.spec); changed || err != nil {
				t.Errorf("second Wrap() = %v, %v; want false, nil", changed, err)
			}
			if got := string(cf.Bytes()); got != want {
				t.Errorf("second Wrap() changed bytes (-got +want):\n%s", cmp.Diff(got, want))
			}
		})
	}
}

func findEntry(t *testing.T, cf *File, name string) Entry {
	t.Helper()
	for _, e := range cf.Entries() {
		if e.Name == name {
			return e
		}
	}
	t.Fatalf("no entry %q", name)
	return Entry{}
}

// TestWrapUnwrap wraps and unwraps every wrappable entry that has args, in
// every fixture, and expects the original bytes back.
func TestWrapUnwrap(t *testing.T) {
	for name, tc := range map[string]struct {
		src string
		f   Format
	}{
		"desktop":    {desktop, ClaudeDesktop},
		"crlf":       {strings.ReplaceAll(desktop, "\n", "\r\n"), ClaudeDesktop},
		"tabs":       {strings.ReplaceAll(desktop, "  ", "\t"), ClaudeDesktop},
		"jsonc":      {jsonc, vscode},
		"jsonc args": {jsoncArgs, vscode},
		"compact":    {`{"mcpServers":{"x":{"command":"a","args":["b","c\/d"]}}}`, ClaudeDesktop},
		"one arg":    {`{"mcpServers":{"x":{"command":"a","args":["b"]}}}`, ClaudeDesktop},
		"empty arg":  {`{"mcpServers":{"x":{"command":"a","args":[]}}}`, ClaudeDesktop},
		"odd names":  {`{"mcpServers":{"--":{"command":"a","args":["--","-x"]},"-x":{"command":"--","args":["--"]},"<&>":{"command":"a","args":["\u003c"]}}}`, ClaudeDesktop},
	} {
		t.Run(name, func(t *testing.T) {
			cf := parse(t, tc.src, tc.f)
			for _, e := range cf.Entries() {
				if e.Skip != "" || e.Args == nil {
					continue
				}
				if _, err := cf.Wrap(e.Root, e.Name, spec); err != nil {
					t.Fatalf("Wrap(%q) error: %v", e.Name, err)
				}
				if changed, err := cf.Wrap(e.Root, e.Name, spec); changed || err != nil {
					t.Errorf("second Wrap(%q) = %v, %v; want false, nil", e.Name, changed, err)
				}
				if got := findEntry(t, cf, e.Name).Original; !cmp.Equal(got, e.Original) {
					t.Errorf("Original after Wrap(%q) = %q, want %q", e.Name, got, e.Original)
				}
				if changed, err := cf.Unwrap(e.Root, e.Name); !changed || err != nil {
					t.Fatalf("Unwrap(%q) = %v, %v; want true, nil", e.Name, changed, err)
				}
				if got := string(cf.Bytes()); got != tc.src {
					t.Fatalf("Wrap+Unwrap(%q) (-got +want):\n%s", e.Name, cmp.Diff(got, tc.src))
				}
			}
			if cf.Changed() {
				t.Error("Changed() = true after Wrap+Unwrap")
			}
		})
	}
}

func TestUnwrapNoArgs(t *testing.T) {
	src := `{"mcpServers":{"x":{"command":"uvx","env":{"A":"b"}}}}`
	cf := parse(t, src, ClaudeDesktop)
	if _, err := cf.Wrap([]string{"mcpServers"}, "x", ProxySpec{Exe: "/bin/aim-mcp"}); err != nil {
		t.Fatal(err)
	}
	if changed, err := cf.Unwrap([]string{"mcpServers"}, "x"); !changed || err != nil {
		t.Fatalf("Unwrap() = %v, %v; want true, nil", changed, err)
	}
	want := `{"mcpServers":{"x":{"command":"uvx", "args":[],"env":{"A":"b"}}}}`
	if got := string(cf.Bytes()); got != want {
		t.Errorf("Unwrap() = %s, want %s", got, want)
	}
	if changed, err := cf.Unwrap([]string{"mcpServers"}, "x"); changed || err != nil {
		t.Errorf("Unwrap(unwrapped) = %v, %v; want false, nil", changed, err)
	}
}

func TestRepoint(t *testing.T) {
	src := `{
  "mcpServers": {
    "fs": {
      "command": "/old/aim-mcp",
      "args": [
        "proxy",
        "--client",
        "claude-desktop",
        "--server",
        "fs",
        "--home",
        "/old/home",
        "--",
        "npx",
        "-y",
        "server-filesystem"
      ],
      "env": {"K": "V"}
    }
  }
}`
	root := []string{"mcpServers"}
	same := ProxySpec{Exe: "/old/aim-mcp", Server: "fs", Home: "/old/home"}
	cf := parse(t, src, ClaudeDesktop)
	if changed, err := cf.Wrap(root, "fs", same); changed || err != nil {
		t.Fatalf("Wrap(same spec, default client implied) = %v, %v; want false, nil", changed, err)
	}
	for _, p := range []ProxySpec{
		{Exe: "/new/aim-mcp", Home: "/old/home"},
		{Exe: "/old/aim-mcp", Home: "/new/home"},
		{Exe: "/old/aim-mcp", Home: "/old/home", Server: "other"},
		{Exe: "/old/aim-mcp", Home: "/old/home", Client: "cursor"},
	} {
		cf := parse(t, src, ClaudeDesktop)
		if changed, err := cf.Wrap(root, "fs", p); !changed || err != nil {
			t.Fatalf("Wrap(%+v) = %v, %v; want true, nil", p, changed, err)
		}
		e := findEntry(t, cf, "fs")
		want := p
		if want.Server == "" {
			want.Server = "fs"
		}
		if diff := cmp.Diff(e.Proxy, want); diff != "" {
			t.Errorf("Wrap(%+v) Proxy (-got +want):\n%s", p, diff)
		}
		if diff := cmp.Diff(e.Original, []string{"npx", "-y", "server-filesystem"}); diff != "" {
			t.Errorf("Wrap(%+v) Original (-got +want):\n%s", p, diff)
		}
		if !strings.Contains(string(cf.Bytes()), "\"--\",\n        \"npx\",\n        \"-y\",\n        \"server-filesystem\"\n      ],\n      \"env\": {\"K\": \"V\"}") {
			t.Errorf("Wrap(%+v) lost the layout:\n%s", p, cf.Bytes())
		}
	}
}

func TestWrapRefused(t *testing.T) {
	src := `{"mcpServers":{
  "ext": {"command": "node", "extensionId": "x"},
  "url": {"url": "https://x"},
  "windsurf": {"serverUrl": "https://x/mcp", "headers": {}},
  "sse": {"type": "sse", "command": "x"},
  "http": {"type": "http", "command": "x"},
  "none": {"env": {}},
  "broken": {"command": "/bin/aim-mcp", "args": ["proxy", "--server", "broken"]},
  "empty after": {"command": "/bin/aim-mcp", "args": ["proxy", "--server", "x", "--"]}
}}`
	root := []string{"mcpServers"}
	tests := []struct{ name, want string }{
		{"ext", "wrap mcpServers.ext: extension-managed (extensionId)"},
		{"url", "wrap mcpServers.url: remote server (url)"},
		{"http", "wrap mcpServers.http: remote server (url)"},
		{"windsurf", "wrap mcpServers.windsurf: remote server (url)"},
		{"sse", "wrap mcpServers.sse: remote server (url)"},
		{"none", "wrap mcpServers.none: no command"},
		{"broken", `wrap mcpServers.broken: wrapped entry has no original command after "--"`},
		{"empty after", `wrap mcpServers."empty after": wrapped entry has no original command after "--"`},
		{"missing", `wrap: no server mcpServers.missing in "test.json"`},
	}
	cf := parse(t, src, ClaudeDesktop)
	for _, tt := range tests {
		_, err := cf.Wrap(root, tt.name, spec)
		if err == nil || err.Error() != tt.want {
			t.Errorf("Wrap(%q) error = %v, want %q", tt.name, err, tt.want)
		}
	}
	if _, err := cf.Unwrap(root, "broken"); err == nil {
		t.Error(`Unwrap("broken") succeeded, want error`)
	}
	for _, exe := range []string{"", "/usr/bin/python3", "/bin/aim-mcp-dev", "aim-mcp/"} {
		_, err := cf.Wrap(root, "ext", ProxySpec{Exe: exe})
		if want := fmt.Sprintf("wrap: %q is not an aim-mcp executable", exe); err == nil || err.Error() != want {
			t.Errorf("Wrap(Exe %q) error = %v, want %q", exe, err, want)
		}
	}
	if got := string(cf.Bytes()); got != src {
		t.Errorf("refused Wrap changed bytes (-got +want):\n%s", cmp.Diff(got, src))
	}
}

func TestNestedRoots(t *testing.T) {
	src := `{
  "numStartups": 42,
  "projects": {
    "/Users/a/repo": {
      "allowedTools": [],
      "mcpServers": {
        "db": {"type": "stdio", "command": "uvx", "args": ["db-mcp"]}
      }
    },
    "/Users/a/empty": {"history": []}
  },
  "mcpServers": {
    "top": {"command": "npx", "args": ["top"]}
  }
}`
	code := Format{Roots: [][]string{{"mcpServers"}, {"projects", "*", "mcpServers"}}}
	cf := parse(t, src, code)
	var got [][]string
	for _, e := range cf.Entries() {
		got = append(got, append(e.Root, e.Name))
	}
	want := [][]string{{"projects", "/Users/a/repo", "mcpServers", "db"}, {"mcpServers", "top"}}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("Entries() roots (-got +want):\n%s", diff)
	}
	root := []string{"projects", "/Users/a/repo", "mcpServers"}
	if _, err := cf.Wrap(root, "db", ProxySpec{Exe: "/bin/aim-mcp", Client: "claude-code", Server: "repo-db"}); err != nil {
		t.Fatal(err)
	}
	wantSrc := strings.Replace(src, `"command": "uvx", "args": ["db-mcp"]`,
		`"command": "/bin/aim-mcp", "args": ["proxy", "--client", "claude-code", "--server", "repo-db", "--", "uvx", "db-mcp"]`, 1)
	if got := string(cf.Bytes()); got != wantSrc {
		t.Errorf("Wrap(nested) (-got +want):\n%s", cmp.Diff(got, wantSrc))
	}
	if _, err := cf.Wrap([]string{"mcpServers"}, "db", spec); err == nil {
		t.Error("Wrap(db under the wrong root) succeeded, want error")
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, src string
		f         Format
		want      string
	}{
		{"invalid json", "{\n  \"mcpServers\": {\n    \"x\": {\"command\" \"npx\"}\n  }\n}", ClaudeDesktop,
			`parse "c.json": line 3, column 21: invalid character '"' after object key`},
		{"truncated", `{"mcpServers": {`, ClaudeDesktop, `parse "c.json": line 1, column 17: unexpected end of JSON input`},
		{"empty file", ``, ClaudeDesktop, `parse "c.json": line 1, column 1: unexpected end of JSON input`},
		{"comment in json", "// x\n{}", ClaudeDesktop, `parse "c.json": line 1, column 1: invalid character '/' looking for beginning of value`},
		{"duplicate server", `{"mcpServers": {"a": {}, "a": {}}}`, ClaudeDesktop, `parse "c.json": line 1, column 26: duplicate key "a" in object`},
		{"root array", `[]`, ClaudeDesktop, `parse "c.json": line 1, column 1: the top level is an array, want an object`},
		{"mcpServers array", `{"mcpServers": []}`, ClaudeDesktop, `parse "c.json": line 1, column 16: mcpServers: an array, want an object`},
		{"mcpServers null", `{"mcpServers": null}`, ClaudeDesktop, `parse "c.json": line 1, column 16: mcpServers: null, want an object`},
		{"entry string", `{"mcpServers": {"my server": "npx"}}`, ClaudeDesktop, `parse "c.json": line 1, column 30: mcpServers."my server": a string, want an object`},
		{"command number", `{"mcpServers": {"x": {"command": 1}}}`, ClaudeDesktop, `parse "c.json": line 1, column 34: mcpServers.x.command: a number, want a string`},
		{"args string", `{"mcpServers": {"x": {"command": "a", "args": "b c"}}}`, ClaudeDesktop, `parse "c.json": line 1, column 47: mcpServers.x.args: want an array of strings`},
		{"args mixed", `{"mcpServers": {"x": {"command": "a", "args": ["b", 1]}}}`, ClaudeDesktop, `parse "c.json": line 1, column 47: mcpServers.x.args: want an array of strings`},
		{"env array", `{"mcpServers": {"x": {"command": "a", "env": []}}}`, ClaudeDesktop, `parse "c.json": line 1, column 46: mcpServers.x.env: an array, want an object of strings`},
		{"env value", `{"mcpServers": {"x": {"command": "a", "env": {"K": true}}}}`, ClaudeDesktop, `parse "c.json": line 1, column 52: mcpServers.x.env.K: a bool, want a string`},
		{"project not object", `{"projects": {"/x": 1}}`, Format{Roots: [][]string{{"projects", "*", "mcpServers"}}}, `parse "c.json": line 1, column 21: projects."/x": a number, want an object`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("c.json", []byte(tt.src), tt.f)
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse(%q) error = %v, want *ParseError", tt.src, err)
			}
			if err.Error() != tt.want {
				t.Errorf("Parse(%q) error = %q, want %q", tt.src, err, tt.want)
			}
		})
	}
	_, err := Parse("c.json", []byte("{\n  x"), ClaudeDesktop)
	var se *jsonedit.SyntaxError
	if !errors.As(err, &se) || se.Line != 2 || se.Col != 3 {
		t.Errorf("ParseError does not unwrap to the SyntaxError at 2:3: %v", err)
	}
}

func TestLoadSave(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(filepath.Join(dir, "missing.json"), ClaudeDesktop); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(missing) error = %v, want fs.ErrNotExist", err)
	}

	real := filepath.Join(dir, "dotfiles", "claude_desktop_config.json")
	if err := os.Mkdir(filepath.Dir(real), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(real, []byte(desktop), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "claude_desktop_config.json")
	if err := os.Symlink(real, path); err != nil {
		t.Skipf("cannot create symlinks: %v", err)
	}
	cf, err := Load(path, ClaudeDesktop)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cf.Wrap([]string{"mcpServers"}, "filesystem", spec); err != nil {
		t.Fatal(err)
	}
	if !cf.Changed() {
		t.Error("Changed() = false after Wrap")
	}
	if err := cf.Save(); err != nil {
		t.Fatalf("Save() error: %v", err)
	}
	if cf.Changed() {
		t.Error("Changed() = true after Save")
	}
	if fi, err := os.Lstat(path); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("config is no longer a symlink: %v, %v", fi, err)
	}
	got, err := os.ReadFile(real)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(cf.Bytes()) {
		t.Errorf("saved bytes differ from Bytes()")
	}
	if fi, err := os.Stat(real); err == nil && runtime.GOOS != "windows" && fi.Mode().Perm() != 0o644 {
		t.Errorf("mode = %v, want 0644 kept", fi.Mode().Perm())
	}

	// A new file gets 0600.
	cf2, err := Parse(filepath.Join(dir, "new.json"), []byte(`{}`), ClaudeDesktop)
	if err != nil {
		t.Fatal(err)
	}
	if err := cf2.Save(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(cf2.Path); err != nil || (runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600) {
		t.Errorf("new file: %v, %v; want mode 0600", fi, err)
	}
}

// FuzzWrap checks, for any config that parses, that every wrappable entry
// wraps idempotently, keeps its original command, and unwraps to the same
// command and arguments.
func FuzzWrap(f *testing.F) {
	f.Add(desktop, false)
	f.Add(jsonc, true)
	f.Add(`{"mcpServers":{"x":{"command":"a"}}}`, false)
	f.Add("{\"mcpServers\":{\"x\":{\r\n\t\"command\" : \"a\",\"args\":[\r\n\"--\"]}}}", false)
	f.Fuzz(func(t *testing.T, src string, isJSONC bool) {
		format := Format{Roots: [][]string{{"mcpServers"}, {"servers"}}, JSONC: isJSONC}
		cf, err := Parse("f.json", []byte(src), format)
		if err != nil {
			return
		}
		for _, e := range cf.Entries() {
			if e.Skip != "" || e.Wrapped {
				continue
			}
			if _, err := cf.Wrap(e.Root, e.Name, spec); err != nil {
				t.Fatalf("Wrap(%q) error: %v\n%s", e.Name, err, cf.Bytes())
			}
			w := findEntry(t, cf, e.Name)
			if !w.Wrapped || !cmp.Equal(w.Original, e.Original) {
				t.Fatalf("after Wrap(%q): Wrapped %v, Original %q, want %q", e.Name, w.Wrapped, w.Original, e.Original)
			}
			before := cf.Bytes()
			if changed, err := cf.Wrap(e.Root, e.Name, spec); changed || err != nil {
				t.Fatalf("second Wrap(%q) = %v, %v", e.Name, changed, err)
			}
			if string(before) != string(cf.Bytes()) {
				t.Fatalf("second Wrap(%q) changed bytes", e.Name)
			}
			if _, err := cf.Unwrap(e.Root, e.Name); err != nil {
				t.Fatalf("Unwrap(%q) error: %v", e.Name, err)
			}
			u := findEntry(t, cf, e.Name)
			if u.Wrapped || u.Command != e.Command || !cmp.Equal(u.Args, e.Args, cmpopts.EquateEmpty()) {
				t.Fatalf("Unwrap(%q) = %q %q, want %q %q", e.Name, u.Command, u.Args, e.Command, e.Args)
			}
		}
	})
}
