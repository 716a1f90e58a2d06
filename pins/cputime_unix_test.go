//go:build unix

package pins

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time the process used so far (user and system), so
// that a benchmark on a shared machine can report what it cost, not only
// how long it waited.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
