package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestRemoteTeamNames: a team has the same server names on every laptop,
// sometimes two homes on one, and reinstalls after --purge; every install
// succeeds and each home's server is an agent of its own.
func TestRemoteTeamNames(t *testing.T) {
	w := newRemoteWorld(t)
	orig, err := os.ReadFile(w.config)
	if err != nil {
		t.Fatal(err)
	}
	installIn := func(home, config string) {
		t.Helper()
		if _, err := os.Stat(config); err != nil {
			os.WriteFile(config, orig, 0o600)
		}
		code, out, errs := w.aimMCP(nil, "install", "--config", config, "--home", home, "--aim-url", w.aim.URL, "--api-key", w.aim.APIKey)
		if code != 0 {
			t.Fatalf("install in %s = %d:\n%s%s", home, code, out, errs)
		}
	}
	names := func() []string {
		var out []string
		for _, a := range w.aim.Agents() {
			out = append(out, a.Name)
		}
		return out
	}
	root := filepath.Dir(w.home)
	installIn(w.home, w.config)
	// A second home on the same machine and organisation.
	installIn(filepath.Join(root, "home-b"), filepath.Join(root, "b.json"))
	installIn(filepath.Join(root, "home-b"), filepath.Join(root, "b.json")) // idempotent
	// Another laptop.
	testOnlyHostname = "laptop2"
	installIn(filepath.Join(root, "home-c"), filepath.Join(root, "c.json"))
	want := []string{"my-files-d@laptop1", "my-files-d@laptop1-2", "my-files-d@laptop2", "notes@laptop1", "notes@laptop1-2", "notes@laptop2"}
	if got := names(); !slices.Equal(got, want) {
		t.Fatalf("AIM agents %v, want %v", got, want)
	}
	// Each home acts as its own agent.
	for _, name := range want {
		w.aim.Grant(name, "mcp_tool:*")
	}
	s := w.proxy("notes")
	if text, isErr := s.call(1, "echo"); isErr {
		t.Errorf("echo = %q", text)
	}
	s.close()

	// After uninstall --purge, install again on the first laptop: the old
	// agents stay in AIM (as purge says), the new ones get names of their own.
	testOnlyHostname = "laptop1"
	code, out, errs := w.aimMCP(nil, "uninstall", "--purge", "--config", w.config, "--home", w.home)
	if code != 0 || !strings.Contains(out, "the stored API key deleted") || !strings.Contains(out, "2 agent(s) stay in AIM") {
		t.Fatalf("uninstall --purge = %d:\n%s%s", code, out, errs)
	}
	if _, err := os.Stat(aimKeyFile(w.home)); !os.IsNotExist(err) {
		t.Errorf("the API key file after purge: %v", err)
	}
	installIn(w.home, w.config)
	if got := names(); len(got) != 8 || !slices.Contains(got, "notes@laptop1-3") {
		t.Errorf("AIM agents after purge and install: %v", got)
	}
}

// TestRemoteRotateUnderARunningProxy: "aim-mcp keys rotate" gives an AIM
// agent a new key, in AIM and here, while Claude runs its proxy: the
// proxy's next call is signed with the new key (AIM refused the old one
// once; the proxy read the key again and asked once more), with no restart.
func TestRemoteRotateUnderARunningProxy(t *testing.T) {
	w := newRemoteWorld(t)
	cfgDir := filepath.Join(os.Getenv("XDG_CONFIG_HOME"), "aim-mcp")
	os.MkdirAll(cfgDir, 0o700)
	if err := os.WriteFile(filepath.Join(cfgDir, "config.yaml"), []byte("aim_verify_ttl: 0s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errs := w.install("--aim-url", w.aim.URL, "--api-key", w.aim.APIKey); code != 0 {
		t.Fatalf("install = %d\n%s%s", code, out, errs)
	}
	db := openAIMHome(t, w.home)
	notes, err := db.Server(context.Background(), "claude-desktop", "notes")
	if err != nil || notes.RemoteID == "" {
		t.Fatalf("notes = %+v, %v", notes, err)
	}
	w.aim.Grant(notes.RemoteID, "mcp_tool:echo")
	s := w.proxy("notes")
	if text, isErr := s.call(1, "echo"); isErr {
		t.Fatalf("echo before the rotation: %q", text)
	}
	t.Setenv("AIM_TOKEN", w.aim.AdminToken)
	if code, out, errs := w.aimMCP(nil, "keys", "rotate", "notes", "--home", w.home); code != 0 {
		t.Fatalf("keys rotate = %d\n%s%s", code, out, errs)
	}
	if text, isErr := s.call(2, "echo"); isErr {
		t.Errorf("echo after the rotation, same proxy: %q, want it run", text)
	}
	if text, isErr := s.call(3, "echo"); isErr {
		t.Errorf("echo again: %q, want it run", text)
	}
	// The one refused request was the proxy's last with the old key.
	if n := w.aim.BadSignatures(); n > 1 {
		t.Errorf("AIM saw %d bad signatures, want at most the one before the proxy read the new key", n)
	}
	w.aim.ResetBadSignatures()
}
