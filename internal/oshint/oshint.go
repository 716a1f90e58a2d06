// Package oshint words paths and fixes the way the user of each OS types
// them: a Windows path in plain double quotes with single backslashes and
// a cmd.exe command (attrib, icacls), a Unix path quoted as Go quotes it and
// a chmod. Every function has a form that takes the OS, so each OS's text
// is tested on any machine.
package oshint

import (
	"runtime"
	"strconv"
	"strings"
)

// Quote quotes a path for a message on this OS.
func Quote(p string) string { return QuoteFor(runtime.GOOS, p) }

// QuoteFor quotes a path for a message on goos. Windows paths cannot hold
// a double quote, so quoting them needs no escapes; Go's %q would double
// every backslash, which nobody can paste into a prompt.
func QuoteFor(goos, p string) string {
	if goos == "windows" && !strings.ContainsAny(p, "\"\r\n") {
		return `"` + p + `"`
	}
	return strconv.Quote(p)
}

// Writable is the command that makes a read-only file writable.
func Writable(p string) string { return WritableFor(runtime.GOOS, p) }

// WritableFor is [Writable] on goos: Windows marks a file read-only with
// an attribute, Unix with its mode.
func WritableFor(goos, p string) string {
	if goos == "windows" {
		return "attrib -r " + QuoteFor(goos, p)
	}
	return "chmod u+w " + QuoteFor(goos, p)
}

// WritableDir is the command that lets the user create files in dir.
func WritableDir(dir string) string { return WritableDirFor(runtime.GOOS, dir) }

// WritableDirFor is [WritableDir] on goos: on Windows a grant of modify
// rights to the user logged in, on Unix the owner's write bit.
func WritableDirFor(goos, dir string) string {
	if goos == "windows" {
		return "icacls " + QuoteFor(goos, dir) + ` /grant "%USERNAME%:(OI)(CI)M"`
	}
	return "chmod u+w " + QuoteFor(goos, dir)
}

// Private is the command that leaves a file readable by user alone (user
// matters on Windows only: DOMAIN\name, or empty for the one logged in).
func Private(p, user string) string { return PrivateFor(runtime.GOOS, p, user) }

// PrivateFor is [Private] on goos. On Windows it drops the inherited
// entries and grants full control to the user alone; on Unix it is chmod.
func PrivateFor(goos, p, user string) string {
	if goos == "windows" {
		if user == "" {
			user = "%USERNAME%"
		}
		return "icacls " + QuoteFor(goos, p) + " /inheritance:r /grant:r " + QuoteFor(goos, user+":F")
	}
	return "chmod 600 " + QuoteFor(goos, p)
}
