package report

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/opena2a-org/aim-mcp/audit"
	"github.com/opena2a-org/aim-mcp/registry"
)

// A report reads the period's records twice, so that a million of them
// cost the memory of their counts, not of their calls. The first read
// (tally) adds everything up and pairs each forwarded call with its
// outcome; the second ([Report.EachCall]) pairs them again the same way,
// handing each call over, oldest first, once its outcome is read: what it
// holds is the calls still waiting for one, never the period's.

// calls is where the second read finds the period's calls.
type calls struct {
	db     *registry.DB
	filter registry.Filter
	ids    map[string]int // server id → index in Report.Servers
	// unanswered are the forwarded calls the first read found no outcome
	// for: handed over as they are read, not held for one.
	unanswered map[int64]bool
}

// callKinds are the records a call is made of.
var callKinds = []string{registry.KindCall, registry.KindDenied, registry.KindOutcome}

// tally is the first read's state.
type tally struct {
	r      *Report
	ids    map[string]int
	open   waiters[int64] // forwarded calls waiting for their outcome, by their record
	tools  map[[2]string]*ToolCalls
	toolOf map[int64]*ToolCalls // a waiting call's tool counts
}

type openKey struct{ server, id, tool string }

func keyOf(rec registry.Record) openKey {
	return openKey{rec.ServerID, string(rec.RequestID), rec.Tool}
}

// waiters are the forwarded calls waiting for their outcome. Both reads
// pair alike: an outcome goes to the newest call still waiting with the
// same server, request id and tool.
type waiters[T any] map[openKey][]T

func (w waiters[T]) push(k openKey, v T) { w[k] = append(w[k], v) }

// pop takes the call an outcome of k answers; ok is false when none waits
// (its call is before the period).
func (w waiters[T]) pop(k openKey) (v T, ok bool) {
	q := w[k]
	if len(q) == 0 {
		return v, false
	}
	v = q[len(q)-1]
	if len(q) == 1 {
		delete(w, k) // ids are rarely reused: keep only what waits
	} else {
		w[k] = q[:len(q)-1]
	}
	return v, true
}

func newTally(r *Report, ids map[string]int) *tally {
	return &tally{r: r, ids: ids, open: waiters[int64]{}, tools: map[[2]string]*ToolCalls{},
		toolOf: map[int64]*ToolCalls{}}
}

func (t *tally) tool(rec registry.Record, client string) *ToolCalls {
	k := [2]string{rec.ServerID, rec.Tool}
	tc := t.tools[k]
	if tc == nil {
		tc = &ToolCalls{Server: rec.Server, Client: client, Tool: rec.Tool, Decisions: map[string]int{}, Outcomes: map[string]int{}}
		t.tools[k] = tc
	}
	return tc
}

// add counts one record of the period; records come oldest first.
func (t *tally) add(rec registry.Record) {
	r := t.r
	si := t.ids[rec.ServerID]
	r.Servers[si].Records++
	switch rec.Kind {
	case registry.KindCall, registry.KindDenied:
		client := rec.Client
		if client == "" {
			client = r.Servers[si].Client
		}
		tc := t.tool(rec, client)
		tc.Calls++
		tc.Decisions[rec.Decision]++
		r.Servers[si].Calls++
		r.Summary.Calls++
		switch {
		case rec.Kind == registry.KindDenied && rec.Decision == string(audit.Cancelled):
			tc.Outcomes[outcomeCancelled]++
			r.Summary.Cancelled++
		case rec.Kind == registry.KindDenied:
			tc.Outcomes[outcomeNotRun]++
			r.Servers[si].Refused++
			r.Summary.Refused++
		default:
			r.Summary.Forwarded++
			t.open.push(keyOf(rec), rec.Seq)
			t.toolOf[rec.Seq] = tc
		}
	case registry.KindOutcome:
		call, ok := t.open.pop(keyOf(rec))
		if !ok {
			return // its call is before the period
		}
		if rec.Decision == "" {
			r.noOutcome++
			t.toolOf[call].Outcomes[outcomeNone]++
		} else {
			t.toolOf[call].Outcomes[rec.Decision]++
		}
		delete(t.toolOf, call)
		switch s := audit.Status(rec.Decision); {
		case s == audit.Success:
			r.Summary.Succeeded++
		case s.Failed():
			r.Summary.Failed++
		}
	case registry.KindDrift:
		r.Drift = append(r.Drift, drift(rec))
		if registry.IsDrift(rec.Decision) {
			r.Summary.DriftEvents++
		}
	case registry.KindBypass:
		r.Summary.BypassAttempts++
	}
}

