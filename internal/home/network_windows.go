package home

import (
	"path/filepath"

	"golang.org/x/sys/windows"
)

// onNetwork says whether dir is on a network share: a UNC path, or a
// drive letter mapped to one.
func onNetwork(dir string) bool {
	if isUNC(dir) {
		return true
	}
	root := filepath.VolumeName(dir) + `\`
	p, err := windows.UTF16PtrFromString(root)
	if err != nil {
		return false
	}
	return windows.GetDriveType(p) == windows.DRIVE_REMOTE
}
