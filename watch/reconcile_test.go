package watch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/opena2a-org/aim-mcp/discovery"
	"github.com/opena2a-org/aim-mcp/identity"
	"github.com/opena2a-org/aim-mcp/internal/canon"
	"github.com/opena2a-org/aim-mcp/registry"
)

func load(t *testing.T, c discovery.Client, path string) *discovery.Config {
	t.Helper()
	cfg, err := c.At(path, discovery.Host()).Load()
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func newReconciler(t *testing.T, reg Registry) *Reconciler {
	home := t.TempDir()
	return &Reconciler{Registry: reg, Exe: exe, Home: home, Backups: filepath.Join(home, "backups"), Writable: writable}
}

// openRegistry opens a real registry in dir for the length of the test.
func openRegistry(t *testing.T, dir string) *registry.DB {
	t.Helper()
	db, err := registry.Open(t.Context(), filepath.Join(dir, "aim.db"), registry.Options{Keys: identity.Store{Dir: filepath.Join(dir, "keys")}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestReconcileRereads: Claude Code rewrites ~/.claude.json while aim-mcp
// works on it. The write must not undo the app's change: the file is read
// again just before writing, and the work redone on the new bytes.
func TestReconcileRereads(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), ".claude.json")
	write(t, path, `{"numStartups": 1, "mcpServers": {"a": {"command": "npx", "args": ["a"]}}}`)
	reg := newFakeRegistry()
	var once sync.Once
	reg.onRegister = func(registry.Registration) {
		once.Do(func() { // the app writes while we register
			write(t, path, `{"numStartups": 2, "mcpServers": {"a": {"command": "npx", "args": ["a"]}}}`)
		})
	}
	r := newReconciler(t, reg)
	res, err := r.Reconcile(t.Context(), load(t, discovery.ClaudeCode, path))
	if err != nil {
		t.Fatal(err)
	}
	if res.Rereads != 1 || !res.Wrote {
		t.Errorf("Rereads %d, Wrote %v; want 1, true", res.Rereads, res.Wrote)
	}
	got := read(t, path)
	if !strings.Contains(got, `"numStartups": 2`) || !strings.Contains(got, `"--client", "claude-code", "--server", "a"`) {
		t.Errorf("file after reconcile:\n%s", got)
	}
}

// TestReconcileClaudeCode: servers of a project's local scope are
// registered as NAME@PROJECT, so the same name in two projects (and in the
// user scope) gives three registrations; remote ones are only listed.
func TestReconcileClaudeCode(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), ".claude.json")
	src := `{
  "mcpServers": {"db": {"type": "stdio", "command": "uvx", "args": ["db"]}, "web": {"type": "http", "url": "https://x"}},
  "projects": {
    "/src/api": {"mcpServers": {"db": {"command": "uvx", "args": ["db", "--api"]}}, "history": []},
    "/src/web": {"mcpServers": {"db": {"command": "uvx", "args": ["db", "--web"]}}}
  },
  "userID": "abc"
}`
	write(t, path, src)
	reg := newFakeRegistry()
	r := newReconciler(t, reg)
	res, err := r.Reconcile(t.Context(), load(t, discovery.ClaudeCode, path))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range res.Outcomes {
		got = append(got, o.RegName+": "+o.Action)
	}
	want := []string{"db: wrapped", "web: skipped", "db@/src/api: wrapped", "db@/src/web: wrapped"}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("outcomes (-got +want):\n%s", diff)
	}
	for _, name := range []string{"db", "db@/src/api", "db@/src/web"} {
		if reg.status("claude-code", name) != registry.StatusActive {
			t.Errorf("%s not registered", name)
		}
	}
	out := read(t, path)
	if !strings.Contains(out, `"args": ["proxy", "--client", "claude-code", "--server", "db@/src/api", "--home", "`+r.Home+`", "--", "uvx", "db", "--api"]`) {
		t.Errorf("project entry not wrapped as db@/src/api:\n%s", out)
	}
	if !strings.Contains(out, `"userID": "abc"`) || !strings.Contains(out, `"history": []`) {
		t.Errorf("keys outside mcpServers changed:\n%s", out)
	}
	// Idempotent.
	res, err = r.Reconcile(t.Context(), load(t, discovery.ClaudeCode, path))
	if err != nil || res.Wrote {
		t.Errorf("second Reconcile: wrote %v, err %v", res.Wrote, err)
	}
}

