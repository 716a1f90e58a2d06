//go:build unix

package atomicfile

import (
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestMain lets the test binary act as a helper that calls WriteFile, so a
// test running as root can try the write as an unprivileged user: root
// ignores directory permissions.
func TestMain(m *testing.M) {
	if path := os.Getenv("ATOMICFILE_TEST_WRITE"); path != "" {
		if err := WriteFile(path, []byte("new"), 0o600); err != nil {
			os.Stderr.WriteString(err.Error())
			os.Exit(3)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestWriteFileSocket(t *testing.T) {
	dir, err := os.MkdirTemp("", "af") // short: socket paths are limited to ~100 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "s")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Skipf("cannot listen on a unix socket: %v", err)
	}
	defer l.Close()
	if err := WriteFile(sock, []byte("x"), 0o600); err == nil {
		t.Error("WriteFile(socket) succeeded, want error")
	}
	if fi, err := os.Lstat(sock); err != nil || fi.Mode()&os.ModeSocket == 0 {
		t.Errorf("socket was replaced: %v, %v", fi, err)
	}
}

func TestWriteFileDirNotWritable(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.json")
	if err := os.WriteFile(path, []byte("original"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o755) })

	if os.Geteuid() != 0 {
		if err := WriteFile(path, []byte("new"), 0o600); err == nil {
			t.Error("WriteFile() in a read-only directory succeeded, want error")
		}
	} else {
		runAsNobody(t, path)
	}
	b, err := os.ReadFile(path)
	if err != nil || string(b) != "original" {
		t.Errorf("original = %q, %v; want %q", b, err, "original")
	}
	if diff := cmp.Diff(names(t, dir), []string{"config.json"}); diff != "" {
		t.Errorf("dir entries (-got +want):\n%s", diff)
	}
}

// runAsNobody runs WriteFile(path) in a copy of the test binary as uid/gid
// 65534 and expects it to fail.
func runAsNobody(t *testing.T, path string) {
	t.Helper()
	// nobody must be able to reach path and run the binary.
	for d := filepath.Dir(filepath.Dir(path)); d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	binDir := t.TempDir()
	os.Chmod(binDir, 0o755)
	bin := filepath.Join(binDir, "helper.test")
	copyFile(t, exe, bin)

	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Env = append(os.Environ(), "ATOMICFILE_TEST_WRITE="+path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee) && ee.ExitCode() == 3:
		t.Logf("WriteFile as nobody failed as expected: %s", out)
	case err == nil:
		t.Error("WriteFile() in a read-only directory succeeded, want error")
	case errors.As(err, &ee):
		t.Fatalf("helper failed: %v: %s", err, out)
	default:
		t.Skipf("cannot run a helper as nobody: %v", err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}
