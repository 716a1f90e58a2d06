package registry

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// AIMVerdict is a remote AIM's answer about one capability of one agent.
// Every proxy of the home reads it before asking AIM, so that a busy
// machine spends AIM's request budget once per capability and TTL, not
// once per call.
type AIMVerdict struct {
	AgentID    string
	Capability string
	Allowed    bool
	Reason     string // AIM's words
	AuditID    string // AIM's audit row of the decision
	DecidedAt  time.Time
}

// AIMVerdict returns the verdict kept for (agentID, capability); ok is
// false when there is none.
func (r *DB) AIMVerdict(ctx context.Context, agentID, capability string) (v AIMVerdict, ok bool, err error) {
	var at string
	err = r.db.QueryRowContext(ctx, `SELECT allowed, reason, audit_id, decided_at FROM aim_verdicts
		WHERE agent_id = ? AND capability = ?`, agentID, capability).Scan(&v.Allowed, &v.Reason, &v.AuditID, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return AIMVerdict{}, false, nil
	}
	if err != nil {
		return AIMVerdict{}, false, fmt.Errorf("read AIM verdict: %w", err)
	}
	v.AgentID, v.Capability, v.DecidedAt = agentID, capability, parseTime(at)
	return v, true, nil
}

// SaveAIMVerdict keeps v, replacing an older one. A verdict older than the
// one kept (a slow answer overtaken by another proxy's) is ignored.
func (r *DB) SaveAIMVerdict(ctx context.Context, v AIMVerdict) error {
	_, err := r.db.ExecContext(ctx, `INSERT INTO aim_verdicts (agent_id, capability, allowed, reason, audit_id, decided_at)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (agent_id, capability) DO UPDATE SET allowed = excluded.allowed, reason = excluded.reason,
			audit_id = excluded.audit_id, decided_at = excluded.decided_at
		WHERE excluded.decided_at >= aim_verdicts.decided_at`,
		v.AgentID, v.Capability, v.Allowed, v.Reason, v.AuditID, fmtTime(v.DecidedAt))
	if err != nil {
		return fmt.Errorf("keep AIM verdict: %w", err)
	}
	return nil
}

// ForgetAIMVerdicts drops what is kept for an agent (its key changed, or
// it is gone), so that the next call asks AIM.
func (r *DB) ForgetAIMVerdicts(ctx context.Context, agentID string) error {
	if _, err := r.db.ExecContext(ctx, `DELETE FROM aim_verdicts WHERE agent_id = ?`, agentID); err != nil {
		return fmt.Errorf("forget AIM verdicts: %w", err)
	}
	return nil
}
