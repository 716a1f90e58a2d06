//go:build unix && !linux

package mcpproxy

import "syscall"

// setDeathSignal has no equivalent here; the server sees stdin close instead.
func setDeathSignal(*syscall.SysProcAttr) {}

// kill ends the group, grandchildren included.
func (c *child) kill() {
	if !c.done.Load() {
		syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
	}
}
