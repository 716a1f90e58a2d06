package telemetry

import (
	"context"
	"time"

	"github.com/opena2a-org/aim-mcp/mcpproxy"
	"github.com/opena2a-org/aim-mcp/registry"
)

// Journal wraps the session's journal: each record, once committed, is
// queued for export as a log record. Records that failed to commit are
// not exported; the journal says so through the proxy.
func (x *Exporter) Journal(j mcpproxy.Journal) mcpproxy.Journal { return &journal{j: j, x: x} }

type journal struct {
	j mcpproxy.Journal
	x *Exporter
}

func (j *journal) Append(ctx context.Context, evs ...registry.Event) error {
	if err := j.j.Append(ctx, evs...); err != nil {
		return err
	}
	j.queue(evs)
	return nil
}

// TryAppend implements mcpproxy.TryJournal when the wrapped journal does;
// otherwise it says the journal is busy, so the proxy takes its slower,
// waiting path as it would without the wrapper.
func (j *journal) TryAppend(ctx context.Context, evs ...registry.Event) error {
	t, ok := j.j.(mcpproxy.TryJournal)
	if !ok {
		return registry.ErrBusy
	}
	if err := t.TryAppend(ctx, evs...); err != nil {
		return err
	}
	j.queue(evs)
	return nil
}

// Close implements mcpproxy.Closer.
func (j *journal) Close(ctx context.Context) error {
	if c, ok := j.j.(mcpproxy.Closer); ok {
		return c.Close(ctx)
	}
	return nil
}

func (j *journal) queue(evs []registry.Event) {
	for i := range evs {
		ev := evs[i]
		if ev.Time.IsZero() {
			ev.Time = time.Now()
		}
		j.x.put(item{rec: &ev})
	}
}
