package watch

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/opena2a-org/aim-mcp/claudeconfig"
	"github.com/opena2a-org/aim-mcp/discovery"
)

// Defaults of the Watcher's timings.
const (
	DefaultDebounce   = 250 * time.Millisecond
	DefaultMaxDelay   = 2 * time.Second
	DefaultParseRetry = 1500 * time.Millisecond

	retryAfter = 5 * time.Second // after a reconcile failed for another reason than the file
)

// Watcher watches config files and reconciles each one after it changes.
//
// It watches the directory of each file, not the file: editors save by
// writing a new file and renaming it over the old one, which would orphan a
// watch on the file itself, and a file that is deleted and created again
// keeps being watched. A directory that does not exist yet is waited for by
// watching its nearest existing ancestor. A symlinked config is watched at
// the link and at its target.
//
// Events on a file are debounced: it is reconciled once they stop for
// Debounce (but at least every MaxDelay). A file that does not parse is read
// again with backoff for up to ParseRetry, since Claude Desktop truncates
// and rewrites in place and can be caught half-way; after that it is
// reported, with the line and column, and left alone until it changes.
// Bytes equal to the last ones reconciled or written, aim-mcp's own writes
// among them, are not reconciled again.
type Watcher struct {
	Targets    []discovery.Location
	Reconciler *Reconciler
	Log        *slog.Logger

	Debounce   time.Duration // DefaultDebounce when zero
	MaxDelay   time.Duration // DefaultMaxDelay when zero
	ParseRetry time.Duration // DefaultParseRetry when zero

	// OnPass, when set, is called after each look at a file: reconciled
	// reports whether its contents were new (and so reconciled or refused).
	// Tests count passes with it.
	OnPass func(path string, reconciled bool, res Result, err error)

	fw      *fsnotify.Watcher
	targets []*target
	dirs    map[string]bool // directories being watched
}

// target is one watched config file and what the watcher knows of it.
type target struct {
	loc      discovery.Location
	resolved string // where a symlinked path points; "" when not a link

	lastHash string // of the bytes last reconciled, written, or refused
	// lastEntries identifies the server entries of the last successful
	// reconcile: Claude Code rewrites ~/.claude.json for reasons of its
	// own all the time, and when its servers are as they were there is
	// nothing to reconcile.
	lastEntries string
	missing     bool // last seen absent
	blocked     bool // last refused as read-only: a chmod may unblock it

	paused bool // given back by uninstall: hands off until installed again

	due, first time.Time // debounce deadline, first event of the burst
}

func (w *Watcher) init() {
	if w.Debounce <= 0 {
		w.Debounce = DefaultDebounce
	}
	if w.MaxDelay <= 0 {
		w.MaxDelay = DefaultMaxDelay
	}
	if w.ParseRetry <= 0 {
		w.ParseRetry = DefaultParseRetry
	}
	if w.Log == nil {
		w.Log = slog.New(slog.DiscardHandler)
	}
	w.targets = nil
	for _, l := range w.Targets {
		w.targets = append(w.targets, &target{loc: l})
	}
}

// Once reconciles every target one time. A target that cannot be read or
// reconciled is reported; the error says whether any failed.
func (w *Watcher) Once(ctx context.Context) error {
	w.init()
	failed := 0
	for _, t := range w.targets {
		if err := w.pass(ctx, t); err != nil {
			failed++
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d config file(s) could not be reconciled", failed, len(w.targets))
	}
	return nil
}

// Run reconciles every target, then watches them until ctx ends.
func (w *Watcher) Run(ctx context.Context) error {
	w.init()
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	defer fw.Close()
	w.fw, w.dirs = fw, map[string]bool{}
	w.syncWatches()
	for _, t := range w.targets {
		w.Log.Info("watching", "client", t.loc.Client.Name, "path", t.loc.Path)
		w.pass(ctx, t)
	}

	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		w.armTimer(timer)
		select {
		case <-ctx.Done():
			w.Log.Info("stopped")
			return nil
		case ev, ok := <-fw.Events:
			if !ok {
				return errors.New("watch: event channel closed")
			}
			w.event(ev)
		case err, ok := <-fw.Errors:
			if !ok {
				return errors.New("watch: error channel closed")
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				// Events were lost: look at everything again.
				w.Log.Warn("too many file events, re-reading every config")
				for _, t := range w.targets {
					t.lastHash = ""
					w.schedule(t)
				}
			} else {
				w.Log.Warn("watch error", "err", err)
			}
		case <-timer.C:
			now := time.Now()
			for _, t := range w.targets {
				if !t.due.IsZero() && !now.Before(t.due) {
					t.due, t.first = time.Time{}, time.Time{}
					w.pass(ctx, t)
				}
			}
			w.syncWatches()
		}
	}
}

