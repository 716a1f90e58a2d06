package claudeconfig

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestLocate(t *testing.T) {
	const (
		local   = `C:\Users\a\AppData\Local`
		msixDir = local + `\Packages\Claude_pzs8sxrjxfjjc\LocalCache\Roaming\Claude`
		msix    = msixDir + `\claude_desktop_config.json`
		classic = `C:\Users\a\AppData\Roaming\Claude\claude_desktop_config.json`
		pattern = local + `\Packages\Claude_*\LocalCache\Roaming\Claude`
	)
	tests := []struct {
		name      string
		goos      string
		env       map[string]string
		home      string
		files     []string // files that exist
		globbed   []string // what the MSIX glob finds
		want      string
		wantTried []string
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
		{name: "windows classic", goos: "windows", home: `C:\Users\a`,
			env:   map[string]string{"LOCALAPPDATA": local, "APPDATA": `C:\Users\a\AppData\Roaming`},
			files: []string{classic}, want: classic,
			wantTried: []string{pattern + `\claude_desktop_config.json`, classic}},
		{name: "windows env missing", goos: "windows", home: `C:\Users\a\`,
			want:      classic,
			wantTried: []string{pattern + `\claude_desktop_config.json`, classic}},
		{name: "windows msix preferred", goos: "windows", home: `C:\Users\a`,
			env:   map[string]string{"LOCALAPPDATA": local, "APPDATA": `C:\Users\a\AppData\Roaming`},
			files: []string{classic, msix}, globbed: []string{msixDir}, want: msix,
			wantTried: []string{msix, classic}},
		{name: "windows msix installed, no file yet", goos: "windows", home: `C:\Users\a`,
			env:   map[string]string{"LOCALAPPDATA": local, "APPDATA": `C:\Users\a\AppData\Roaming`},
			files: []string{classic}, globbed: []string{msixDir}, want: msix,
			wantTried: []string{msix, classic}},
		{name: "windows two msix packages, the one with a file wins", goos: "windows", home: `C:\Users\a`,
			env:     map[string]string{"LOCALAPPDATA": local, "APPDATA": `C:\Users\a\AppData\Roaming`},
			globbed: []string{local + `\Packages\Claude_aaa\LocalCache\Roaming\Claude`, msixDir},
			files:   []string{msix}, want: msix,
			wantTried: []string{local + `\Packages\Claude_aaa\LocalCache\Roaming\Claude\claude_desktop_config.json`, msix, classic}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(k string) string { return tt.env[k] }
			exists := func(p string) bool {
				for _, f := range tt.files {
					if f == p {
						return true
					}
				}
				return false
			}
			glob := func(p string) ([]string, error) {
				if p != pattern {
					t.Errorf("glob(%q), want glob(%q)", p, pattern)
				}
				return tt.globbed, nil
			}
			got, tried := Locate(tt.goos, getenv, tt.home, exists, glob)
			if got != tt.want {
				t.Errorf("Locate() path = %q, want %q", got, tt.want)
			}
			if diff := cmp.Diff(tried, tt.wantTried); diff != "" {
				t.Errorf("Locate() tried (-got +want):\n%s", diff)
			}
		})
	}
}

func TestDefaultPath(t *testing.T) {
	p, tried := DefaultPath()
	if p == "" || len(tried) == 0 {
		t.Errorf("DefaultPath() = %q, %q; want a path", p, tried)
	}
}
