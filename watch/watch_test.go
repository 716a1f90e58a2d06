package watch

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opena2a-org/aim-mcp/registry"
)

// TestAppend is the done-when case: a server appended to the config, the
// way Claude Desktop writes it (truncate, write in place), is registered and
// wrapped within a second; then nothing more happens.
func TestAppend(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "claude_desktop_config.json")
	write(t, path, config("a"))
	h := newHarness(t, path)
	h.start()
	h.waitFor("a wrapped", isWrapped(t, path, "a"))

	write(t, path, strings.Replace(read(t, path), "\n  },\n  \"globalShortcut\"",
		",\n    \"b\": {\"command\": \"uvx\", \"args\": [\"b-mcp\"]}\n  },\n  \"globalShortcut\"", 1))
	took := h.waitFor("b wrapped", isWrapped(t, path, "a", "b"))
	t.Logf("appended server wrapped after %v (debounce %v)", took, h.w.Debounce)
	if took > time.Second {
		t.Errorf("wrapping took %v, want under 1 s", took)
	}
	if got := h.reg.status("claude-desktop", "b"); got != registry.StatusActive {
		t.Errorf("b is %s, want registered and active", got)
	}
	if !strings.Contains(read(t, path), `"globalShortcut": "Alt+Space"`) {
		t.Error("other keys lost")
	}
}

// TestOwnWrites: the watcher's own write comes back as an event; it must
// not start another round. Over a second and a half, one write, and one
// reconcile of new bytes.
func TestOwnWrites(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "c.json")
	write(t, path, config("a", "b"))
	h := newHarness(t, path)
	h.start()
	h.waitFor("wrapped", isWrapped(t, path, "a", "b"))
	time.Sleep(1500 * time.Millisecond)
	c := h.counts()
	if c.writes != 1 || c.reconciles != 1 {
		t.Errorf("after 1.5 s: %d writes, %d reconciles; want 1 and 1 (passes %d)", c.writes, c.reconciles, c.passes)
	}
	if c.passes < 2 {
		t.Errorf("%d passes: the event of our own write was not seen", c.passes)
	}
}

// TestRename: editors save by writing a new file and renaming it over the
// old one, which orphans a watch on the file itself.
func TestRename(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "c.json")
	write(t, path, config("a"))
	h := newHarness(t, path)
	h.start()
	h.waitFor("a wrapped", isWrapped(t, path, "a"))
	for i, name := range []string{"b", "c"} { // twice: the second rename needs a live watch too
		tmp := filepath.Join(dir, ".c.json.swp")
		write(t, tmp, config("a", name))
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
		h.waitFor(name+" wrapped after rename "+string(rune('1'+i)), isWrapped(t, path, "a", name))
	}
	h.waitFor("b, gone from the file, marked removed", func() bool {
		return h.reg.status("claude-desktop", "b") == registry.StatusRemoved
	})
}

// TestTwoHalves: a file written in place in two parts is caught half-way;
// it is read again until it parses, and nothing is reported or written for
// the half file.
func TestTwoHalves(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "c.json")
	write(t, path, config("a"))
	h := newHarness(t, path)
	h.start()
	h.waitFor("a wrapped", isWrapped(t, path, "a"))

	full := config("a", "b")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(full[:len(full)/2])
	f.Sync()
	time.Sleep(3 * h.w.Debounce) // well past the debounce: the half file is read
	f.WriteString(full[len(full)/2:])
	f.Close()
	h.waitFor("b wrapped", isWrapped(t, path, "a", "b"))
	if strings.Contains(h.log.String(), "does not parse") {
		t.Errorf("half-written file reported as invalid:\n%s", h.log)
	}
	h.waitFor("second write counted", func() bool { return h.counts().writes == 2 })
	time.Sleep(2 * h.w.Debounce)
	if c := h.counts(); c.writes != 2 {
		t.Errorf("%d writes, want 2", c.writes)
	}
}

