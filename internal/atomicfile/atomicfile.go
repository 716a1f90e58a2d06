// Package atomicfile replaces a file's contents so that a reader (or a crash)
// sees either the old bytes or the new ones, never a mix.
//
// It follows tailscale.com/atomicfile, with three additions that matter for
// client config files we do not own: symlinks are followed so the link stays
// a link (dotfile managers link configs into a repository), the file keeps
// its permission bits, and the directory is fsynced so the rename survives a
// power loss.
package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"time"
)

// WriteFile writes data to path atomically: a temporary file in the same
// directory is written, synced and renamed over the target. If path is a
// symlink, its target is replaced and the link left alone. An existing file
// keeps its permission bits; perm applies only when the file is created.
// A target that exists but is not a regular file is refused.
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	return Write(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// Write is [WriteFile] for contents written as they are made: write writes
// them to a temporary file that replaces path only when write returns nil.
// On an error nothing of them is left.
func Write(path string, perm fs.FileMode, write func(io.Writer) error) (err error) {
	target, err := resolve(path)
	if err != nil {
		return err
	}
	mode := perm.Perm()
	switch fi, err := os.Stat(target); {
	case err == nil && !fi.Mode().IsRegular():
		return fmt.Errorf("write %q: not a regular file (%s)", target, fi.Mode().Type())
	case err == nil:
		mode = fi.Mode().Perm()
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("write %q: %w", target, err)
	}

	dir, base := filepath.Split(target)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return fmt.Errorf("write %q: %w", target, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := write(f); err != nil {
		return fmt.Errorf("write %q: %w", target, err)
	}
	// Chmod before Sync so that the mode is as durable as the data.
	if err := f.Chmod(mode); err != nil {
		return fmt.Errorf("write %q: %w", target, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write %q: %w", target, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %q: %w", target, err)
	}
	if err := rename(tmp, target); err != nil {
		return fmt.Errorf("write %q: %w", target, err)
	}
	return syncDir(dir)
}

// resolve follows path through any symlinks. A path that does not exist yet
// is returned as is; a symlink whose target is missing is an error rather
// than being silently replaced by a regular file.
func resolve(path string) (string, error) {
	target, err := filepath.EvalSymlinks(path)
	if err == nil {
		return target, nil
	}
	if fi, lerr := os.Lstat(path); errors.Is(lerr, fs.ErrNotExist) {
		return path, nil
	} else if lerr == nil && fi.Mode()&fs.ModeSymlink != 0 {
		return "", fmt.Errorf("write %q: resolve symlink: %w", path, err)
	}
	if errors.Is(err, fs.ErrNotExist) {
		// A parent is missing: let CreateTemp report it.
		return path, nil
	}
	return "", fmt.Errorf("write %q: %w", path, err)
}

// rename retries on Windows, where another process holding the file open
// (an editor, antivirus, the client itself) makes MoveFileEx fail briefly.
func rename(from, to string) error {
	err := os.Rename(from, to)
	for i := 0; err != nil && runtime.GOOS == "windows" && i < 10; i++ {
		time.Sleep(100 * time.Millisecond)
		err = os.Rename(from, to)
	}
	return err
}

// syncDir makes the rename durable. Windows cannot open a directory for
// syncing and persists renames itself, so it is skipped there.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory %q: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %q: %w", dir, err)
	}
	return nil
}
