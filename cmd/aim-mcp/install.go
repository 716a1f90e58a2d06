package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/opena2a-org/aim-mcp/claudeconfig"
	"github.com/opena2a-org/aim-mcp/discovery"
	"github.com/opena2a-org/aim-mcp/internal/canon"
	"github.com/opena2a-org/aim-mcp/internal/home"
	"github.com/opena2a-org/aim-mcp/registry"
)

const installUsage = `
Usage: aim-mcp install [--config PATH] [--home DIR] [--dry-run]
                      [--aim-url URL --api-key KEY]

Finds the MCP servers in Claude Desktop's config, registers each with AIM,
gives each an Ed25519 identity, and rewrites the config so that every stdio
server is launched through "aim-mcp proxy". Only "command" and "args" of
those entries change; a backup is taken before the file is written.

Flags:
  --config PATH  the config file (default: Claude Desktop's, found per OS)
  --home DIR     aim-mcp's data directory (default $AIM_MCP_HOME, else the
                 XDG data directory's aim-mcp)
  --dry-run      show what would change and write nothing
  --aim-url URL  register the servers with the remote AIM server at URL
                 too (default AIM_URL, aim_url in config.yaml, or the AIM
                 of an earlier install); each becomes an AIM agent of type
                 mcp_server, and every tool call is verified by AIM
  --api-key KEY  AIM API key for registering (default AIM_API_KEY or
                 api_key in config.yaml; "-" reads it from stdin). It is
                 stored in the home with mode 0600 and never printed
`

