package atomicfile

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// names lists dir, to prove no temporary file is left behind.
func names(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var n []string
	for _, e := range ents {
		n = append(n, e.Name())
	}
	return n
}

func TestWriteFileKeepsMode(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no unix permission bits on windows")
	}
	for _, mode := range []fs.FileMode{0o600, 0o644, 0o640, 0o755} {
		t.Run(mode.String(), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "config.json")
			if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, mode); err != nil {
				t.Fatal(err)
			}
			if err := WriteFile(path, []byte("new"), 0o600); err != nil {
				t.Fatalf("WriteFile() error: %v", err)
			}
			if got := readFile(t, path); got != "new" {
				t.Errorf("content = %q, want %q", got, "new")
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != mode {
				t.Errorf("mode = %v, want %v", fi.Mode().Perm(), mode)
			}
			if diff := cmp.Diff(names(t, dir), []string{"config.json"}); diff != "" {
				t.Errorf("dir entries (-got +want):\n%s", diff)
			}
		})
	}
}

func TestWriteFileNew(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "new.json")
	if err := WriteFile(path, []byte("{}"), 0o600); err != nil {
		t.Fatalf("WriteFile() error: %v", err)
	}
	if got := readFile(t, path); got != "{}" {
		t.Errorf("content = %q, want %q", got, "{}")
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want %v", fi.Mode().Perm(), fs.FileMode(0o600))
	}
}

func TestWriteFileSymlink(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "dotfiles", "claude.json")
	if err := os.Mkdir(filepath.Dir(real), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(real, []byte("old"), 0o640); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "config.json")
	if err := os.Symlink(real, link); err != nil {
		t.Skipf("cannot create symlinks: %v", err)
	}
	if err := WriteFile(link, []byte("new"), 0o600); err != nil {
		t.Fatalf("WriteFile() error: %v", err)
	}
	fi, err := os.Lstat(link)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("%s is no longer a symlink (mode %v)", link, fi.Mode())
	}
	if got := readFile(t, real); got != "new" {
		t.Errorf("target content = %q, want %q", got, "new")
	}
	if fi, err := os.Stat(real); err == nil && runtime.GOOS != "windows" && fi.Mode().Perm() != 0o640 {
		t.Errorf("target mode = %v, want %v", fi.Mode().Perm(), fs.FileMode(0o640))
	}
}

func TestWriteFileDanglingSymlink(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "config.json")
	if err := os.Symlink(filepath.Join(dir, "missing", "x.json"), link); err != nil {
		t.Skipf("cannot create symlinks: %v", err)
	}
	if err := WriteFile(link, []byte("new"), 0o600); err == nil {
		t.Fatal("WriteFile(dangling symlink) succeeded, want error")
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("symlink was replaced: %v, %v", fi, err)
	}
}

func TestWriteFileNotRegular(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(sub, []byte("x"), 0o600); err == nil {
		t.Error("WriteFile(directory) succeeded, want error")
	}
	if fi, err := os.Stat(sub); err != nil || !fi.IsDir() {
		t.Errorf("directory was replaced: %v, %v", fi, err)
	}
	if diff := cmp.Diff(names(t, dir), []string{"sub"}); diff != "" {
		t.Errorf("dir entries (-got +want):\n%s", diff)
	}
}

// A write that fails halfway leaves the old file as it was and nothing
// else behind; one that succeeds replaces it whole.
func TestWriteStreams(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "report.csv")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("the registry went away")
	err := Write(path, 0o600, func(w io.Writer) error {
		io.WriteString(w, "half a report")
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Write() error = %v, want %v", err, boom)
	}
	if got := readFile(t, path); got != "old" {
		t.Errorf("after a failed write: %q, want the old contents", got)
	}
	if diff := cmp.Diff([]string{"report.csv"}, names(t, dir)); diff != "" {
		t.Errorf("files left (-want +got):\n%s", diff)
	}
	err = Write(path, 0o600, func(w io.Writer) error {
		for _, part := range []string{"seq,", "time\n", "1,2\n"} {
			if _, err := io.WriteString(w, part); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, path); got != "seq,time\n1,2\n" {
		t.Errorf("content = %q", got)
	}
}
