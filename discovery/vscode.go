package discovery

import "github.com/opena2a-org/aim-mcp/claudeconfig"

// vscodeFormat is mcp.json of VS Code: servers under "servers" (beside
// "inputs"), written as JSONC.
var vscodeFormat = claudeconfig.Format{Roots: [][]string{{"servers"}}, JSONC: true}

// VSCode is Visual Studio Code: the user's mcp.json in its User settings
// directory, and a workspace's .vscode/mcp.json.
var VSCode = Client{
	Name:    "vscode",
	Display: "VS Code",
	Format:  vscodeFormat,
	Paths: func(sys System) []string {
		return []string{sys.Join(sys.configHome(), "Code", "User", "mcp.json")}
	},
	Projects: []ProjectFile{{Rel: ".vscode/mcp.json", Format: vscodeFormat}},
	Remote:   &claudeconfig.RemoteStyle{URLKey: "url", HTTPFallback: true},
	Reload:   "restart the servers (command \"MCP: List Servers\") or reload the VS Code window",
}

func init() { Register(VSCode) }
