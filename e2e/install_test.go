//go:build linux

package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// cliAs returns the aim-mcp CLI run with HOME user, as a person types it:
// its stdout, and the test fails on an error.
func cliAs(t *testing.T, user string) func(args ...string) string {
	return func(args ...string) string {
		t.Helper()
		out, _, err := aim(t, user, args...)
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
}

// installOne writes a Claude Desktop config that holds the one server
// name, runs `aim-mcp install` on it with home aimHome, checks the entry
// was wrapped, and returns the command line the client would now run and
// what install printed.
func installOne(t *testing.T, user, aimHome, name string, orig entry) (cmdline []string, out string) {
	t.Helper()
	cfgDir := filepath.Join(user, ".config", "Claude")
	if err := os.MkdirAll(cfgDir, 0o755); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(cfgDir, "claude_desktop_config.json")
	body, err := json.MarshalIndent(map[string]any{"mcpServers": map[string]entry{name: orig}}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgPath, body, 0o600); err != nil {
		t.Fatal(err)
	}
	out = cliAs(t, user)("install", "--config", cfgPath, "--home", aimHome)
	var cfg struct {
		MCPServers map[string]entry `json:"mcpServers"`
	}
	if b, err := os.ReadFile(cfgPath); err != nil {
		t.Fatal(err)
	} else if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("config after install: %v\n%s", err, b)
	}
	wrapped := cfg.MCPServers[name]
	checkWrapped(t, name, wrapped, orig, aimHome)
	return append([]string{wrapped.Command}, wrapped.Args...), out
}
