package mcpproxy

import "syscall"

// setDeathSignal makes the kernel kill the server if the proxy dies first,
// even by SIGKILL, when nothing else would.
func setDeathSignal(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
