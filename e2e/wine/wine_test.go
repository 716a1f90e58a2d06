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
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// w is the Windows machine the test drives.
type w struct {
	t      *testing.T
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
	c.WaitDelay = 5 * time.Second
	return c
}

// run runs a Windows program to its end and returns its stdout and stderr.
func (m *w) run(program string, args ...string) (string, string, error) {
	m.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	c := m.cmd(ctx, program, args...)
	c.Stdout, c.Stderr = &stdout, &stderr
	err := c.Run()
	return stdout.String(), stderr.String(), err
}

// aim runs aim-mcp.exe and fails the test unless it exits 0.
func (m *w) aim(args ...string) string {
	m.t.Helper()
	out, errOut, err := m.run(m.exe("aim-mcp"), args...)
	if err != nil {
		m.t.Fatalf("aim-mcp %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, errOut)
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
	m := &w{t: t, bin: filepath.Join(t.TempDir(), "bin")}
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
	if _, err := os.Stat(filepath.Join(sys32, "kernel32.dll")); err != nil {
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
	dll := filepath.Join(sys32, "bcryptprimitives.dll")
	if b, err := os.ReadFile(dll); err == nil && bytes.Contains(b, []byte("aim-mcp ProcessPrng shim")) {
		return
	}
	src := filepath.Join(t.TempDir(), "prng.c")
	def := filepath.Join(filepath.Dir(src), "prng.def")
	if err := os.WriteFile(src, []byte(prngShim), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(def, []byte("LIBRARY bcryptprimitives\nEXPORTS\n  ProcessPrng\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("x86_64-w64-mingw32-gcc", "-O2", "-shared", "-s", "-o", dll, src, def, "-ladvapi32").CombinedOutput()
	if err != nil {
		t.Fatalf("building the ProcessPrng shim: %v\n%s", err, out)
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
