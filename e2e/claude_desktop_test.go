//go:build linux

package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

type entry struct {
	Command string            `json:"command"`
	Args    []string          `json:"args"`
	Env     map[string]string `json:"env,omitempty"`
}

// TestClaudeDesktopInstall writes a Claude Desktop config with the reference
// servers as plain stdio entries, lets `aim-mcp install` wrap them, and runs
// each suite through exactly the command line written into the file, as
// Claude Desktop would.
func TestClaudeDesktopInstall(t *testing.T) {
	h := setup(t)
	dir := runDir(t)
	user := userHome(dir)
	writeConfig(t, user, transparentConfig)
	aimHome := filepath.Join(dir, "aim-home")
	fsRoot := filepath.Join(dir, "desktop")
	memFile := filepath.Join(dir, "memory.jsonl")
	cfgDir := filepath.Join(user, ".config", "Claude")
	for _, d := range []string{cfgDir, fsRoot} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cfgPath := filepath.Join(cfgDir, "claude_desktop_config.json")
	orig := map[string]entry{
		"everything": {Command: "node", Args: []string{h.everything, "stdio"}},
		"filesystem": {Command: "node", Args: []string{h.filesystem, fsRoot}},
		"memory":     {Command: "node", Args: []string{h.memory}, Env: map[string]string{"MEMORY_FILE_PATH": memFile}},
	}
	cfg := map[string]any{
		"mcpServers":     orig,
		"globalShortcut": "Alt+Space",
		"preferences":    map[string]any{"quickEntryShortcut": "off", "menuBarEnabled": false},
	}
	body, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgPath, body, 0o600); err != nil {
		t.Fatal(err)
	}

	if relayMode() {
		emulateInstall(t, cfgPath)
	} else {
		install := func() []byte {
			cmd := exec.Command(aimBin, "install", "--config", cfgPath, "--home", aimHome)
			cmd.Env = testEnv(user)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("aim-mcp install --config %s --home %s: %v\n%s", cfgPath, aimHome, err, out)
			}
			b, err := os.ReadFile(cfgPath)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		first := install()
		if second := install(); !bytes.Equal(first, second) {
			t.Errorf("aim-mcp install is not idempotent: a second run changed the file:\n%s", cmp.Diff(string(first), string(second)))
		}
	}

	var got struct {
		MCPServers     map[string]entry `json:"mcpServers"`
		GlobalShortcut any              `json:"globalShortcut"`
		Preferences    any              `json:"preferences"`
	}
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("config after install is not JSON: %v\n%s", err, b)
	}
	if diff := cmp.Diff(cfg["preferences"], got.Preferences); diff != "" || got.GlobalShortcut != "Alt+Space" {
		t.Errorf("install changed keys it does not own: globalShortcut=%v, preferences (-want +got):\n%s", got.GlobalShortcut, diff)
	}
	if len(got.MCPServers) != len(orig) {
		t.Fatalf("config after install has %d servers, want %d:\n%s", len(got.MCPServers), len(orig), b)
	}
	if !relayMode() {
		for name, e := range got.MCPServers {
			checkWrapped(t, name, e, orig[name], aimHome)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	for _, name := range []string{"everything", "filesystem", "memory"} {
		t.Run(name, func(t *testing.T) {
			o, w := orig[name], got.MCPServers[name]
			var extra []string
			for k, v := range w.Env {
				extra = append(extra, "--env", k+"="+v)
			}
			if name == "filesystem" {
				extra = append(extra, "--fs-root", fsRoot)
			}
			direct := h.drive(t, "direct", name, dir, extra, append([]string{o.Command}, o.Args...))
			proxied := h.drive(t, "claude-desktop", name, dir, extra, append([]string{w.Command}, w.Args...))
			compare(t, name, direct, proxied)
			if name == "everything" {
				checkEverythingDoc(t, proxied)
			}
			checkAudit(t, user, aimHome, name, false, proxied)
		})
	}
}

// checkWrapped asserts the install contract for one entry: the absolute path
// of this aim-mcp, "proxy", the server's name and the pinned home, and after
// the first "--" the original command line verbatim; env untouched.
func checkWrapped(t *testing.T, name string, got, orig entry, home string) {
	t.Helper()
	if !filepath.IsAbs(got.Command) {
		t.Errorf("%s: command %q is not absolute", name, got.Command)
	}
	if a, err1 := os.Stat(got.Command); err1 != nil {
		t.Errorf("%s: command %q: %v", name, got.Command, err1)
	} else if b, err2 := os.Stat(aimBin); err2 != nil || !os.SameFile(a, b) {
		t.Errorf("%s: command %q is not the aim-mcp under test (%s)", name, got.Command, aimBin)
	}
	sep := -1
	for i, a := range got.Args {
		if a == "--" {
			sep = i
			break
		}
	}
	if sep < 0 || len(got.Args) == 0 || got.Args[0] != "proxy" {
		t.Errorf("%s: args %q: want [proxy ... -- %s %q]", name, got.Args, orig.Command, orig.Args)
		return
	}
	flags := got.Args[1:sep]
	flag := func(f string) string {
		for i := 0; i+1 < len(flags); i++ {
			if flags[i] == f {
				return flags[i+1]
			}
		}
		return ""
	}
	if flag("--server") != name {
		t.Errorf("%s: args %q: --server = %q, want %q", name, got.Args, flag("--server"), name)
	}
	if flag("--home") != home {
		t.Errorf("%s: args %q: --home = %q, want %q", name, got.Args, flag("--home"), home)
	}
	if diff := cmp.Diff(append([]string{orig.Command}, orig.Args...), got.Args[sep+1:]); diff != "" {
		t.Errorf("%s: the original command line after -- changed (-want +got):\n%s", name, diff)
	}
	if diff := cmp.Diff(orig.Env, got.Env); diff != "" {
		t.Errorf("%s: env changed (-want +got):\n%s", name, diff)
	}
}

// emulateInstall wraps each entry with the bare relay (AIM_E2E_WRAPPER=relay).
func emulateInstall(t *testing.T, cfgPath string) {
	t.Helper()
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]json.RawMessage
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	var servers map[string]entry
	if err := json.Unmarshal(cfg["mcpServers"], &servers); err != nil {
		t.Fatal(err)
	}
	for name, e := range servers {
		servers[name] = entry{Command: relayBin, Args: append([]string{"--", e.Command}, e.Args...), Env: e.Env}
	}
	if cfg["mcpServers"], err = json.Marshal(servers); err != nil {
		t.Fatal(err)
	}
	if b, err = json.MarshalIndent(cfg, "", "  "); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgPath, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