// done finishes the counts: calls still waiting have no outcome. It
// returns them.
func (t *tally) done() map[int64]bool {
	unanswered := make(map[int64]bool, len(t.toolOf))
	for call, tc := range t.toolOf {
		tc.Outcomes[outcomeNone]++
		t.r.noOutcome++
		unanswered[call] = true
	}
	for _, tc := range t.tools {
		t.r.CallsByTool = append(t.r.CallsByTool, *tc)
	}
	sort.Slice(t.r.CallsByTool, func(i, j int) bool {
		a, b := t.r.CallsByTool[i], t.r.CallsByTool[j]
		if a.Server != b.Server {
			return a.Server < b.Server
		}
		if a.Client != b.Client {
			return a.Client < b.Client
		}
		return a.Tool < b.Tool
	})
	return unanswered
}

// What a call's outcome column says when no outcome record does.
const (
	outcomeCancelled = "cancelled by the client"
	outcomeNotRun    = "not run"
	outcomeNone      = "none recorded"
)

func drift(rec registry.Record) Drift {
	var d struct {
		Fields []any  `json:"fields"`
		By     string `json:"by"`
		Action string `json:"action"`
	}
	json.Unmarshal(rec.Data, &d)
	var detail []string
	if len(d.Fields) > 0 {
		var names []string
		for _, f := range d.Fields {
			names = append(names, fmt.Sprint(f))
		}
		detail = append(detail, strings.Join(names, ", ")+" changed")
	}
	if d.By != "" {
		detail = append(detail, "accepted by "+d.By)
	}
	if d.Action != "" && registry.IsDrift(rec.Decision) {
		detail = append(detail, "calls: "+d.Action)
	}
	return Drift{Seq: rec.Seq, Time: rec.Time, Server: rec.Server, Tool: rec.Tool, Change: rec.Decision, Detail: strings.Join(detail, "; ")}
}

// callCount is how many calls EachCall hands over.
func (r *Report) callCount() int {
	if r.Calls != nil || r.calls == nil {
		return len(r.Calls)
	}
	return r.Summary.Calls
}

// EachCall calls fn with each call of the period, oldest first, joined
// with its outcome. A report from [Build] reads them from the registry
// again, one at a time; a report made by hand hands over its Calls. An
// error from fn stops it and is returned.
func (r *Report) EachCall(ctx context.Context, fn func(Call) error) error {
	if r.Calls != nil || r.calls == nil {
		for _, c := range r.Calls {
			if err := fn(c); err != nil {
				return err
			}
		}
		return nil
	}
	src := r.calls
	// The calls read and not handed over yet, oldest first: each waits for
	// its outcome, and those behind it for it.
	type waiting struct {
		Call
		done bool
	}
	var queue []*waiting
	open := waiters[*waiting]{}
	flush := func() error {
		for len(queue) > 0 && queue[0].done {
			c := queue[0]
			queue[0] = nil
			queue = queue[1:]
			if err := fn(c.Call); err != nil {
				return err
			}
		}
		return nil
	}
	err := src.db.EachRecord(ctx, src.filter, func(rec registry.Record) error {
		si, ok := src.ids[rec.ServerID]
		if !ok {
			return nil // a server not asked for, or purged
		}
		if rec.Kind == registry.KindOutcome {
			w, ok := open.pop(keyOf(rec)) // as the first read paired it
			if !ok {
				return nil // its call is before the period
			}
			w.Outcome, w.OutcomeSeq, w.done = rec.Decision, rec.Seq, true
			var d struct {
				MS *float64 `json:"duration_ms"`
			}
			if json.Unmarshal(rec.Data, &d) == nil && d.MS != nil {
				w.DurationMS = *d.MS
			}
			return flush()
		}
		var d struct {
			Risk       string `json:"risk"`
			Source     string `json:"source"`
			ApprovalID string `json:"approval_id"`
			Approver   string `json:"approver"`
			ArgsDigest string `json:"args_digest"`
		}
		json.Unmarshal(rec.Data, &d)
		w := &waiting{Call: Call{Seq: rec.Seq, Time: rec.Time, Server: rec.Server, Client: rec.Client, ServerID: rec.ServerID,
			Tool: rec.Tool, Decision: rec.Decision, Risk: d.Risk, Source: d.Source, ApprovalID: d.ApprovalID,
			Approver: d.Approver, ArgsDigest: d.ArgsDigest, Hash: rec.Hash}, done: true}
		if w.Client == "" {
			w.Client = r.Servers[si].Client
		}
		switch {
		case rec.Kind == registry.KindDenied && rec.Decision == string(audit.Cancelled):
			w.Outcome = outcomeCancelled
		case rec.Kind == registry.KindDenied:
			w.Outcome = outcomeNotRun
		case src.unanswered[rec.Seq]:
			// None in the period: handed over as it is, not waited for.
		default:
			w.done = false
			open.push(keyOf(rec), w)
		}
		queue = append(queue, w)
		return flush()
	})
	if err != nil {
		return err
	}
	for _, w := range queue { // only when records changed between the reads
		if err := fn(w.Call); err != nil {
			return err
		}
	}
	return nil
}
