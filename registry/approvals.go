package registry

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Approval states.
const (
	ApprovalPending   = "pending"
	ApprovalApproved  = "approved" // granted, not used yet
	ApprovalUsed      = "used"     // granted and spent by one call
	ApprovalDenied    = "denied"
	ApprovalExpired   = "expired"
	ApprovalCancelled = "cancelled" // the client gave up on the call
)

// ErrNotPending is returned when an approval was already answered or expired.
var ErrNotPending = errors.New("approval is no longer pending")

// Approval is a human decision about one exact call: server, tool and the
// digest of its canonical arguments. It is single use and expires.
type Approval struct {
	ID         string          `json:"id"`
	ServerID   string          `json:"server_id"`
	Server     string          `json:"server"`
	Tool       string          `json:"tool"`
	ArgsDigest string          `json:"args_digest"`
	Args       json.RawMessage `json:"args"` // every value, secrets masked with their length
	Risk       string          `json:"risk"`
	Reason     string          `json:"reason"`
	Status     string          `json:"status"`
	CreatedAt  time.Time       `json:"created_at"`
	ExpiresAt  time.Time       `json:"expires_at"`
	DecidedAt  time.Time       `json:"decided_at,omitzero"`
	DecidedBy  string          `json:"decided_by,omitempty"`
	Note       string          `json:"note,omitempty"`
	// Full is the exact arguments, secrets and all, given to
	// RequestApproval to keep private while the approval waits (see
	// KeepArgs); never stored in the row nor shown.
	Full []byte `json:"-"`
}

// RequestApproval returns the live approval for this exact call, creating a
// pending one when there is none. A granted one is returned as is: the
// caller spends it with UseApproval.
func (r *DB) RequestApproval(ctx context.Context, a Approval, ttl time.Duration) (Approval, bool, error) {
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return Approval{}, false, fmt.Errorf("request approval: %w", err)
	}
	defer tx.Rollback()
	now := time.Now()
	if _, err := tx.ExecContext(ctx, `UPDATE approvals SET status = ? WHERE status IN (?, ?) AND expires_at < ?`,
		ApprovalExpired, ApprovalPending, ApprovalApproved, fmtTime(now)); err != nil {
		return Approval{}, false, fmt.Errorf("request approval: %w", err)
	}
	existing, err := scanApproval(tx.QueryRowContext(ctx, approvalSelect+` WHERE server_id = ? AND tool = ? AND args_digest = ?
		AND status IN (?, ?) ORDER BY status = 'approved' DESC, created_at DESC LIMIT 1`,
		a.ServerID, a.Tool, a.ArgsDigest, ApprovalApproved, ApprovalPending))
	if err == nil {
		if err := tx.Commit(); err != nil {
			return Approval{}, false, fmt.Errorf("request approval: %w", err)
		}
		r.SweepArgs(ctx)
		return existing, false, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return Approval{}, false, fmt.Errorf("request approval: %w", err)
	}
	a.ID, a.Status, a.CreatedAt, a.ExpiresAt = shortID(), ApprovalPending, now.UTC(), now.Add(ttl).UTC()
	if a.Args == nil {
		a.Args = json.RawMessage("{}")
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO approvals (id, server_id, server, tool, args_digest, args, risk, reason,
		status, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.ID, a.ServerID, a.Server, a.Tool, a.ArgsDigest, string(a.Args), a.Risk, a.Reason, a.Status,
		fmtTime(a.CreatedAt), fmtTime(a.ExpiresAt)); err != nil {
		return Approval{}, false, fmt.Errorf("request approval: %w", err)
	}
	// The exact arguments are there before anyone can see the approval,
	// so a person who asks for them at once finds them. Kept when they
	// can be: the masked form is enough to decide on.
	if a.Full != nil {
		r.writeArgs(a.ID, a.Full)
	}
	if err := tx.Commit(); err != nil {
		r.dropArgs(a.ID)
		return Approval{}, false, fmt.Errorf("request approval: %w", err)
	}
	r.SweepArgs(ctx)
	return a, true, nil
}

// Approval reads one approval, marking it expired when its time is up.
func (r *DB) Approval(ctx context.Context, id string) (Approval, error) {
	a, err := scanApproval(r.db.QueryRowContext(ctx, approvalSelect+` WHERE id = ?`, id))
	if err != nil {
		return Approval{}, fmt.Errorf("approval %q: %w", id, err)
	}
	if (a.Status == ApprovalPending || a.Status == ApprovalApproved) && time.Now().After(a.ExpiresAt) {
		r.db.ExecContext(ctx, `UPDATE approvals SET status = ? WHERE id = ? AND status = ?`, ApprovalExpired, id, a.Status)
		a.Status = ApprovalExpired
		r.dropArgs(a.ID)
	}
	return a, nil
}

