package claudeconfig

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/opena2a-org/aim-mcp/internal/private"
)

// Backup copies the file at path into dir as <basename>.<UTC time>.bak and
// returns the copy's path. It never overwrites: when the name is taken it
// adds a counter (<basename>.<time>-2.bak, ...). dir and the copy are
// private to the user (internal/private), since configs hold API keys in env.
func Backup(path, dir string, now time.Time) (string, error) {
	in, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("back up config: %w", err)
	}
	defer in.Close()
	if err := private.MkdirAll(dir); err != nil {
		return "", fmt.Errorf("back up config: %w", err)
	}
	stem := filepath.Join(dir, filepath.Base(path)+"."+now.UTC().Format("20060102T150405Z"))
	for n := 1; ; n++ {
		name := stem + ".bak"
		if n > 1 {
			name = stem + "-" + strconv.Itoa(n) + ".bak"
		}
		out, err := private.Create(name)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("back up config: %w", err)
		}
		if err := copyAndSync(out, in); err != nil {
			os.Remove(name)
			return "", fmt.Errorf("back up config: %w", err)
		}
		return name, nil
	}
}

// copyAndSync copies src into f a block at a time: a config of tens of
// megabytes is not read whole for its backup.
func copyAndSync(f *os.File, src io.Reader) error {
	_, err := io.Copy(f, src)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
