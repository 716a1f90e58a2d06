package mcpproxy

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
)

// Windows has no SIGTERM for console programs and no process groups that
// TerminateProcess honours: ending the server means ending its job.
var sigTerm os.Signal = os.Kill

// killedCode is the exit code every process in the job gets when we end it.
const killedCode = 1

// containment is the job object that holds the server and everything it
// starts. It is created with kill-on-close and its handle is not
// inheritable, so when the proxy dies, however it dies, Windows closes the
// last handle and ends every process in the job: npx.cmd's node.exe too.
type containment struct {
	mu  sync.Mutex
	job windows.Handle // 0 once closed
}

// setProcAttr starts the server suspended, so it runs no instruction, and
// starts no child, before it is in the job.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{CreationFlags: windows.CREATE_SUSPENDED}
}

// noInherit clears the inherit flag that os.Pipe sets on both ends: only
// the server's ends are handed to it, and a launcher that passes on every
// inheritable handle it has must not keep ours open, or the server would
// never see end-of-file.
func noInherit(f *os.File) error {
	if err := windows.SetHandleInformation(windows.Handle(f.Fd()), windows.HANDLE_FLAG_INHERIT, 0); err != nil {
		return fmt.Errorf("pipe handle: %w", err)
	}
	return nil
}

// contain puts the suspended server into a new kill-on-close job and lets
// it run.
func (c *child) contain() error {
	job, err := windows.CreateJobObject(nil, nil)
	if err != nil {
		return fmt.Errorf("create job object: %w", err)
	}
	info := windows.JOBOBJECT_EXTENDED_LIMIT_INFORMATION{}
	info.BasicLimitInformation.LimitFlags = windows.JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
	if _, err := windows.SetInformationJobObject(job, windows.JobObjectExtendedLimitInformation,
		uintptr(unsafe.Pointer(&info)), uint32(unsafe.Sizeof(info))); err != nil {
		windows.CloseHandle(job)
		return fmt.Errorf("set job object limits: %w", err)
	}
	pid := uint32(c.cmd.Process.Pid)
	// The pid cannot be reused: os.Process holds a handle to the process.
	ph, err := windows.OpenProcess(windows.PROCESS_SET_QUOTA|windows.PROCESS_TERMINATE, false, pid)
	if err != nil {
		windows.CloseHandle(job)
		return fmt.Errorf("open server process: %w", err)
	}
	err = windows.AssignProcessToJobObject(job, ph)
	windows.CloseHandle(ph)
	if err != nil {
		windows.CloseHandle(job)
		return fmt.Errorf("assign server to a job object: %w", err)
	}
	c.box.job = job
	if err := resumeProcess(pid); err != nil {
		return err // the caller kills it; the job goes when the proxy does
	}
	return nil
}

// resumeProcess resumes the threads of a process created suspended: its
// main thread, which os/exec does not hand out.
func resumeProcess(pid uint32) error {
	snap, err := windows.CreateToolhelp32Snapshot(windows.TH32CS_SNAPTHREAD, 0)
	if err != nil {
		return fmt.Errorf("resume server: %w", err)
	}
	defer windows.CloseHandle(snap)
	te := windows.ThreadEntry32{Size: uint32(unsafe.Sizeof(windows.ThreadEntry32{}))}
	resumed := 0
	for err = windows.Thread32First(snap, &te); err == nil; err = windows.Thread32Next(snap, &te) {
		if te.OwnerProcessID != pid {
			continue
		}
		th, err := windows.OpenThread(windows.THREAD_SUSPEND_RESUME, false, te.ThreadID)
		if err != nil {
			return fmt.Errorf("resume server: open thread: %w", err)
		}
		_, err = windows.ResumeThread(th)
		windows.CloseHandle(th)
		if err != nil {
			return fmt.Errorf("resume server: %w", err)
		}
		resumed++
	}
	if !errors.Is(err, windows.ERROR_NO_MORE_FILES) {
		return fmt.Errorf("resume server: list threads: %w", err)
	}
	if resumed == 0 {
		return errors.New("resume server: its main thread was not found")
	}
	return nil
}

func (c *child) signal(os.Signal)   { c.kill() }
func (c *child) signalOS(os.Signal) { c.kill() }

// kill ends every process in the job and lets the job go. A server that
// was still running is then reported as killed, not as exited with the
// code the job gave it.
func (c *child) kill() {
	c.box.mu.Lock()
	defer c.box.mu.Unlock()
	if c.box.job == 0 {
		return
	}
	if !c.done.Load() {
		c.stopped.Store(true)
	}
	windows.TerminateJobObject(c.box.job, killedCode)
	windows.CloseHandle(c.box.job)
	c.box.job = 0
}
