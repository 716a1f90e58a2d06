package watch

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opena2a-org/aim-mcp/claudeconfig"
	"github.com/opena2a-org/aim-mcp/discovery"
)

// TestReconcileRemote: with Entries set, a Cursor url entry becomes an
// aim-mcp proxy --url entry, registered under its URL, and its original is
// kept before the file is written; a second pass changes nothing, and
// without Entries remote entries stay skipped.
func TestReconcileRemote(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "mcp.json")
	orig := `{"mcpServers": {"r": {"url": "https://r.example/mcp", "headers": {"X-K": "v-1"}}, "s": {"command": "node", "args": ["s.js"]}}}`
	write(t, path, orig)
	reg := newFakeRegistry()

	off := newReconciler(t, reg)
	res, err := off.Reconcile(t.Context(), load(t, discovery.Cursor, path))
	if err != nil {
		t.Fatal(err)
	}
	if o := res.Outcomes[0]; o.Action != Skipped || o.Skip != claudeconfig.SkipRemote {
		t.Errorf("without Entries: %s %q, want skipped", o.Action, o.Skip)
	}

	write(t, path, orig)
	r := newReconciler(t, reg)
	r.Entries = filepath.Join(r.Home, "entries")
	res, err = r.Reconcile(t.Context(), load(t, discovery.Cursor, path))
	if err != nil {
		t.Fatal(err)
	}
	o := res.Outcomes[0]
	if o.Action != Wrapped || !strings.Contains(o.Note, "remote https://r.example/mcp (auto; headers [X-K])") {
		t.Errorf("remote outcome: %s, note %q", o.Action, o.Note)
	}
	if srv, err := reg.Server(t.Context(), "cursor", "r"); err != nil || srv.Command != "https://r.example/mcp" || len(srv.Args) != 0 {
		t.Errorf("registration: %+v, %v; want the URL as its command", srv, err)
	}
	saved, err := claudeconfig.SavedEntries(r.Entries)
	if err != nil || len(saved) != 1 {
		t.Fatalf("kept entries: %v, %v; want one", saved, err)
	}
	if s := saved[0]; s.Config != path || s.Name != "r" || s.Transport != "auto" ||
		s.Original != `{"url": "https://r.example/mcp", "headers": {"X-K": "v-1"}}` {
		t.Errorf("kept entry: %+v", s)
	}
	got := read(t, path)
	if !strings.Contains(got, `"--entry", "`+saved[0].ID+`"`) || !strings.Contains(got, `"env": {"AIM_MCP_HEADER_1": "v-1"}`) {
		t.Errorf("written config:\n%s", got)
	}

	res, err = r.Reconcile(t.Context(), load(t, discovery.Cursor, path))
	if err != nil {
		t.Fatal(err)
	}
	if res.Wrote || res.Outcomes[0].Action != AlreadyWrapped {
		t.Errorf("second pass: wrote %v, %s", res.Wrote, res.Outcomes[0].Action)
	}
	if des, _ := os.ReadDir(r.Entries); len(des) != 1 {
		t.Errorf("second pass kept %d entries, want still 1", len(des))
	}
}
