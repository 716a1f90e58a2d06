package discovery

import (
	"slices"

	"github.com/opena2a-org/aim-mcp/claudeconfig"
)

// claudeDesktopFile is the base name of Claude Desktop's config on every OS.
const claudeDesktopFile = "claude_desktop_config.json"

// ClaudeDesktop is Claude Desktop: claude_desktop_config.json in its
// settings directory.
//
//   - darwin: ~/Library/Application Support/Claude/.
//   - windows: the MSIX package's %LOCALAPPDATA%\Packages\Claude_*\LocalCache\Roaming\Claude\
//     when that package is installed: the Store build and, since early 2026, the regular
//     installer read only that file, so a classic %APPDATA%\Claude\ file next to it is
//     stale (see Unread). Otherwise %APPDATA%\Claude\.
//   - anything else: $XDG_CONFIG_HOME/Claude/ (when absolute), else ~/.config/Claude/.
var ClaudeDesktop = Client{
	Name:    claudeconfig.DefaultClient,
	Display: "Claude Desktop",
	Format:  claudeconfig.ClaudeDesktop,
	Paths: func(sys System) []string {
		if sys.GOOS != "windows" {
			return []string{sys.Join(sys.configHome(), "Claude", claudeDesktopFile)}
		}
		if msix := claudeMSIX(sys); len(msix) > 0 {
			// The package with a file first: that is the one in use.
			slices.SortStableFunc(msix, func(a, b string) int {
				return boolOrder(sys.Exists(b)) - boolOrder(sys.Exists(a))
			})
			return msix
		}
		return []string{claudeClassic(sys)}
	},
	Unread: func(sys System) (string, string) {
		if sys.GOOS != "windows" || len(claudeMSIX(sys)) == 0 {
			return "", ""
		}
		return claudeClassic(sys), "Claude Desktop is installed as an MSIX package, which reads only the config in its package folder"
	},
	Reload:    "quit it completely (from the menu bar or tray, not just the window) and start it again",
	Processes: []string{"claude", "Claude", "claude-desktop", "Claude.exe"},
}

// claudeMSIX lists the config paths of the installed Claude MSIX packages
// (usually one), whether or not the app has written them yet.
func claudeMSIX(sys System) []string {
	local := sys.Getenv("LOCALAPPDATA")
	if local == "" {
		local = sys.Join(sys.Home, "AppData", "Local")
	}
	dirs, _ := sys.Glob(sys.Join(local, "Packages", "Claude_*", "LocalCache", "Roaming", "Claude")) // only a malformed pattern fails
	var out []string
	for _, d := range dirs {
		out = append(out, sys.Join(d, claudeDesktopFile))
	}
	return out
}

// claudeClassic is where Claude Desktop's config lived before the MSIX
// package: %APPDATA%\Claude.
func claudeClassic(sys System) string {
	return sys.Join(sys.configHome(), "Claude", claudeDesktopFile)
}

func boolOrder(b bool) int {
	if b {
		return 1
	}
	return 0
}

func init() { Register(ClaudeDesktop) }
