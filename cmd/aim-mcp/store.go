package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/opena2a-org/aim-mcp/identity"
	"github.com/opena2a-org/aim-mcp/internal/home"
	"github.com/opena2a-org/aim-mcp/registry"
)

// ensureHome creates the home, or says why it cannot and where to put it
// instead.
func ensureHome(dir string) error {
	err := home.Ensure(dir)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, home.ErrNetwork):
		return errorf("%v, where its keys cannot be kept private", err).
			hint("use a folder on this computer: pass --home DIR or set AIM_MCP_HOME (the default is %s); nothing was changed", `%LOCALAPPDATA%\aim-mcp`)
	}
	return errorf("%v", err).hint("pass --home DIR or set AIM_MCP_HOME to a directory you can write; nothing was changed")
}

// openRegistry opens the embedded registry of the home dir. create says
// whether a missing database may be made (install may; logs may not).
func openRegistry(ctx context.Context, e env, dir string, create bool) (*registry.DB, error) {
	path := home.DB(dir)
	if !create {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return nil, errorf("no aim-mcp registry at %q", path).hint("run \"aim-mcp install\" first, or pass --home DIR")
		}
	} else if err := ensureHome(dir); err != nil {
		return nil, err
	}
	keys := identity.Store{Dir: home.Keys(dir), Warn: func(m string) { fmt.Fprintf(e.stderr, "aim-mcp: warning: %s\n", m) }}
	db, err := registry.Open(ctx, path, registry.Options{Keys: keys, Witness: newWitness(nil)})
	if err != nil {
		return nil, errorf("%v", err).hint("is another program holding %q, or is it damaged?", path)
	}
	return db, nil
}

// openHome resolves the home dir (--home, else AIM_MCP_HOME, else the
// default) and opens its registry: what every command that reads or answers
// the registry does first. create is as for openRegistry.
func openHome(ctx context.Context, e env, homeFlag string, create bool) (string, *registry.DB, error) {
	dir, err := home.Resolve(homeFlag)
	if err != nil {
		return "", nil, err
	}
	db, err := openRegistry(ctx, e, dir, create)
	return dir, db, err
}

// openExisting opens the home's registry when there is one; nil when
// aim-mcp never ran there (list and uninstall work without it).
func openExisting(ctx context.Context, e env, dir string) (*registry.DB, error) {
	if _, err := os.Stat(home.DB(dir)); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, errorf("%v", err)
	}
	return openRegistry(ctx, e, dir, false)
}

// parseTime reads a time for --since/--until: RFC 3339, a date, or an age
// such as 90m, 24h or 7d (that long ago).
func parseTime(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	if n, ok := strings.CutSuffix(s, "d"); ok {
		if d, err := strconv.Atoi(n); err == nil && d >= 0 {
			return now.AddDate(0, 0, -d), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("bad time %q: want RFC 3339 (2026-11-25T10:00:00Z), a date (2026-11-25) or an age (90m, 24h, 7d)", s)
}
