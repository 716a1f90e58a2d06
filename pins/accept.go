package pins

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/opena2a-org/aim-mcp/registry"
)

// Accepted is what Accept did.
type Accepted struct {
	Changes []registry.ToolChange
	// Released are the held calls the acceptance let run: calls that
	// waited for a person only because their tool had drifted.
	Released []registry.Approval
	// Unrecorded says why the acceptance is not in the audit trail, when it
	// is not (the server's key cannot be loaded, or the append failed);
	// the pins are accepted all the same.
	Unrecorded error
}

// Accept pins the current definitions of a server's tools (names; all of
// them when empty), records each acceptance in the audit chain signed with
// the server's key, and approves the calls held only for that drift. by
// names the person accepting. An unknown tool is registry.ErrNotFound.
func Accept(ctx context.Context, db *registry.DB, srv registry.Server, names []string, by string, now time.Time) (Accepted, error) {
	var out Accepted
	changes, err := db.AcceptTools(ctx, srv.ID, names, now)
	if err != nil {
		return out, err
	}
	out.Changes = changes
	// The acceptance is evidence: it goes into the audit chain, signed
	// with the server's key, beside the drift it answers.
	key, err := db.Key(srv)
	if err != nil {
		out.Unrecorded = fmt.Errorf("the key of server %q cannot be loaded: %w", srv.Name, err)
	}
	accepted := map[string]bool{}
	for _, c := range changes {
		accepted[c.Tool.Name] = true
		if out.Unrecorded != nil {
			continue
		}
		data := map[string]any{"change": registry.ChangeAccepted, "from": c.From, "by": by, "state": c.Tool.State}
		if c.Before.PinnedHash != "" {
			data["previous_pinned_hash"] = c.Before.PinnedHash
		}
		if c.Tool.State == registry.ToolPinned {
			data["pinned_hash"] = c.Tool.PinnedHash
		}
		if _, err := db.Append(ctx, key, registry.Event{Time: now, ServerID: srv.ID, Server: srv.Name, Client: srv.Client,
			Kind: registry.KindDrift, Tool: c.Tool.Name, Decision: registry.ChangeAccepted, Data: data}); err != nil {
			out.Unrecorded = err // do not try again for the other tools
		}
	}
	// A call held because its tool drifted waits for exactly this answer.
	pending, err := db.Approvals(ctx, registry.ApprovalPending)
	if err != nil {
		return out, err
	}
	for _, a := range pending {
		if a.ServerID != srv.ID || !accepted[a.Tool] || !strings.HasPrefix(a.Reason, Source+":") {
			continue
		}
		if d, err := db.DecideApproval(ctx, a.ID, registry.ApprovalApproved, by, "accepted the tool's change"); err == nil {
			out.Released = append(out.Released, d)
		}
	}
	return out, nil
}
