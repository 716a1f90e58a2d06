//go:build unix

// Package wine runs aim-mcp's Windows build under Wine, the way a Windows
// user meets it: a Claude Desktop config in %APPDATA%\Claude with CRLF line
// ends, a server under "Program Files", a home whose path has a space, and
// servers started through cmd /c, which is what npx.cmd entries do.
//
// It needs wine (Debian's wine64) and, for the shim described in
// [ensurePrefix], the mingw-w64 C compiler; scripts/test.sh installs both
// and sets AIM_MCP_WINE=1, which turns a missing tool into a failure. On a
// machine without them the test is skipped.
//
// The Wine prefix is kept between runs (under the user's cache directory,
// or $AIM_MCP_WINE_PREFIX), since creating one takes a minute; everything a
// run writes lives in its temporary directory or is removed first.
package wine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opena2a-org/aim-mcp/internal/syncbuf"
)

// w is the Windows machine the test drives.
type w struct {
	prefix string // WINEPREFIX
	bin    string // host directory of the .exe files
	env    []string
}

func (m *w) exe(name string) string { return winPath(filepath.Join(m.bin, name+".exe")) }

// winPath is how a Windows program names a host path: Wine maps / to Z:.
func winPath(p string) string { return "Z:" + strings.ReplaceAll(p, "/", `\`) }

// cmd builds `wine PROGRAM ARGS...` in the test's environment.
func (m *w) cmd(ctx context.Context, program string, args ...string) *exec.Cmd {
	c := exec.CommandContext(ctx, "wine", append([]string{program}, args...)...)
	c.Env = m.env
	c.WaitDelay = 30 * time.Second
	return c
}

// run runs a Windows program to its end and returns its stdout and stderr.
func (m *w) run(program string, args ...string) (string, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	c := m.cmd(ctx, program, args...)
	c.Stdout, c.Stderr = &stdout, &stderr
	err := c.Run()
	if errors.Is(err, exec.ErrWaitDelay) {
		// It exited; a process it started (a proxy finishing its
		// shutdown) still held its output when the delay ran out.
		err = nil
	}
	return stdout.String(), stderr.String(), err
}

// aim runs aim-mcp.exe and fails t unless it exits 0.
func (m *w) aim(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, err := m.run(m.exe("aim-mcp"), args...)
	if err != nil {
		t.Fatalf("aim-mcp %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// setup finds wine, prepares the prefix and cross-builds the programs.
func setup(t *testing.T) *w {
	t.Helper()
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("the Wine job runs on linux/amd64")
	}
	required := os.Getenv("AIM_MCP_WINE") == "1"
	for _, tool := range []string{"wine", "wineserver", "x86_64-w64-mingw32-gcc"} {
		if _, err := exec.LookPath(tool); err != nil {
			if required {
				t.Fatalf("AIM_MCP_WINE=1 but %s is not installed (scripts/test.sh installs it)", tool)
			}
			t.Skipf("%s is not installed; scripts/test.sh installs it and runs this test", tool)
		}
	}
	m := &w{bin: filepath.Join(t.TempDir(), "bin")}
	m.prefix = os.Getenv("AIM_MCP_WINE_PREFIX")
	if m.prefix == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			t.Fatal(err)
		}
		m.prefix = filepath.Join(cache, "aim-mcp", "wine-prefix")
	}
	m.env = append(os.Environ(),
		"WINEPREFIX="+m.prefix,
		"WINEDEBUG=-all",
		// No Mono or Gecko install dialogs (nothing here needs them), and
		// the ProcessPrng shim of ensurePrefix before any builtin.
		"WINEDLLOVERRIDES=mscoree,mshtml=;bcryptprimitives=n,b",
	)
	m.env = slicesDeleteEnv(m.env, "AIM_MCP_HOME", "AIM_URL", "AIM_PRIVATE_KEY")
	ensurePrefix(t, m)
	// One wineserver for the whole run instead of one per program; it
	// goes when the last program has, a few seconds after the test. It
	// fails when one already runs, which is as good.
	ws := exec.Command("wineserver", "-p5")
	ws.Env = m.env
	ws.Run()
	build(t, m)
	return m
}

func slicesDeleteEnv(env []string, names ...string) []string {
	out := env[:0]
next:
	for _, kv := range env {
		for _, n := range names {
			if strings.HasPrefix(kv, n+"=") {
				continue next
			}
		}
		out = append(out, kv)
	}
	return out
}

// ensurePrefix creates the Wine prefix once and puts the ProcessPrng shim
// in its system32.
//
// Why the shim: Go 1.22 and later read random bytes at start-up with
// ProcessPrng from bcryptprimitives.dll, which every supported Windows has
// and Debian 12's Wine 8.0 does not; without it every Go program dies
// before main. The shim is a DLL of one function, ProcessPrng, that fills
// the buffer with RtlGenRandom (advapi32's SystemFunction036), built here
// with mingw-w64 and loaded in place of Wine's own bcryptprimitives.
// A newer Wine that has ProcessPrng needs none of it.
func ensurePrefix(t *testing.T, m *w) {
	t.Helper()
	sys32 := filepath.Join(m.prefix, "drive_c", "windows", "system32")
	if _, err := os.Stat(filepath.Join(m.prefix, "system.reg")); err != nil {
		t.Logf("creating the Wine prefix %s (about a minute, once)", m.prefix)
		if err := os.MkdirAll(filepath.Dir(m.prefix), 0o755); err != nil {
			t.Fatal(err)
		}
		c := exec.Command("wineboot", "--init")
		c.Env = m.env
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("wineboot --init: %v\n%s", err, out)
		}
		c = exec.Command("wineserver", "-w")
		c.Env = m.env
		c.Run()
	}
	src := filepath.Join(t.TempDir(), "prng.c")
	def := filepath.Join(filepath.Dir(src), "prng.def")
	built := filepath.Join(filepath.Dir(src), "bcryptprimitives.dll")
	if err := os.WriteFile(src, []byte(prngShim), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(def, []byte("LIBRARY bcryptprimitives\nEXPORTS\n  ProcessPrng\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("x86_64-w64-mingw32-gcc", "-O2", "-shared", "-s", "-o", built, src, def, "-ladvapi32").CombinedOutput()
	if err != nil {
		t.Fatalf("building the ProcessPrng shim: %v\n%s", err, out)
	}
	dll := filepath.Join(sys32, "bcryptprimitives.dll")
	b, err := os.ReadFile(built)
	if err != nil {
		t.Fatal(err)
	}
	if old, err := os.ReadFile(dll); err == nil && bytes.Equal(old, b) {
		return
	}
	// Put in place by a rename: a program starting meanwhile never loads
	// half a DLL.
	tmp := dll + ".new"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, dll); err != nil {
		t.Fatal(err)
	}
}

const prngShim = `/* aim-mcp ProcessPrng shim: see e2e/wine/wine_test.go */
#include <windows.h>
BOOLEAN WINAPI SystemFunction036(PVOID buf, ULONG len);
BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
	while (len > 0) {
		ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;
		if (!SystemFunction036(data, n)) return FALSE;
		data += n;
		len -= n;
	}
	return TRUE;
}
`

// build cross-compiles aim-mcp, the notes server, the stand-in client and
// the sleeper for windows/amd64.
func build(t *testing.T, m *w) {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	c := exec.Command("go", "build", "-o", m.bin+string(filepath.Separator),
		"./cmd/aim-mcp", "./examples/notes-server", "./examples/client", "./e2e/wine/testdata/sleeper")
	c.Dir = root
	c.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("cross-building for windows: %v\n%s", err, out)
	}
}

// winProcs lists the host pids of the Windows program exe (its Windows
// path) whose command line also contains arg. Wine shows a program's
// Windows command line in /proc, the program's path first.
func winProcs(t *testing.T, exe, arg string) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		cl := strings.TrimLeft(string(bytes.ReplaceAll(b, []byte{0}, []byte{' '})), `"`)
		if strings.HasPrefix(strings.ToLower(cl), strings.ToLower(exe)) && strings.Contains(cl[len(exe):], arg) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s after %v", what, d)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestProcessTree starts a server the way npx.cmd entries do, cmd /c
// starting the real program, and checks that nothing it started survives
// the proxy: when the proxy stops it, and when the proxy is killed hard.
func TestProcessTree(t *testing.T) {
	m := setup(t)
	home := filepath.Join(t.TempDir(), "aim home")
	for _, stop := range []string{"normal", "hard"} {
		t.Run(stop, func(t *testing.T) {
			pidfile := filepath.Join(t.TempDir(), "sleeper-"+stop+".pid")
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			proxy := m.cmd(ctx, m.exe("aim-mcp"), "proxy", "--server", "sleepy-"+stop, "--home", winPath(home),
				"--", "cmd", "/c", m.exe("sleeper"), winPath(pidfile))
			stdin, err := proxy.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr bytes.Buffer
			proxy.Stderr = &stderr
			if err := proxy.Start(); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the sleeper to start", time.Minute, func() bool {
				_, err := os.Stat(pidfile)
				return err == nil
			})
			if n := len(winProcs(t, m.exe("sleeper"), winPath(pidfile))); n != 1 {
				t.Fatalf("%d sleeper processes running, want 1", n)
			}
			switch stop {
			case "normal": // the client goes away: stdin closes
				stdin.Close()
				if err := proxy.Wait(); err != nil && proxy.ProcessState.ExitCode() < 0 {
					t.Fatalf("proxy: %v\n%s", err, stderr.String())
				}
			case "hard": // the proxy is killed; its job handle closes with it
				pids := winProcs(t, m.exe("aim-mcp"), "sleepy-hard")
				if len(pids) == 0 {
					t.Fatal("the proxy's process was not found")
				}
				for _, pid := range pids {
					syscall.Kill(pid, syscall.SIGKILL)
				}
				proxy.Wait()
				stdin.Close()
			}
			waitFor(t, "no sleeper left", 30*time.Second, func() bool {
				return len(winProcs(t, m.exe("sleeper"), winPath(pidfile))) == 0
			})
			t.Logf("proxy stderr:\n%s", stderr.String())
		})
	}
}

