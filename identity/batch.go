package identity

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync/atomic"

	"github.com/opena2a-org/aim-mcp/internal/par"
	"github.com/opena2a-org/aim-mcp/internal/private"
)

// SaveAll writes keys[i] as the key of server ids[i], like Save, for many
// servers at once: installing ten thousand servers must not wait for ten
// thousand separate flushes to disk. Every file is written first and made
// durable together at the end. When anything fails, the files it created
// are removed and none is left half-written.
func (s Store) SaveAll(ids []string, keys []*Key) (err error) {
	if len(ids) != len(keys) {
		return fmt.Errorf("save keys: %d ids for %d keys", len(ids), len(keys))
	}
	if len(ids) == 0 {
		return nil
	}
	if err := private.MkdirAll(s.Dir); err != nil {
		return fmt.Errorf("create key directory: %w", err)
	}
	// Creating a file is the kernel's work, most of it outside any disk
	// wait: spread it over the cores.
	created := make([]bool, len(ids))
	defer func() {
		if err != nil {
			for i, ok := range created {
				if ok {
					os.Remove(s.path(ids[i]))
				}
			}
		}
	}()
	errs := make([]error, len(ids))
	var failed atomic.Bool // after the first failure, the rest are not created
	par.Each(len(ids), func(i int) {
		if failed.Load() {
			return
		}
		if created[i], errs[i] = s.create(ids[i], keys[i]); errs[i] != nil {
			failed.Store(true)
		}
	})
	if err := errors.Join(errs...); err != nil {
		return err
	}
	paths := make([]string, len(ids))
	for i, id := range ids {
		paths[i] = s.path(id)
	}
	if err := syncFiles(s.Dir, paths); err != nil {
		return fmt.Errorf("save keys: %w", err)
	}
	// Read back after the flush, not during it: the flush is time for the
	// last keys written to settle, so that almost all are remembered.
	s.remember(ids, s.readBack(ids, keys))
	return nil
}

// create writes the key file of server id, not yet flushed to disk, and
// reports whether it created the file.
func (s Store) create(id string, k *Key) (bool, error) {
	created, err := private.WriteNew(s.path(id), []byte(k.Seed()+"\n"))
	switch {
	case errors.Is(err, fs.ErrExist):
		return false, fmt.Errorf("save key %q: %w", s.path(id), ErrExists)
	case err != nil:
		return created, fmt.Errorf("save key: %w", err)
	}
	return true, nil
}
