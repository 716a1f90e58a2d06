package mcpproxy

import (
	"os"
	"os/exec"
)

var sigTerm os.Signal = os.Kill

func setProcAttr(*exec.Cmd) {}

// Windows has no SIGTERM for console programs: stop means kill.
func (c *child) signal(os.Signal)   { c.cmd.Process.Kill() }
func (c *child) signalOS(os.Signal) { c.cmd.Process.Kill() }
func (c *child) kill()              { c.cmd.Process.Kill() }