// armTimer sets timer to fire at the earliest debounce deadline.
func (w *Watcher) armTimer(timer *time.Timer) {
	var next time.Time
	for _, t := range w.targets {
		if !t.due.IsZero() && (next.IsZero() || t.due.Before(next)) {
			next = t.due
		}
	}
	timer.Stop()
	select { // drain a fire that raced with Stop (pre-Go 1.23 semantics)
	case <-timer.C:
	default:
	}
	if !next.IsZero() {
		timer.Reset(time.Until(next))
	}
}

// event schedules the targets an event may concern.
func (w *Watcher) event(ev fsnotify.Event) {
	name := filepath.Clean(ev.Name)
	chmodOnly := ev.Op == fsnotify.Chmod
	resync := false
	for _, t := range w.targets {
		switch {
		case name == t.loc.Path || name == t.resolved:
			// Spotlight, antivirus and Claude's own chmod touch modes
			// all the time; only a file refused as read-only cares.
			if chmodOnly && t.blocked {
				t.lastHash = "" // same bytes, but perhaps writable now
			}
			if !chmodOnly || t.blocked {
				w.schedule(t)
			}
			if ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) || ev.Has(fsnotify.Create) {
				resync = true // a symlink may point elsewhere now
			}
		case !chmodOnly && (isAncestor(name, t.loc.Path) || t.resolved != "" && isAncestor(name, t.resolved)):
			// A directory on the way to the file came or went.
			resync = true
			w.schedule(t)
		}
	}
	if resync {
		w.syncWatches()
	}
}

func (w *Watcher) schedule(t *target) {
	now := time.Now()
	if t.first.IsZero() {
		t.first = now
	}
	t.due = now.Add(w.Debounce)
	if limit := t.first.Add(w.MaxDelay); t.due.After(limit) {
		t.due = limit
	}
}

// isAncestor reports whether dir is a proper ancestor of path.
func isAncestor(dir, path string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != "." && !strings.HasPrefix(rel, "..") && !filepath.IsAbs(rel)
}

// syncWatches watches the directory of every target (and of its symlink's
// target), or its nearest existing ancestor while it does not exist, and
// stops watching directories no longer needed.
func (w *Watcher) syncWatches() {
	if w.fw == nil {
		return
	}
	want := map[string]bool{}
	for _, t := range w.targets {
		t.resolved = ""
		if r, err := filepath.EvalSymlinks(t.loc.Path); err == nil {
			if r, err = filepath.Abs(r); err == nil && r != t.loc.Path {
				t.resolved = r
			}
		}
		want[existingDir(filepath.Dir(t.loc.Path))] = true
		if t.resolved != "" {
			want[existingDir(filepath.Dir(t.resolved))] = true
		}
	}
	for d := range want {
		if w.dirs[d] {
			continue
		}
		if err := w.fw.Add(d); err != nil {
			w.Log.Warn("cannot watch directory", "dir", d, "err", err)
			continue
		}
		w.dirs[d] = true
	}
	for d := range w.dirs {
		if !want[d] {
			w.fw.Remove(d) // it may be gone already, with its watch
			delete(w.dirs, d)
		}
	}
}

// existingDir is dir or its nearest ancestor that exists.
func existingDir(dir string) string {
	for {
		if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return dir
		}
		dir = parent
	}
}

// pass looks at one file and reconciles it when its bytes are new.
// released reports whether uninstall gave the config at path back; a
// registry that cannot tell leaves the file watched.
func (w *Watcher) released(ctx context.Context, path string) bool {
	r, err := w.Reconciler.released(ctx, path)
	return err == nil && r
}

