package trust

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/opena2a-org/aim-mcp/audit"
	"github.com/opena2a-org/aim-mcp/registry"
)

// counted is what a Source knows of the trail without keeping a record:
// each server's records counted by UTC day (the days of the live window)
// and in all. It is kept in the registry (registry.Tallies) up to the last
// record verified, so each run reads only the records appended since.
//
// Days read from the registry stay encoded until a new record is added to
// them: memory holds the kept rows' bytes, not an Activity for each.
type counted struct {
	from   string                       // the oldest day kept: every record of a day from it on is counted
	days   map[string]days              // server id → its days counted into this run (new, or changed since read)
	kept   map[string]map[string][]byte // server id → day → its row as read, unchanged
	totals map[string]registry.Stats    // server id → all its records
}

// totalKey is the key of a server's totals among its rows; its days are
// keyed by date.
const totalKey = "total"

// totalJSON is how a server's totals are kept.
type totalJSON struct {
	Calls     int   `json:"calls,omitempty"`
	Denied    int   `json:"denied,omitempty"`
	Cancelled int   `json:"cancelled,omitempty"`
	Records   int   `json:"records"`
	Last      int64 `json:"last"` // Unix nanoseconds
}

func newCounted(from string) *counted {
	return &counted{from: from, days: map[string]days{}, kept: map[string]map[string][]byte{}, totals: map[string]registry.Stats{}}
}

// add counts one record, in chain order.
func (c *counted) add(r registry.Record) {
	st := c.totals[r.ServerID]
	st.Records++
	switch r.Kind {
	case registry.KindCall:
		st.Calls++
	case registry.KindDenied:
		if r.Decision == string(audit.Cancelled) {
			st.Cancelled++
		} else {
			st.Denied++
		}
	}
	if r.Time.After(st.Last) {
		st.Last = r.Time
	}
	c.totals[r.ServerID] = st
	if k := dayKey(r.Time); k >= c.from {
		d := c.days[r.ServerID]
		if d == nil {
			d = days{}
			c.days[r.ServerID] = d
		}
		if raw, ok := c.kept[r.ServerID][k]; ok {
			a := &Activity{}
			json.Unmarshal(raw, a) // load checked it
			d[k] = a
			delete(c.kept[r.ServerID], k)
		}
		d.add(r)
	}
}

// load adds a saved row, checked but left encoded; days before from are
// dropped.
func (c *counted) load(row registry.TallyRow) error {
	if row.Key == totalKey {
		var t totalJSON
		if err := json.Unmarshal(row.Data, &t); err != nil {
			return fmt.Errorf("server %s: %w", row.ServerID, err)
		}
		c.totals[row.ServerID] = registry.Stats{Calls: t.Calls, Denied: t.Denied, Cancelled: t.Cancelled,
			Records: t.Records, Last: time.Unix(0, t.Last).UTC()}
		return nil
	}
	if row.Key < c.from {
		return nil
	}
	if err := json.Unmarshal(row.Data, &Activity{}); err != nil {
		return fmt.Errorf("server %s, %s: %w", row.ServerID, row.Key, err)
	}
	k := c.kept[row.ServerID]
	if k == nil {
		k = map[string][]byte{}
		c.kept[row.ServerID] = k
	}
	k[row.Key] = row.Data
	return nil
}

// serverDays returns a server's days, those left encoded decoded for the
// caller alone.
func (c *counted) serverDays(id string) days {
	d := days{}
	for k, a := range c.days[id] {
		d[k] = a
	}
	for k, raw := range c.kept[id] {
		a := &Activity{}
		json.Unmarshal(raw, a) // load checked it
		d[k] = a
	}
	return d
}

// rows is what is saved.
func (c *counted) rows() ([]registry.TallyRow, error) {
	var out []registry.TallyRow
	for id, st := range c.totals {
		b, err := json.Marshal(totalJSON{Calls: st.Calls, Denied: st.Denied, Cancelled: st.Cancelled, Records: st.Records, Last: st.Last.UnixNano()})
		if err != nil {
			return nil, err
		}
		out = append(out, registry.TallyRow{ServerID: id, Key: totalKey, Data: b})
	}
	for id, d := range c.kept {
		for k, raw := range d {
			out = append(out, registry.TallyRow{ServerID: id, Key: k, Data: raw})
		}
	}
	for id, d := range c.days {
		for k, a := range d {
			b, err := json.Marshal(a)
			if err != nil {
				return nil, err
			}
			out = append(out, registry.TallyRow{ServerID: id, Key: k, Data: b})
		}
	}
	return out, nil
}

// errPastHead stops a read at the last record verified.
var errPastHead = errors.New("past the verified head")

// count reads the saved tallies and adds the records after them, up to
// the head the chain was verified to (every record when it was not), and
// saves them again when there were new records and the chain verified.
// Saved tallies that cannot be trusted are not used: every record is
// counted again, and Source.TallyDistrust says why.
func (s *Source) count(ctx context.Context) error {
	c := newCounted(dayKey(WindowStart(time.Now())))
	t, err := s.DB.Tallies(ctx)
	if err != nil {
		return err
	}
	s.tallyDistrust = t.Distrust
	for _, row := range t.Rows {
		if err := c.load(row); err != nil {
			c, t.Seq = newCounted(c.from), 0
			s.tallyDistrust = "the saved tallies cannot be read: " + err.Error()
			break
		}
	}
	head := int64(-1) // read everything
	if s.chain != nil && s.chain.OK() {
		head = s.chain.Head
	}
	last := t.Seq
	err = s.DB.EachRecord(ctx, registry.Filter{AfterSeq: t.Seq}, func(r registry.Record) error {
		if head >= 0 && r.Seq > head {
			return errPastHead
		}
		c.add(r)
		last = r.Seq
		return nil
	})
	if err != nil && !errors.Is(err, errPastHead) {
		return err
	}
	if head >= 0 && last > t.Seq {
		if rows, err := c.rows(); err == nil {
			s.DB.SaveTallies(ctx, last, rows) // best effort: the next run counts again
		}
	}
	s.counted = c
	s.stats = c.totals
	return nil
}

// activity is what a server's records in the window ending at now add up
// to: the merge of its counted days, or, when they do not cover that
// window (a score as of a day before the oldest kept, or records after
// now), a count of its records in the window.
func (s *Source) activity(ctx context.Context, id string, now time.Time) (*Activity, error) {
	since := WindowStart(now)
	total, ok := s.counted.totals[id]
	switch {
	case !ok:
		return &Activity{}, nil // no records
	case dayKey(since) >= s.counted.from && !total.Last.After(now):
		return s.counted.serverDays(id).sum(since, now), nil
	}
	d := days{}
	err := s.DB.EachRecord(ctx, registry.Filter{ServerID: id, Since: since, Until: now.Add(time.Nanosecond)},
		func(r registry.Record) error {
			d.add(r)
			return nil
		})
	if err != nil {
		return nil, err
	}
	return d.sum(since, now), nil
}
