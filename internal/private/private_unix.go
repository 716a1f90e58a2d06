//go:build !windows

package private

import (
	"fmt"
	"os"

	"github.com/opena2a-org/aim-mcp/internal/oshint"
)

func mkdir(dir string) error { return os.Mkdir(dir, 0o700) }

func create(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
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
