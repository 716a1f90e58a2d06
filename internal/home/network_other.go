//go:build !windows

package home

// onNetwork is a Windows check: elsewhere a share is mounted like any
// directory, and its modes are honoured.
func onNetwork(string) bool { return false }
