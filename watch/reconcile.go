// Package watch keeps MCP client configs wrapped: [Reconciler] brings one
// config file to the wrapped state (install runs it once, per file), and
// [Watcher] runs it again whenever a watched file changes.
//
// A pass over a file: the Watcher sees a change (fsnotify, debounced), reads
// and parses the file through discovery; the Reconciler registers each new
// stdio server in the registry, wraps its entry with claudeconfig (backup
// first, one atomic write), records the write as an install, and marks
// removed the servers that left the file. The Watcher's service (a login
// item per OS) keeps "aim-mcp watch" running.
package watch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/opena2a-org/aim-mcp/claudeconfig"
	"github.com/opena2a-org/aim-mcp/discovery"
	"github.com/opena2a-org/aim-mcp/internal/canon"
	"github.com/opena2a-org/aim-mcp/registry"
)

// Registry is what reconciling needs of AIM. *registry.DB is one.
type Registry interface {
	RegisterAll(ctx context.Context, ins []registry.Registration) ([]registry.Registered, error)
	Server(ctx context.Context, client, name string) (registry.Server, error)
	SetStatus(ctx context.Context, id, status string) error
	SaveInstall(ctx context.Context, in registry.Install) error
	ConfigState(ctx context.Context, path string) (registry.ConfigState, error)
	SaveConfigState(ctx context.Context, path string, st registry.ConfigState) error
	ReleaseConfig(ctx context.Context, path, client string) error
	ServersElsewhere(ctx context.Context, client, path string) ([]string, error)
}

var _ Registry = (*registry.DB)(nil)

// Actions in Outcome.Action.
const (
	Skipped        = "skipped"         // not a stdio server aim-mcp may wrap
	Wrapped        = "wrapped"         // was not wrapped, now is (or would be, in a dry run)
	Rewrapped      = "re-pointed"      // was wrapped differently (another aim-mcp path, home or name)
	AlreadyWrapped = "already wrapped" // nothing to do
)

// Outcome is what happened to one server of the file.
type Outcome struct {
	discovery.Server
	Action     string
	Registered registry.Server // zero in a dry run and for skipped servers
	Created    bool            // registered for the first time
	// Note adds what the action alone does not say: where a rewritten
	// remote server is, or why an npx mcp-remote entry was left as it was.
	Note string
}

// Result is what one reconcile did to one file.
type Result struct {
	Path     string
	Outcomes []Outcome
	Removed  []registry.Server // gone from the file since the last reconcile: marked removed
	Wrote    bool
	Backup   string // the copy taken before writing
	Written  []byte // what was written, when Wrote
	Rereads  int    // times the file changed between reading and writing

	saved []claudeconfig.SavedEntry // remote entries rewritten: kept in Entries before the write
}

// Changed reports whether the file was (or, in a dry run, would be) changed.
func (r Result) Changed() bool {
	for _, o := range r.Outcomes {
		if o.Action == Wrapped || o.Action == Rewrapped {
			return true
		}
	}
	return false
}

// Reconciler wraps the stdio servers of config files, registering each, and
// marks servers that left a file as removed.
type Reconciler struct {
	// Registry registers servers. Nil makes a dry run: the config is
	// edited in memory only and nothing is registered or written.
	Registry Registry
	Exe      string // aim-mcp's absolute path: each wrapped entry's command
	Home     string // aim-mcp's home: --home of each entry
	Backups  string // where a config is copied before each write
	// Writable refuses a file that must not or cannot be written, before
	// anything changes. Nil accepts every file.
	Writable func(path string) error
	// Now stamps backups; time.Now when nil.
	Now func() time.Time
	// OnRegister, when set, runs after each registration, created saying
	// whether the server is new (install enrolls it with a remote AIM).
	// An error stops the reconcile before the file is written.
	OnRegister func(ctx context.Context, srv registry.Server, created bool) error
	// Entries, when set, is where the original bytes of rewritten remote
	// entries are kept: remote servers of the clients that load them are
	// rewritten to run through aim-mcp proxy --url. Empty leaves them.
	Entries string
	// ReplaceMCPRemote rewrites "npx mcp-remote URL" entries the same way
	// (needs Entries).
	ReplaceMCPRemote bool

	mu       sync.Mutex // one reconcile at a time: a file's state is read-modify-write
	imported bool       // the home's legacy state file was moved into the registry
}

