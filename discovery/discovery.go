// Package discovery knows the MCP clients aim-mcp can protect, where each
// keeps its config, and what servers those configs hold.
//
// Each client is one file of this package that calls [Register] with its
// name, its config paths per OS, and the format of its files (root keys,
// JSON or JSONC). Adding a client is adding such a file: the CLI's
// --client values and help texts are built from what is registered.
//
// A command's --client and --config flags become a [Selection]; [Resolve]
// turns it into [Location]s (a client's file, user or project), [Location.Load]
// parses one through claudeconfig, and [Config.Servers] lists its entries
// with the name each is registered under ([Location.RegName]). install,
// list, uninstall and watch all start there.
package discovery

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/opena2a-org/aim-mcp/claudeconfig"
	"github.com/opena2a-org/aim-mcp/internal/oshint"
)

// Client is an MCP client: its name, how its config files look, and where
// they live on each OS.
type Client struct {
	Name    string // as used by --client and in registrations
	Display string
	// Format is the format of the user's config file.
	Format claudeconfig.Format
	// Paths returns the candidate user config files on sys, most
	// preferred first.
	Paths func(sys System) []string
	// Projects are the config files a project directory may hold.
	Projects []ProjectFile
	// Remote says how the client reads remote (url) entries from its
	// files; nil when it loads none from them (Claude Desktop).
	Remote *claudeconfig.RemoteStyle
	// Reload tells the user how the client picks up a changed config.
	Reload string
	// Processes are the executable names of the client's app, for telling
	// whether it runs (and must be restarted to read a changed config);
	// empty when that cannot be told.
	Processes []string
	// Unread, when set, names a file on sys that looks like the client's
	// config but that the client does not read, and why (empty when there
	// is none): it is never chosen, so a leftover is not wrapped while the
	// app reads another file.
	Unread func(sys System) (path, why string)
}

// UnreadFile is the client's [Client.Unread] file on sys when it exists.
func (c Client) UnreadFile(sys System) (path, why string, ok bool) {
	if c.Unread == nil {
		return "", "", false
	}
	path, why = c.Unread(sys)
	return path, why, path != "" && sys.Exists(path)
}

// ProjectFile is a config file inside a project directory.
type ProjectFile struct {
	Rel    string // path below the project directory, slash-separated
	Format claudeconfig.Format
}

// System is the environment paths are computed from. Taking it as a value
// keeps path computation pure, so every OS can be tested anywhere.
type System struct {
	GOOS   string
	Getenv func(string) string
	Home   string
	// Exists reports whether a file exists; Glob lists the existing paths
	// matching a pattern (filepath.Glob).
	Exists func(string) bool
	Glob   func(string) ([]string, error)
}

// Host is the running system.
func Host() System {
	home, _ := os.UserHomeDir()
	return System{GOOS: runtime.GOOS, Getenv: os.Getenv, Home: home, Exists: exists, Glob: filepath.Glob}
}

