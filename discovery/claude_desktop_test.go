package discovery

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestClaudeDesktopLocate(t *testing.T) {
	const (
		local   = `C:\Users\a\AppData\Local`
		msixDir = local + `\Packages\Claude_pzs8sxrjxfjjc\LocalCache\Roaming\Claude`
		msix    = msixDir + `\claude_desktop_config.json`
		otherMS = local + `\Packages\Claude_aaa\LocalCache\Roaming\Claude`
		classic = `C:\Users\a\AppData\Roaming\Claude\claude_desktop_config.json`
		pattern = local + `\Packages\Claude_*\LocalCache\Roaming\Claude`
	)
	winEnv := map[string]string{"LOCALAPPDATA": local, "APPDATA": `C:\Users\a\AppData\Roaming`}
	tests := []struct {
		name       string
		goos, home string
		env        map[string]string
		files      []string // files that exist
		globbed    []string // what the MSIX glob finds
		want       string
		wantTried  []string
		wantUnread string
	}{
		{name: "macos", goos: "darwin", home: "/Users/a", env: map[string]string{"XDG_CONFIG_HOME": "/x"},
			want:      "/Users/a/Library/Application Support/Claude/claude_desktop_config.json",
			wantTried: []string{"/Users/a/Library/Application Support/Claude/claude_desktop_config.json"}},
		{name: "linux default", goos: "linux", home: "/home/a",
			want:      "/home/a/.config/Claude/claude_desktop_config.json",
			wantTried: []string{"/home/a/.config/Claude/claude_desktop_config.json"}},
		{name: "linux xdg", goos: "linux", home: "/home/a", env: map[string]string{"XDG_CONFIG_HOME": "/xdg/"},
			want:      "/xdg/Claude/claude_desktop_config.json",
			wantTried: []string{"/xdg/Claude/claude_desktop_config.json"}},
		{name: "linux relative xdg ignored", goos: "linux", home: "/home/a", env: map[string]string{"XDG_CONFIG_HOME": "rel"},
			want:      "/home/a/.config/Claude/claude_desktop_config.json",
			wantTried: []string{"/home/a/.config/Claude/claude_desktop_config.json"}},
		{name: "windows classic", goos: "windows", home: `C:\Users\a`, env: winEnv,
			files: []string{classic}, want: classic, wantTried: []string{classic}},
		{name: "windows env missing", goos: "windows", home: `C:\Users\a\`,
			want: classic, wantTried: []string{classic}},
		{name: "windows msix preferred", goos: "windows", home: `C:\Users\a`, env: winEnv,
			files: []string{classic, msix}, globbed: []string{msixDir}, want: msix,
			wantTried: []string{msix}, wantUnread: classic},
		{name: "windows msix installed, no file yet: the classic file is not chosen", goos: "windows", home: `C:\Users\a`, env: winEnv,
			files: []string{classic}, globbed: []string{msixDir}, want: msix,
			wantTried: []string{msix}, wantUnread: classic},
		{name: "windows two msix packages, the one with a file wins", goos: "windows", home: `C:\Users\a`, env: winEnv,
			globbed: []string{otherMS, msixDir}, files: []string{msix}, want: msix,
			wantTried: []string{msix, otherMS + `\claude_desktop_config.json`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sys := fakeSys(tt.goos, tt.home, tt.env, tt.files...)
			sys.Glob = func(p string) ([]string, error) {
				if p != pattern {
					t.Errorf("glob(%q), want glob(%q)", p, pattern)
				}
				return tt.globbed, nil
			}
			loc, tried := ClaudeDesktop.Locate(sys)
			if loc.Path != tt.want {
				t.Errorf("Locate() path = %q, want %q", loc.Path, tt.want)
			}
			if diff := cmp.Diff(tried, tt.wantTried); diff != "" {
				t.Errorf("Locate() tried (-got +want):\n%s", diff)
			}
			unread, _, ok := ClaudeDesktop.UnreadFile(sys)
			if !ok {
				unread = ""
			}
			if unread != tt.wantUnread {
				t.Errorf("UnreadFile() = %q, want %q", unread, tt.wantUnread)
			}
		})
	}
}

// With the package installed and only the classic file present, nothing
// is found, and the error says why the classic file is left alone.
func TestResolveMSIXNotWrittenYet(t *testing.T) {
	const (
		local   = `C:\Users\a\AppData\Local`
		msixDir = local + `\Packages\Claude_pzs8sxrjxfjjc\LocalCache\Roaming\Claude`
		classic = `C:\Users\a\AppData\Roaming\Claude\claude_desktop_config.json`
	)
	sys := fakeSys("windows", `C:\Users\a`, map[string]string{"LOCALAPPDATA": local, "APPDATA": `C:\Users\a\AppData\Roaming`}, classic)
	sys.Glob = func(string) ([]string, error) { return []string{msixDir}, nil }

	_, err := Resolve(Selection{Client: "claude-desktop"}, sys)
	var nc *ErrNoConfig
	if !errors.As(err, &nc) {
		t.Fatalf("Resolve() error = %v, want *ErrNoConfig", err)
	}
	if nc.Unread != classic || !strings.Contains(err.Error(), "is not read by the app") {
		t.Errorf("Resolve() error = %v; want it to name %s as not read", err, classic)
	}
	// watch waits for the package's file, never the classic one.
	locs, err := Resolve(Selection{Client: "claude-desktop", Missing: true}, sys)
	if err != nil || len(locs) != 1 || locs[0].Path != msixDir+`\claude_desktop_config.json` {
		t.Errorf("Resolve(Missing) = %v, %v; want the MSIX path", locs, err)
	}
	if slices.ContainsFunc(locs, func(l Location) bool { return l.Path == classic }) {
		t.Errorf("Resolve(Missing) chose the classic file")
	}
}
