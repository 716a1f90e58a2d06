package discovery

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/opena2a-org/aim-mcp/claudeconfig"
)

// fakeSys is a System with only the given files present.
func fakeSys(goos, home string, env map[string]string, files ...string) System {
	return System{
		GOOS:   goos,
		Getenv: func(k string) string { return env[k] },
		Home:   home,
		Exists: func(p string) bool { return slices.Contains(files, p) },
		Glob:   func(string) ([]string, error) { return nil, nil },
	}
}

func TestPaths(t *testing.T) {
	tests := []struct {
		goos, home string
		env        map[string]string
		want       map[string]string
	}{{
		goos: "darwin", home: "/Users/alice",
		want: map[string]string{
			"claude-desktop": "/Users/alice/Library/Application Support/Claude/claude_desktop_config.json",
			"claude-code":    "/Users/alice/.claude.json",
			"cursor":         "/Users/alice/.cursor/mcp.json",
			"vscode":         "/Users/alice/Library/Application Support/Code/User/mcp.json",
			"windsurf":       "/Users/alice/.codeium/windsurf/mcp_config.json",
		},
	}, {
		goos: "linux", home: "/home/alice", env: map[string]string{"XDG_CONFIG_HOME": "/home/alice/.xdg"},
		want: map[string]string{
			"claude-desktop": "/home/alice/.xdg/Claude/claude_desktop_config.json",
			"claude-code":    "/home/alice/.claude.json",
			"cursor":         "/home/alice/.cursor/mcp.json",
			"vscode":         "/home/alice/.xdg/Code/User/mcp.json",
			"windsurf":       "/home/alice/.codeium/windsurf/mcp_config.json",
		},
	}, {
		goos: "linux", home: "/home/alice", env: map[string]string{"XDG_CONFIG_HOME": "relative"},
		want: map[string]string{
			"claude-desktop": "/home/alice/.config/Claude/claude_desktop_config.json",
			"vscode":         "/home/alice/.config/Code/User/mcp.json",
		},
	}, {
		goos: "windows", home: `C:\Users\alice`, env: map[string]string{"APPDATA": `C:\Users\alice\AppData\Roaming`},
		want: map[string]string{
			"claude-desktop": `C:\Users\alice\AppData\Roaming\Claude\claude_desktop_config.json`,
			"claude-code":    `C:\Users\alice\.claude.json`,
			"cursor":         `C:\Users\alice\.cursor\mcp.json`,
			"vscode":         `C:\Users\alice\AppData\Roaming\Code\User\mcp.json`,
			"windsurf":       `C:\Users\alice\.codeium\windsurf\mcp_config.json`,
		},
	}}
	for _, tt := range tests {
		sys := fakeSys(tt.goos, tt.home, tt.env)
		for name, want := range tt.want {
			c, err := Lookup(name)
			if err != nil {
				t.Fatal(err)
			}
			loc, _ := c.Locate(sys)
			if loc.Path != want {
				t.Errorf("%s on %s: Locate() = %q, want %q", name, tt.goos, loc.Path, want)
			}
		}
	}
}

func TestClients(t *testing.T) {
	want := []string{"claude-code", "claude-desktop", "cursor", "vscode", "windsurf"}
	if diff := cmp.Diff(Names(), want); diff != "" {
		t.Errorf("Names() (-got +want):\n%s", diff)
	}
	if _, err := Lookup("zed"); err == nil || !strings.Contains(err.Error(), "claude-code, claude-desktop, cursor, vscode, windsurf, or all") {
		t.Errorf("Lookup(zed) error = %v", err)
	}
}

