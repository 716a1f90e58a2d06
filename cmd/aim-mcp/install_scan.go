package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/opena2a-org/aim-mcp/discovery"
	"github.com/opena2a-org/aim-mcp/pins"
	"github.com/opena2a-org/aim-mcp/poison"
	"github.com/opena2a-org/aim-mcp/registry"
	"github.com/opena2a-org/aim-mcp/surface"
	"github.com/opena2a-org/aim-mcp/watch"
)

// installScans are the scans install starts, one per server it is about
// to wrap, before any config is written and side by side (at most
// maxInstallScans at once), so that they cost install about the time of
// the slowest server, bounded by the timeout, not the sum. A server that
// cannot start or answer is reported and skipped.
type installScans struct {
	timeout time.Duration
	scanner *poison.Scanner // the proxy's rules: what install says is what a session does
	mu      sync.Mutex
	pending map[string]*installScan
}

// maxInstallScans bounds the servers started at once to be scanned: a
// config with hundreds of servers must not start hundreds of processes.
const maxInstallScans = 8

type installScan struct {
	done chan struct{}
	surf surface.Surface
	err  error
}

// startInstallScans starts a scan of each server of cfgs that install
// would wrap. A zero timeout scans nothing.
func startInstallScans(ctx context.Context, cfgs []*discovery.Config, timeout time.Duration) *installScans {
	if timeout <= 0 {
		return nil
	}
	s := &installScans{timeout: timeout, scanner: poison.New(nil), pending: map[string]*installScan{}}
	slots := make(chan struct{}, maxInstallScans)
	for _, cfg := range cfgs {
		for _, srv := range cfg.Servers() {
			if srv.Wrapped || srv.Skip != "" {
				continue
			}
			one := &installScan{done: make(chan struct{})}
			s.pending[scanKey(cfg.Path, srv.RegName)] = one
			argv := append([]string{srv.Command}, srv.Args...)
			env := serverEnv(cfg, srv.Entry)
			go func() {
				defer close(one.done)
				select {
				case slots <- struct{}{}:
				case <-ctx.Done():
					one.err = ctx.Err()
					return
				}
				defer func() { <-slots }()
				one.surf, one.err = surface.List(ctx, argv, &surface.Options{Env: env, Timeout: timeout})
			}()
		}
	}
	return s
}

func scanKey(path, name string) string { return path + "\x00" + name }

// report waits for the scans of the servers a config's install wrapped,
// quarantines the tools with a hard finding (recorded in the audit chain)
// and prints one line per server.
func (s *installScans) report(ctx context.Context, e env, db *registry.DB, cfg *discovery.Config, res watch.Result) {
	if s == nil || db == nil {
		return
	}
	for _, o := range res.Outcomes {
		if o.Action != watch.Wrapped {
			continue
		}
		s.mu.Lock()
		one := s.pending[scanKey(cfg.Path, o.RegName)]
		s.mu.Unlock()
		if one == nil {
			continue
		}
		select {
		case <-one.done:
		case <-ctx.Done():
			return
		}
		fmt.Fprintf(e.stdout, "  scan %s: %s\n", o.RegName, s.line(ctx, e, db, o.Registered, one))
	}
}

// line says what one server's scan found.
func (s *installScans) line(ctx context.Context, e env, db *registry.DB, srv registry.Server, one *installScan) string {
	if one.err != nil {
		why := one.err.Error()
		if errors.Is(one.err, surface.ErrTimeout) {
			why = fmt.Sprintf("it did not answer within %v", s.timeout)
		}
		return fmt.Sprintf("not scanned (%s); its proxy scans what it lists, and `aim-mcp scan %s` tries again",
			strings.TrimSpace(why), pins.Quote(srv.Name))
	}
	fs := scanSurface(s.scanner, one.surf)
	hard, soft := poison.Count(fs)
	line := fmt.Sprintf("%s, %s, %s: ", plural(one.surf.NTools, "tool"), plural(one.surf.NPrompts, "prompt"),
		plural(one.surf.NResources, "resource"))
	if hard+soft == 0 {
		return line + "clean"
	}
	line += fmt.Sprintf("%d hard, %d soft", hard, soft)
	held, err := pins.QuarantineScanned(ctx, db, srv, s.scanner, one.surf.Tools, time.Now())
	if err != nil {
		fmt.Fprintf(e.stderr, "aim-mcp: warning: server %q: %v\n", srv.Name, err)
	}
	if len(held) > 0 {
		names := make([]string, len(held))
		for i, h := range held {
			names[i] = h.Tool
		}
		release := fmt.Sprintf("aim-mcp pins accept %s", pins.Quote(srv.Name))
		if len(held) == 1 {
			release += " " + pins.Quote(held[0].Tool)
		}
		line += fmt.Sprintf("; quarantined %s (%s), release with `%s`", strings.Join(names, ", "), held[0].Findings[0].Rule, release)
	}
	return line + fmt.Sprintf("; details: `aim-mcp scan %s`", pins.Quote(srv.Name))
}

// scanSurface scans everything a server showed.
func scanSurface(s *poison.Scanner, surf surface.Surface) []poison.Finding {
	var fs []poison.Finding
	if len(surf.Tools) > 0 {
		fs = append(fs, s.Tools(surf.Tools)...)
	}
	if len(surf.Prompts) > 0 {
		fs = append(fs, s.Prompts(surf.Prompts)...)
	}
	if len(surf.Resources) > 0 {
		fs = append(fs, s.Resources(surf.Resources)...)
	}
	if len(surf.Templates) > 0 {
		fs = append(fs, s.Resources(surf.Templates)...)
	}
	if surf.Instructions != "" {
		fs = append(fs, s.Instructions(surf.Instructions)...)
	}
	return fs
}
