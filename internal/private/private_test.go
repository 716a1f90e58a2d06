package private

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCreatedPrivate(t *testing.T) {
	dir := filepath.Join(tempDir(t), "home", "keys")
	if err := MkdirAll(dir); err != nil {
		t.Fatalf("MkdirAll(%q): %v", dir, err)
	}
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if ex, err := Check(d); err != nil || ex != nil {
			t.Errorf("Check(%q) = %+v, %v; want private", d, ex, err)
		}
	}
	key := filepath.Join(dir, "a.key")
	f, err := Create(key)
	if err != nil {
		t.Fatalf("Create(%q): %v", key, err)
	}
	if _, err := f.WriteString("secret"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if ex, err := Check(key); err != nil || ex != nil {
		t.Errorf("Check(%q) = %+v, %v; want private", key, ex, err)
	}
	// A secret is never overwritten.
	if _, err := Create(key); !errors.Is(err, os.ErrExist) {
		t.Errorf("Create(existing) error = %v, want os.ErrExist", err)
	}
	if b, _ := os.ReadFile(key); string(b) != "secret" {
		t.Errorf("key file holds %q after a second Create, want %q", b, "secret")
	}
	// An existing directory is left as it is.
	if err := MkdirAll(dir); err != nil {
		t.Errorf("MkdirAll(existing) = %v", err)
	}
}

func TestCheckExposed(t *testing.T) {
	p := filepath.Join(tempDir(t), "shared.key")
	if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	exposeToOthers(t, p)
	ex, err := Check(p)
	if err != nil || ex == nil {
		t.Fatalf("Check(%q) = %+v, %v; want an exposure", p, ex, err)
	}
	if ex.Who == "" || !strings.Contains(ex.Fix, filepath.Base(p)) {
		t.Errorf("Check(%q) = %+v; want who and a fix naming the file", p, ex)
	}
	t.Logf("%s %s; fix: %s", p, ex.Who, ex.Fix)
}

func TestMkdirAllNotADirectory(t *testing.T) {
	f := filepath.Join(tempDir(t), "file")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := MkdirAll(f); err == nil {
		t.Errorf("MkdirAll(a file) = nil, want an error")
	}
}

// tempDir is t.TempDir for tests that also run under Wine (e2e/wine):
// Wine 8 lacks the delete call os.RemoveAll makes since Go 1.26, so the
// directory is removed one entry at a time, deepest first.
func tempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "aim-mcp-private-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		var paths []string
		filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
			if err == nil {
				paths = append(paths, p)
			}
			return nil
		})
		for i := len(paths) - 1; i >= 0; i-- {
			if err := os.Remove(paths[i]); err != nil {
				t.Errorf("clean up: %v", err)
			}
		}
	})
	return dir
}
