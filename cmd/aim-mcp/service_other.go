//go:build !windows

package main

// detachConsole is needed on Windows only.
func detachConsole() {}
