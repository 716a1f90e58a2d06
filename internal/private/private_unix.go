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

func check(path string) (*Exposure, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 == 0 {
		return nil, nil
	}
	fix := oshint.Private(path, "")
	if fi.IsDir() {
		fix = "chmod 700 " + oshint.Quote(path)
	}
	return &Exposure{Path: path, Who: fmt.Sprintf("has mode %04o", fi.Mode().Perm()), Fix: fix}, nil
}
