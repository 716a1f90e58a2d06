// Package report builds compliance reports (SOC 2, HIPAA, GDPR) from the
// registry: for a period, each server with its identity, key fingerprint
// and trust score; its calls by tool and decision; the approvals and
// denials, with who answered and when; drift events; the result of
// verifying the audit chain; and the controls of the chosen framework that
// this evidence speaks to. It writes JSON, CSV (one row per call) or PDF.
//
// [Build] checks the chain from its last checkpoint, scores each server
// with trust, and adds up the period's records, approvals and drift; the
// framework's entry in [Frameworks] writes its controls from that evidence;
// [Write] writes the [Report] in the chosen format, reading the calls
// back one at a time ([Report.EachCall]) from the temporary file the read
// of the registry left them in, rather than holding them; [Report.Close]
// removes it. Adding a framework is adding an entry to that table.
//
// A report collects evidence; it is not an attestation.
package report

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/opena2a-org/aim-mcp/registry"
	"github.com/opena2a-org/aim-mcp/trust"
)

// Formats are what Render accepts; [Frameworks] lists the types Build does.
var Formats = []string{"json", "csv", "pdf"}

// Options select what a report covers.
type Options struct {
	Type    string
	Since   time.Time // inclusive
	Until   time.Time // exclusive
	Servers []registry.Server
	// All says Servers are every registered server (no --server).
	All bool
	// Now is when the report is made; zero is time.Now().
	Now time.Time
}

// Report is a compliance report. Its JSON is the JSON format.
type Report struct {
	Type        string      `json:"type"`
	Title       string      `json:"title"`
	Generator   string      `json:"generator"`
	GeneratedAt time.Time   `json:"generated_at"`
	Period      Period      `json:"period"`
	Scope       string      `json:"scope"`
	Summary     Summary     `json:"summary"`
	Servers     []Server    `json:"servers"`
	CallsByTool []ToolCalls `json:"calls_by_tool"`
	Calls       []Call      `json:"calls"` // a report made by hand; Build's are read by EachCall
	Approvals   []Approval  `json:"approvals"`
	Drift       []Drift     `json:"drift"`
	Chain       Chain       `json:"audit_chain"`
	Controls    []Control   `json:"controls"`
	Note        string      `json:"note"`

	calls     *spool // where EachCall reads the calls of a built report
	noOutcome int    // forwarded calls without an outcome in the period
}

// Period is the half-open interval [Since, Until).
type Period struct {
	Since time.Time `json:"since"`
	Until time.Time `json:"until"`
}

// Summary counts the period's evidence.
type Summary struct {
	Servers        int  `json:"servers"`
	Calls          int  `json:"calls"`     // every tools/call: forwarded or not
	Forwarded      int  `json:"forwarded"` // reached the server
	Refused        int  `json:"refused"`   // denied, or waiting for a person
	Cancelled      int  `json:"cancelled"` // given up by the client before it was decided: nobody refused it
	Succeeded      int  `json:"succeeded"`
	Failed         int  `json:"failed"` // tool_error, rpc_error, server_exited
	Approvals      int  `json:"approvals"`
	HumanApproved  int  `json:"human_approved"`
	HumanDenied    int  `json:"human_denied"`
	DriftEvents    int  `json:"drift_events"`
	BypassAttempts int  `json:"bypass_attempts"`
	ChainIntact    bool `json:"chain_intact"`
}

// Server is one server in scope.
type Server struct {
	Name         string      `json:"name"`
	Client       string      `json:"client"`
	ID           string      `json:"id"`
	AgentType    string      `json:"agent_type"`
	Status       string      `json:"status"`
	RegisteredAt time.Time   `json:"registered_at"`
	PublicKey    string      `json:"public_key"`
	Fingerprint  string      `json:"fingerprint"`
	Trust        trust.Score `json:"trust"`
	Calls        int         `json:"calls"`
	Refused      int         `json:"refused"`
	Records      int         `json:"records"` // in the period
}

// ToolCalls counts one tool's calls by decision and by outcome.
type ToolCalls struct {
	Server    string         `json:"server"`
	Client    string         `json:"client"`
	Tool      string         `json:"tool"`
	Calls     int            `json:"calls"`
	Decisions map[string]int `json:"decisions"`
	Outcomes  map[string]int `json:"outcomes"`
}

