package supervisor

import (
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// SigParentGone tells a supervisor that its proxy is gone (the kernel sends
// it when the proxy dies, however it dies) or wants everything stopped.
const SigParentGone = syscall.SIGUSR1

// prSetChildSubreaper is PR_SET_CHILD_SUBREAPER from linux/prctl.h.
const prSetChildSubreaper = 36

// init runs this process as the supervisor of a server, and exits with the
// server's code, when the proxy started it as one (see Env). It runs here,
// while the packages are initialised, rather than in main: the packages
// this one needs sort before the binary's heavy ones (SQLite, OpenTelemetry,
// the scanner, templates), which Go initialises after it, so a supervisor
// starts its server without paying for them: it is on the path from a
// client starting the proxy to the server's first byte.
//
// The supervisor is a child subreaper, so every process the server starts
// that loses its parent (a daemon that double-forked, a child that called
// setsid) becomes its child instead of init's, and can be found by walking
// /proc from it. When the server exits, or the proxy dies, or the proxy asks
// (SigParentGone), it kills all of them and exits. Other signals reach the
// server through the process group the supervisor leads.
func init() {
	if os.Getenv(Env) != "1" || len(os.Args) < 3 {
		return
	}
	os.Unsetenv(Env)
	os.Exit(supervise(os.Args[1], os.Args[2:]))
}

func supervise(path string, argv []string) int {
	// The server's parent-death signal is tied to the thread that starts
	// it: keep that thread.
	runtime.LockOSThread()
	if _, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); e != 0 {
		fmt.Fprintf(os.Stderr, "aim-mcp: warning: cannot become a subreaper: %v\n", e)
	}
	// fd 3 tells the proxy we are ready by closing; the server must not
	// hold it.
	syscall.CloseOnExec(3)
	sigs := make(chan os.Signal, 8)
	// Group signals reach the server as they reach us; ours are noted and
	// otherwise ignored (signal.Ignore would pass SIG_IGN on to the server).
	signal.Notify(sigs, SigParentGone, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	proc, err := os.StartProcess(path, argv, &os.ProcAttr{
		Env:   os.Environ(),
		Files: []*os.File{os.Stdin, os.Stdout, os.Stderr},
		Sys:   &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "aim-mcp: error: start server %q: %v\n", argv[0], err)
		return 126
	}
	// Only the server keeps these: the proxy must see its EOF.
	os.Stdin.Close()
	os.Stdout.Close()
	syscall.Close(3)
	go func() {
		for s := range sigs {
			if s == SigParentGone {
				killDescendants()
			}
		}
	}()
	var status syscall.WaitStatus
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, 0, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil || pid == proc.Pid {
			status = ws
			break
		}
		// An orphan that was handed to us has exited: reaped.
	}
	killDescendants()
	signal.Stop(sigs)
	switch {
	case status.Signaled():
		// End the way the server ended, so the proxy reports it alike.
		sig := status.Signal()
		signal.Reset(sig)
		syscall.Kill(os.Getpid(), sig)
		time.Sleep(100 * time.Millisecond)
		return 128 + int(sig)
	case status.Exited():
		return status.ExitStatus()
	}
	return 1
}

// killDescendants kills every live descendant of this process, and reaps
// them, until none is left: killing a parent hands its children to us,
// and a process may fork while we look.
func killDescendants() {
	self := os.Getpid()
	for range 100 {
		kids := descendants(self)
		if len(kids) == 0 {
			break
		}
		for _, pid := range kids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		reap()
		time.Sleep(time.Millisecond)
	}
	reap()
}

// reap collects every child that has exited, without waiting.
func reap() {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil || pid <= 0 {
			return
		}
	}
}

// descendants lists the live processes below root, from /proc.
func descendants(root int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces and parens.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 2 || f[0] == "Z" || f[0] == "X" {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		children[ppid] = append(children[ppid], pid)
	}
	var out []int
	queue := []int{root}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}
