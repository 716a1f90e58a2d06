//go:build !linux

package mcpproxy

import (
	"os"
	"os/exec"
)

// superviseCmd: there is no subreaper here to find a process that left the
// group, so the server runs unsupervised.
func superviseCmd(*exec.Cmd) (ready *os.File, ok bool) { return nil, false }

func awaitSupervisor(*exec.Cmd, *os.File) {}
