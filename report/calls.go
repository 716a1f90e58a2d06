package report

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/opena2a-org/aim-mcp/audit"
	"github.com/opena2a-org/aim-mcp/registry"
)

// A report reads the period's records once, so that a million of them
// cost the memory of their counts, not of their calls. That read (tally)
// adds everything up and pairs each forwarded call with its outcome,
// leaving the calls and the pairs in a spool; [Report.EachCall] reads the
// spool, handing each call over, oldest first, once its outcome is read:
// what it holds is the calls still waiting for one, never the period's.

// entry is what a report reads of a record's signed body: the fields it
// counts or prints, decoded once, the others skipped.
type entry struct {
	Seq       int64           `json:"seq"`
	Time      string          `json:"time"`
	ServerID  string          `json:"server_id"`
	Server    string          `json:"server"`
	Client    string          `json:"client"`
	Kind      string          `json:"kind"`
	Tool      string          `json:"tool"`
	Decision  string          `json:"decision"`
	RequestID json.RawMessage `json:"request_id"`
	Data      struct {
		// A call's.
		Risk       string `json:"risk"`
		Source     string `json:"source"`
		ApprovalID string `json:"approval_id"`
		Approver   string `json:"approver"`
		ArgsDigest string `json:"args_digest"`
		// An outcome's.
		MS *float64 `json:"duration_ms"`
		// A drift event's.
		Fields []any  `json:"fields"`
		By     string `json:"by"`
		Action string `json:"action"`
	} `json:"data"`
}

// decode reads body into e. Data of another shape than a report reads
// leaves the fields it cannot fill empty, as it always has: only the
// record itself must decode.
func (e *entry) decode(body []byte) error {
	*e = entry{}
	err := json.Unmarshal(body, e)
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && (te.Field == "data" || strings.HasPrefix(te.Field, "data.")) {
		return nil
	}
	return err
}

// tally is the state of the read of the registry.
type tally struct {
	r      *Report
	ids    map[string]int
	open   waiters // forwarded calls waiting for their outcome, by their record
	tools  map[[2]string]*ToolCalls
	toolOf map[int64]*ToolCalls // a waiting call's tool counts
	spool  *spool
	call   Call // the one being spooled
}

type openKey struct{ server, id, tool string }

func keyOf(e *entry) openKey {
	return openKey{e.ServerID, string(e.RequestID), e.Tool}
}

// waiters are the forwarded calls waiting for their outcome, by seq: an
// outcome goes to the newest call still waiting with the same server,
// request id and tool.
type waiters map[openKey][]int64

func (w waiters) push(k openKey, v int64) { w[k] = append(w[k], v) }

// pop takes the call an outcome of k answers; ok is false when none waits
// (its call is before the period).
func (w waiters) pop(k openKey) (v int64, ok bool) {
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

func newTally(r *Report, ids map[string]int, s *spool) *tally {
	return &tally{r: r, ids: ids, open: waiters{}, tools: map[[2]string]*ToolCalls{},
		toolOf: map[int64]*ToolCalls{}, spool: s}
}

func (t *tally) tool(rec *entry, client string) *ToolCalls {
	k := [2]string{rec.ServerID, rec.Tool}
	tc := t.tools[k]
	if tc == nil {
		tc = &ToolCalls{Server: rec.Server, Client: client, Tool: rec.Tool, Decisions: map[string]int{}, Outcomes: map[string]int{}}
		t.tools[k] = tc
	}
	return tc
}

// add counts one record of the period, and spools it if it is part of a
// call; records come oldest first. hash is the record's.
func (t *tally) add(rec *entry, hash []byte) {
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
		kind := entryDenied
		if rec.Kind == registry.KindCall {
			kind = entryCall
		}
		d := &rec.Data
		t.call = Call{Seq: rec.Seq, Time: registry.ParseTime(rec.Time), Server: rec.Server, Client: client, ServerID: rec.ServerID,
			Tool: rec.Tool, Decision: rec.Decision, Risk: d.Risk, Source: d.Source, ApprovalID: d.ApprovalID,
			Approver: d.Approver, ArgsDigest: d.ArgsDigest, Hash: string(hash)}
		t.spool.call(kind, &t.call)
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
		var ms float64
		if rec.Data.MS != nil {
			ms = *rec.Data.MS
		}
		t.spool.outcome(call, rec.Seq, rec.Decision, ms)
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
	t.call = Call{}
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

func drift(rec *entry) Drift {
	d := &rec.Data
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
	return Drift{Seq: rec.Seq, Time: registry.ParseTime(rec.Time), Server: rec.Server, Tool: rec.Tool, Change: rec.Decision, Detail: strings.Join(detail, "; ")}
}

// callCount is how many calls EachCall hands over.
func (r *Report) callCount() int {
	if r.Calls != nil || r.calls == nil {
		return len(r.Calls)
	}
	return r.Summary.Calls
}

// EachCall calls fn with each call of the period, oldest first, joined
// with its outcome. A report from [Build] reads them back from its
// temporary file, one at a time (not after [Report.Close]); a report made
// by hand hands over its Calls. An error from fn stops it and is
// returned.
func (r *Report) EachCall(ctx context.Context, fn func(Call) error) error {
	if r.Calls != nil || r.calls == nil {
		for _, c := range r.Calls {
			if err := fn(c); err != nil {
				return err
			}
		}
		return nil
	}
	sr := r.calls.reader()
	unanswered := r.calls.unanswered
	// The calls read and not handed over yet, oldest first: each waits for
	// its outcome, and those behind it for it.
	type waiting struct {
		Call
		done bool
	}
	var queue []*waiting
	open := map[int64]*waiting{} // by seq
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
	var c Call
	var o spooledOutcome
	for n := 0; ; n++ {
		if n%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		kind, err := sr.next(&c, &o)
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("report: %w", err)
		}
		if kind == entryOutcome {
			w := open[o.call]
			if w == nil {
				return fmt.Errorf("report: %w", errCorrupt)
			}
			delete(open, o.call)
			w.Outcome, w.OutcomeSeq, w.DurationMS, w.done = o.decision, o.seq, o.ms, true
			if err := flush(); err != nil {
				return err
			}
			continue
		}
		w := &waiting{Call: c, done: true}
		switch {
		case kind == entryDenied && c.Decision == string(audit.Cancelled):
			w.Outcome = outcomeCancelled
		case kind == entryDenied:
			w.Outcome = outcomeNotRun
		case unanswered[c.Seq]:
			// None in the period: handed over as it is, not waited for.
		default:
			w.done = false
			open[c.Seq] = w
		}
		queue = append(queue, w)
		if err := flush(); err != nil {
			return err
		}
	}
	if len(queue) > 0 {
		return fmt.Errorf("report: %w", errCorrupt) // a call paired when it was spooled has no outcome
	}
	return nil
}