// TestWindowsUser is a Windows user's day with Claude Desktop, under Wine.
func TestWindowsUser(t *testing.T) {
	m := setup(t)
	roaming := userDir(t, m, "Roaming")
	local := userDir(t, m, "Local")
	claudeDir := filepath.Join(roaming, "Claude")
	packages, _ := filepath.Glob(filepath.Join(local, "Packages", "Claude_*"))
	for _, d := range append(packages, claudeDir) {
		os.RemoveAll(d) // a run that failed half-way left them
	}
	t.Cleanup(func() {
		packages, _ := filepath.Glob(filepath.Join(local, "Packages", "Claude_*"))
		for _, d := range append(packages, claudeDir) {
			os.RemoveAll(d)
		}
	})

	tmp := t.TempDir()
	homeDir := filepath.Join(tmp, "aim home")
	m.env = append(m.env, "AIM_MCP_HOME="+winPath(homeDir))
	// The server lives under Program Files, its notes in a folder with a space.
	server := filepath.Join(tmp, "Program Files", "Notes", "notes-server.exe")
	notes := filepath.Join(tmp, "my notes")
	for _, d := range []string{filepath.Dir(server), notes, claudeDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(t, filepath.Join(m.bin, "notes-server.exe"), server)
	writeFile(t, filepath.Join(notes, "notes.txt"), "buy milk\n")
	config := filepath.Join(claudeDir, "claude_desktop_config.json")
	original := crlf(fmt.Sprintf(`{
  "mcpServers": {
    "notes": {
      "command": %s,
      "args": [],
      "env": {
        "NOTES_DIR": %s
      }
    }
  },
  "globalShortcut": "Alt+Space"
}
`, jsonString(winPath(server)), jsonString(winPath(notes))))
	writeFile(t, config, original)
	direct := filepath.Join(tmp, "direct.json")
	writeFile(t, direct, original)

	t.Run("install keeps CRLF and writes Windows paths", func(t *testing.T) {
		out := m.aim(t, "install", "--client", "claude-desktop")
		if !strings.Contains(out, "1 server(s) wrapped") {
			t.Fatalf("install output:\n%s", out)
		}
		b := readFile(t, config)
		if strings.Count(b, "\n") != strings.Count(b, "\r\n") {
			t.Errorf("install lost the CRLF line ends:\n%q", b)
		}
		var cfg struct {
			MCPServers map[string]struct {
				Command string
				Args    []string
			}
			GlobalShortcut string
		}
		if err := json.Unmarshal([]byte(b), &cfg); err != nil {
			t.Fatalf("the config does not parse after install: %v\n%s", err, b)
		}
		e := cfg.MCPServers["notes"]
		if !strings.EqualFold(e.Command, m.exe("aim-mcp")) {
			t.Errorf("command = %q, want %q", e.Command, m.exe("aim-mcp"))
		}
		wantArgs := []string{"proxy", "--server", "notes", "--home", winPath(homeDir), "--", winPath(server)}
		if !containsInOrder(e.Args, wantArgs) {
			t.Errorf("args = %q, want them to hold %q", e.Args, wantArgs)
		}
		if cfg.GlobalShortcut != "Alt+Space" {
			t.Errorf("install lost globalShortcut")
		}
	})

	client := func(args ...string) (string, string) {
		t.Helper()
		out, errOut, err := m.run(m.exe("client"), append([]string{"-timeout", "90s"}, args...)...)
		if err != nil {
			t.Fatalf("client %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, errOut)
		}
		return out, errOut
	}

	t.Run("a relayed session answers as a direct one", func(t *testing.T) {
		calls := []string{"notes", "read_notes", "{}"}
		want, _ := client(append([]string{"-config", winPath(direct)}, calls...)...)
		got, errOut := client(calls...)
		if got != want || !strings.Contains(got, "read_notes: ok: 1 note(s): buy milk") {
			t.Errorf("through the proxy:\n%s\ndirect:\n%s", got, want)
		}
		// The key is private by its DACL: no warning about modes.
		if strings.Contains(errOut, "warning") {
			t.Errorf("the proxy warned:\n%s", errOut)
		}
	})

	t.Run("deny", func(t *testing.T) {
		m.aim(t, "policy", "add", "--tool", "delete_notes", "--action", "deny")
		out, _ := client("notes", "delete_notes", "{}")
		if !strings.Contains(out, `delete_notes: refused: aim-mcp: call to "delete_notes" was not run`) {
			t.Errorf("delete_notes was not refused:\n%s", out)
		}
		if got := readFile(t, filepath.Join(notes, "notes.txt")); got != "buy milk\n" {
			t.Errorf("notes.txt = %q after a denied delete", got)
		}
	})

	t.Run("approval from a second process", func(t *testing.T) {
		m.aim(t, "policy", "add", "--tool", "add_note", "--action", "approve")
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		var out, errOut bytes.Buffer
		c := m.cmd(ctx, m.exe("client"), "-timeout", "120s", "notes", "add_note", `{"text":"call the plumber"}`)
		c.Stdout, c.Stderr = &out, &errOut
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		var id string
		waitFor(t, "the approval request", 2*time.Minute, func() bool {
			js := m.aim(t, "approvals", "--json")
			if i := strings.Index(js, `"id": "`); i >= 0 && strings.Contains(js, "add_note") {
				id, _, _ = strings.Cut(js[i+len(`"id": "`):], `"`)
			}
			return id != ""
		})
		m.aim(t, "approve", id)
		if err := c.Wait(); err != nil && !errors.Is(err, exec.ErrWaitDelay) {
			t.Fatalf("client: %v\n%s%s", err, out.String(), errOut.String())
		}
		if !strings.Contains(out.String(), `add_note: ok: added "call the plumber"`) {
			t.Errorf("the approved call did not run:\n%s", out.String())
		}
	})

	t.Run("audit verify and reports", func(t *testing.T) {
		if out := m.aim(t, "audit", "verify"); !strings.Contains(out, "audit trail intact") {
			t.Errorf("audit verify:\n%s", out)
		}
		js, pdf := filepath.Join(tmp, "soc2.json"), filepath.Join(tmp, "soc 2.pdf")
		m.aim(t, "report", "--type", "soc2", "-o", winPath(js))
		m.aim(t, "report", "--type", "soc2", "--format", "pdf", "-o", winPath(pdf))
		if b := readFile(t, js); !strings.Contains(b, `"chain_intact": true`) {
			t.Errorf("soc2.json does not say the chain is intact:\n%.400s", b)
		}
		if b := readFile(t, pdf); !strings.HasPrefix(b, "%PDF-") {
			t.Errorf("the PDF report is not a PDF")
		}
	})

	t.Run("watch wraps again what the app unwrapped", func(t *testing.T) {
		wrapped := readFile(t, config)
		writeFile(t, config, original)
		m.aim(t, "watch", "--once", "--client", "claude-desktop")
		if got := readFile(t, config); got != wrapped {
			t.Errorf("watch --once wrote:\n%s\nwant what install wrote:\n%s", got, wrapped)
		}
	})

	t.Run("bad input", func(t *testing.T) {
		before := readFile(t, config)
		_, errOut, err := m.run(m.exe("aim-mcp"), "install", "--client", "claude-desktop", "--home", `\\fileserver\share\aim`)
		if err == nil || !strings.Contains(errOut, "is on a network share") || !strings.Contains(errOut, "hint: use a folder on this computer") {
			t.Errorf("install with a UNC home: %v\n%s", err, errOut)
		}
		if got := readFile(t, config); got != before {
			t.Errorf("bad input changed the config")
		}
		// Unwrapped again and read-only (the read-only attribute is the
		// owner's write bit to Wine): refused with the Windows command.
		writeFile(t, config, original)
		if err := os.Chmod(config, 0o444); err != nil {
			t.Fatal(err)
		}
		_, errOut, err = m.run(m.exe("aim-mcp"), "install", "--client", "claude-desktop")
		os.Chmod(config, 0o644)
		if err == nil || !strings.Contains(errOut, "is read-only") || !strings.Contains(errOut, `(attrib -r "C:\users\`) ||
			!strings.Contains(errOut, `\AppData\Roaming\Claude\claude_desktop_config.json")`) {
			t.Errorf("install over a read-only config: %v\n%s", err, errOut)
		}
		if got := readFile(t, config); got != original {
			t.Errorf("install changed a read-only config")
		}
		writeFile(t, config, before)
	})

	t.Run("uninstall gives the config back byte for byte", func(t *testing.T) {
		m.aim(t, "uninstall", "--client", "claude-desktop")
		if got := readFile(t, config); got != original {
			t.Errorf("after uninstall:\n%q\nwant:\n%q", got, original)
		}
	})

	t.Run("the MSIX package's config, before and after the app writes it", func(t *testing.T) {
		msixDir := filepath.Join(local, "Packages", "Claude_pzs8sxrjxfjjc", "LocalCache", "Roaming", "Claude")
		if err := os.MkdirAll(msixDir, 0o755); err != nil {
			t.Fatal(err)
		}
		_, errOut, err := m.run(m.exe("aim-mcp"), "install", "--client", "claude-desktop")
		if err == nil || !strings.Contains(errOut, "is not read by the app") {
			t.Errorf("install with the package installed and only the classic file: %v\n%s", err, errOut)
		}
		if got := readFile(t, config); got != original {
			t.Errorf("install changed the classic file the app does not read")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		var log syncbuf.Buffer
		w := m.cmd(ctx, m.exe("aim-mcp"), "watch", "--client", "claude-desktop")
		w.Stdout, w.Stderr = &log, &log
		if err := w.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { w.Process.Kill(); w.Wait() }()
		waitFor(t, "watch to start watching", 2*time.Minute, func() bool { return strings.Contains(log.String(), "watching") })
		msix := filepath.Join(msixDir, "claude_desktop_config.json")
		writeFile(t, msix, original) // the app writes its config
		waitFor(t, "watch to wrap the package's config", time.Minute, func() bool {
			return strings.Contains(readFile(t, msix), `"proxy"`)
		})
		if got := readFile(t, config); got != original {
			t.Errorf("watch changed the classic file")
		}
	})

	t.Run("unit tests of the Windows code", func(t *testing.T) {
		root, _ := filepath.Abs("../..")
		// The hint texts and the UNC check are pure and tested on every
		// OS; the DACL helper needs Windows' security calls.
		for _, pkg := range []string{"./internal/private"} {
			exe := filepath.Join(m.bin, filepath.Base(pkg)+".test.exe")
			c := exec.Command("go", "test", "-c", "-o", exe, pkg)
			c.Dir = root
			c.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
			if out, err := c.CombinedOutput(); err != nil {
				t.Fatalf("go test -c %s: %v\n%s", pkg, err, out)
			}
			out, errOut, err := m.run(winPath(exe), "-test.v")
			if err != nil || !strings.Contains(out, "PASS") {
				t.Errorf("%s under Wine: %v\n%s%s", pkg, err, out, errOut)
			}
		}
	})
}

// userDir is the prefix's AppData\<which> of the user Wine runs as.
func userDir(t *testing.T, m *w, which string) string {
	t.Helper()
	dirs, _ := filepath.Glob(filepath.Join(m.prefix, "drive_c", "users", "*", "AppData", which))
	for _, d := range dirs {
		if !strings.Contains(d, string(filepath.Separator)+"Public"+string(filepath.Separator)) {
			return d
		}
	}
	t.Fatalf("no AppData\\%s in the Wine prefix %s", which, m.prefix)
	return ""
}

func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func containsInOrder(have, want []string) bool {
	i := 0
	for _, h := range have {
		if i < len(want) && strings.EqualFold(h, want[i]) {
			i++
		}
	}
	return i == len(want)
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFile(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o755); err != nil {
		t.Fatal(err)
	}
}
