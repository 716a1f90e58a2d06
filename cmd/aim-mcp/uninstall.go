package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/opena2a-org/aim-mcp/discovery"
	"github.com/opena2a-org/aim-mcp/internal/canon"
	"github.com/opena2a-org/aim-mcp/internal/home"
	"github.com/opena2a-org/aim-mcp/registry"
)

const uninstallUsage = `
Usage: aim-mcp uninstall [--config PATH] [--home DIR] [--purge]

Gives the client its config back. When the file is unchanged since
"aim-mcp install" wrote it, the backup taken then is restored byte for
byte; otherwise each wrapped entry is unwrapped and your later edits stay.
Registrations, keys and the audit trail stay unless --purge.

Flags:
  --config PATH  the config file (default: Claude Desktop's, found per OS)
  --home DIR     aim-mcp's data directory
  --purge        also delete the servers' registrations and keys (the audit
                 trail is kept: it is evidence)
`

func runUninstall(ctx context.Context, e env, args []string) error {
	fs := flags(e, "uninstall", uninstallUsage)
	configPath := fs.String("config", "", "")
	homeFlag := fs.String("home", "", "")
	purge := fs.Bool("purge", false, "")
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
	var db *registry.DB
	if _, err := os.Stat(home.DB(dir)); err == nil {
		if db, err = openRegistry(ctx, e, dir, false); err != nil {
			return err
		}
		defer db.Close()
	}
	restored, err := restoreBackup(ctx, db, cfg)
	if err != nil {
		return err
	}
	for _, s := range cfg.Servers() {
		if !s.Wrapped {
			continue
		}
		if _, err := cfg.File.Unwrap(s.Root, s.Name); err != nil {
			return errorf("unwrap %q: %v", s.Name, err)
		}
		fmt.Fprintf(e.stdout, "  %-24s unwrapped\n", s.Name)
	}
	switch {
	case restored != "":
		fmt.Fprintf(e.stdout, "%s: restored from %s\n", cfg.Path, restored)
	case !cfg.File.Changed():
		fmt.Fprintf(e.stdout, "%s: no aim-mcp entries, nothing to change\n", cfg.Path)
	}
	if cfg.File.Changed() {
		if err := writable(cfg.Path); err != nil {
			return err
		}
		if err := cfg.File.Save(); err != nil {
			return errorf("write %q: %v", cfg.Path, err).hint("the file is unchanged")
		}
		if db != nil {
			db.ForgetInstall(ctx, cfg.Path)
		}
		restartReminder(e, cfg.Client)
	}
	if *purge && db != nil {
		servers, err := db.Servers(ctx)
		if err != nil {
			return err
		}
		for _, s := range servers {
			if s.Client != cfg.Client.Name || s.Status == registry.StatusPurged {
				continue
			}
			if err := db.Purge(ctx, s.ID); err != nil {
				return errorf("%v", err)
			}
			fmt.Fprintf(e.stdout, "  %-24s registration and key deleted\n", s.Name)
		}
	}
	return nil
}

// restoreBackup swaps in the backup taken before aim-mcp's last write when
// the file has not changed since that write. It returns the backup's path,
// or "" when the file must be unwrapped entry by entry instead.
func restoreBackup(ctx context.Context, db *registry.DB, cfg *discovery.Config) (string, error) {
	if db == nil {
		return "", nil
	}
	in, err := db.Install(ctx, cfg.Path)
	if errors.Is(err, registry.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if canon.Sum(cfg.File.Bytes()) != in.WrittenHash {
		return "", nil // edited since: keep the edits
	}
	data, err := os.ReadFile(in.Backup)
	if err != nil {
		return "", nil
	}
	if err := cfg.File.Replace(data); err != nil {
		return "", nil // not a config we understand: unwrap instead
	}
	return in.Backup, nil
}