// Approvals lists approvals in the given states (all when none), oldest first.
func (r *DB) Approvals(ctx context.Context, states ...string) ([]Approval, error) {
	if _, err := r.db.ExecContext(ctx, `UPDATE approvals SET status = ? WHERE status IN (?, ?) AND expires_at < ?`,
		ApprovalExpired, ApprovalPending, ApprovalApproved, fmtTime(time.Now())); err != nil {
		return nil, fmt.Errorf("list approvals: %w", err)
	}
	r.SweepArgs(ctx)
	q := approvalSelect
	var args []any
	if len(states) > 0 {
		q += ` WHERE status IN (?` + strings.Repeat(",?", len(states)-1) + `)`
		for _, s := range states {
			args = append(args, s)
		}
	}
	rows, err := r.db.QueryContext(ctx, q+` ORDER BY created_at`, args...)
	if err != nil {
		return nil, fmt.Errorf("list approvals: %w", err)
	}
	defer rows.Close()
	var out []Approval
	for rows.Next() {
		a, err := scanApproval(rows)
		if err != nil {
			return nil, fmt.Errorf("list approvals: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// DecideApproval answers a pending approval: status is approved or denied,
// by names who answered. The full arguments kept for it are removed.
// Answering twice, or after expiry, is an error wrapping ErrNotPending.
func (r *DB) DecideApproval(ctx context.Context, id, status, by, note string) (Approval, error) {
	a, err := r.Approval(ctx, id)
	if err != nil {
		return a, err
	}
	if a.Status != ApprovalPending {
		return a, fmt.Errorf("approval %q is %s: %w", id, a.Status, ErrNotPending)
	}
	now := time.Now()
	res, err := r.db.ExecContext(ctx, `UPDATE approvals SET status = ?, decided_at = ?, decided_by = ?, note = ?
		WHERE id = ? AND status = ?`, status, fmtTime(now), by, note, id, ApprovalPending)
	if err != nil {
		return a, fmt.Errorf("decide approval: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return a, fmt.Errorf("approval %q: %w", id, ErrNotPending)
	}
	r.dropArgs(id)
	a.Status, a.DecidedAt, a.DecidedBy, a.Note = status, now.UTC(), by, note
	return a, nil
}

// UseApproval spends a granted approval. Only one caller can: it reports
// false when the approval was not (or no longer) granted.
func (r *DB) UseApproval(ctx context.Context, id string) (bool, error) {
	res, err := r.db.ExecContext(ctx, `UPDATE approvals SET status = ? WHERE id = ? AND status = ? AND expires_at >= ?`,
		ApprovalUsed, id, ApprovalApproved, fmtTime(time.Now()))
	if err != nil {
		return false, fmt.Errorf("use approval: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// CancelApproval marks a pending approval cancelled (the client gave up)
// and removes the full arguments kept for it.
func (r *DB) CancelApproval(ctx context.Context, id string) error {
	_, err := r.db.ExecContext(ctx, `UPDATE approvals SET status = ? WHERE id = ? AND status = ?`,
		ApprovalCancelled, id, ApprovalPending)
	if err != nil {
		return fmt.Errorf("cancel approval: %w", err)
	}
	r.dropArgs(id)
	return nil
}

// CountApprovalsSince counts the approvals created for a server since t,
// the measure of how often a person is being asked.
func (r *DB) CountApprovalsSince(ctx context.Context, serverID string, t time.Time) (int, error) {
	var n int
	err := r.db.QueryRowContext(ctx, `SELECT count(*) FROM approvals WHERE server_id = ? AND created_at >= ?`,
		serverID, fmtTime(t)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count approvals: %w", err)
	}
	return n, nil
}

const approvalSelect = `SELECT id, server_id, server, tool, args_digest, args, risk, reason, status,
	created_at, expires_at, decided_at, decided_by, note FROM approvals`

func scanApproval(row scanner) (Approval, error) {
	var a Approval
	var args, created, expires, decided string
	err := row.Scan(&a.ID, &a.ServerID, &a.Server, &a.Tool, &a.ArgsDigest, &args, &a.Risk, &a.Reason, &a.Status,
		&created, &expires, &decided, &a.DecidedBy, &a.Note)
	if errors.Is(err, sql.ErrNoRows) {
		return Approval{}, ErrNotFound
	}
	if err != nil {
		return Approval{}, err
	}
	a.Args = json.RawMessage(args)
	a.CreatedAt, a.ExpiresAt = parseTime(created), parseTime(expires)
	if decided != "" {
		a.DecidedAt = parseTime(decided)
	}
	return a, nil
}

// shortID is 8 characters a person can type: no 0/o, 1/l.
func shortID() string {
	const alphabet = "23456789abcdefghijkmnpqrstuvwxyz"
	var b [8]byte
	rand.Read(b[:])
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b[:])
}
