//go:build linux

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestRemoteInstallClaudeCode: a Claude Code user has the real
// server-everything as a remote server ("type": "http" in ~/.claude.json).
// install rewrites the entry into one that runs aim-mcp proxy --url; the
// official client runs the everything suite once straight over streamable
// HTTP and once through exactly the command line install wrote, and the two
// documents must be equal. Every call is in the audit trail, which
// verifies; uninstall gives the file back byte for byte.
func TestRemoteInstallClaudeCode(t *testing.T) {
	h := setup(t)
	if relayMode() {
		t.Skip("AIM_E2E_WRAPPER=relay: install is aim-mcp's")
	}
	dir := runDir(t)
	user := userHome(dir)
	home := filepath.Join(dir, "home")
	writeConfig(t, user, transparentConfig)
	url := startEverythingHTTP(t, h, user)

	cfgPath := filepath.Join(user, ".claude.json")
	orig := fmt.Sprintf(`{
  "numStartups": 7,
  "mcpServers": {
    "everything": {
      "type": "http",
      "url": %q
    }
  }
}
`, url)
	if err := os.WriteFile(cfgPath, []byte(orig), 0o600); err != nil {
		t.Fatal(err)
	}
	out := cliAs(t, user)("install", "--client", "claude-code", "--home", home, "--scan-timeout", "0")
	if !strings.Contains(out, "everything") || !strings.Contains(out, "wrapped, remote "+url+" (http)") {
		t.Fatalf("install did not rewrite the remote entry:\n%s", out)
	}
	var cfg struct {
		MCPServers map[string]struct {
			Type    string            `json:"type"`
			Command string            `json:"command"`
			Args    []string          `json:"args"`
			Env     map[string]string `json:"env"`
			URL     *string           `json:"url"`
		} `json:"mcpServers"`
	}
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("config after install: %v\n%s", err, b)
	}
	e := cfg.MCPServers["everything"]
	if e.Type != "stdio" || e.Command != aimBin || e.URL != nil {
		t.Fatalf("rewritten entry: type %q, command %q, url %v; want a stdio entry that runs %s\n%s", e.Type, e.Command, e.URL, aimBin, b)
	}
	i := slices.Index(e.Args, "--url")
	if i < 0 || i+1 >= len(e.Args) || e.Args[i+1] != url || !slices.Contains(e.Args, "--entry") {
		t.Fatalf("rewritten args %q: want --url %s and --entry", e.Args, url)
	}
	if j := slices.Index(e.Args, "--transport"); j < 0 || e.Args[j+1] != "http" {
		t.Errorf("rewritten args %q: want --transport http, from the entry's type", e.Args)
	}

	// server-everything refuses an HTTP body over 4 MiB: the large echo
	// is 1 MiB here, on both sides.
	big := []string{"--big-mib", "1"}
	direct := h.drive(t, "direct", "everything", dir, append([]string{"--url", url}, big...), nil)
	proxied := h.drive(t, "proxied", "everything", dir, big, append([]string{e.Command}, e.Args...))
	compare(t, "everything over streamable HTTP", direct, proxied)
	checkAudit(t, user, home, "everything", true, proxied)

	cliAs(t, user)("uninstall", "--client", "claude-code", "--home", home)
	if got, err := os.ReadFile(cfgPath); err != nil || !bytes.Equal(got, []byte(orig)) {
		t.Errorf("after uninstall the config is\n%s\nwant the original\n%s", got, orig)
	}
}

// startEverythingHTTP starts server-everything in its streamableHttp mode
// on a free loopback port and returns its endpoint. It takes a few seconds
// to listen.
func startEverythingHTTP(t *testing.T, h *harness, user string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	var log bytes.Buffer
	cmd := exec.Command("node", h.everything, "streamableHttp")
	cmd.Env = testEnv(user, fmt.Sprintf("PORT=%d", port))
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("server-everything streamableHttp:\n%s", tail(log.String(), 4000))
		}
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return "http://" + addr + "/mcp"
		}
	}
	t.Fatalf("server-everything did not listen on %s within 30s", addr)
	return ""
}
