//go:build unix

// Package filelock locks a file for the life of the process that holds
// it: the lock goes with the process however it ends (flock, LockFileEx),
// so a process killed with SIGKILL never leaves it held. That is how a
// spool tells a live session from a dead one, and how one proxy refreshes
// a login while the others wait.
package filelock

import (
	"errors"
	"os"
	"syscall"
)

// Lock takes an exclusive lock on f: ok false when another process holds
// it and wait is false.
func Lock(f *os.File, wait bool) (ok bool, err error) {
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
