//go:build linux

package watch

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSystemdReal installs the unit for real where "systemctl --user"
// works, and checks that systemd starts aim-mcp watch from it: the watcher
// wraps a config, then uninstall stops it. Elsewhere (containers, CI
// without a user manager) it is skipped.
func TestSystemdReal(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	if out, err := exec.Command("systemctl", "--user", "show-environment").CombinedOutput(); err != nil {
		t.Skipf("no systemd user manager: %v: %s", err, strings.TrimSpace(string(out)))
	}
	configHome, err := os.UserConfigDir()
	if err != nil {
		t.Skip(err)
	}
	s := Service{GOOS: "linux", ConfigHome: configHome, Run: func(name string, args ...string) (string, error) {
		out, err := exec.Command(name, args...).CombinedOutput()
		return string(out), err
	}}
	if _, err := os.Stat(s.Path()); err == nil {
		t.Skipf("%s exists: not touching a real installation", s.Path())
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build aim-mcp")
	}
	dir := t.TempDir()
	s.Exe = filepath.Join(dir, "aim-mcp")
	if out, err := exec.Command(gobin, "build", "-o", s.Exe, "github.com/opena2a-org/aim-mcp/cmd/aim-mcp").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cfg := filepath.Join(dir, "claude_desktop_config.json")
	write(t, cfg, config("a"))
	s.Args = []string{"watch", "--home", filepath.Join(dir, "home"), "--config", cfg, "--debounce", "50ms"}
	s.Dir = filepath.Join(dir, "home")
	t.Cleanup(func() { s.Uninstall() })
	if msg, err := s.Install(); err != nil {
		t.Fatalf("Install() = %v\n%s", err, msg)
	}
	deadline := time.Now().Add(15 * time.Second)
	for len(wrappedAs(t, cfg)) == 0 {
		if time.Now().After(deadline) {
			out, _ := s.Run("journalctl", "--user", "-u", UnitName, "-n", "30", "--no-pager")
			t.Fatalf("the service did not wrap the config; journal:\n%s", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if out, err := s.Run("systemctl", "--user", "is-active", UnitName); err != nil || strings.TrimSpace(out) != "active" {
		t.Errorf("is-active = %q, %v", out, err)
	}
	write(t, cfg, config("a", "b")) // and it keeps watching
	for len(wrappedAs(t, cfg)) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the service did not wrap an appended server")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := s.Uninstall(); err != nil {
		t.Fatal(err)
	}
	if out, _ := s.Run("systemctl", "--user", "is-active", UnitName); strings.TrimSpace(out) == "active" {
		t.Error("still active after Uninstall")
	}
}

// TestSystemdVerify has systemd itself check the rendered unit (syntax,
// quoting, an absolute executable) where systemd-analyze is installed; it
// needs no running manager.
func TestSystemdVerify(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("no systemd-analyze")
	}
	dir := t.TempDir()
	exe := filepath.Join(dir, "bin dir", "aim-mcp")
	os.MkdirAll(filepath.Dir(exe), 0o755)
	write(t, exe, "#!/bin/sh\n")
	os.Chmod(exe, 0o755)
	s := Service{GOOS: "linux", Exe: exe, ConfigHome: filepath.Join(dir, "config"),
		Args: []string{"watch", "--home", filepath.Join(dir, "a b"), "--config", `/tmp/100%"$x"\.json`, "--client", "all"},
		Env:  map[string]string{"XDG_CONFIG_HOME": filepath.Join(dir, "x y%")}}
	text, err := s.Render()
	if err != nil {
		t.Fatal(err)
	}
	unit := filepath.Join(dir, UnitName)
	write(t, unit, text)
	rundir := filepath.Join(dir, "run") // XDG_RUNTIME_DIR, which --user needs
	os.Mkdir(rundir, 0o700)
	cmd := exec.Command(analyze, "verify", "--user", unit)
	cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+rundir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("systemd-analyze verify: %v\n%s\nunit:\n%s", err, out, text)
	}
}
