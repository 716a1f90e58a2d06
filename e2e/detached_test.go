//go:build linux

package e2e

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// proc is what /proc says of one live process.
type proc struct {
	pid, ppid, sid int
	argv           []string
}

// procs lists the live processes (zombies left out).
func procs() []proc {
	var out []proc
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(st, ')')
		f := strings.Fields(string(st[i+1:])) // state ppid pgrp session ...
		if i < 0 || len(f) < 4 || f[0] == "Z" {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		sid, _ := strconv.Atoi(f[3])
		cl, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		out = append(out, proc{pid: pid, ppid: ppid, sid: sid, argv: strings.Split(strings.TrimRight(string(cl), "\x00"), "\x00")})
	}
	return out
}

// checkDetachedDashboard checks the dashboard a proxy started for a held
// call: exactly one for the home, in a session of its own, and the child of
// no proxy (so the client's process tree did not hold it). It is stopped
// when the test ends.
func checkDetachedDashboard(t *testing.T, home string) {
	t.Helper()
	all := procs()
	byPID := map[int]proc{}
	var dash []proc
	for _, p := range all {
		byPID[p.pid] = p
		cl := strings.Join(p.argv, "\x00")
		if len(p.argv) > 1 && p.argv[1] == "dashboard" && strings.Contains(cl, "\x00--home\x00"+home+"\x00") {
			dash = append(dash, p)
		}
	}
	for _, p := range dash {
		t.Cleanup(func() { syscall.Kill(p.pid, syscall.SIGTERM) })
	}
	if len(dash) != 1 {
		t.Fatalf("%d dashboards run for the home after the held calls, want 1: %v", len(dash), dash)
	}
	d := dash[0]
	if d.sid != d.pid {
		t.Errorf("the dashboard (pid %d) is not in a session of its own (session %d)", d.pid, d.sid)
	}
	for _, a := range d.argv {
		if a == "--detach" {
			t.Errorf("the dashboard still runs as the launcher: %q", d.argv)
		}
	}
	if parent, ok := byPID[d.ppid]; ok && len(parent.argv) > 1 && parent.argv[1] == "proxy" {
		t.Errorf("the dashboard is the child of a proxy (pid %d): %q", d.ppid, parent.argv)
	}
	t.Logf("the dashboard the proxy started: pid %d, parent %d, session %d", d.pid, d.ppid, d.sid)
}
