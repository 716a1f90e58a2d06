package trust

import (
	"time"

	"github.com/opena2a-org/aim-mcp/audit"
	"github.com/opena2a-org/aim-mcp/registry"
)

// Activity is what a server's records in the window add up to: the counts
// the factors are computed from. Records are added one at a time, oldest
// first, as they are read, so a server with a million records in the window
// is scored in the memory of its calls still waiting for an outcome, not of
// its records.
type Activity struct {
	records int

	// uptime
	starts, clean, crashed, failed int

	// success_rate: results by status, of the calls that had one
	results   map[string]int
	succeeded int
	errored   int

	// security_alerts: alerts by kind (their severities are summed from
	// these counts, so a sum of days is the same as one of records)
	alerts map[string]int

	// compliance: the times of calls waiting for their outcome, by request
	// id and tool (the newest is answered first), and the outcomes that
	// found no call waiting: when activities are merged (see merge) these
	// answer the calls the earlier one left waiting
	open                              map[callKey][]time.Time
	orphans                           map[callKey]int
	complete, denied, cancelledByUser int

	// drift_detection: changes a person accepted
	accepted int
}

type callKey struct{ id, tool string }

// Tally adds up records, oldest first.
func Tally(records []registry.Record) *Activity {
	a := &Activity{}
	for _, r := range records {
		a.Add(r)
	}
	return a
}

// Add counts one record; records must be added oldest first.
func (a *Activity) Add(r registry.Record) {
	a.records++
	switch r.Kind {
	case registry.KindSessionStart:
		a.starts++
	case registry.KindSessionEnd:
		d := data(r)
		if c, _ := d["crashed"].(bool); !c {
			a.clean++
		} else if ms, ok := d["duration_ms"].(float64); ok && ms < float64(FailedStart.Milliseconds()) {
			a.failed++
		} else {
			a.crashed++
		}
	case registry.KindOutcome:
		switch s := audit.Status(r.Decision); {
		case s == audit.Success:
			a.succeeded++
			a.count(&a.results, r.Decision)
		case s.Failed():
			a.errored++
			a.count(&a.results, r.Decision)
		} // cancelled, input_required: no result either way
		k := callKey{string(r.RequestID), r.Tool}
		if q := a.open[k]; len(q) > 0 {
			if len(q) == 1 {
				delete(a.open, k) // ids are rarely reused: keep only what waits
			} else {
				a.open[k] = q[:len(q)-1]
			}
			a.complete++
		} else {
			if a.orphans == nil {
				a.orphans = map[callKey]int{}
			}
			a.orphans[k]++
		}
	case registry.KindCall:
		if a.open == nil {
			a.open = map[callKey][]time.Time{}
		}
		k := callKey{string(r.RequestID), r.Tool}
		a.open[k] = append(a.open[k], r.Time)
	case registry.KindDenied:
		if r.Decision == string(audit.Cancelled) {
			a.cancelledByUser++ // the client gave up on it: signed, and nobody refused it
		} else {
			a.denied++
		}
	case registry.KindDrift:
		if r.Decision == registry.ChangeAccepted {
			a.accepted++
		}
	}
	if al := alertOf(r); al != "" {
		a.count(&a.alerts, al)
	}
}

func (a *Activity) count(m *map[string]int, k string) {
	if *m == nil {
		*m = map[string]int{}
	}
	(*m)[k]++
}

// copyCounts returns a new map with m's counts (empty, not nil, for none).
func copyCounts(m map[string]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
