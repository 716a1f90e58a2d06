package watch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/opena2a-org/aim-mcp/registry"
)

// legacyStateFile is where, in aim-mcp's home, watch kept what it knew of
// each config file before the registry's configs table held it. The first
// reconcile or release of a home that has one moves it into the table and
// keeps the file, renamed, as it was.
const legacyStateFile = "configs.json"

// importState moves the home's legacy state file, if any, into the
// registry: a file's servers where the registry knows none yet, and its
// release.
func importState(ctx context.Context, reg Registry, home string) error {
	if home == "" {
		return nil
	}
	path := filepath.Join(home, legacyStateFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read state: %w", err)
	}
	var legacy struct {
		Configs map[string]registry.ConfigState `json:"configs"`
	}
	// One that does not parse only means a removal may go unnoticed:
	// start afresh rather than stop protecting servers.
	if json.Unmarshal(b, &legacy) == nil {
		for p, old := range legacy.Configs {
			st, err := reg.ConfigState(ctx, p)
			if err != nil {
				return err
			}
			if st.Servers == nil {
				st.Client, st.Servers = old.Client, old.Servers
				if st.Servers == nil {
					st.Servers = []string{}
				}
			}
			st.Released = st.Released || old.Released
			if err := reg.SaveConfigState(ctx, p, st); err != nil {
				return err
			}
		}
	}
	if err := os.Rename(path, path+".imported"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("keep imported state: %w", err)
	}
	return nil
}

// elsewhere reports whether another config of client still has the server.
func elsewhere(ctx context.Context, reg Registry, client, name, path string) (bool, error) {
	names, err := reg.ServersElsewhere(ctx, client, path)
	return slices.Contains(names, name), err
}

// Release records that uninstall gave the config at path back to its
// client, so that a watcher, running now or started later, does not wrap
// it again. Reconciling the file (aim-mcp install) takes it back.
func Release(ctx context.Context, reg Registry, home, path, client string) error {
	if err := importState(ctx, reg, home); err != nil {
		return err
	}
	return reg.ReleaseConfig(ctx, path, client)
}
