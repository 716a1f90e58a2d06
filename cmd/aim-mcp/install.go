package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/opena2a-org/aim-mcp/claudeconfig"
	"github.com/opena2a-org/aim-mcp/discovery"
	"github.com/opena2a-org/aim-mcp/internal/home"
	"github.com/opena2a-org/aim-mcp/internal/oshint"
	"github.com/opena2a-org/aim-mcp/registry"
	"github.com/opena2a-org/aim-mcp/watch"
)

var installUsage = `
Usage: aim-mcp install [--client NAME|all] [--config PATH]... [--home DIR] [--dry-run]
                      [--replace-mcp-remote] [--aim-url URL --api-key KEY]

` + wrapText("", "Finds the MCP servers in the configs of the MCP clients on this machine ("+
	clientDisplays()+`), registers each with AIM, gives each an Ed25519 identity, and
rewrites each config so that every stdio server is launched through "aim-mcp
proxy". Only "command" and "args" of those entries change; a backup is taken
before a file is written.

A remote server (url, serverUrl, type http or sse) of a client that loads
them (Claude Code, Cursor, VS Code, Windsurf) becomes a stdio entry that
runs "aim-mcp proxy --url URL": aim-mcp is then the server's client, and its
calls are checked and recorded like any other. Header values move to the
entry's env, never to its arguments. The entry's original bytes are kept in
the home, and uninstall puts them back. A URL that is not https (other than
http to localhost), a local socket, or credentials in the URL leave the
entry as it is, with the reason.`) + `
Flags:
` + clientFlag("only this client:", "(default: every client found)") +
	wrapText("  --config PATH  ", "this config file (repeatable); --client says whose it is, else its name does (a project's "+
		projectFiles()+"; anything else is read as "+defaultDisplay()+
		"'s). Project files are only changed when named here: they are often shared in a repository") + `  --home DIR     aim-mcp's data directory (default $AIM_MCP_HOME, else the
                 XDG data directory's aim-mcp)
  --dry-run      show what would change and write nothing
  --replace-mcp-remote
                 also turn "npx mcp-remote URL ..." entries into "aim-mcp
                 proxy --url URL" ones (its options mapped; an entry with
                 one that has no equivalent is left as it was)
  --scan-timeout DUR
                 how long each server it wraps may take to list its tools,
                 prompts and resources for the scanner (default 15s; the
                 servers are scanned at once; 0 scans nothing)
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
	var cf clientFlags
	cf.register(fs)
	dryRun := fs.Bool("dry-run", false, "")
	replaceMCPRemote := fs.Bool("replace-mcp-remote", false, "")
	aimURL := fs.String("aim-url", "", "")
	apiKey := fs.String("api-key", "", "")
	scanTimeout := fs.Duration("scan-timeout", 15*time.Second, "")
	dir, cfgs, failed, err := cf.load(e, fs, args)
	if err != nil {
		return err
	}
	if len(cf.configs) == 0 {
		noteUnread(e, cf.client, cfgs)
	}
	exe, err := selfPath()
	if err != nil {
		return err
	}
	if !*dryRun && len(cfgs) > 0 {
		if err := ensureHome(dir); err != nil {
			return err
		}
	}
	aim, err := newAIMInstall(e, dir, *aimURL, *apiKey, *dryRun)
	if err != nil {
		return err
	}
	rec := &watch.Reconciler{Exe: exe, Home: dir, Backups: home.Backups(dir), Writable: writable,
		Entries: home.Entries(dir), ReplaceMCPRemote: *replaceMCPRemote}
	mcpRemotes := 0
	var logins []remoteLogin
	var scans *installScans
	var db *registry.DB
	if !*dryRun && len(cfgs) > 0 {
		// The servers to wrap are scanned while the configs are written.
		scans = startInstallScans(ctx, cfgs, *scanTimeout)
		if db, err = openRegistry(ctx, e, dir, true); err != nil {
			return err
		}
		defer db.Close()
		rec.Registry = db
		rec.OnRegister = func(ctx context.Context, srv registry.Server, created bool) error {
			if created {
				fmt.Fprintf(e.stderr, "aim-mcp: registered %q as %s (key %s)\n", srv.Name, srv.ID, srv.Fingerprint())
			}
			return aim.enroll(ctx, e, db, srv)
		}
	}
	for i, cfg := range cfgs {
		if ctx.Err() != nil {
			return interrupted(cfgs[i:])
		}
		if err := installConfig(ctx, e, rec, cfg, *dryRun, func(res watch.Result) {
			scans.report(ctx, e, db, cfg, res)
			if !*replaceMCPRemote {
				mcpRemotes += countMCPRemote(res)
			}
			logins = append(logins, remoteLogins(dir, res)...)
		}); err != nil {
			if ctx.Err() != nil {
				return interrupted(cfgs[i:])
			}
			report(e.stderr, err)
			failed = true
		}
	}
	if !*dryRun && len(logins) > 0 && isTerminal(e.stdin) && isTerminal(e.stderr) {
		loginRemotes(ctx, e, logins, nil)
	}
	if mcpRemotes > 0 {
		fmt.Fprintf(e.stderr, "aim-mcp: note: %d server(s) run npx mcp-remote; \"aim-mcp install --replace-mcp-remote\" makes aim-mcp their client instead, so each is known by its URL\n", mcpRemotes)
	}
	if failed {
		return errSilent
	}
	return nil
}

// countMCPRemote counts the npx mcp-remote servers, for the note that
// --replace-mcp-remote exists.
func countMCPRemote(res watch.Result) int {
	n := 0
	for _, o := range res.Outcomes {
		if o.MCPRemote != nil && o.Action != watch.Skipped {
			n++
		}
	}
	return n
}

// installConfig wraps the servers of one config and says what it did.
// scanned, when not nil, reports the scans of the servers wrapped.
func installConfig(ctx context.Context, e env, rec *watch.Reconciler, cfg *discovery.Config, dryRun bool, scanned func(watch.Result)) error {
	fmt.Fprintf(e.stdout, "%s: %s\n", cfg.Client.Display, cfg.Path)
	res, err := rec.Reconcile(ctx, cfg)
	if err != nil {
		return reconcileError(err)
	}
	for _, o := range res.Outcomes {
		state := o.Action
		switch {
		case o.Action == watch.Skipped:
			state += ": " + o.Skip
		case dryRun && o.Action != watch.AlreadyWrapped:
			state = "would be " + o.Action
		}
		if o.Note != "" && o.Action != watch.Skipped {
			state += ", " + o.Note
		}
		fmt.Fprintf(e.stdout, "  %-24s %s\n", o.RegName, state)
	}
	for _, s := range res.Removed {
		fmt.Fprintf(e.stdout, "  %-24s gone from the config: marked removed\n", s.Name)
	}
	if scanned != nil {
		scanned(res)
	}
	switch {
	case !res.Changed():
		fmt.Fprintf(e.stdout, "%s: nothing to change\n", cfg.Path)
	case dryRun:
		fmt.Fprintf(e.stdout, "%s: dry run, nothing written\n", cfg.Path)
	default:
		fmt.Fprintf(e.stdout, "%s: %d server(s) wrapped\nbackup: %s\n", cfg.Path, wrappedCount(res), res.Backup)
		restartReminder(e, cfg.Client)
	}
	return nil
}

// interrupted is the error of install or uninstall stopped by Ctrl-C or
// SIGTERM: the files not yet written stay as they were.
func interrupted(left []*discovery.Config) error {
	var paths []string
	for _, c := range left {
		paths = append(paths, fmt.Sprintf("%q", c.Path))
	}
	return &cliError{msg: "interrupted; not changed: " + strings.Join(paths, ", "), code: 130,
		hints: []string{"a file reported above as written is complete; run the command again to finish"}}
}

// unreadHint tells a user whose client has not written its config yet
// how to get one.
const unreadHint = "open Claude Desktop's Settings > Developer > Edit Config, which creates the file, then run aim-mcp install again; aim-mcp watch wraps it as soon as the app writes it"

// noteUnread says which selected client was left out because the only
// config-like file it has is one the app does not read (Claude Desktop's
// classic file beside its MSIX package), so nothing is wrapped in vain.
func noteUnread(e env, client string, found []*discovery.Config) {
	sys := discovery.Host()
	for _, c := range discovery.Clients() {
		if client != "" && client != "all" && client != c.Name {
			continue
		}
		if slices.ContainsFunc(found, func(cfg *discovery.Config) bool { return cfg.Client.Name == c.Name }) {
			continue
		}
		unread, why, ok := c.UnreadFile(sys)
		if !ok {
			continue
		}
		loc, _ := c.Locate(sys)
		fmt.Fprintf(e.stderr, "aim-mcp: note: %s reads %s, which it has not written yet; %s is not read by the app (%s) and was left alone\n",
			c.Display, oshint.Quote(loc.Path), oshint.Quote(unread), why)
		fmt.Fprintf(e.stderr, "aim-mcp: hint: %s\n", unreadHint)
	}
}

// writable refuses a config aim-mcp must not or cannot rewrite, before
// anything else changes.
func writable(path string) error {
	if r, err := filepath.EvalSymlinks(path); err == nil {
		path = r // a symlinked config is written where it points
	}
	st, err := os.Stat(path)
	if err != nil {
		return errorf("%v", err)
	}
	if st.Mode().Perm()&0o200 == 0 {
		return errorf("%s is read-only", oshint.Quote(path)).hint("make it writable (%s) if aim-mcp may change it", oshint.Writable(path))
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".aim-mcp-probe-*")
	if err != nil {
		// The config is replaced by renaming a new file over it, which
		// needs the right to create files in its directory.
		return errorf("cannot write in %s: %v", oshint.Quote(dir), unwrapPath(err)).
			hint("aim-mcp writes the new config beside the old one; give yourself write access to the folder (%s), nothing was changed", oshint.WritableDir(dir))
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}

// unwrapPath drops the operation and path of an *fs.PathError, which the
// message already names: "Access is denied.", not a doubled path.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
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
	if c.Name != claudeconfig.DefaultClient && c.Reload != "" {
		fmt.Fprintf(e.stdout, "For %s to use it: %s.\n", c.Display, c.Reload)
		return
	}
	if running(c) {
		fmt.Fprintf(e.stdout, "\n%s is running: quit it completely (from the menu bar or tray, not just the window) and start it again.\nIt reads its config only at start, and may overwrite changes made while it runs.\n", c.Display)
		return
	}
	fmt.Fprintf(e.stdout, "Start %s again for the change to take effect.\n", c.Display)
}