// Join joins path elements with the separator of sys's OS.
func (sys System) Join(elem ...string) string {
	if sys.GOOS != "windows" {
		return path.Join(elem...)
	}
	out := strings.TrimRight(elem[0], `\/`)
	for _, e := range elem[1:] {
		out += `\` + strings.Trim(e, `\/`)
	}
	return out
}

// configHome is os.UserConfigDir computed for sys: where VS Code and Claude
// Desktop keep their user settings.
func (sys System) configHome() string {
	switch sys.GOOS {
	case "darwin":
		return sys.Join(sys.Home, "Library", "Application Support")
	case "windows":
		if d := sys.Getenv("APPDATA"); d != "" {
			return d
		}
		return sys.Join(sys.Home, "AppData", "Roaming")
	}
	if d := sys.Getenv("XDG_CONFIG_HOME"); strings.HasPrefix(d, "/") {
		return d
	}
	return sys.Join(sys.Home, ".config")
}

var clients []Client

// Register adds a client. Each client's file calls it from init.
func Register(c Client) {
	if c.Name == "" || c.Paths == nil {
		panic("discovery: a client needs a name and paths")
	}
	for _, o := range clients {
		if o.Name == c.Name {
			panic("discovery: client " + c.Name + " registered twice")
		}
	}
	clients = append(clients, c)
	slices.SortFunc(clients, func(a, b Client) int { return strings.Compare(a.Name, b.Name) })
}

// Clients lists the known clients, by name.
func Clients() []Client { return slices.Clone(clients) }

// Names lists the known clients' names.
func Names() []string {
	var names []string
	for _, c := range clients {
		names = append(names, c.Name)
	}
	return names
}

// Lookup finds a client by name.
func Lookup(name string) (Client, error) {
	for _, c := range clients {
		if c.Name == name {
			return c, nil
		}
	}
	return Client{}, fmt.Errorf("unknown client %q: want one of %s, or all", name, strings.Join(Names(), ", "))
}

// Location is one config file of a client, whether or not it exists yet.
type Location struct {
	Client Client
	Path   string
	Format claudeconfig.Format
	// Project is the project directory of a project file (.mcp.json,
	// .cursor/mcp.json, .vscode/mcp.json); empty for the user's file.
	Project string
}

// Locate returns the client's user config on sys: the first candidate that
// exists, else the most preferred one (where the client would read it),
// and every candidate, for messages.
func (c Client) Locate(sys System) (Location, []string) {
	tried := c.Paths(sys)
	loc := Location{Client: c, Path: tried[0], Format: c.Format}
	for _, p := range tried {
		if sys.Exists(p) {
			loc.Path = p
			break
		}
	}
	return loc, tried
}

// At is the client's config at path: its user file, or one of its project
// files when path ends like one (outside the home directory: ~/.cursor/mcp.json
// is Cursor's user file, not the project file of ~).
func (c Client) At(p string, sys System) Location {
	loc := Location{Client: c, Path: p, Format: c.Format}
	if slices.Contains(c.Paths(sys), p) {
		return loc
	}
	for _, pf := range c.Projects {
		dir, ok := strings.CutSuffix(sys.slash(p), "/"+pf.Rel)
		if !ok || dir == "" || strings.TrimRight(dir, "/") == strings.TrimRight(sys.slash(sys.Home), "/") {
			continue
		}
		loc.Format = pf.Format
		loc.Project = p[:len(dir)]
		return loc
	}
	return loc
}

// slash turns sys's separators into slashes (same length, so offsets hold).
func (sys System) slash(p string) string {
	if sys.GOOS == "windows" {
		return strings.ReplaceAll(p, `\`, "/")
	}
	return p
}

// ForPath guesses whose config the file at path is: a client whose user file
// it is, else one whose project file it looks like, else Claude Desktop's
// format (what --config always meant).
func ForPath(p string, sys System) Location {
	for _, c := range clients {
		if slices.Contains(c.Paths(sys), p) {
			return Location{Client: c, Path: p, Format: c.Format}
		}
	}
	for _, c := range clients {
		if loc := c.At(p, sys); loc.Project != "" {
			return loc
		}
	}
	c, _ := Lookup(claudeconfig.DefaultClient)
	return Location{Client: c, Path: p, Format: c.Format}
}

// Selection says which configs a command works on: --client and --config.
type Selection struct {
	Client  string   // a client's name, "all" or "" (every client)
	Configs []string // explicit files; empty: each selected client's user file
	// Missing keeps user files that do not exist yet (watch waits for
	// them); otherwise only existing files are returned.
	Missing bool
}

// Resolve lists the config files sel names on sys. With no --config and
// no --client, the clients whose config does not exist are left out; it is
// an error when that leaves none, or when the one client named has none.
func Resolve(sel Selection, sys System) ([]Location, error) {
	var pick []Client
	if sel.Client == "" || sel.Client == "all" {
		pick = Clients()
	} else {
		c, err := Lookup(sel.Client)
		if err != nil {
			return nil, err
		}
		pick = []Client{c}
	}
	var out []Location
	if len(sel.Configs) > 0 {
		seen := map[string]bool{}
		for _, p := range sel.Configs {
			if abs, err := filepath.Abs(p); err == nil && sys.GOOS == runtime.GOOS {
				p = abs
			}
			if seen[p] {
				continue
			}
			seen[p] = true
			if len(pick) == 1 {
				out = append(out, pick[0].At(p, sys))
			} else {
				out = append(out, ForPath(p, sys))
			}
		}
		return out, nil
	}
	var tried []string
	var unread, why string
	for _, c := range pick {
		loc, t := c.Locate(sys)
		tried = append(tried, t...)
		if sel.Missing || sys.Exists(loc.Path) {
			out = append(out, loc)
		} else if p, w, ok := c.UnreadFile(sys); ok {
			unread, why = p, w
		}
	}
	if len(out) == 0 {
		display := "MCP client"
		if len(pick) == 1 {
			display = pick[0].Display
		}
		return nil, &ErrNoConfig{Client: display, Tried: tried, Unread: unread, Why: why}
	}
	return out, nil
}

// Load reads and parses the config.
func (l Location) Load() (*Config, error) {
	f, err := claudeconfig.Load(l.Path, l.Format)
	if err != nil {
		return nil, err
	}
	return &Config{Location: l, File: f}, nil
}

// RegName is the name a server of this file is registered under, unique
// per client: the entry's name in the user's file; NAME@PROJECT for an entry
// of a project, whether it sits in a project file or under a project key of
// the user's file (Claude Code's projects["/abs/dir"].mcpServers).
func (l Location) RegName(e claudeconfig.Entry) string {
	if l.Project != "" {
		return e.Name + "@" + l.Project
	}
	for _, root := range l.Format.Roots {
		if len(root) != len(e.Root) || !slices.Contains(root, "*") {
			continue
		}
		var scope []string
		match := true
		for i, k := range root {
			switch {
			case k == "*":
				scope = append(scope, e.Root[i])
			case k != e.Root[i]:
				match = false
			}
		}
		if match {
			return e.Name + "@" + strings.Join(scope, "/")
		}
	}
	return e.Name
}

// Server is one server entry of one config file.
type Server struct {
	Client  string
	Path    string
	RegName string // what it is registered as: see [Location.RegName]
	claudeconfig.Entry
}

// Config is a client's config file, loaded.
type Config struct {
	Location
	File *claudeconfig.File
}

// Servers lists the config's entries.
func (c *Config) Servers() []Server {
	n := c.File.EntryCount()
	if n == 0 {
		return nil
	}
	out := make([]Server, 0, n)
	c.File.EachEntry(func(e claudeconfig.Entry) {
		out = append(out, Server{Client: c.Client.Name, Path: c.Path, RegName: c.RegName(e), Entry: e})
	})
	return out
}

// ErrNoConfig says a client's config file is not where it should be.
type ErrNoConfig struct {
	Client string
	Tried  []string
	// Unread is a config-like file that exists but that the client does
	// not read, and Why says why: see [Client.Unread].
	Unread, Why string
}

func (e *ErrNoConfig) Error() string {
	msg := fmt.Sprintf("no %s config found (looked in %s)", e.Client, strings.Join(quoteAll(e.Tried), ", "))
	if e.Unread != "" {
		msg += fmt.Sprintf("; %s is not read by the app: %s", oshint.Quote(e.Unread), e.Why)
	}
	return msg
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = oshint.Quote(s)
	}
	return out
}

// Find loads the config of client: the file at path when given, else the
// first candidate that exists.
func Find(c Client, path string) (*Config, error) {
	sys := Host()
	var locs []Location
	if path != "" {
		locs = []Location{c.At(path, sys)}
	} else {
		for _, p := range c.Paths(sys) {
			locs = append(locs, c.At(p, sys))
		}
	}
	var tried []string
	for _, l := range locs {
		tried = append(tried, l.Path)
		cfg, err := l.Load()
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return cfg, nil
	}
	return nil, &ErrNoConfig{Client: c.Display, Tried: tried}
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
