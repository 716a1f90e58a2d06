//go:build unix && !linux

package mcpproxy

import "syscall"

// setDeathSignal has no equivalent here; the server sees stdin close instead.
func setDeathSignal(*syscall.SysProcAttr) {}
