package main

import "syscall"

// detachConsole lets go of the console window that Windows opens for a
// console program started by the task scheduler at login; the log goes to
// a file then.
func detachConsole() {
	syscall.NewLazyDLL("kernel32.dll").NewProc("FreeConsole").Call()
}
