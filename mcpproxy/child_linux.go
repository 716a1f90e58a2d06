package mcpproxy

import (
	"io"
	"os"
	"os/exec"
	"slices"
	"syscall"

	"github.com/opena2a-org/aim-mcp/internal/supervisor"
)

// setDeathSignal makes the kernel kill the server if the proxy dies first,
// even by SIGKILL, when nothing else would.
func setDeathSignal(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }

// superviseCmd turns cmd into the same command run under a supervisor:
// this binary again, in the mode package supervisor runs. The supervisor leads the
// process group and is told of the proxy's death by signal (even a
// SIGKILL's), and then kills every process the server started, including
// those that left the group or started a session of their own.
//
// ready is read to its end once the supervisor has started the server, so
// the proxy's shutdown timers never count the supervisor's own start.
func superviseCmd(cmd *exec.Cmd) (ready *os.File, ok bool) {
	exe, err := os.Executable()
	if err != nil {
		return nil, false
	}
	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	cmd.Env = append(slices.Clip(env), supervisor.Env+"=1")
	cmd.Args = append([]string{os.Args[0], cmd.Path}, cmd.Args...)
	cmd.Path = exe
	cmd.SysProcAttr.Pdeathsig = supervisor.SigParentGone
	r, w, err := os.Pipe()
	if err != nil {
		return nil, false
	}
	cmd.ExtraFiles = []*os.File{w} // fd 3: closed once the server runs
	return r, true
}

// awaitSupervisor waits until the supervisor has started the server (or
// died): it closes its end of ready then.
func awaitSupervisor(cmd *exec.Cmd, ready *os.File) {
	cmd.ExtraFiles[0].Close()
	io.Copy(io.Discard, ready)
	ready.Close()
}

// kill ends the server and everything it started. A supervisor is asked to
// do it, since only it can find what left the group; then it exits.
func (c *child) kill() {
	if c.done.Load() {
		return // reaped: the pid may be someone else's now
	}
	if c.supervised {
		syscall.Kill(c.cmd.Process.Pid, supervisor.SigParentGone)
		return
	}
	syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
}