// TestReconcileSameNameTwoClients: Claude Desktop and Cursor both have a
// "filesystem" server. Each client gets its own registration and key, in
// the real registry.
func TestReconcileSameNameTwoClients(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := openRegistry(t, dir)
	r := newReconciler(t, db)
	desktop, cursor := filepath.Join(dir, "claude_desktop_config.json"), filepath.Join(dir, "mcp.json")
	write(t, desktop, config("filesystem"))
	write(t, cursor, config("filesystem"))
	for _, c := range []struct {
		client discovery.Client
		path   string
	}{{discovery.ClaudeDesktop, desktop}, {discovery.Cursor, cursor}} {
		if _, err := r.Reconcile(t.Context(), load(t, c.client, c.path)); err != nil {
			t.Fatal(err)
		}
	}
	servers, err := db.Servers(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(servers) != 2 || servers[0].Client == servers[1].Client || servers[0].PublicKey == servers[1].PublicKey {
		t.Errorf("want two registrations with their own keys, got %+v", servers)
	}
	if !strings.Contains(read(t, cursor), `"--client", "cursor", "--server", "filesystem"`) {
		t.Errorf("cursor entry lacks --client cursor:\n%s", read(t, cursor))
	}
	in, err := db.Install(t.Context(), cursor)
	if err != nil || in.WrittenHash != canon.Sum([]byte(read(t, cursor))) {
		t.Errorf("install record %+v, %v; want the hash of the written file", in, err)
	}
}

// TestReconcileRemoved: a server that left a file is marked removed, even
// when it left while nothing watched; one that moved to another file of the
// same client is not.
func TestReconcileRemoved(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	reg := newFakeRegistry()
	r := newReconciler(t, reg)
	one, two := filepath.Join(dir, "one.json"), filepath.Join(dir, "two.json")
	write(t, one, config("a", "b", "c"))
	write(t, two, config("x"))
	rec := func(p string) Result {
		res, err := r.Reconcile(t.Context(), load(t, discovery.ClaudeDesktop, p))
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	rec(one)
	rec(two)
	write(t, one, config("a"))
	write(t, two, config("x", "c")) // c moved
	rec(two)
	res := rec(one)
	if len(res.Removed) != 1 || res.Removed[0].Name != "b" {
		t.Errorf("Removed = %+v, want b", res.Removed)
	}
	for name, want := range map[string]string{"a": "active", "b": "removed", "c": "active", "x": "active"} {
		if got := reg.status("claude-desktop", name); got != want {
			t.Errorf("%s is %s, want %s", name, got, want)
		}
	}
	// Back in the file: active again.
	write(t, one, config("a", "b"))
	rec(one)
	if got := reg.status("claude-desktop", "b"); got != "active" {
		t.Errorf("b back in the file is %s, want active", got)
	}
}

// TestStateInRegistry: what is known of each config file lives in the
// registry's configs table. A home that still has the legacy configs.json
// gets it imported (the file kept, renamed), so a server that left a file
// while aim-mcp was being upgraded is still marked removed; a release
// survives uninstall forgetting its write, and a reconcile takes it back.
func TestStateInRegistry(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := openRegistry(t, dir)
	r := newReconciler(t, db)
	one, two := filepath.Join(dir, "one.json"), filepath.Join(dir, "two.json")
	write(t, two, config("x", "c"))
	for _, name := range []string{"a", "b", "c", "x"} {
		if _, _, err := db.Register(t.Context(), registry.Registration{Client: "claude-desktop", Name: name, Command: "npx"}); err != nil {
			t.Fatal(err)
		}
	}
	legacy := filepath.Join(r.Home, legacyStateFile)
	write(t, legacy, fmt.Sprintf(`{"configs":{%q:{"client":"claude-desktop","servers":["a","b","c"]},%q:{"client":"claude-desktop","servers":["x"]}}}`, one, two))
	write(t, one, config("a")) // b left, c moved to two, while nothing watched
	if _, err := r.Reconcile(t.Context(), load(t, discovery.ClaudeDesktop, two)); err != nil {
		t.Fatal(err)
	}
	res, err := r.Reconcile(t.Context(), load(t, discovery.ClaudeDesktop, one))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Removed) != 1 || res.Removed[0].Name != "b" {
		t.Errorf("Removed = %+v, want b", res.Removed)
	}
	if _, err := os.Stat(legacy); !os.IsNotExist(err) {
		t.Errorf("configs.json is still there: %v", err)
	}
	if _, err := os.Stat(legacy + ".imported"); err != nil {
		t.Errorf("configs.json was not kept: %v", err)
	}
	st, err := db.ConfigState(t.Context(), one)
	if err != nil || !slices.Equal(st.Servers, []string{"a"}) || st.Client != "claude-desktop" || st.Released {
		t.Errorf("state of one = %+v, %v; want a, not released", st, err)
	}

	if err := Release(t.Context(), db, r.Home, one, "claude-desktop"); err != nil {
		t.Fatal(err)
	}
	if err := db.ForgetInstall(t.Context(), one); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Install(t.Context(), one); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("install of one after ForgetInstall: %v, want not found", err)
	}
	if st, _ := db.ConfigState(t.Context(), one); !st.Released || !slices.Equal(st.Servers, []string{"a"}) {
		t.Errorf("state of one after uninstall = %+v, want released, a kept", st)
	}
	if ok, err := r.released(t.Context(), one); !ok || err != nil {
		t.Errorf("released(one) = %v, %v", ok, err)
	}
	if _, err := r.Reconcile(t.Context(), load(t, discovery.ClaudeDesktop, one)); err != nil {
		t.Fatal(err)
	}
	if st, _ := db.ConfigState(t.Context(), one); st.Released {
		t.Errorf("state of one after install = %+v, want taken back", st)
	}
}