// maxRereads bounds how often Reconcile starts over because someone else
// wrote the file while it was working.
const maxRereads = 5

// Reconcile wraps every stdio server of cfg (registering each), leaves the
// others, and writes the file when that changed it: backup, atomic write,
// install record. Just before writing it reads the file again; when the
// client wrote it meanwhile (Claude Code rewrites ~/.claude.json often), it
// starts over on the new bytes instead of overwriting them. cfg.File holds
// the result. A server registered from this file before and gone now is
// marked removed, unless another config of the client still has it.
func (r *Reconciler) Reconcile(ctx context.Context, cfg *discovery.Config) (Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	res := Result{Path: cfg.Path}
	for {
		if err := r.wrap(ctx, cfg, &res); err != nil {
			return res, err
		}
		if r.Registry == nil || !cfg.File.Changed() {
			break
		}
		same, err := cfg.File.OnDisk()
		if err != nil {
			return res, fmt.Errorf("read %q again before writing: %w", cfg.Path, err)
		}
		if same {
			// Interrupted (Ctrl-C, SIGTERM) before the write: nothing
			// written. Once the write starts it runs to its end, which is
			// atomic.
			if err := ctx.Err(); err != nil {
				return res, fmt.Errorf("%q not changed: %w", cfg.Path, err)
			}
			if err := r.save(ctx, cfg, &res); err != nil {
				return res, err
			}
			break
		}
		if res.Rereads++; res.Rereads > maxRereads {
			return res, fmt.Errorf("%q keeps changing while aim-mcp edits it; nothing written, try again", cfg.Path)
		}
		cur, err := os.ReadFile(cfg.Path)
		if err != nil {
			return res, fmt.Errorf("read %q again before writing: %w", cfg.Path, err)
		}
		f, err := claudeconfig.Parse(cfg.Path, cur, cfg.Format)
		if err != nil {
			return res, err
		}
		cfg.File = f
	}
	if r.Registry != nil {
		if err := r.removeGone(ctx, cfg, &res); err != nil {
			return res, err
		}
	}
	return res, nil
}

// wrap wraps the file's entries in memory and, unless a dry run, registers
// them.
func (r *Reconciler) wrap(ctx context.Context, cfg *discovery.Config, res *Result) error {
	res.Outcomes, res.saved = res.Outcomes[:0], nil
	for n, s := range cfg.Servers() {
		if n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("%q not changed: %w", cfg.Path, err)
			}
		}
		o := Outcome{Server: s, Action: Skipped}
		done, err := r.remote(cfg, &o, res)
		if err != nil {
			return err
		}
		if !done && s.Skip == "" {
			changed, err := cfg.File.Wrap(s.Root, s.Name, claudeconfig.ProxySpec{
				Exe: r.Exe, Client: cfg.Client.Name, Server: s.RegName, Home: r.Home})
			if err != nil {
				return err
			}
			switch {
			case !changed:
				o.Action = AlreadyWrapped
			case s.Wrapped:
				o.Action = Rewrapped
			default:
				o.Action = Wrapped
			}
		}
		res.Outcomes = append(res.Outcomes, o)
	}
	if r.Registry == nil {
		return nil
	}
	if cfg.File.Changed() && r.Writable != nil {
		if err := r.Writable(cfg.Path); err != nil {
			return &NotWritableError{Path: cfg.Path, Err: err}
		}
	}
	// One registration for the whole file: one transaction, one flush of
	// the new keys.
	var ins []registry.Registration
	var at []int
	for i, o := range res.Outcomes {
		if o.Action == Skipped {
			continue
		}
		orig := o.Original
		ins = append(ins, registry.Registration{
			Client: cfg.Client.Name, Name: o.RegName, Command: orig[0], Args: orig[1:], EnvNames: o.EnvNames,
		})
		at = append(at, i)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%q not changed: %w", cfg.Path, err)
	}
	regs, err := r.Registry.RegisterAll(ctx, ins)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%q not changed: %w", cfg.Path, ctx.Err())
		}
		return err
	}
	for k, reg := range regs {
		i := at[k]
		res.Outcomes[i].Registered, res.Outcomes[i].Created = reg.Server, reg.Created
		if r.OnRegister != nil {
			if err := r.OnRegister(ctx, reg.Server, reg.Created); err != nil {
				return err
			}
		}
	}
	return nil
}