func TestForPath(t *testing.T) {
	sys := fakeSys("linux", "/home/a", nil)
	tests := []struct {
		path, client, project string
		jsonc                 bool
	}{
		{"/home/a/.config/Claude/claude_desktop_config.json", "claude-desktop", "", false},
		{"/home/a/.claude.json", "claude-code", "", false},
		{"/home/a/src/api/.mcp.json", "claude-code", "/home/a/src/api", false},
		{"/home/a/.cursor/mcp.json", "cursor", "", false},
		{"/home/a/src/api/.cursor/mcp.json", "cursor", "/home/a/src/api", false},
		{"/home/a/.config/Code/User/mcp.json", "vscode", "", true},
		{"/home/a/src/web/.vscode/mcp.json", "vscode", "/home/a/src/web", true},
		{"/home/a/.codeium/windsurf/mcp_config.json", "windsurf", "", false},
		{"/tmp/anything.json", "claude-desktop", "", false},
	}
	for _, tt := range tests {
		loc := ForPath(tt.path, sys)
		if loc.Client.Name != tt.client || loc.Project != tt.project || loc.Format.JSONC != tt.jsonc {
			t.Errorf("ForPath(%q) = %s, project %q, jsonc %v; want %s, %q, %v",
				tt.path, loc.Client.Name, loc.Project, loc.Format.JSONC, tt.client, tt.project, tt.jsonc)
		}
	}
	win := fakeSys("windows", `C:\Users\a`, nil)
	if loc := ForPath(`C:\src\api\.vscode\mcp.json`, win); loc.Client.Name != "vscode" || loc.Project != `C:\src\api` {
		t.Errorf("ForPath(windows workspace) = %s %q", loc.Client.Name, loc.Project)
	}
}

func TestRegName(t *testing.T) {
	code := Location{Client: ClaudeCode, Format: ClaudeCode.Format}
	tests := []struct {
		loc  Location
		e    claudeconfig.Entry
		want string
	}{
		{code, claudeconfig.Entry{Root: []string{"mcpServers"}, Name: "memory"}, "memory"},
		{code, claudeconfig.Entry{Root: []string{"projects", "/Users/a/api", "mcpServers"}, Name: "memory"}, "memory@/Users/a/api"},
		{Location{Client: Cursor, Format: Cursor.Format, Project: "/src/x"}, claudeconfig.Entry{Root: []string{"mcpServers"}, Name: "gh"}, "gh@/src/x"},
		{Location{Client: ClaudeDesktop, Format: ClaudeDesktop.Format}, claudeconfig.Entry{Root: []string{"mcpServers"}, Name: "a@b"}, "a@b"},
	}
	for _, tt := range tests {
		if got := tt.loc.RegName(tt.e); got != tt.want {
			t.Errorf("RegName(%v %q) = %q, want %q", tt.e.Root, tt.e.Name, got, tt.want)
		}
	}
}

func TestResolve(t *testing.T) {
	home := t.TempDir()
	sys := Host()
	sys.Home = home
	sys.GOOS = "linux"
	sys.Getenv = func(string) string { return "" }
	cursor := filepath.Join(home, ".cursor", "mcp.json")
	code := filepath.Join(home, ".claude.json")
	for _, p := range []string{cursor, code} {
		os.MkdirAll(filepath.Dir(p), 0o700)
		os.WriteFile(p, []byte(`{}`), 0o600)
	}
	names := func(locs []Location) (out []string) {
		for _, l := range locs {
			out = append(out, l.Client.Name+" "+l.Path)
		}
		return out
	}
	got, err := Resolve(Selection{}, sys)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(names(got), []string{"claude-code " + code, "cursor " + cursor}); diff != "" {
		t.Errorf("Resolve(found) (-got +want):\n%s", diff)
	}
	got, _ = Resolve(Selection{Client: "all", Missing: true}, sys)
	if len(got) != len(Clients()) {
		t.Errorf("Resolve(all, missing) = %v, want one per client", names(got))
	}
	if _, err := Resolve(Selection{Client: "windsurf"}, sys); err == nil || !strings.Contains(err.Error(), "no Windsurf config found") {
		t.Errorf("Resolve(windsurf, absent) error = %v", err)
	}
	got, _ = Resolve(Selection{Client: "vscode", Configs: []string{"/x/.vscode/mcp.json", "/x/.vscode/mcp.json"}}, sys)
	if len(got) != 1 || got[0].Client.Name != "vscode" || got[0].Project != "/x" {
		t.Errorf("Resolve(vscode --config, twice) = %+v", got)
	}
}

