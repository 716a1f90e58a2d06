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
	// Peers are the remote server's TLS key and authorization server pins
	// it accepted (@tls, @issuer): the calls they held run again at once,
	// since they were refused, not queued.
	Peers []registry.PeerChange
	// Released are the held calls the acceptance let run: calls that
	// waited for a person only because their tool had drifted.
	Released []registry.Approval
	// Unrecorded says why the acceptance is not in the audit trail, when it
	// is not (the server's key cannot be loaded, or the append failed);
	// the pins are accepted all the same.
	Unrecorded error
}

// Accept pins the current definitions of a server's tools and, for a
// remote server, what was last seen of its TLS key and authorization
// server (names, tools' or @tls and @issuer; all of them when empty),
// records each acceptance in the audit chain signed with the server's key,
// and approves the calls held only for that drift. by names the person
// accepting. An unknown name is registry.ErrNotFound.
func Accept(ctx context.Context, db *registry.DB, srv registry.Server, names []string, by string, now time.Time) (Accepted, error) {
	var out Accepted
	var tools, peers []string
	for _, n := range names {
		if registry.IsPeerName(n) {
			peers = append(peers, n)
		} else {
			tools = append(tools, n)
		}
	}
	var err error
	if len(names) == 0 || len(tools) > 0 {
		if out.Changes, err = db.AcceptTools(ctx, srv.ID, tools, now); err != nil {
			return out, err
		}
	}
	if len(names) == 0 || len(peers) > 0 {
		if out.Peers, err = db.AcceptPeers(ctx, srv.ID, peers, now); err != nil {
			return out, err
		}
	}
	// The acceptance is evidence: it goes into the audit chain, signed
	// with the server's key, beside the drift it answers.
	var events []registry.Event
	accepted := map[string]bool{}
	for _, c := range out.Changes {
		accepted[c.Tool.Name] = true
		data := map[string]any{"change": registry.ChangeAccepted, "from": c.From, "by": by, "state": c.Tool.State}
		if c.Before.PinnedHash != "" {
			data["previous_pinned_hash"] = c.Before.PinnedHash
		}
		if c.Tool.State == registry.ToolPinned {
			data["pinned_hash"] = c.Tool.PinnedHash
		}
		events = append(events, registry.Event{Time: now, ServerID: srv.ID, Server: srv.Name, Client: srv.Client,
			Kind: registry.KindDrift, Tool: c.Tool.Name, Decision: registry.ChangeAccepted, Data: data})
	}
	for _, c := range out.Peers {
		data := map[string]any{"change": registry.ChangeAccepted, "from": c.From, "by": by, "state": c.Pin.State,
			"previous_pinned": c.Before.Pinned, "pinned": c.Pin.Pinned}
		events = append(events, registry.Event{Time: now, ServerID: srv.ID, Server: srv.Name, Client: srv.Client,
			Kind: registry.KindDrift, Tool: c.Pin.Name, Decision: registry.ChangeAccepted, Data: data})
	}
	if len(events) > 0 {
		if key, err := db.Key(srv); err != nil {
			out.Unrecorded = fmt.Errorf("the key of server %q cannot be loaded: %w", srv.Name, err)
		} else if _, err := db.AppendAll(ctx, key, events); err != nil {
			out.Unrecorded = err
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