// save backs the file up, writes it atomically and records the write, so
// that uninstall can tell whether the user changed it since.
func (r *Reconciler) save(ctx context.Context, cfg *discovery.Config, res *Result) error {
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	if err := r.keep(res.saved); err != nil {
		return &SaveError{Path: cfg.Path, Err: err}
	}
	backup, err := claudeconfig.Backup(cfg.Path, r.Backups, now())
	if err != nil {
		r.unkeep(res.saved)
		return &SaveError{Path: cfg.Path, Err: err}
	}
	if err := cfg.File.Save(); err != nil {
		r.unkeep(res.saved)
		return &SaveError{Path: cfg.Path, Backup: backup, Err: err}
	}
	res.Wrote, res.Backup, res.Written = true, backup, cfg.File.Bytes()
	return r.Registry.SaveInstall(ctx, registry.Install{Path: cfg.Path, Client: cfg.Client.Name, Backup: backup,
		WrittenHash: canon.Sum(res.Written)})
}

// NotWritableError is a file that needs changes Reconciler.Writable refused.
type NotWritableError struct {
	Path string
	Err  error
}

func (e *NotWritableError) Error() string { return e.Err.Error() }
func (e *NotWritableError) Unwrap() error { return e.Err }

// SaveError is a failed backup (Backup empty: nothing changed) or write
// (the file is unchanged; Backup is the copy taken).
type SaveError struct {
	Path, Backup string
	Err          error
}

func (e *SaveError) Error() string {
	if e.Backup == "" {
		return fmt.Sprintf("back up %q: %v", e.Path, e.Err)
	}
	return fmt.Sprintf("write %q: %v", e.Path, e.Err)
}

func (e *SaveError) Unwrap() error { return e.Err }

// removeGone marks as removed the servers this file had at its last
// reconcile and has no more, and remembers what it has now.
func (r *Reconciler) removeGone(ctx context.Context, cfg *discovery.Config, res *Result) error {
	var now []string
	for _, o := range res.Outcomes {
		if o.Action != Skipped {
			now = append(now, o.RegName)
		}
	}
	slices.Sort(now)
	now = slices.Compact(now)
	prev, err := r.state(ctx, cfg.Path)
	if err != nil {
		return err
	}
	for _, name := range prev.Servers {
		if slices.Contains(now, name) {
			continue
		}
		if there, err := elsewhere(ctx, r.Registry, cfg.Client.Name, name, cfg.Path); err != nil || there {
			if err != nil {
				return err
			}
			continue
		}
		srv, err := r.Registry.Server(ctx, cfg.Client.Name, name)
		if errors.Is(err, registry.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if srv.Status != registry.StatusActive {
			continue
		}
		if err := r.Registry.SetStatus(ctx, srv.ID, registry.StatusRemoved); err != nil {
			return err
		}
		srv.Status = registry.StatusRemoved
		res.Removed = append(res.Removed, srv)
	}
	if now == nil {
		now = []string{}
	}
	if prev.Client == cfg.Client.Name && prev.Servers != nil && slices.Equal(prev.Servers, now) && !prev.Released {
		return nil
	}
	return r.Registry.SaveConfigState(ctx, cfg.Path, registry.ConfigState{Client: cfg.Client.Name, Servers: now})
}

// state is what the registry knows of the config at path, once the home's
// legacy state file is imported. The caller holds r.mu.
func (r *Reconciler) state(ctx context.Context, path string) (registry.ConfigState, error) {
	if !r.imported {
		if err := importState(ctx, r.Registry, r.Home); err != nil {
			return registry.ConfigState{}, err
		}
		r.imported = true
	}
	return r.Registry.ConfigState(ctx, path)
}

// released reports whether uninstall gave the config at path back.
func (r *Reconciler) released(ctx context.Context, path string) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st, err := r.state(ctx, path)
	return st.Released, err
}