func runInstall(ctx context.Context, e env, args []string) error {
	fs := flags(e, "install", installUsage)
	configPath := fs.String("config", "", "")
	homeFlag := fs.String("home", "", "")
	dryRun := fs.Bool("dry-run", false, "")
	aimURL := fs.String("aim-url", "", "")
	apiKey := fs.String("api-key", "", "")
	if err := parse(e, fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	dir, err := home.Resolve(*homeFlag)
	if err != nil {
		return err
	}
	cfg, err := loadConfig(discovery.ClaudeDesktop, *configPath)
	if err != nil {
		return err
	}
	exe, err := selfPath()
	if err != nil {
		return err
	}
	if !*dryRun {
		if err := writable(cfg.Path); err != nil {
			return err
		}
	}
	aim, err := newAIMInstall(e, dir, *aimURL, *apiKey, *dryRun)
	if err != nil {
		return err
	}
	var db *registry.DB
	if !*dryRun {
		if db, err = openRegistry(ctx, e, dir, true); err != nil {
			return err
		}
		defer db.Close()
	}
	wrapped := 0
	for _, s := range cfg.Servers() {
		if s.Skip != "" {
			fmt.Fprintf(e.stdout, "  %-24s skipped: %s\n", s.Name, s.Skip)
			continue
		}
		if db != nil {
			orig := s.Original
			srv, created, err := db.Register(ctx, registry.Registration{
				Client: cfg.Client.Name, Name: s.Name, Command: orig[0], Args: orig[1:], EnvNames: s.EnvNames,
			})
			if err != nil {
				return errorf("register %q: %v", s.Name, err)
			}
			if created {
				fmt.Fprintf(e.stderr, "aim-mcp: registered %q as %s (key %s)\n", s.Name, srv.ID, srv.Fingerprint())
			}
			if err := aim.enroll(ctx, e, db, srv); err != nil {
				return err
			}
		}
		changed, err := cfg.File.Wrap(s.Root, s.Name, claudeconfig.ProxySpec{Exe: exe, Client: cfg.Client.Name, Home: dir})
		if err != nil {
			return errorf("wrap %q: %v", s.Name, err)
		}
		state := "already wrapped"
		if changed {
			state, wrapped = "wrapped", wrapped+1
			if *dryRun {
				state = "would be wrapped"
			}
		}
		fmt.Fprintf(e.stdout, "  %-24s %s\n", s.Name, state)
	}
	if !cfg.File.Changed() {
		fmt.Fprintf(e.stdout, "%s: nothing to change\n", cfg.Path)
		return nil
	}
	if *dryRun {
		fmt.Fprintf(e.stdout, "%s: dry run, nothing written\n", cfg.Path)
		return nil
	}
	backup, err := saveConfig(ctx, db, cfg, dir)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s: %d server(s) wrapped\nbackup: %s\n", cfg.Path, wrapped, backup)
	restartReminder(e, cfg.Client)
	return nil
}

// loadConfig finds and parses a client's config, turning the ways that can
// fail into errors a person can act on.
func loadConfig(c discovery.Client, path string) (*discovery.Config, error) {
	cfg, err := discovery.Find(c, path)
	var nc *discovery.ErrNoConfig
	var pe *claudeconfig.ParseError
	switch {
	case errors.As(err, &nc):
		return nil, errorf("%v", err).hint("pass the file with --config PATH")
	case errors.As(err, &pe):
		return nil, errorf("%v", err).hint("fix the file (nothing was changed), then run the command again")
	case err != nil:
		return nil, errorf("%v", err)
	}
	return cfg, nil
}

// writable refuses a config aim-mcp must not or cannot rewrite, before
// anything else changes.
func writable(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return errorf("%v", err)
	}
	if st.Mode().Perm()&0o200 == 0 {
		return errorf("%q is read-only", path).hint("make it writable (chmod u+w %q) if aim-mcp may change it", path)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".aim-mcp-probe-*")
	if err != nil {
		return errorf("cannot write in %q: %v", filepath.Dir(path), err)
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}

// saveConfig backs the file up, writes it atomically and remembers the write
// so that uninstall can tell whether the user changed it since.
func saveConfig(ctx context.Context, db *registry.DB, cfg *discovery.Config, dir string) (string, error) {
	backup, err := claudeconfig.Backup(cfg.Path, home.Backups(dir), time.Now())
	if err != nil {
		return "", errorf("back up %q: %v", cfg.Path, err).hint("nothing was changed")
	}
	if err := cfg.File.Save(); err != nil {
		return "", errorf("write %q: %v", cfg.Path, err).hint("the file is unchanged; the backup is %q", backup)
	}
	if err := db.SaveInstall(ctx, registry.Install{Path: cfg.Path, Client: cfg.Client.Name, Backup: backup,
		WrittenHash: canon.Sum(cfg.File.Bytes())}); err != nil {
		return "", errorf("%v", err)
	}
	return backup, nil
}

// selfPath is the absolute path of aim-mcp to write into configs. When the
// aim-mcp found on PATH is this same file (a Homebrew symlink into a
// versioned Cellar directory, say), that stable path is preferred.
func selfPath() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", errorf("cannot find aim-mcp's own path: %v", err)
	}
	if onPath, err := exec.LookPath("aim-mcp"); err == nil {
		if abs, err := filepath.Abs(onPath); err == nil {
			if a, b := realPath(abs), realPath(exe); a == b || !isAimMCP(exe) {
				return abs, nil
			}
		}
	}
	if !isAimMCP(exe) {
		return "", errorf("this binary is %q; aim-mcp writes its own path into configs and must be named aim-mcp", filepath.Base(exe))
	}
	return exe, nil
}

func isAimMCP(p string) bool {
	b := filepath.Base(p)
	return b == "aim-mcp" || b == "aim-mcp.exe"
}

func realPath(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return p
}

func restartReminder(e env, c discovery.Client) {
	if running(c) {
		fmt.Fprintf(e.stdout, "\n%s is running: quit it completely (from the menu bar or tray, not just the window) and start it again.\nIt reads its config only at start, and may overwrite changes made while it runs.\n", c.Display)
		return
	}
	fmt.Fprintf(e.stdout, "Start %s again for the change to take effect.\n", c.Display)
}
