package discovery

import "github.com/opena2a-org/aim-mcp/claudeconfig"

// Windsurf keeps its servers in ~/.codeium/windsurf/mcp_config.json under
// mcpServers; remote ones use serverUrl.
var Windsurf = Client{
	Name:    "windsurf",
	Display: "Windsurf",
	Format:  claudeconfig.ClaudeDesktop,
	Paths: func(sys System) []string {
		return []string{sys.Join(sys.Home, ".codeium", "windsurf", "mcp_config.json")}
	},
	Remote: &claudeconfig.RemoteStyle{URLKey: "serverUrl"},
	Reload: "press refresh in Windsurf's MCP panel, or restart Windsurf",
}

func init() { Register(Windsurf) }
