//go:build linux

package mcpproxy

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// withSurvivors runs the fake server through sh, which first starts two
// sleepers: one in the server's process group and one that starts a
// session of its own (as a daemonising child does), then logs its pid.
func withSurvivors() []string {
	return []string{"sh", "-c", envFake + `=sleeper "$0" </dev/null & ` +
		envFake + `=sleeper ` + envSetsid + `=1 "$0" </dev/null & ` +
		`echo "#server pid $$" >> "$` + envLog + `"; exec "$0"`, os.Args[0]}
}

// logPids waits until the log names the server and both sleepers, and
// returns their pids.
func logPids(t *testing.T, log func() string) []int {
	t.Helper()
	var pids []int
	eventually(t, 10*time.Second, "the server's and sleepers' pids", func() bool {
		pids = pids[:0]
		for _, l := range strings.Split(log(), "\n") {
			for _, prefix := range []string{"#sleeper pid ", "#server pid "} {
				if s, ok := strings.CutPrefix(l, prefix); ok {
					if pid, _ := strconv.Atoi(s); pid > 0 {
						pids = append(pids, pid)
					}
				}
			}
		}
		return len(pids) == 3
	})
	return pids
}

// TestNoSurvivorAfterSIGKILL: when the proxy is killed with SIGKILL,
// nothing the server started lives on, a child in a session of its own
// included.
func TestNoSurvivorAfterSIGKILL(t *testing.T) {
	requireProc(t)
	bin := aimMCP(t)
	home := t.TempDir()
	log := filepath.Join(t.TempDir(), "server.log")
	cmd := exec.Command(bin, append([]string{"proxy", "--server", "fake", "--home", home, "--"}, withSurvivors()...)...)
	cmd.Env = append(os.Environ(), binEnv(t, envFake+"=mcp", envLog+"="+log)...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	io.WriteString(stdin, rawInit)
	if line, err := bufio.NewReader(stdout).ReadBytes('\n'); err != nil {
		t.Fatalf("initialize: got %q, %v", line, err)
	}
	pids := logPids(t, func() string { b, _ := os.ReadFile(log); return string(b) })
	t.Cleanup(func() {
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	for _, pid := range pids {
		waitGone(t, pid)
	}
}

// TestNoSurvivorAfterStop: a clean stop leaves no process behind either,
// though one of them left the server's process group.
func TestNoSurvivorAfterStop(t *testing.T) {
	requireProc(t)
	p := startProxy(t, proxyOpts{command: withSurvivors(), grace: 200 * time.Millisecond})
	p.lines()
	p.send(rawInit)
	pids := logPids(t, p.serverLog)
	t.Cleanup(func() {
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	p.close()
	for _, pid := range pids {
		waitGone(t, pid)
	}
}
