package discovery

import (
	"slices"

	"github.com/opena2a-org/aim-mcp/claudeconfig"
)

// ClaudeDesktop is Claude Desktop: claude_desktop_config.json, found per OS
// by [claudeconfig.Locate] (the MSIX package's file first on Windows).
var ClaudeDesktop = Client{
	Name:    claudeconfig.DefaultClient,
	Display: "Claude Desktop",
	Format:  claudeconfig.ClaudeDesktop,
	Paths: func(sys System) []string {
		p, tried := claudeconfig.Locate(sys.GOOS, sys.Getenv, sys.Home, sys.Exists, sys.Glob)
		return append([]string{p}, slices.DeleteFunc(tried, func(s string) bool { return s == p })...)
	},
	Reload:    "quit it completely (from the menu bar or tray, not just the window) and start it again",
	Processes: []string{"claude", "Claude", "claude-desktop", "Claude.exe"},
}

func init() { Register(ClaudeDesktop) }
