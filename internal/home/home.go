// Package home finds aim-mcp's own directory, $AIM_MCP_HOME, and names what
// lives in it. The proxy runs with the client's reduced environment, so the
// wrapped config pins the directory with --home; everything else resolves it
// the same way: the flag, then the variable, then the XDG data directory.
package home

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/adrg/xdg"

	"github.com/opena2a-org/aim-mcp/internal/oshint"
	"github.com/opena2a-org/aim-mcp/internal/private"
)

// Env names the variable that overrides the default home.
const Env = "AIM_MCP_HOME"

// Resolve returns the absolute home directory: flag when set, else
// $AIM_MCP_HOME, else aim-mcp under the XDG data directory.
func Resolve(flag string) (string, error) {
	dir := flag
	if dir == "" {
		dir = os.Getenv(Env)
	}
	if dir == "" {
		dir = filepath.Join(xdg.DataHome, "aim-mcp")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("home directory %q: %w", dir, err)
	}
	return abs, nil
}

// DB is the embedded registry's database file.
func DB(dir string) string { return filepath.Join(dir, "aim.db") }

// Keys is the directory of per-server private keys.
func Keys(dir string) string { return filepath.Join(dir, "keys") }

// Backups is where client configs are copied before their first change.
func Backups(dir string) string { return filepath.Join(dir, "backups") }

// Entries is where the original bytes of rewritten remote entries are
// kept, one private file per entry, for uninstall.
func Entries(dir string) string { return filepath.Join(dir, "entries") }

// ErrNetwork is returned by Ensure for a home on a network share: the
// keys would live on another machine, readable by its administrators and
// sent over the network on every start.
var ErrNetwork = errors.New("is on a network share")

// Ensure creates dir private to the user (internal/private) and checks
// that it is writable, so a bad home fails before anything else changes.
func Ensure(dir string) error {
	if onNetwork(dir) {
		return fmt.Errorf("home %s %w", oshint.Quote(dir), ErrNetwork)
	}
	if err := private.MkdirAll(dir); err != nil {
		return fmt.Errorf("create home %s: %w", oshint.Quote(dir), unwrapPath(err))
	}
	f, err := os.CreateTemp(dir, ".probe-*")
	if err != nil {
		return fmt.Errorf("home %s is not writable: %w", oshint.Quote(dir), unwrapPath(err))
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}

// unwrapPath keeps the cause of an *fs.PathError: the message names the
// home already.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// isUNC says whether a Windows path names a network share: \\server\share,
// or its \\?\UNC\ long form (\\?\C:\ and \\.\ devices are local).
func isUNC(p string) bool {
	p = strings.ReplaceAll(p, "/", `\`)
	if strings.HasPrefix(strings.ToUpper(p), `\\?\UNC\`) {
		return true
	}
	return strings.HasPrefix(p, `\\`) && !strings.HasPrefix(p, `\\?\`) && !strings.HasPrefix(p, `\\.\`)
}
