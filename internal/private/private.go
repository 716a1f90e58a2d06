// Package private keeps aim-mcp's secrets readable by their owner alone:
// by file modes on Unix (0700 directories, 0600 files) and by an owner-only
// protected DACL on Windows, where modes say nothing about who may read.
// Directories and files are made private as they are created, so there is
// no moment when another user could open them; what already exists is
// checked, never silently changed.
package private

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Exposure says who besides the owner can read a file, and how to fix it.
type Exposure struct {
	Path string
	// Who is what lets others in: "has mode 0644" on Unix, "can be read
	// by BUILTIN\Users, Everyone" on Windows.
	Who string
	Fix string // the command that makes it private, for a hint
}

// MkdirAll creates dir and any missing parents; each directory it creates
// is private. One that exists is left as it is.
func MkdirAll(dir string) error {
	dir = filepath.Clean(dir)
	if fi, err := os.Stat(dir); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("create %s: not a directory", dir)
		}
		return nil
	}
	if parent := filepath.Dir(dir); parent != dir {
		if err := MkdirAll(parent); err != nil {
			return err
		}
	}
	if err := mkdir(dir); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	return nil
}

// Create creates a new file for writing, private from its first byte. It
// fails when the file exists: a secret is never overwritten.
func Create(path string) (*os.File, error) { return create(path) }

// WriteNew is Create, a write of data and a close, in as few system calls
// as the platform allows: for saving thousands of small secrets at once.
// created says whether the file was created, even when writing it then
// failed (the caller removes it: it may be short).
func WriteNew(path string, data []byte) (created bool, err error) { return writeNew(path, data) }

// ReadSmall reads up to n bytes of a small secret at path with one read
// (nothing when it cannot be read once open), and says who besides the
// owner can read it, as Check does: for loading thousands of keys at once
// in few system calls. The error is the open's.
func ReadSmall(path string, n int) ([]byte, *Exposure, error) { return readSmall(path, n) }

// Check reports who besides the owner can read path: nil when nobody can.
func Check(path string) (*Exposure, error) { return check(path) }
