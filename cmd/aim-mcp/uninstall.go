package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/opena2a-org/aim-mcp/discovery"
	"github.com/opena2a-org/aim-mcp/internal/canon"
	"github.com/opena2a-org/aim-mcp/registry"
	"github.com/opena2a-org/aim-mcp/registry/remote"
	"github.com/opena2a-org/aim-mcp/watch"
)

var uninstallUsage = `
Usage: aim-mcp uninstall [--client NAME|all] [--config PATH]... [--home DIR] [--purge]

Gives each client its config back. When a file is unchanged since aim-mcp
last wrote it, the backup taken then is restored byte for byte; otherwise
each wrapped entry is unwrapped and your later edits stay. A remote server
install rewrote gets its original entry back byte for byte, unless you
edited that entry since: then it is left, and uninstall says where its
original is. "aim-mcp watch"
leaves a file given back alone until "aim-mcp install" runs again.
Registrations, keys and the audit trail stay unless --purge.

Flags:
` + clientFlag("only this client:", "(default: every client found)") + `  --config PATH  this config file (repeatable), as for install
  --home DIR     aim-mcp's data directory
  --purge        also delete the servers' registrations and keys (the audit
                 trail is kept: it is evidence)
`

func runUninstall(ctx context.Context, e env, args []string) error {
	fs := flags(e, "uninstall", uninstallUsage)
	var cf clientFlags
	cf.register(fs)
	purge := fs.Bool("purge", false, "")
	dir, cfgs, failed, err := cf.load(e, fs, args)
	if err != nil {
		return err
	}
	db, err := openExisting(ctx, e, dir)
	if err != nil {
		return err
	}
	if db != nil {
		defer db.Close()
	}
	purged := map[string]bool{}
	for i, cfg := range cfgs {
		if ctx.Err() != nil {
			return interrupted(cfgs[i:])
		}
		if err := uninstallConfig(ctx, e, db, dir, cfg); err != nil {
			if ctx.Err() != nil {
				return interrupted(cfgs[i:])
			}
			report(e.stderr, err)
			failed = true
			continue
		}
		if !*purge || db == nil || purged[cfg.Client.Name] {
			continue
		}
		purged[cfg.Client.Name] = true
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
			if s.RemoteID != "" && !sharesAgent(servers, s) {
				// Its AIM agent's key goes too; the agent itself stays in
				// AIM, whose admins decide about it.
				if err := db.Keys().Remove(remote.KeyName(s.RemoteID)); err != nil {
					return errorf("%v", err)
				}
				fmt.Fprintf(e.stdout, "  %-24s key of AIM agent %s deleted (the agent stays in AIM)\n", s.Name, s.RemoteID)
			}
		}
	}
	if *purge && db != nil {
		if err := purgeAIMKey(ctx, e, db, dir); err != nil {
			return err
		}
	}
	if failed {
		return errSilent
	}
	return nil
}

// purgeAIMKey deletes the stored AIM API key once no live registration of
// the home is left to use it, and says what stays in AIM: its agents,
// which only an AIM admin deletes.
func purgeAIMKey(ctx context.Context, e env, db *registry.DB, dir string) error {
	url, key, err := storedAIM(dir, nil)
	if err != nil || key == "" {
		return err
	}
	servers, err := db.Servers(ctx)
	if err != nil {
		return errorf("%v", err)
	}
	var agents []string
	for _, s := range servers {
		if s.Status != registry.StatusPurged {
			return nil // still in use
		}
		if s.RemoteID != "" && !slices.Contains(agents, s.RemoteID) {
			agents = append(agents, s.RemoteID)
		}
	}
	if err := os.Remove(aimKeyFile(dir)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return errorf("delete the stored AIM API key: %v", err)
	}
	fmt.Fprintf(e.stdout, "AIM at %s: the stored API key deleted\n", url)
	if len(agents) > 0 {
		fmt.Fprintf(e.stdout, "AIM at %s: %d agent(s) stay in AIM (%s); an AIM admin deletes them there\n", url, len(agents), strings.Join(agents, ", "))
	}
	return nil
}

// sharesAgent reports whether another live registration (another client's
// server of the same name) uses s's AIM agent.
func sharesAgent(servers []registry.Server, s registry.Server) bool {
	for _, o := range servers {
		if o.ID != s.ID && o.RemoteID == s.RemoteID && o.Status != registry.StatusPurged {
			return true
		}
	}
	return false
}

// uninstallConfig gives one config back.
func uninstallConfig(ctx context.Context, e env, db *registry.DB, dir string, cfg *discovery.Config) error {
	fmt.Fprintf(e.stdout, "%s: %s\n", cfg.Client.Display, cfg.Path)
	ids := rewrittenIDs(cfg) // their saved entries go once the file is written
	left := 0
	restored, err := restoreBackup(ctx, db, cfg)
	if err != nil {
		return err
	}
	for n, s := range cfg.Servers() {
		if n%1024 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		if !s.Wrapped {
			continue
		}
		if s.Proxy.Entry != "" {
			ids = append(ids, s.Proxy.Entry)
			msg := restoreRemote(cfg, dir, s)
			if strings.HasPrefix(msg, leftAsIs) {
				left++
			}
			fmt.Fprintf(e.stdout, "  %-24s %s\n", s.RegName, msg)
			continue
		}
		if restored != "" {
			// The backup's bytes are what the user had before this
			// install, another aim-mcp's wrapping included: they are
			// given back as they are, not edited.
			fmt.Fprintf(e.stdout, "  %-24s still wrapped by %s, as before install\n", s.RegName, s.Proxy.Exe)
			continue
		}
		if _, err := cfg.File.Unwrap(s.Root, s.Name); err != nil {
			return errorf("unwrap %q: %v", s.Name, err)
		}
		fmt.Fprintf(e.stdout, "  %-24s unwrapped\n", s.RegName)
	}
	switch {
	case restored != "":
		fmt.Fprintf(e.stdout, "%s: restored from %s\n", cfg.Path, restored)
	case !cfg.File.Changed() && left > 0:
		fmt.Fprintf(e.stdout, "%s: nothing changed\n", cfg.Path)
	case !cfg.File.Changed():
		fmt.Fprintf(e.stdout, "%s: no aim-mcp entries, nothing to change\n", cfg.Path)
	}
	if cfg.File.Changed() {
		if err := writable(cfg.Path); err != nil {
			return err
		}
	}
	if ctx.Err() != nil { // interrupted: nothing changed yet
		return ctx.Err()
	}
	if db != nil {
		// Before the write: a watcher that sees it must already know.
		if err := watch.Release(ctx, db, dir, cfg.Path, cfg.Client.Name); err != nil {
			return errorf("%v", err)
		}
	}
	if cfg.File.Changed() {
		if err := cfg.File.Save(); err != nil {
			return errorf("write %q: %v", cfg.Path, err).hint("the file is unchanged")
		}
		if db != nil {
			db.ForgetInstall(ctx, cfg.Path)
		}
		forgetRewritten(dir, cfg, ids)
		restartReminder(e, cfg.Client)
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
