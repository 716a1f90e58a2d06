// Package discovery knows the MCP clients aim-mcp can protect, where each
// keeps its config, and what servers those configs hold.
package discovery

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/opena2a-org/aim-mcp/claudeconfig"
)

// Client is an MCP client: its name, how its config files look, and where
// they live on each OS.
type Client struct {
	Name    string // as used by --client and in registrations
	Display string
	Format  claudeconfig.Format
	// Paths returns the candidate config files for goos, most preferred first.
	Paths func(goos string, getenv func(string) string, home string) []string
}

// ClaudeDesktop is Claude Desktop.
var ClaudeDesktop = Client{
	Name:    claudeconfig.DefaultClient,
	Display: "Claude Desktop",
	Format:  claudeconfig.ClaudeDesktop,
	Paths: func(goos string, getenv func(string) string, home string) []string {
		p, tried := claudeconfig.Locate(goos, getenv, home, exists, filepath.Glob)
		return append([]string{p}, slices.DeleteFunc(tried, func(s string) bool { return s == p })...)
	},
}

// Clients lists the known clients.
func Clients() []Client { return []Client{ClaudeDesktop} }

// Lookup finds a client by name.
func Lookup(name string) (Client, error) {
	var names []string
	for _, c := range Clients() {
		if c.Name == name {
			return c, nil
		}
		names = append(names, c.Name)
	}
	return Client{}, fmt.Errorf("unknown client %q: want one of %s", name, strings.Join(names, ", "))
}

// Server is one server entry of one config file.
type Server struct {
	Client string
	Path   string
	claudeconfig.Entry
}

// Config is a client's config file, loaded.
type Config struct {
	Client Client
	Path   string
	File   *claudeconfig.File
}

// Servers lists the config's entries.
func (c *Config) Servers() []Server {
	var out []Server
	for _, e := range c.File.Entries() {
		out = append(out, Server{Client: c.Client.Name, Path: c.Path, Entry: e})
	}
	return out
}

// ErrNoConfig says a client's config file is not where it should be.
type ErrNoConfig struct {
	Client string
	Tried  []string
}

func (e *ErrNoConfig) Error() string {
	return fmt.Sprintf("no %s config found (looked in %s)", e.Client, strings.Join(quoteAll(e.Tried), ", "))
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}

// Find loads the config of client: the file at path when given, else the
// first candidate that exists.
func Find(c Client, path string) (*Config, error) {
	var tried []string
	if path != "" {
		tried = []string{path}
	} else {
		home, _ := os.UserHomeDir()
		tried = c.Paths(runtime.GOOS, os.Getenv, home)
	}
	for _, p := range tried {
		f, err := claudeconfig.Load(p, c.Format)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return &Config{Client: c, Path: p, File: f}, nil
	}
	return nil, &ErrNoConfig{Client: c.Display, Tried: tried}
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