// Call is one tools/call: its call (or denied) record, joined with its
// outcome.
type Call struct {
	Seq        int64     `json:"seq"`
	Time       time.Time `json:"time"`
	Server     string    `json:"server"`
	Client     string    `json:"client"`
	ServerID   string    `json:"server_id"`
	Tool       string    `json:"tool"`
	Decision   string    `json:"decision"`
	Risk       string    `json:"risk,omitempty"`
	Source     string    `json:"source,omitempty"`
	ApprovalID string    `json:"approval_id,omitempty"`
	Approver   string    `json:"approver,omitempty"`
	Outcome    string    `json:"outcome"` // success, tool_error, ..., "not run", or "" when none was recorded
	DurationMS float64   `json:"duration_ms,omitempty"`
	ArgsDigest string    `json:"args_digest,omitempty"`
	Hash       string    `json:"hash"`
	OutcomeSeq int64     `json:"outcome_seq,omitempty"`
}

// Approval is a request for a person's decision.
type Approval struct {
	ID        string    `json:"id"`
	Server    string    `json:"server"`
	Tool      string    `json:"tool"`
	Status    string    `json:"status"`
	Risk      string    `json:"risk,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	DecidedAt time.Time `json:"decided_at,omitzero"`
	DecidedBy string    `json:"decided_by,omitempty"`
	Note      string    `json:"note,omitempty"`
}

// Drift is a tool pin event.
type Drift struct {
	Seq    int64     `json:"seq"`
	Time   time.Time `json:"time"`
	Server string    `json:"server"`
	Tool   string    `json:"tool"`
	Change string    `json:"change"` // changed, new, removed, reverted, accepted
	Detail string    `json:"detail,omitempty"`
}

// Chain is the audit chain's verification.
type Chain struct {
	Intact    bool      `json:"intact"`
	Records   int       `json:"records"`
	Servers   int       `json:"servers"`
	BadSeq    int64     `json:"bad_seq,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	CheckedAt time.Time `json:"checked_at"`
	Scope     string    `json:"scope"`
	// HeadSeq and HeadHash name the last record the check reached: the
	// chain's head when it was made, or the last intact record before a
	// break. A witnessed head of the same seq must have the same hash.
	HeadSeq  int64  `json:"head_seq"`
	HeadHash string `json:"head_hash,omitempty"`
	// CheckpointSeq is the last record of the prefix verified before and
	// not read again (its checkpoint is signed, and an edit of the prefix
	// since would have been noticed); 0 when every record was read.
	// Records counts those after it.
	CheckpointSeq int64 `json:"checkpoint_seq,omitempty"`
}

// Control is a control of the framework and what the evidence says of it.
type Control struct {
	ID       string `json:"id"`
	Title    string `json:"title"`
	Status   string `json:"status"` // evidenced, attention
	Evidence string `json:"evidence"`
}

