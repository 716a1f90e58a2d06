//go:build unix

package mcpproxy

import "syscall"

// setsid starts a session of the caller's own, as a daemon does.
func setsid() error {
	_, err := syscall.Setsid()
	return err
}
