package discovery

import "github.com/opena2a-org/aim-mcp/claudeconfig"

// ClaudeCode is Claude Code's CLI (and the Code tab of Claude Desktop). Its
// user file ~/.claude.json is a large state file that Claude Code rewrites
// often: servers of user scope sit in the top-level mcpServers, servers of
// local scope in projects["/abs/project"].mcpServers. A project may also
// hold a shared .mcp.json.
var ClaudeCode = Client{
	Name:    "claude-code",
	Display: "Claude Code",
	Format:  claudeconfig.Format{Roots: [][]string{{"mcpServers"}, {"projects", "*", "mcpServers"}}},
	Paths: func(sys System) []string {
		return []string{sys.Join(sys.Home, ".claude.json")}
	},
	Projects: []ProjectFile{{Rel: ".mcp.json", Format: claudeconfig.ClaudeDesktop}},
	Remote:   &claudeconfig.RemoteStyle{URLKey: "url"},
	Reload:   "start a new Claude Code session (it reads the config at start)",
}

func init() { Register(ClaudeCode) }
