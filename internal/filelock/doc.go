// Package filelock locks a file for the life of the process that holds
// it: the lock goes with the process however it ends (flock, LockFileEx),
// so a process killed with SIGKILL never leaves it held. That is how a
// spool tells a live session from a dead one, and how one proxy refreshes
// a login while the others wait.
package filelock
