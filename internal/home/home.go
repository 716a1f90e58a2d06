// Package home finds aim-mcp's own directory, $AIM_MCP_HOME, and names what
// lives in it. The proxy runs with the client's reduced environment, so the
// wrapped config pins the directory with --home; everything else resolves it
// the same way: the flag, then the variable, then the XDG data directory.
package home

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/adrg/xdg"
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

// Ensure creates dir with mode 0700 and checks that it is writable, so a bad
// home fails before anything else changes.
func Ensure(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create home %q: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, ".probe-*")
	if err != nil {
		return fmt.Errorf("home %q is not writable: %w", dir, err)
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}
