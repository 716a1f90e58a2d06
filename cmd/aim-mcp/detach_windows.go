package main

import (
	"os/exec"
	"syscall"
)

// detach starts cmd without a console and in a process group of its own, so
// it outlives the proxy.
func detach(cmd *exec.Cmd) {
	const detachedProcess = 0x00000008
	cmd.SysProcAttr = &syscall.SysProcAttr{CreationFlags: detachedProcess | syscall.CREATE_NEW_PROCESS_GROUP}
}
