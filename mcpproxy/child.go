package mcpproxy

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"sync/atomic"
	"syscall"
	"time"
)

// ProxiedEnv is set to "1" in the environment of every server the proxy
// starts. An MCP server that protects itself in-process (the aim package's
// middleware) reads it and leaves deciding and recording to the proxy, so
// no call is recorded twice.
const ProxiedEnv = "AIM_MCP_PROXIED"

// child is the real server, in a process group of its own so that a
// launcher's grandchildren (npx → node, uvx → python, sh -c) go with it.
type child struct {
	cmd    *exec.Cmd
	stdin  *os.File // our end of its stdin
	stdout *os.File // our end of its stdout
	err    error
	//lint:ignore U1000 only Windows keeps state here (its job object)
	box containment // what holds its process tree, per OS
	// supervised: cmd is a supervisor that runs the server (Linux).
	supervised bool
	// done is set once Wait returned; stopped when we ended the server
	// while it still ran, so its exit is described as a kill.
	done, stopped atomic.Bool
}

// startChild starts the server; with supervise, under a supervisor where
// the platform has one.
func startChild(argv, env []string, stderr io.Writer, supervise bool) (*child, error) {
	if len(argv) == 0 {
		return nil, errors.New("no server command given")
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return nil, fmt.Errorf("start server: %q: %w", argv[0], ErrCommandNotFound)
	}
	cmd := exec.Command(path, argv[1:]...)
	cmd.Args[0] = argv[0]
	if env == nil {
		env = os.Environ()
	}
	cmd.Env = append(slices.Clip(env), ProxiedEnv+"=1")
	cmd.Stderr = stderr
	// When stderr is not a file, os/exec copies it, and Wait would wait for
	// every grandchild that inherited it: a crashed server would go unseen.
	cmd.WaitDelay = 500 * time.Millisecond
	setProcAttr(cmd)
	var ready *os.File
	supervised := false
	if supervise {
		ready, supervised = superviseCmd(cmd)
	}
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start server: %w", err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, fmt.Errorf("start server: %w", err)
	}
	cmd.Stdin, cmd.Stdout = inR, outW
	// Our ends stay ours even if a launcher passes every handle it can on.
	for _, f := range []*os.File{inW, outR} {
		if err := noInherit(f); err != nil {
			inR.Close()
			inW.Close()
			outR.Close()
			outW.Close()
			return nil, fmt.Errorf("start server: %w", err)
		}
	}
	if err := cmd.Start(); err != nil {
		inR.Close()
		inW.Close()
		outR.Close()
		outW.Close()
		return nil, fmt.Errorf("start server %q: %w", argv[0], err)
	}
	// Only the child keeps these ends; our copies would hide its EOF.
	inR.Close()
	outW.Close()
	if supervised {
		awaitSupervisor(cmd, ready)
	}
	c := &child{cmd: cmd, stdin: inW, stdout: outR, supervised: supervised}
	if err := c.contain(); err != nil {
		c.kill()
		cmd.Process.Kill()
		cmd.Wait()
		inW.Close()
		outR.Close()
		return nil, fmt.Errorf("start server %q: %w", argv[0], err)
	}
	return c, nil
}

func (c *child) pid() int { return c.cmd.Process.Pid }

func (c *child) wait() {
	c.err = c.cmd.Wait()
	c.done.Store(true)
}

// exitStatus is the code to exit with and a few words on how it ended.
func (c *child) exitStatus() (int, string) {
	if c.err == nil || errors.Is(c.err, exec.ErrWaitDelay) { // exited 0, a grandchild kept stderr
		return 0, "exited"
	}
	var ee *exec.ExitError
	if errors.As(c.err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), "killed by " + ws.Signal().String()
		}
		if c.stopped.Load() { // no signal to tell: we know we ended it
			return ee.ExitCode(), "killed by aim-mcp"
		}
		return ee.ExitCode(), fmt.Sprintf("exited with status %d", ee.ExitCode())
	}
	return 1, c.err.Error()
}