// TestDeleteRecreate: a deleted config is reported, not recreated; when it
// comes back it is picked up.
func TestDeleteRecreate(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "c.json")
	write(t, path, config("a"))
	h := newHarness(t, path)
	h.start()
	h.waitFor("a wrapped", isWrapped(t, path, "a"))
	os.Remove(path)
	h.waitFor("deletion noticed", func() bool { return strings.Contains(h.log.String(), "config file not there") })
	time.Sleep(2 * h.w.Debounce)
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatal("the watcher recreated a deleted config")
	}
	write(t, path, config("a", "b"))
	h.waitFor("recreated file wrapped", isWrapped(t, path, "a", "b"))
}

// TestDirectoryLater: the client is installed after the watcher started:
// its directory, two levels deep, appears later.
func TestDirectoryLater(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	path := filepath.Join(root, ".codeium", "windsurf", "mcp_config.json")
	h := newHarness(t, path)
	h.start()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	write(t, path, config("a"))
	h.waitFor("wrapped in a new directory", isWrapped(t, path, "a"))

	// And once more after the directory is removed and made again.
	os.RemoveAll(filepath.Join(root, ".codeium"))
	time.Sleep(2 * h.w.Debounce)
	os.MkdirAll(filepath.Dir(path), 0o700)
	write(t, path, config("c"))
	h.waitFor("wrapped in a re-made directory", isWrapped(t, path, "c"))
}

// TestBurst: 50 writes in a row make one reconcile.
func TestBurst(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "c.json")
	write(t, path, config("a"))
	h := newHarness(t, path)
	h.w.Debounce = 150 * time.Millisecond // room for a slow machine between two writes
	h.start()
	h.waitFor("a wrapped", isWrapped(t, path, "a"))
	time.Sleep(2 * h.w.Debounce)
	before := h.counts()
	wrapped := read(t, path)
	for i := range 50 {
		write(t, path, strings.Replace(wrapped, "Alt+Space", "Alt+Space+"+strings.Repeat("x", i+1), 1))
	}
	time.Sleep(3 * h.w.Debounce)
	after := h.counts()
	if n := after.reconciles - before.reconciles; n != 1 {
		t.Errorf("50 writes made %d reconciles, want 1", n)
	}
	if after.writes != before.writes {
		t.Errorf("the burst made %d writes, want none (all servers were wrapped)", after.writes-before.writes)
	}
}

// TestRewrap: the client rewrote the file and dropped the wrapping.
func TestRewrap(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "c.json")
	orig := config("a", "b")
	write(t, path, orig)
	h := newHarness(t, path)
	h.start()
	h.waitFor("wrapped", isWrapped(t, path, "a", "b"))
	write(t, path, orig)
	took := h.waitFor("wrapped again", isWrapped(t, path, "a", "b"))
	t.Logf("re-wrapped after %v", took)
}

// TestInvalid: a config that becomes invalid is reported with its place and
// left alone; once fixed, it is reconciled.
func TestInvalid(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "c.json")
	write(t, path, config("a"))
	h := newHarness(t, path)
	h.w.ParseRetry = 100 * time.Millisecond
	h.start()
	h.waitFor("wrapped", isWrapped(t, path, "a"))
	bad := "{\n  \"mcpServers\": {\n    \"b\": {\"command\" \"npx\"}\n  }\n}"
	write(t, path, bad)
	h.waitFor("error logged", func() bool { return strings.Contains(h.log.String(), "does not parse") })
	log := h.log.String()
	for _, want := range []string{"level=ERROR", "path=" + path, "line=3", "column=21"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	time.Sleep(2 * h.w.Debounce)
	if got := read(t, path); got != bad {
		t.Errorf("invalid file was changed:\n%s", got)
	}
	write(t, path, config("a", "b"))
	h.waitFor("wrapped after the fix", isWrapped(t, path, "a", "b"))
}

