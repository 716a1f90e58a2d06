package registry

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// A remote server is known by more than its tools: the key of its TLS
// certificate and the authorization server that issues its tokens. Either
// changing is what a hijacked DNS name or a swapped authorization server
// looks like, so each is pinned the first time a session sees it, and a
// change is drift, accepted the way a changed tool is. Their names start
// with '@', which no tool name may, so `pins accept SERVER @tls` never
// means a tool.
const (
	PeerTLS    = "@tls"    // the server certificate's key (SPKI SHA-256)
	PeerIssuer = "@issuer" // the OAuth authorization server's issuer
)

// IsPeerName says whether name is a peer pin's, not a tool's.
func IsPeerName(name string) bool { return strings.HasPrefix(name, "@") }

// PeerPin is one pinned fact about a remote server: as pinned and as last
// seen. State is ToolPinned or ToolChanged.
type PeerPin struct {
	ServerID  string    `json:"server_id"`
	Name      string    `json:"name"`
	State     string    `json:"state"`
	Value     string    `json:"value"`
	Pinned    string    `json:"pinned"`
	ChangedAt time.Time `json:"changed_at"`
	SeenAt    time.Time `json:"seen_at"`
}

// PeerChange is one transition of a peer pin: Change is ChangePinned,
// ChangeChanged, ChangeReverted or ChangeAccepted.
type PeerChange struct {
	Pin    PeerPin `json:"pin"`
	From   string  `json:"from"`
	Change string  `json:"change"`
	Before PeerPin `json:"-"`
}

// ObservePeer compares what a session saw (value, never empty) with the
// pin, in one write transaction, so that proxies of the same server that
// see the same change report it once. The first value pins. ok is false
// when nothing changed.
func (r *DB) ObservePeer(ctx context.Context, serverID, name, value string, now time.Time) (c PeerChange, ok bool, err error) {
	if !IsPeerName(name) || value == "" {
		return c, false, fmt.Errorf("observe %s: nothing to pin", name)
	}
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return c, false, fmt.Errorf("observe %s: %w", name, err)
	}
	defer tx.Rollback()
	ts := fmtTime(now)
	old, err := scanPeer(tx.QueryRowContext(ctx, peerSelect+` WHERE server_id = ? AND name = ?`, serverID, name))
	switch {
	case errors.Is(err, ErrNotFound):
		if _, err := tx.ExecContext(ctx, `INSERT INTO peer_pins (server_id, name, value, pinned, state, changed_at, seen_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, serverID, name, value, value, ToolPinned, ts, ts); err != nil {
			return c, false, fmt.Errorf("observe %s: %w", name, err)
		}
		c = PeerChange{Change: ChangePinned,
			Pin: PeerPin{ServerID: serverID, Name: name, State: ToolPinned, Value: value, Pinned: value, ChangedAt: now, SeenAt: now}}
		return c, true, commitPeer(tx, name)
	case err != nil:
		return c, false, fmt.Errorf("observe %s: %w", name, err)
	}
	state, change := ToolChanged, ""
	switch {
	case value == old.Pinned:
		state = ToolPinned
		if old.State != ToolPinned {
			change = ChangeReverted
		}
	case old.State != ToolChanged || value != old.Value:
		change = ChangeChanged
	}
	changedAt := old.ChangedAt
	if change != "" {
		changedAt = now
	}
	if _, err := tx.ExecContext(ctx, `UPDATE peer_pins SET value = ?, state = ?, changed_at = ?, seen_at = ?
		WHERE server_id = ? AND name = ?`, value, state, fmtTime(changedAt), ts, serverID, name); err != nil {
		return c, false, fmt.Errorf("observe %s: %w", name, err)
	}
	if err := commitPeer(tx, name); err != nil {
		return c, false, err
	}
	if change == "" {
		return c, false, nil
	}
	p := old
	p.Value, p.State, p.ChangedAt, p.SeenAt = value, state, now, now
	return PeerChange{Pin: p, From: old.State, Change: change, Before: old}, true, nil
}

func commitPeer(tx *sql.Tx, name string) error {
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("observe %s: %w", name, err)
	}
	return nil
}

// AcceptPeers pins what was last seen of a server's changed peer pins: the
// named ones, or all when names is empty. Pins that did not change are left
// alone; a name the server has no pin for is an error wrapping ErrNotFound.
func (r *DB) AcceptPeers(ctx context.Context, serverID string, names []string, now time.Time) ([]PeerChange, error) {
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("accept peer pins: %w", err)
	}
	defer tx.Rollback()
	pins, err := queryPeers(ctx, tx, serverID)
	if err != nil {
		return nil, fmt.Errorf("accept peer pins: %w", err)
	}
	pick := pins
	if len(names) > 0 {
		pick = nil
		for _, n := range names {
			found := false
			for _, p := range pins {
				if p.Name == n {
					pick, found = append(pick, p), true
				}
			}
			if !found {
				return nil, fmt.Errorf("%s: %w", n, ErrNotFound)
			}
		}
	}
	var out []PeerChange
	for _, p := range pick {
		if p.State == ToolPinned {
			continue
		}
		if _, err := tx.ExecContext(ctx, `UPDATE peer_pins SET pinned = value, state = ?, changed_at = ?
			WHERE server_id = ? AND name = ?`, ToolPinned, fmtTime(now), serverID, p.Name); err != nil {
			return nil, fmt.Errorf("accept peer pins: %w", err)
		}
		after := p
		after.Pinned, after.State, after.ChangedAt = p.Value, ToolPinned, now
		out = append(out, PeerChange{Pin: after, From: p.State, Change: ChangeAccepted, Before: p})
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("accept peer pins: %w", err)
	}
	return out, nil
}

// PeerPins lists a server's peer pins by name.
func (r *DB) PeerPins(ctx context.Context, serverID string) ([]PeerPin, error) {
	ps, err := queryPeers(ctx, r.db, serverID)
	if err != nil {
		return nil, fmt.Errorf("peer pins: %w", err)
	}
	return ps, nil
}

const peerSelect = `SELECT server_id, name, value, pinned, state, changed_at, seen_at FROM peer_pins`

func queryPeers(ctx context.Context, q querier, serverID string) ([]PeerPin, error) {
	rows, err := q.QueryContext(ctx, peerSelect+` WHERE server_id = ? ORDER BY name`, serverID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []PeerPin
	for rows.Next() {
		p, err := scanPeer(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

func scanPeer(row scanner) (PeerPin, error) {
	var p PeerPin
	var changed, seen string
	err := row.Scan(&p.ServerID, &p.Name, &p.Value, &p.Pinned, &p.State, &changed, &seen)
	if errors.Is(err, sql.ErrNoRows) {
		return p, ErrNotFound
	}
	if err != nil {
		return p, err
	}
	p.ChangedAt, p.SeenAt = parseTime(changed), parseTime(seen)
	return p, nil
}