// TestReconcileDryRun changes nothing on disk and registers nothing.
func TestReconcileDryRun(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "c.json")
	write(t, path, config("a"))
	r := &Reconciler{Exe: exe, Home: t.TempDir()}
	cfg := load(t, discovery.ClaudeDesktop, path)
	res, err := r.Reconcile(t.Context(), cfg)
	if err != nil || res.Wrote || !res.Changed() || res.Outcomes[0].Action != Wrapped {
		t.Errorf("dry run: %+v, %v", res, err)
	}
	if read(t, path) != config("a") {
		t.Error("dry run wrote the file")
	}
	if ents, err := os.ReadDir(r.Home); err != nil || len(ents) != 0 {
		t.Errorf("dry run wrote in the home: %v, %v", ents, err)
	}
}

// TestReconcileInterrupted: Ctrl-C (a cancelled context) while install
// registers the servers of a file leaves the file, the backups and the
// registry as they were: nothing half-done to undo.
func TestReconcileInterrupted(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "claude_desktop_config.json")
	var b strings.Builder
	b.WriteString(`{"mcpServers": {`)
	for i := range 300 {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, `"s%d": {"command": "npx", "args": ["pkg-%d"]}`, i, i)
	}
	b.WriteString("}}\n")
	write(t, path, b.String())
	db := openRegistry(t, dir)
	ctx, cancel := context.WithCancel(t.Context())
	r := newReconciler(t, interrupting{db, cancel})
	_, err := r.Reconcile(ctx, load(t, discovery.ClaudeDesktop, path))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Reconcile() error = %v, want context.Canceled", err)
	}
	if got := read(t, path); got != b.String() {
		t.Errorf("file changed by an interrupted install:\n%s", got)
	}
	if ents, _ := os.ReadDir(r.Backups); len(ents) > 0 {
		t.Errorf("backups written by an interrupted install: %v", ents)
	}
	if srvs, err := db.Servers(t.Context()); err != nil || len(srvs) > 0 {
		t.Errorf("after an interrupted install: %d servers registered (%v)", len(srvs), err)
	}
	if keys, _ := os.ReadDir(db.Keys().Dir); len(keys) > 0 {
		t.Errorf("after an interrupted install: %d key files left", len(keys))
	}
}

// interrupting is a registry interrupted as it starts to register.
type interrupting struct {
	*registry.DB
	cancel context.CancelFunc
}

func (i interrupting) RegisterAll(ctx context.Context, ins []registry.Registration) ([]registry.Registered, error) {
	i.cancel()
	return i.DB.RegisterAll(ctx, ins)
}
