package examples

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opena2a-org/aim-mcp/registry"
)

// TestNotesServerSecured starts the notes server with -secure, as a client
// config that aim-mcp never wrapped would, and drives it with the demo's
// stand-in client: the read-only tool runs, the destructive one waits for
// a person and, with nobody answering, is refused and never deletes the
// note; every call is in the home's chain under the server's own identity.
func TestNotesServerSecured(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"notes-server", "client"} {
		if out, err := exec.Command("go", "build", "-o", filepath.Join(dir, p), "./"+p).CombinedOutput(); err != nil {
			t.Fatalf("go build ./%s: %v\n%s", p, err, out)
		}
	}
	home, notes := filepath.Join(dir, "home"), filepath.Join(dir, "notes")
	if err := os.MkdirAll(notes, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(notes, "notes.txt"), []byte("milk\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgYAML := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgYAML, []byte("approval_wait: 300ms\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	entry := map[string]any{"mcpServers": map[string]any{"notes": map[string]any{
		"command": filepath.Join(dir, "notes-server"), "args": []string{"-dir", notes, "-secure", "notes"},
		"env": map[string]string{"AIM_MCP_HOME": home, "AIM_MCP_CONFIG": cfgYAML, "AIM_MCP_SYSLOG": "off"},
	}}}
	b, _ := json.Marshal(entry)
	cfg := filepath.Join(dir, "claude_desktop_config.json")
	if err := os.WriteFile(cfg, b, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(dir, "client"), "-config", cfg, "notes", "read_notes", "{}", "delete_notes", "{}")
	cmd.Env = append(os.Environ(), "AIM_PRIVATE_KEY=", "AIM_MCP_PROXIED=")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("client: %v\n%s%s", err, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "read_notes: ok") || !strings.Contains(out.String(), "delete_notes: refused") ||
		!strings.Contains(out.String(), "aim-mcp approve") {
		t.Fatalf("want read_notes run and delete_notes held, then refused:\n%s%s", out.String(), errb.String())
	}
	if b, _ := os.ReadFile(filepath.Join(notes, "notes.txt")); string(b) != "milk\n" {
		t.Errorf("notes.txt is %q after a refused delete_notes", b)
	}
	db, err := registry.Open(context.Background(), filepath.Join(home, "aim.db"), registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	srv, err := db.Server(context.Background(), "go-sdk", "notes")
	if err != nil || srv.AgentType != registry.MCPServer {
		t.Fatalf("the server's identity: %+v, %v; want an mcp_server", srv, err)
	}
	recs, err := db.Records(context.Background(), registry.Filter{ServerID: srv.ID})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		got = append(got, r.Kind+":"+r.Tool)
	}
	if want := "call:read_notes outcome:read_notes denied:delete_notes"; strings.Join(got, " ") != want {
		t.Errorf("records %q, want %q", strings.Join(got, " "), want)
	}
}
