package claudeconfig

import (
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
)

// FileName is the base name of Claude Desktop's config file on every OS.
const FileName = "claude_desktop_config.json"

// Locate returns where Claude Desktop's config lives on goos, and every path
// it looked at, in order, so a caller can say where it searched when the file
// is missing. The chosen path is returned even when no file exists: it is
// where the app would read one.
//
// It takes the environment as functions so that it is pure and every OS can
// be tested anywhere. glob lists the existing paths matching a pattern
// (filepath.Glob); exists reports whether a file exists.
//
//   - darwin: ~/Library/Application Support/Claude/.
//   - windows: the MSIX package's %LOCALAPPDATA%\Packages\Claude_*\LocalCache\Roaming\Claude\
//     when that package is installed: the Store build and, since early 2026, the regular
//     installer read only that file, so a classic %APPDATA%\Claude\ file next to it is stale.
//     Otherwise %APPDATA%\Claude\.
//   - anything else: $XDG_CONFIG_HOME/Claude/ (when absolute), else ~/.config/Claude/.
func Locate(goos string, getenv func(string) string, home string, exists func(string) bool, glob func(string) ([]string, error)) (path string, tried []string) {
	switch goos {
	case "darwin":
		p := joinSlash(home, "Library", "Application Support", "Claude", FileName)
		return p, []string{p}
	case "windows":
		return locateWindows(getenv, home, exists, glob)
	}
	base := getenv("XDG_CONFIG_HOME")
	if !strings.HasPrefix(base, "/") {
		base = joinSlash(home, ".config")
	}
	p := joinSlash(base, "Claude", FileName)
	return p, []string{p}
}

func locateWindows(getenv func(string) string, home string, exists func(string) bool, glob func(string) ([]string, error)) (string, []string) {
	local := getenv("LOCALAPPDATA")
	if local == "" {
		local = joinBackslash(home, "AppData", "Local")
	}
	roaming := getenv("APPDATA")
	if roaming == "" {
		roaming = joinBackslash(home, "AppData", "Roaming")
	}
	classic := joinBackslash(roaming, "Claude", FileName)

	var tried, msix []string
	pattern := joinBackslash(local, "Packages", "Claude_*", "LocalCache", "Roaming", "Claude")
	dirs, _ := glob(pattern) // the only possible error is a malformed pattern
	for _, d := range dirs {
		p := joinBackslash(d, FileName)
		tried = append(tried, p)
		msix = append(msix, p)
	}
	if len(msix) == 0 {
		tried = append(tried, joinBackslash(pattern, FileName))
	}
	tried = append(tried, classic)
	for _, p := range msix {
		if exists(p) {
			return p, tried
		}
	}
	if len(msix) > 0 {
		return msix[0], tried
	}
	return classic, tried
}

// joinSlash and joinBackslash build paths for a given OS whatever OS runs
// the code, which filepath.Join cannot do.
func joinSlash(elem ...string) string { return path.Join(elem...) }

func joinBackslash(elem ...string) string {
	out := strings.TrimRight(elem[0], `\/`)
	for _, e := range elem[1:] {
		out += `\` + strings.Trim(e, `\/`)
	}
	return out
}

// DefaultPath is [Locate] for the running OS and user.
func DefaultPath() (path string, tried []string) {
	home, _ := os.UserHomeDir()
	exists := func(p string) bool {
		fi, err := os.Stat(p)
		return err == nil && !fi.IsDir()
	}
	return Locate(runtime.GOOS, os.Getenv, home, exists, filepath.Glob)
}
