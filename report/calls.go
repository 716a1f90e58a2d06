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
// outcome; the second ([Report.EachCall]) hands the calls over one at a
// time, oldest first, as the chosen format writes them.

// outcome is what the first read learnt of a forwarded call's outcome.
type outcome struct {
	call, seq int64 // the call's record, the outcome's record
	ms        float64
	status    string
}

// calls is where the second read finds the period's calls.
type calls struct {
	db       *registry.DB
	filter   registry.Filter
	ids      map[string]int // server id → index in Report.Servers
	outcomes []outcome      // sorted by call
}

// callKinds are the records a call is made of.
var callKinds = []string{registry.KindCall, registry.KindDenied}

// tally is the first read's state.
type tally struct {
	r        *Report
	ids      map[string]int
	open     map[openKey][]int64 // forwarded calls waiting for their outcome, by their record
	tools    map[[2]string]*ToolCalls
	toolOf   map[int64]*ToolCalls // a waiting call's tool counts
	outcomes []outcome
	names    map[string]string // one copy of each status, for a million outcomes
}

type openKey struct{ server, id, tool string }

func newTally(r *Report, ids map[string]int) *tally {
	return &tally{r: r, ids: ids, open: map[openKey][]int64{}, tools: map[[2]string]*ToolCalls{},
		toolOf: map[int64]*ToolCalls{}, names: map[string]string{}}
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

func (t *tally) intern(s string) string {
	if v, ok := t.names[s]; ok {
		return v
	}
	t.names[s] = s
	return s
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
			k := openKey{rec.ServerID, string(rec.RequestID), rec.Tool}
			t.open[k] = append(t.open[k], rec.Seq)
			t.toolOf[rec.Seq] = tc
		}
	case registry.KindOutcome:
		k := openKey{rec.ServerID, string(rec.RequestID), rec.Tool}
		q := t.open[k]
		if len(q) == 0 {
			return // its call is before the period
		}
		call := q[len(q)-1]
		if len(q) == 1 {
			delete(t.open, k) // ids are rarely reused: keep only what waits
		} else {
			t.open[k] = q[:len(q)-1]
		}
		o := outcome{call: call, seq: rec.Seq, status: t.intern(rec.Decision)}
		var d struct {
			MS *float64 `json:"duration_ms"`
		}
		if json.Unmarshal(rec.Data, &d) == nil && d.MS != nil {
			o.ms = *d.MS
		}
		t.outcomes = append(t.outcomes, o)
		if o.status == "" {
			r.noOutcome++
			t.toolOf[call].Outcomes[outcomeNone]++
		} else {
			t.toolOf[call].Outcomes[o.status]++
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

// done finishes the counts: calls still waiting have no outcome.
func (t *tally) done() {
	for _, tc := range t.toolOf {
		tc.Outcomes[outcomeNone]++
		t.r.noOutcome++
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
	sort.Slice(t.outcomes, func(i, j int) bool { return t.outcomes[i].call < t.outcomes[j].call })
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
	outs := src.outcomes
	return src.db.EachRecord(ctx, src.filter, func(rec registry.Record) error {
		si, ok := src.ids[rec.ServerID]
		if !ok {
			return nil // a server not asked for, or purged
		}
		var d struct {
			Risk       string `json:"risk"`
			Source     string `json:"source"`
			ApprovalID string `json:"approval_id"`
			Approver   string `json:"approver"`
			ArgsDigest string `json:"args_digest"`
		}
		json.Unmarshal(rec.Data, &d)
		c := Call{Seq: rec.Seq, Time: rec.Time, Server: rec.Server, Client: rec.Client, ServerID: rec.ServerID, Tool: rec.Tool,
			Decision: rec.Decision, Risk: d.Risk, Source: d.Source, ApprovalID: d.ApprovalID, Approver: d.Approver,
			ArgsDigest: d.ArgsDigest, Hash: rec.Hash}
		if c.Client == "" {
			c.Client = r.Servers[si].Client
		}
		switch {
		case rec.Kind == registry.KindDenied && rec.Decision == string(audit.Cancelled):
			c.Outcome = outcomeCancelled
		case rec.Kind == registry.KindDenied:
			c.Outcome = outcomeNotRun
		default:
			for len(outs) > 0 && outs[0].call < rec.Seq {
				outs = outs[1:]
			}
			if len(outs) > 0 && outs[0].call == rec.Seq {
				c.Outcome, c.OutcomeSeq, c.DurationMS = outs[0].status, outs[0].seq, outs[0].ms
			}
		}
		return fn(c)
	})
}
