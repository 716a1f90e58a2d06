package aim

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/opena2a-org/aim-mcp/config"
	"github.com/opena2a-org/aim-mcp/internal/atomicfile"
	"github.com/opena2a-org/aim-mcp/internal/oshint"
	"github.com/opena2a-org/aim-mcp/internal/private"
)

// A home that uses a remote AIM keeps its URL and API key in two files of
// mode 0600, written by install: a proxy runs with the client's reduced
// environment (and the MCP server's own env, which may well say AIM_URL for
// the server's sake), so it reads these, not the environment.

// URLFile holds the AIM URL of the home at dir.
func URLFile(dir string) string { return filepath.Join(dir, "aim-url") }

// KeyFile holds the AIM API key of the home at dir.
func KeyFile(dir string) string { return filepath.Join(dir, "aim-api-key") }

// RequestsFile remembers which capabilities the home's agents requested.
func RequestsFile(dir string) string { return filepath.Join(dir, "aim-requested.json") }

// Settings is which AIM to use, and with what key.
type Settings struct {
	URL, APIKey      string
	URLFrom, KeyFrom string // where each came from, for status
}

// Stored reads what install stored in the home. warn, when not nil, is
// told about a key file others can read.
func Stored(dir string, warn func(msg string)) (Settings, error) {
	s := Settings{URLFrom: URLFile(dir), KeyFrom: KeyFile(dir)}
	b, err := os.ReadFile(URLFile(dir))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return s, fmt.Errorf("read %q: %v", URLFile(dir), err)
	}
	s.URL = strings.TrimSpace(string(b))
	p := KeyFile(dir)
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("read %q: %v", p, err)
	}
	defer f.Close()
	if ex, err := private.Check(p); err == nil && ex != nil && warn != nil {
		warn(fmt.Sprintf("%s %s; it holds the AIM API key and should be readable by you alone (%s)", oshint.Quote(p), ex.Who, ex.Fix))
	}
	kb, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return s, fmt.Errorf("read %q: %v", p, err)
	}
	s.APIKey = strings.TrimSpace(string(kb))
	return s, nil
}

// Save stores the URL and key for the home's proxies, each in a 0600 file.
func Save(dir string, s Settings) error {
	for _, f := range []struct{ path, value string }{{URLFile(dir), s.URL}, {KeyFile(dir), s.APIKey}} {
		if f.value == "" {
			continue
		}
		if err := atomicfile.WriteFile(f.path, []byte(f.value+"\n"), 0o600); err != nil {
			return fmt.Errorf("save AIM settings: %v", err)
		}
		if err := os.Chmod(f.path, 0o600); err != nil {
			return fmt.Errorf("save AIM settings: %v", err)
		}
	}
	return nil
}

// Resolve is the AIM a process of the home uses: what install stored,
// else aim_url and api_key of cfg. trustEnv says whether cfg's values may
// come from AIM_URL and AIM_API_KEY: not for a proxy, whose environment
// is its MCP server's (an AIM_URL there is meant for the server), but yes
// for an agent, whose environment is its own. getenv reads the
// environment. An empty URL means none.
func Resolve(dir string, cfg config.Config, trustEnv bool, getenv func(string) string, warn func(string)) (Settings, error) {
	s, err := Stored(dir, warn)
	if err != nil {
		return Settings{}, err
	}
	fromEnv := func(v, name string) bool { return !trustEnv && v != "" && v == getenv(name) }
	if s.URL == "" && cfg.AIMURL != "" && !fromEnv(cfg.AIMURL, "AIM_URL") {
		s.URL, s.URLFrom = cfg.AIMURL, source(cfg, cfg.AIMURL, "aim_url", "AIM_URL", getenv)
	}
	if s.APIKey == "" && cfg.APIKey != "" && !fromEnv(cfg.APIKey, "AIM_API_KEY") {
		s.APIKey, s.KeyFrom = cfg.APIKey, source(cfg, cfg.APIKey, "api_key", "AIM_API_KEY", getenv)
	}
	if s.APIKey == "" {
		s.KeyFrom = ""
	}
	return s, nil
}

// source says where value came from: the environment variable env, or
// key in config.yaml.
func source(cfg config.Config, value, key, env string, getenv func(string) string) string {
	if value == getenv(env) {
		return env
	}
	if cfg.Path != "" {
		return fmt.Sprintf("%s in %q", key, cfg.Path)
	}
	return "config"
}
