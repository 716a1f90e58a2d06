//go:build linux

// Command benchrelay is the floor of the proxy benchmark: a bare stdio line
// relay with no parsing, no policy and no records. It starts the command after
// "--", copies stdin to the child and the child's stdout to stdout line by line
// (bufio.Reader, no length limit, one Write per line), and shuts the child down
// the way aim-mcp proxy does: on stdin EOF it closes the child's stdin, waits
// 2 s, sends SIGTERM to the child's process group, waits 3 s, then SIGKILL.
// Signals it receives are passed on to the group; it exits with the child's code.
//
// The e2e tests also use it to validate their harness (AIM_E2E_WRAPPER=relay).
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: benchrelay -- CMD ARGS...")
		os.Exit(2)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	childIn, err := cmd.StdinPipe()
	if err != nil {
		fatal(err)
	}
	childOut, err := cmd.StdoutPipe()
	if err != nil {
		fatal(err)
	}
	if err := cmd.Start(); err != nil {
		fatal(err)
	}
	pgid := cmd.Process.Pid

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	go func() {
		for s := range sigs {
			_ = syscall.Kill(-pgid, s.(syscall.Signal))
		}
	}()

	exited := make(chan struct{})
	go func() {
		_ = pump(childIn, os.Stdin)
		_ = childIn.Close()
		select {
		case <-exited:
			return
		case <-time.After(2 * time.Second):
		}
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-exited:
			return
		case <-time.After(3 * time.Second):
		}
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	}()

	_ = pump(os.Stdout, childOut)
	err = cmd.Wait()
	close(exited)
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			os.Exit(128 + int(ws.Signal()))
		}
		os.Exit(ee.ExitCode())
	}
	if err != nil {
		fatal(err)
	}
}

// pump copies r to w one line per Write, with no limit on a line's length.
func pump(w io.Writer, r io.Reader) error {
	br := bufio.NewReaderSize(r, 64*1024)
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			if _, werr := w.Write(line); werr != nil {
				return werr
			}
		}
		if err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
	}
}

func fatal(err error) {
	fmt.Fprintf(os.Stderr, "benchrelay: %v\n", err)
	os.Exit(1)
}
