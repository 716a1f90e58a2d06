package trust

import (
	"cmp"
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/opena2a-org/aim-mcp/registry"
)

// A score's window is made of whole UTC days, so that what a day's records
// add up to can be counted once and kept (see registry.Tallies): a score
// is then the merge of at most 31 kept days and of the records appended
// since they were counted, whatever the length of the trail.

// WindowStart is where the window of a score computed at now begins: the
// start of the UTC day Window before now. The window is therefore 30 days
// and the part of a 31st that has passed.
func WindowStart(now time.Time) time.Time {
	t := now.Add(-Window).UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// dayKey names a record's UTC day; keys sort as the days do.
func dayKey(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// days adds records up by UTC day, each day on its own; sum merges the
// days of a window into the Activity that [Tally] gives for the same
// records (in time order). A call answered on a later day is paired when
// the days are merged, as Add pairs it: the day of the call keeps it
// waiting, the day of the outcome keeps the outcome that found no call.
type days map[string]*Activity

// add counts one record in its day; records must be added in chain order.
func (d days) add(r registry.Record) {
	k := dayKey(r.Time)
	a := d[k]
	if a == nil {
		a = &Activity{}
		d[k] = a
	}
	a.Add(r)
}

// sum merges the days from since to until (UTC days, both included), oldest
// first.
func (d days) sum(since, until time.Time) *Activity {
	lo, hi := dayKey(since), dayKey(until)
	keys := make([]string, 0, len(d))
	for k := range d {
		if k >= lo && k <= hi {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	sum := &Activity{}
	for _, k := range keys {
		sum.merge(d[k])
	}
	return sum
}

// merge adds b, the activity of records that all follow a's, to a. b's
// outcomes that found no call answer the newest of a's calls still waiting
// on the same id and tool, as Add would have had b's records followed a's:
// b's own calls were all newer, so none of them was waiting when the
// outcome came.
func (a *Activity) merge(b *Activity) {
	a.records += b.records
	a.starts += b.starts
	a.clean += b.clean
	a.crashed += b.crashed
	a.failed += b.failed
	a.succeeded += b.succeeded
	a.errored += b.errored
	a.complete += b.complete
	a.denied += b.denied
	a.cancelledByUser += b.cancelledByUser
	a.accepted += b.accepted
	addCounts(&a.results, b.results)
	addCounts(&a.alerts, b.alerts)
	for k, n := range b.orphans {
		q := a.open[k]
		m := min(n, len(q))
		if m == len(q) {
			delete(a.open, k)
		} else {
			a.open[k] = q[:len(q)-m]
		}
		a.complete += m
		if n > m {
			if a.orphans == nil {
				a.orphans = map[callKey]int{}
			}
			a.orphans[k] += n - m
		}
	}
	for k, q := range b.open {
		if a.open == nil {
			a.open = map[callKey][]time.Time{}
		}
		a.open[k] = append(a.open[k][:len(a.open[k]):len(a.open[k])], q...)
	}
}

func addCounts(dst *map[string]int, src map[string]int) {
	for k, n := range src {
		if *dst == nil {
			*dst = map[string]int{}
		}
		(*dst)[k] += n
	}
}

// points sums the severities of the alerts, kind by kind in name order:
// the same sum however the alerts were counted.
func (a *Activity) points() float64 {
	kinds := make([]string, 0, len(a.alerts))
	for k := range a.alerts {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	p := 0.0
	for _, k := range kinds {
		p += float64(a.alerts[k]) * Severity[k]
	}
	return p
}

// activityJSON is how an Activity is kept in the registry.
type activityJSON struct {
	Records         int            `json:"records,omitempty"`
	Starts          int            `json:"starts,omitempty"`
	Clean           int            `json:"clean,omitempty"`
	Crashed         int            `json:"crashed,omitempty"`
	Failed          int            `json:"failed,omitempty"`
	Results         map[string]int `json:"results,omitempty"`
	Succeeded       int            `json:"succeeded,omitempty"`
	Errored         int            `json:"errored,omitempty"`
	Alerts          map[string]int `json:"alerts,omitempty"`
	Complete        int            `json:"complete,omitempty"`
	Denied          int            `json:"denied,omitempty"`
	CancelledByUser int            `json:"cancelled_by_user,omitempty"`
	Accepted        int            `json:"accepted,omitempty"`
	Open            []keyedJSON    `json:"open,omitempty"`
	Orphans         []keyedJSON    `json:"orphans,omitempty"`
}

// keyedJSON is a call key with the times of its calls still waiting (Unix
// nanoseconds, oldest first) or the number of its outcomes that found none.
type keyedJSON struct {
	ID    []byte  `json:"id"` // the raw JSON of the request id
	Tool  string  `json:"tool"`
	Times []int64 `json:"times,omitempty"`
	N     int     `json:"n,omitempty"`
}

// MarshalJSON encodes the activity as it is kept between runs.
func (a *Activity) MarshalJSON() ([]byte, error) {
	j := activityJSON{Records: a.records, Starts: a.starts, Clean: a.clean, Crashed: a.crashed, Failed: a.failed,
		Results: a.results, Succeeded: a.succeeded, Errored: a.errored, Alerts: a.alerts, Complete: a.complete,
		Denied: a.denied, CancelledByUser: a.cancelledByUser, Accepted: a.accepted}
	for k, q := range a.open {
		times := make([]int64, len(q))
		for i, t := range q {
			times[i] = t.UnixNano()
		}
		j.Open = append(j.Open, keyedJSON{ID: []byte(k.id), Tool: k.tool, Times: times})
	}
	for k, n := range a.orphans {
		j.Orphans = append(j.Orphans, keyedJSON{ID: []byte(k.id), Tool: k.tool, N: n})
	}
	byKey := func(x, y keyedJSON) int {
		return cmp.Or(strings.Compare(string(x.ID), string(y.ID)), strings.Compare(x.Tool, y.Tool))
	}
	slices.SortFunc(j.Open, byKey) // the same activity, the same bytes
	slices.SortFunc(j.Orphans, byKey)
	return json.Marshal(j)
}

// UnmarshalJSON decodes an activity MarshalJSON encoded.
func (a *Activity) UnmarshalJSON(b []byte) error {
	var j activityJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*a = Activity{records: j.Records, starts: j.Starts, clean: j.Clean, crashed: j.Crashed, failed: j.Failed,
		results: j.Results, succeeded: j.Succeeded, errored: j.Errored, alerts: j.Alerts, complete: j.Complete,
		denied: j.Denied, cancelledByUser: j.CancelledByUser, accepted: j.Accepted}
	for _, o := range j.Open {
		if a.open == nil {
			a.open = map[callKey][]time.Time{}
		}
		q := make([]time.Time, len(o.Times))
		for i, n := range o.Times {
			q[i] = time.Unix(0, n).UTC()
		}
		a.open[callKey{string(o.ID), o.Tool}] = q
	}
	for _, o := range j.Orphans {
		if a.orphans == nil {
			a.orphans = map[callKey]int{}
		}
		a.orphans[callKey{string(o.ID), o.Tool}] = o.N
	}
	return nil
}
