//go:build linux || darwin

package identity

import (
	"os"
	"syscall"
)

// stamp is what a stat says of a key file that changes when anything
// writes, renames over, or changes the mode or owner of it.
type stamp struct{ ino, size, mtime, ctime int64 }

func stampOf(fi os.FileInfo) (stamp, bool) {
	if fi == nil {
		return stamp{}, false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return stamp{}, false
	}
	return stamp{ino: int64(st.Ino), size: st.Size,
		mtime: fi.ModTime().UnixNano(), ctime: ctimeOf(st)}, true
}
