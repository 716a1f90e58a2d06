package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/opena2a-org/aim-mcp/discovery"
)

// running reports whether the client's app seems to run, so install can say
// louder that it must be restarted.
func running(c discovery.Client) bool {
	names := c.Processes
	if len(names) == 0 {
		return false
	}
	match := func(n string) bool {
		n = strings.TrimSpace(filepath.Base(n))
		for _, w := range names {
			if n == w {
				return true
			}
		}
		return false
	}
	switch runtime.GOOS {
	case "linux":
		dirs, _ := filepath.Glob("/proc/[0-9]*/comm")
		for _, d := range dirs {
			if b, err := os.ReadFile(d); err == nil && match(string(b)) {
				return true
			}
		}
	case "darwin":
		out, _ := exec.Command("ps", "-axo", "comm=").Output()
		for _, l := range strings.Split(string(out), "\n") {
			if match(l) {
				return true
			}
		}
	case "windows":
		out, _ := exec.Command("tasklist", "/fo", "csv", "/nh").Output()
		for _, l := range strings.Split(string(out), "\n") {
			if f := strings.Split(l, ","); len(f) > 0 && match(strings.Trim(f[0], `"`)) {
				return true
			}
		}
	}
	return false
}
