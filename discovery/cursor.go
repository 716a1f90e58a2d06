package discovery

import "github.com/opena2a-org/aim-mcp/claudeconfig"

// Cursor keeps user servers in ~/.cursor/mcp.json and a project's in
// .cursor/mcp.json, both under mcpServers.
var Cursor = Client{
	Name:    "cursor",
	Display: "Cursor",
	Format:  claudeconfig.ClaudeDesktop,
	Paths: func(sys System) []string {
		return []string{sys.Join(sys.Home, ".cursor", "mcp.json")}
	},
	Projects: []ProjectFile{{Rel: ".cursor/mcp.json", Format: claudeconfig.ClaudeDesktop}},
	Remote:   &claudeconfig.RemoteStyle{URLKey: "url"},
	Reload:   "restart Cursor, or turn the server off and on in its MCP settings",
}

func init() { Register(Cursor) }
