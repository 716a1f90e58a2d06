//go:build unix

package mcpproxy

import (
	"os"
	"os/exec"
	"syscall"
)

var sigTerm os.Signal = syscall.SIGTERM

// containment is the process group, which needs no state of its own.
//
//lint:ignore U1000 the field of this type is used on Windows
type containment struct{}

func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	setDeathSignal(cmd.SysProcAttr)
}

// noInherit has nothing to do: os.Pipe's ends are close-on-exec.
func noInherit(*os.File) error { return nil }

// contain has nothing to do: the group was made at fork.
func (c *child) contain() error { return nil }

// signal sends s to the whole process group.
func (c *child) signal(s os.Signal) {
	if sig, ok := s.(syscall.Signal); ok {
		syscall.Kill(-c.cmd.Process.Pid, sig)
	}
}

func (c *child) signalOS(s os.Signal) { c.signal(s) }