// TestSymlink: a config that is a symlink (a dotfiles repository) is
// watched at its target too, and stays a symlink.
func TestSymlink(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		t.Skip("symlinks need privileges on Windows")
	}
	real := filepath.Join(t.TempDir(), "dotfiles", "claude.json")
	os.MkdirAll(filepath.Dir(real), 0o700)
	write(t, real, config("a"))
	link := filepath.Join(t.TempDir(), "c.json")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, link)
	h.start()
	h.waitFor("wrapped through the link", isWrapped(t, link, "a"))
	write(t, real, config("a", "b")) // edited in the repository
	h.waitFor("edit of the target seen", isWrapped(t, link, "a", "b"))
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("config is no longer a symlink: %v", fi.Mode())
	}
}

// TestReadOnly: a file without write permission is reported and left
// alone; made writable again, it is wrapped.
func TestReadOnly(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "c.json")
	write(t, path, config("a"))
	os.Chmod(path, 0o400)
	h := newHarness(t, path)
	h.start()
	if !strings.Contains(h.log.String(), "read-only") {
		t.Errorf("read-only file not reported:\n%s", h.log)
	}
	if got := read(t, path); got != config("a") {
		t.Errorf("read-only file changed:\n%s", got)
	}
	if got := h.reg.status("claude-desktop", "a"); got != "unregistered" {
		t.Errorf("a is %s; nothing should be registered for a file that cannot be wrapped", got)
	}
	os.Chmod(path, 0o600)
	h.waitFor("wrapped once writable", isWrapped(t, path, "a"))
}

// TestReleased: after uninstall gave the file back, the watcher leaves it
// alone, until install reconciles it again.
func TestReleased(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "c.json")
	write(t, path, config("a"))
	h := newHarness(t, path)
	h.start()
	h.waitFor("wrapped", isWrapped(t, path, "a"))
	if err := Release(t.Context(), h.reg, h.home, path, "claude-desktop"); err != nil {
		t.Fatal(err)
	}
	write(t, path, config("a")) // what uninstall writes
	h.waitFor("release noticed", func() bool { return strings.Contains(h.log.String(), "gave this config back") })
	time.Sleep(2 * h.w.Debounce)
	if got := wrappedAs(t, path); len(got) != 0 {
		t.Errorf("released file wrapped again: %v", got)
	}
}

func TestOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good, bad, missing := filepath.Join(dir, "good.json"), filepath.Join(dir, "bad.json"), filepath.Join(dir, "none.json")
	write(t, good, config("a"))
	write(t, bad, "{")
	h := newHarness(t, good, bad, missing)
	h.w.ParseRetry = time.Millisecond
	err := h.w.Once(t.Context())
	if err == nil || !strings.Contains(err.Error(), "1 of 3") {
		t.Errorf("Once() = %v, want 1 of 3 failed", err)
	}
	if got := wrappedAs(t, good); len(got) != 1 {
		t.Errorf("Once() did not wrap: %v", got)
	}
}

// TestUnrelatedRewrite: Claude Code rewrites ~/.claude.json all the time
// for its own state. When the servers are as they were, the registry is not
// asked and nothing is written.
func TestUnrelatedRewrite(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), ".claude.json")
	write(t, path, config("a"))
	h := newHarness(t, path)
	var registers atomic.Int32
	h.reg.onRegister = func(registry.Registration) { registers.Add(1) }
	h.start()
	h.waitFor("wrapped", isWrapped(t, path, "a"))
	before := registers.Load()
	wrapped := read(t, path)
	for i := range 3 {
		write(t, path, strings.Replace(wrapped, "Alt+Space", fmt.Sprintf("Alt+Space %d", i), 1))
		time.Sleep(3 * h.w.Debounce)
	}
	if n := registers.Load() - before; n != 0 {
		t.Errorf("%d registrations for rewrites that left the servers alone, want 0", n)
	}
	if c := h.counts(); c.writes != 1 {
		t.Errorf("%d writes, want 1", c.writes)
	}
}
