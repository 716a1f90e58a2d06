package mcpproxy

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opena2a-org/aim-mcp/registry"
)

// fullDisk is a journal whose writes fail while it is full.
type fullDisk struct {
	Journal

	mu   sync.Mutex
	full bool
}

func (f *fullDisk) setFull(full bool) {
	f.mu.Lock()
	f.full = full
	f.mu.Unlock()
}

func (f *fullDisk) Append(ctx context.Context, evs ...registry.Event) error {
	f.mu.Lock()
	full := f.full
	f.mu.Unlock()
	if full {
		return errors.New("no space left on device")
	}
	return f.Journal.Append(ctx, evs...)
}

// TestNoRecordDropped: records that cannot be written while the disk is
// full are kept and written once space comes back, however many tries
// that takes; calls are refused meanwhile, and their refusals are records
// too. Nothing is reported lost.
func TestNoRecordDropped(t *testing.T) {
	reg := newRegistry(t)
	j := &fullDisk{Journal: reg.journal(t)}
	p := startProxy(t, proxyOpts{reg: reg, setup: func(context.Context) (Decider, Journal, error) { return nil, j, nil }})
	c := p.connect(legacy)
	if got, res := call(t, c, "echo", map[string]any{"text": "before"}); res.IsError {
		t.Fatalf("a call before the disk filled: %q", got)
	}
	j.setFull(true)
	for range 3 {
		got, res := call(t, c, "echo", map[string]any{"text": "must not run"})
		if !res.IsError || !strings.Contains(got, "could not record the call") {
			t.Errorf("a call while the disk is full: %q (isError %v), want it refused", got, res.IsError)
		}
	}
	time.Sleep(2500 * time.Millisecond) // several retries fail meanwhile
	j.setFull(false)
	if got, res := call(t, c, "echo", map[string]any{"text": "after"}); res.IsError {
		t.Fatalf("a call after space came back: %q", got)
	}
	c.Close()
	if code := p.wait(20 * time.Second); code != 0 {
		t.Errorf("exit code %d", code)
	}
	recs := p.reg.records(t)
	if n := len(only(recs, registry.KindDenied)); n != 3 {
		t.Errorf("%d denied records, want the 3 refusals made while the disk was full", n)
	}
	if n := len(only(recs, registry.KindCall)); n != 2 {
		t.Errorf("%d call records, want 2", n)
	}
	if n := len(only(recs, registry.KindOutcome)); n != 2 {
		t.Errorf("%d outcome records, want 2", n)
	}
	if strings.Contains(p.reports.String(), "could not be written") {
		t.Errorf("a record was reported lost:\n%s", p.reports)
	}
	if got := strings.Count(p.reports.String(), "no space left"); got > 4 {
		t.Errorf("the full disk was reported %d times; want once, and once per refused call", got)
	}
}