// Build gathers a report.
func Build(ctx context.Context, db *registry.DB, opt Options) (*Report, error) {
	fw, ok := Lookup(opt.Type)
	if !ok {
		return nil, fmt.Errorf("unknown report type %q", opt.Type)
	}
	if !opt.Since.Before(opt.Until) {
		return nil, fmt.Errorf("the period is empty: %s is not before %s", opt.Since.Format(time.RFC3339), opt.Until.Format(time.RFC3339))
	}
	now := opt.Now
	if now.IsZero() {
		now = time.Now()
	}
	r := &Report{Type: opt.Type, Title: fw.Title, Generator: "aim-mcp", GeneratedAt: now.UTC(),
		Period: Period{opt.Since.UTC(), opt.Until.UTC()}, Scope: "all registered servers",
		Servers: []Server{}, CallsByTool: []ToolCalls{}, Approvals: []Approval{}, Drift: []Drift{},
		Note: "This report collects the evidence aim-mcp recorded; it is not an attestation of compliance."}
	if !opt.All {
		var names []string
		for _, s := range opt.Servers {
			names = append(names, fmt.Sprintf("%s (%s)", s.Name, s.Client))
		}
		r.Scope = "server " + strings.Join(names, ", ")
	}
	// The whole chain first, from its last checkpoint (the trust scores
	// then find it checked up to the head): what was verified before
	// (and has not changed since) is not read again, so a report of a
	// long trail does not wait for a million signatures. "aim-mcp audit
	// verify" checks every record again.
	v, err := db.VerifySince(ctx)
	if err != nil {
		return nil, err
	}
	r.Chain = Chain{CheckedAt: now.UTC(), Scope: "the whole chain, every server's signatures", Intact: v.OK(),
		Records: v.Records, Servers: v.Servers, BadSeq: v.BadSeq, Reason: v.Reason, HeadSeq: v.Head, CheckpointSeq: v.From}
	if v.From > 0 {
		r.Chain.Scope += fmt.Sprintf(", records up to %d by the signed checkpoint left when they were verified", v.From)
	}
	ids := map[string]int{} // server id → index in r.Servers
	trustAt := opt.Until
	if trustAt.After(now) {
		trustAt = now
	}
	for _, s := range opt.Servers {
		ids[s.ID] = len(r.Servers)
		r.Servers = append(r.Servers, Server{Name: s.Name, Client: s.Client, ID: s.ID, AgentType: s.AgentType, Status: s.Status,
			RegisteredAt: s.RegisteredAt.UTC(), PublicKey: s.PublicKey, Fingerprint: s.Fingerprint()})
	}
	// Every server scored in one read of the trust window.
	src := &trust.Source{DB: db, Now: trustAt}
	err = src.EachScore(ctx, opt.Servers, func(s registry.Server, score trust.Score) {
		r.Servers[ids[s.ID]].Trust = score
	})
	if err != nil {
		return nil, err
	}

	// The period's records, oldest first, added up, and the calls
	// spooled for Write.
	// The read ends where the chain did when it was checked (or, broken,
	// when the report began): records moved in meanwhile, which may be
	// of the period, wait for the next report rather than be listed
	// unchecked and uncounted.
	upTo := v.Head
	if !v.OK() {
		if upTo, err = db.LastSeq(ctx); err != nil {
			return nil, err
		}
	}
	f := registry.Filter{Since: opt.Since, Until: opt.Until, UpToSeq: upTo}
	if !opt.All {
		for _, s := range opt.Servers {
			f.ServerIDs = append(f.ServerIDs, s.ID)
		}
	}
	if r.calls, err = newSpool(); err != nil {
		return nil, err
	}
	if err := r.tallyRecords(ctx, db, f, ids); err != nil {
		r.Close()
		return nil, err
	}
	if err := r.finish(ctx, db, fw, opt, ids); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// tallyRecords adds up the records of f and spools the calls.
func (r *Report) tallyRecords(ctx context.Context, db *registry.DB, f registry.Filter, ids map[string]int) error {
	t := newTally(r, ids, r.calls)
	err := readAhead(ctx, db, f, func(e *entry, hash []byte) error {
		if _, ok := ids[e.ServerID]; ok {
			t.add(e, hash)
		}
		return nil
	})
	if err != nil {
		return err
	}
	r.calls.unanswered = t.done()
	return r.calls.finish()
}

// finish adds the approvals, the chain's head and the controls.
func (r *Report) finish(ctx context.Context, db *registry.DB, fw Framework, opt Options, ids map[string]int) error {
	approvals, err := db.Approvals(ctx)
	if err != nil {
		return err
	}
	for _, a := range approvals {
		if _, ok := ids[a.ServerID]; !ok {
			continue
		}
		in := func(t time.Time) bool { return !t.IsZero() && !t.Before(opt.Since) && t.Before(opt.Until) }
		if !in(a.CreatedAt) && !in(a.DecidedAt) {
			continue
		}
		r.Approvals = append(r.Approvals, Approval{ID: a.ID, Server: a.Server, Tool: a.Tool, Status: a.Status, Risk: a.Risk,
			Reason: a.Reason, CreatedAt: a.CreatedAt, DecidedAt: a.DecidedAt, DecidedBy: a.DecidedBy, Note: a.Note})
		r.Summary.Approvals++
		if in(a.DecidedAt) && a.DecidedBy != "" && a.DecidedBy != "aim-mcp" {
			if a.Status == registry.ApprovalDenied {
				r.Summary.HumanDenied++
			} else {
				r.Summary.HumanApproved++
			}
		}
	}

	r.Summary.Servers = len(r.Servers)
	if r.Chain.HeadSeq > 0 {
		if r.Chain.HeadHash, err = db.HashAt(ctx, r.Chain.HeadSeq); err != nil {
			return err
		}
	}
	r.Summary.ChainIntact = r.Chain.Intact
	r.Controls = fw.controls(gather(r))
	return nil
}

// Close removes the temporary file a built report keeps its calls in,
// for [Report.EachCall]. Every report from [Build] must be closed.
func (r *Report) Close() error {
	return r.calls.close()
}
