package aim

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/opena2a-org/aim-mcp/registry"
	"github.com/opena2a-org/aim-mcp/report"
	"github.com/opena2a-org/aim-mcp/trust"
)

// TrustScore computes the identity's trust score from its own record, the
// eight factors "aim-mcp trust --detailed" explains; the guide's
// get_trust_score. Score.Overall is the number, Score.List the factors.
func (a *Agent) TrustScore(ctx context.Context) (trust.Score, error) {
	src := &trust.Source{DB: a.db}
	ev, err := src.Evidence(ctx, a.srv)
	if err != nil {
		return trust.Score{}, fmt.Errorf("aim: trust score: %w", err)
	}
	return trust.Compute(ev), nil
}

// LogFilter selects audit records; zero fields match everything. It is the
// guide's get_audit_logs parameters.
type LogFilter struct {
	Action string    // the action (tool) name
	Kind   string    // call, outcome, denied, ... (registry.Kind*)
	Since  time.Time // start_date
	Until  time.Time // end_date
	Limit  int       // the newest Limit records (after Offset), oldest first
	Offset int
}

// AuditLogs returns the identity's records from the chain, oldest first;
// the guide's get_audit_logs.
func (a *Agent) AuditLogs(ctx context.Context, f LogFilter) ([]registry.Record, error) {
	recs, err := a.db.Records(ctx, registry.Filter{ServerID: a.srv.ID, Tool: f.Action, Kind: f.Kind,
		Since: f.Since, Until: f.Until, Limit: f.Limit, Offset: f.Offset})
	if err != nil {
		return nil, fmt.Errorf("aim: audit logs: %w", err)
	}
	return recs, nil
}

// ComplianceReport exports a compliance report of the agent's own actions
// for [since, until): typ is soc2, hipaa or gdpr, format json, csv or pdf
// (the guide's export_compliance_report). It is what "aim-mcp report
// --server NAME" writes, with the chain verified and the framework's
// controls; it collects evidence, it is not an attestation. A zero until
// is now; a zero since is 30 days before until.
func (a *Agent) ComplianceReport(ctx context.Context, typ string, since, until time.Time, format string) ([]byte, error) {
	if until.IsZero() {
		until = time.Now()
	}
	if since.IsZero() {
		since = until.AddDate(0, 0, -30)
	}
	if !slices.Contains(report.Formats, format) {
		return nil, fmt.Errorf("aim: compliance report: unknown format %q: want json, csv or pdf", format)
	}
	r, err := report.Build(ctx, a.db, report.Options{Type: typ, Since: since, Until: until, Servers: []registry.Server{a.srv}})
	if err != nil {
		return nil, fmt.Errorf("aim: compliance report: %w", err)
	}
	defer r.Close()
	b, err := report.Render(ctx, r, format)
	if err != nil {
		return nil, fmt.Errorf("aim: compliance report: %w", err)
	}
	return b, nil
}