// TestFixtures wraps every wrappable server of each client's fixture and
// checks that only "command" and "args" of those entries changed, that
// remote entries are listed but not wrapped, and that unwrapping gives back
// the exact original bytes.
func TestFixtures(t *testing.T) {
	tests := []struct {
		client, file string
		wrap, skip   []string // registered names
		// noArgs names an entry without "args": unwrapping leaves an empty
		// one after its command.
		noArgs string
	}{
		{"claude-desktop", "claude_desktop_config.json", []string{"filesystem"}, []string{"ext"}, ""},
		{"claude-code", "claude.json", []string{"memory", "postgres@/Users/alice/src/api", "memory@/Users/alice/src/cli"}, []string{"linear"}, ""},
		{"cursor", "cursor_mcp.json", []string{"github", "notes"}, []string{"context7"}, `"${userHome}/bin/notes-mcp",`},
		{"vscode", "vscode_mcp.json", []string{"fetch", "perplexity"}, []string{"github"}, ""},
		{"windsurf", "windsurf_mcp_config.json", []string{"puppeteer"}, []string{"figma"}, ""},
	}
	spec := claudeconfig.ProxySpec{Exe: "/opt/bin/aim-mcp", Home: "/home/a/.aim-mcp"}
	for _, tt := range tests {
		t.Run(tt.client, func(t *testing.T) {
			c, _ := Lookup(tt.client)
			orig, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			f, err := claudeconfig.Parse(tt.file, orig, c.Format)
			if err != nil {
				t.Fatal(err)
			}
			cfg := &Config{Location: Location{Client: c, Path: tt.file, Format: c.Format}, File: f}
			var wrapped, skipped []string
			for _, s := range cfg.Servers() {
				if s.Skip != "" {
					skipped = append(skipped, s.RegName)
					continue
				}
				p := spec
				p.Client, p.Server = c.Name, s.RegName
				if _, err := f.Wrap(s.Root, s.Name, p); err != nil {
					t.Fatal(err)
				}
				wrapped = append(wrapped, s.RegName)
			}
			slices.Sort(wrapped)
			slices.Sort(tt.wrap)
			if diff := cmp.Diff(wrapped, tt.wrap); diff != "" {
				t.Errorf("wrapped (-got +want):\n%s", diff)
			}
			if diff := cmp.Diff(skipped, tt.skip); diff != "" {
				t.Errorf("skipped (-got +want):\n%s", diff)
			}
			// Everything but the wrapped entries' command and args values is
			// the same: blank those spans out on both sides and compare.
			if got, want := blankCommands(f.Bytes()), blankCommands(orig); got != want {
				t.Errorf("bytes outside command/args changed (-got +want):\n%s", cmp.Diff(got, want))
			}
			for _, s := range cfg.Servers() {
				if s.Skip == "" && (!s.Wrapped || s.Proxy.Server != s.RegName) {
					t.Errorf("%s not wrapped as %q: %+v", s.Name, s.RegName, s.Proxy)
				}
			}
			for _, s := range cfg.Servers() {
				if _, err := f.Unwrap(s.Root, s.Name); err != nil {
					t.Fatal(err)
				}
			}
			want := string(orig)
			if tt.noArgs != "" {
				want = strings.Replace(want, tt.noArgs, tt.noArgs+"\n      \"args\": [],", 1)
			}
			if got := string(f.Bytes()); got != want {
				t.Errorf("wrap+unwrap changed the file (-got +want):\n%s", cmp.Diff(got, want))
			}
		})
	}
}

// blankCommands removes every "command" value and "args" array (with what
// lies inside), so that two versions of a config can be compared on all
// other bytes, comments included.
var commandRE = regexp.MustCompile(`(?s)"command":\s*(/\*.*?\*/\s*)?"(\\.|[^"\\])*"|"args":\s*\[[^\]]*\]`)

func blankCommands(b []byte) string {
	s := commandRE.ReplaceAllString(string(b), "#")
	return regexp.MustCompile(`#,\s*#`).ReplaceAllString(s, "#") // args inserted after a command
}
