package watch

import (
	"os/exec"
	"path/filepath"
	"testing"
)

// TestLaunchdLint has macOS check the rendered agent.
func TestLaunchdLint(t *testing.T) {
	plutil, err := exec.LookPath("plutil")
	if err != nil {
		t.Skip("no plutil")
	}
	dir := t.TempDir()
	s := Service{GOOS: "darwin", Exe: "/opt/homebrew/bin/aim-mcp", Home: dir, Dir: dir,
		Args: []string{"watch", "--home", dir, "--config", "/tmp/a&b <c>.json"}, Env: map[string]string{"K": "v&"}}
	text, err := s.Render()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, LaunchdLabel+".plist")
	write(t, p, text)
	if out, err := exec.Command(plutil, "-lint", p).CombinedOutput(); err != nil {
		t.Errorf("plutil -lint: %v\n%s", err, out)
	}
}
