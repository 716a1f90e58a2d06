package watch

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/opena2a-org/aim-mcp/internal/atomicfile"
)

// stateFile, in aim-mcp's home, remembers which servers each config file
// had when it was last reconciled. The registry knows servers per (client,
// name) but not which file they came from; with this, a server that leaves
// a file is marked removed even when it left while nothing was watching,
// and one that moved to another file of the same client is not.
const stateFile = "configs.json"

type state struct {
	Configs map[string]fileState `json:"configs"` // by config path
}

type fileState struct {
	Client  string   `json:"client"`
	Servers []string `json:"servers"` // registered names, sorted
	// Released says "aim-mcp uninstall" gave the file back: the watcher
	// leaves it alone until "aim-mcp install" reconciles it again.
	Released bool `json:"released,omitempty"`
}

func loadState(path string) (*state, error) {
	st := &state{Configs: map[string]fileState{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	if err := json.Unmarshal(b, st); err != nil {
		// Losing it only means a removal may go unnoticed: start afresh
		// rather than stop protecting servers.
		return &state{Configs: map[string]fileState{}}, nil
	}
	if st.Configs == nil {
		st.Configs = map[string]fileState{}
	}
	return st, nil
}

func (st *state) save(path string) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	return nil
}

// elsewhere reports whether another config of client still has the server.
func (st *state) elsewhere(client, name, path string) bool {
	for p, fs := range st.Configs {
		if p != path && fs.Client == client && slices.Contains(fs.Servers, name) {
			return true
		}
	}
	return false
}

// Release records that uninstall gave the config at path back to its
// client, so that a watcher, running now or started later, does not wrap
// it again. Reconciling the file (aim-mcp install) takes it back.
func Release(home, path string) error {
	p := filepath.Join(home, stateFile)
	st, err := loadState(p)
	if err != nil {
		return err
	}
	fs := st.Configs[path]
	if fs.Released {
		return nil
	}
	fs.Released = true
	st.Configs[path] = fs
	return st.save(p)
}

// Released reports whether uninstall gave the config at path back.
func Released(home, path string) bool {
	st, err := loadState(filepath.Join(home, stateFile))
	return err == nil && st.Configs[path].Released
}
