//go:build !windows

package private

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"github.com/opena2a-org/aim-mcp/internal/oshint"
)

func mkdir(dir string) error { return os.Mkdir(dir, 0o700) }

func create(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
}

// writeNew is open, write and close, the three system calls: an *os.File
// would add a few more for each file to put it in non-blocking mode.
func writeNew(path string, data []byte) (bool, error) {
	var fd int
	var err error
	for {
		fd, err = syscall.Open(path, syscall.O_WRONLY|syscall.O_CREAT|syscall.O_EXCL|syscall.O_CLOEXEC, 0o600)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		return false, &os.PathError{Op: "open", Path: path, Err: err}
	}
	for len(data) > 0 && err == nil {
		var n int
		n, err = syscall.Write(fd, data)
		if errors.Is(err, syscall.EINTR) {
			err = nil
		}
		data = data[max(n, 0):]
	}
	if cerr := syscall.Close(fd); err == nil && cerr != nil && !errors.Is(cerr, syscall.EINTR) {
		err = cerr
	}
	if err != nil {
		return true, &os.PathError{Op: "write", Path: path, Err: err}
	}
	return true, nil
}

// readSmall is open, fstat, read and close.
func readSmall(path string, n int) ([]byte, *Exposure, error) {
	var fd int
	var err error
	for {
		fd, err = syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		return nil, nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	var ex *Exposure
	if syscall.Fstat(fd, &st) == nil && st.Mode&0o077 != 0 {
		ex = exposure(path, os.FileMode(st.Mode&0o777), st.Mode&syscall.S_IFMT == syscall.S_IFDIR)
	}
	buf := make([]byte, n)
	for {
		n, err = syscall.Read(fd, buf)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		n = 0 // unreadable (a directory): what it holds is no key
	}
	return buf[:max(n, 0)], ex, nil
}

func check(path string) (*Exposure, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 == 0 {
		return nil, nil
	}
	return exposure(path, fi.Mode().Perm(), fi.IsDir()), nil
}

func exposure(path string, perm os.FileMode, dir bool) *Exposure {
	fix := oshint.Private(path, "")
	if dir {
		fix = "chmod 700 " + oshint.Quote(path)
	}
	return &Exposure{Path: path, Who: fmt.Sprintf("has mode %04o", perm), Fix: fix}
}
