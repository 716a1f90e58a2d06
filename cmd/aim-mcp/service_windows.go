package main

import (
	"syscall"
	"unsafe"
)

// detachConsole lets go of the console window that Windows opens for a
// console program started by the task scheduler at login; the log goes to
// a file then. A console the user typed the command in is shared with
// their shell and kept, so Ctrl-C still stops the watcher: the console is
// ours alone when it lists no process but this one.
func detachConsole() {
	k32 := syscall.NewLazyDLL("kernel32.dll")
	var pids [2]uint32
	n, _, _ := k32.NewProc("GetConsoleProcessList").Call(uintptr(unsafe.Pointer(&pids[0])), uintptr(len(pids)))
	if n != 1 {
		return
	}
	k32.NewProc("FreeConsole").Call()
}