func (w *Watcher) pass(ctx context.Context, t *target) (err error) {
	var res Result
	reconciled := false
	defer func() {
		if w.OnPass != nil {
			w.OnPass(t.loc.Path, reconciled, res, err)
		}
	}()
	log := w.Log.With("client", t.loc.Client.Name, "path", t.loc.Path)

	data, cfg, err := w.read(ctx, t)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if !t.missing {
			log.Info("config file not there; waiting for it")
		}
		t.missing, t.lastHash = true, ""
		return nil
	}
	t.missing = false
	if err == nil && sum(data) == t.lastHash {
		return nil
	}
	reconciled = true
	t.lastHash = sum(data)
	var pe *claudeconfig.ParseError
	if errors.As(err, &pe) {
		log.Error("config does not parse; not touching it until it does", "line", pe.Line, "column", pe.Col, "problem", pe.Msg)
		return err
	}
	if err != nil {
		log.Error("cannot read config", "err", err)
		return err
	}

	if w.Reconciler.Registry != nil && w.released(ctx, t.loc.Path) {
		if !t.paused {
			log.Info("aim-mcp uninstall gave this config back; leaving it alone until aim-mcp install runs again")
		}
		t.paused = true
		return nil
	}
	if t.paused {
		log.Info("installed again; watching resumes")
		t.paused, t.lastEntries = false, ""
	}
	entries := entriesKey(cfg)
	if entries == t.lastEntries {
		log.Debug("config changed, its servers did not")
		return nil
	}
	t.lastEntries = ""

	res, err = w.Reconciler.Reconcile(ctx, cfg)
	for _, o := range res.Outcomes {
		l := log.With("server", o.RegName)
		if o.Created {
			l.Info("registered", "id", o.Registered.ID, "key", o.Registered.Fingerprint())
		}
		if res.Wrote && (o.Action == Wrapped || o.Action == Rewrapped) {
			l.Info(o.Action)
		}
	}
	for _, s := range res.Removed {
		log.Info("server gone from the config: marked removed", "server", s.Name, "id", s.ID)
	}
	var nw *NotWritableError
	t.blocked = errors.As(err, &nw)
	if err != nil {
		log.Error("config not changed", "err", err)
		if !t.blocked && !errors.As(err, &pe) {
			// Perhaps passing (the registry busy, a disk full): try the
			// same bytes again later.
			t.lastHash = ""
			t.first, t.due = time.Now(), time.Now().Add(retryAfter)
		}
		return err
	}
	t.lastEntries = entriesKey(cfg) // as reconciled: cfg.File holds what was written
	if res.Wrote {
		// Our own write comes back as an event: its hash says it is ours.
		t.lastHash = sum(res.Written)
		log.Info("config written", "backup", res.Backup)
	}
	return nil
}

// entriesKey identifies a config's server entries: where they are, what
// they run, whether and how they are wrapped.
func entriesKey(cfg *discovery.Config) string {
	b, _ := json.Marshal(cfg.File.Entries())
	return sum(b)
}

// read reads and parses the file, reading it again with backoff while it
// does not parse, for up to ParseRetry. It returns the last bytes read.
func (w *Watcher) read(ctx context.Context, t *target) ([]byte, *discovery.Config, error) {
	deadline := time.Now().Add(w.ParseRetry)
	delay := 20 * time.Millisecond
	for {
		data, err := os.ReadFile(t.loc.Path)
		if err != nil {
			return nil, nil, err
		}
		if sum(data) == t.lastHash {
			return data, nil, nil // nothing new; the caller skips it
		}
		f, err := claudeconfig.Parse(t.loc.Path, data, t.loc.Format)
		if err == nil {
			return data, &discovery.Config{Location: t.loc, File: f}, nil
		}
		var pe *claudeconfig.ParseError
		if !errors.As(err, &pe) || !time.Now().Add(delay).Before(deadline) {
			return data, nil, err
		}
		select {
		case <-ctx.Done():
			return data, nil, err
		case <-time.After(delay):
		}
		delay *= 2
	}
}

// sum identifies contents; never "", which stands for "not seen yet".
func sum(b []byte) string {
	h := sha256.Sum256(b)
	return string(h[:])
}
