//go:build unix

package registry

import (
	"errors"
	"os"
	"syscall"
)

// lockFile takes an exclusive lock on f: ok false when another process
// holds it and wait is false. The lock goes with the process, however it
// ends, which is how a spool tells a live session from a dead one.
func lockFile(f *os.File, wait bool) (ok bool, err error) {
	how := syscall.LOCK_EX
	if !wait {
		how |= syscall.LOCK_NB
	}
	err = syscall.Flock(int(f.Fd()), how)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return false, nil
	}
	return err == nil, err
}
