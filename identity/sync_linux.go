package identity

import (
	"os"

	"golang.org/x/sys/unix"
)

// syncFiles makes the files at paths in dir, and dir itself, durable. On
// Linux one syncfs(2) of the file system does it for all of them: one flush
// instead of one per file.
func syncFiles(dir string, paths []string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return unix.Syncfs(int(d.Fd()))
}
