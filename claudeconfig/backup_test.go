package claudeconfig

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestBackup(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "claude_desktop_config.json")
	if err := os.WriteFile(src, []byte(desktop), 0o644); err != nil {
		t.Fatal(err)
	}
	backups := filepath.Join(dir, "home", "backups")
	now := time.Date(2026, 3, 1, 12, 30, 5, 0, time.FixedZone("CET", 3600))

	var got []string
	for i := range 3 {
		p, err := Backup(src, backups, now)
		if err != nil {
			t.Fatalf("Backup() #%d error: %v", i, err)
		}
		got = append(got, filepath.Base(p))
		b, err := os.ReadFile(p)
		if err != nil || string(b) != desktop {
			t.Errorf("backup %s = %q, %v; want the original bytes", p, b, err)
		}
		if fi, err := os.Stat(p); err == nil && runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
			t.Errorf("backup mode = %v, want 0600", fi.Mode().Perm())
		}
		// Change the source so an overwrite would show.
		if err := os.WriteFile(src, []byte(desktop), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{
		"claude_desktop_config.json.20260301T113005Z.bak",
		"claude_desktop_config.json.20260301T113005Z-2.bak",
		"claude_desktop_config.json.20260301T113005Z-3.bak",
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("backup names (-got +want):\n%s", diff)
	}
	if fi, err := os.Stat(backups); err != nil || (runtime.GOOS != "windows" && fi.Mode().Perm() != 0o700) {
		t.Errorf("backup dir: %v, %v; want mode 0700", fi, err)
	}
	if _, err := Backup(filepath.Join(dir, "missing.json"), backups, now); err == nil {
		t.Error("Backup(missing) succeeded, want error")
	}
}
