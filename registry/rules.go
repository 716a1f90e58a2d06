package registry

import (
	"context"
	"fmt"
	"time"
)

// StoredRule is a policy rule added with "aim-mcp policy add". The policy
// package gives it meaning; the registry only keeps it.
type StoredRule struct {
	ID        int64     `json:"id"`
	Server    string    `json:"server"`
	Tool      string    `json:"tool"`
	WhenPtr   string    `json:"when_ptr,omitempty"`
	WhenOp    string    `json:"when_op,omitempty"`
	WhenValue string    `json:"when_value,omitempty"`
	Risk      string    `json:"risk,omitempty"`
	Action    string    `json:"action,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// AddRule stores a rule and returns it with its id.
func (r *DB) AddRule(ctx context.Context, sr StoredRule) (StoredRule, error) {
	sr.CreatedAt = time.Now().UTC()
	res, err := r.db.ExecContext(ctx, `INSERT INTO policy_rules
		(server, tool, when_ptr, when_op, when_value, risk, action, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		sr.Server, sr.Tool, sr.WhenPtr, sr.WhenOp, sr.WhenValue, sr.Risk, sr.Action, fmtTime(sr.CreatedAt))
	if err != nil {
		return sr, fmt.Errorf("add rule: %w", err)
	}
	sr.ID, _ = res.LastInsertId()
	return sr, nil
}

// Rules lists the stored rules by id.
func (r *DB) Rules(ctx context.Context) ([]StoredRule, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT id, server, tool, when_ptr, when_op, when_value, risk, action, created_at
		FROM policy_rules ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list rules: %w", err)
	}
	defer rows.Close()
	var out []StoredRule
	for rows.Next() {
		var sr StoredRule
		var created string
		if err := rows.Scan(&sr.ID, &sr.Server, &sr.Tool, &sr.WhenPtr, &sr.WhenOp, &sr.WhenValue, &sr.Risk, &sr.Action, &created); err != nil {
			return nil, fmt.Errorf("list rules: %w", err)
		}
		sr.CreatedAt = parseTime(created)
		out = append(out, sr)
	}
	return out, rows.Err()
}

// RulesVersion changes whenever rules are added or removed, so a running
// proxy can reload them cheaply.
func (r *DB) RulesVersion(ctx context.Context) (string, error) {
	var n, maxID int64
	err := r.db.QueryRowContext(ctx, `SELECT count(*), coalesce(max(id), 0) FROM policy_rules`).Scan(&n, &maxID)
	if err != nil {
		return "", fmt.Errorf("rules version: %w", err)
	}
	return fmt.Sprintf("%d/%d", n, maxID), nil
}

// RemoveRule deletes rule id.
func (r *DB) RemoveRule(ctx context.Context, id int64) error {
	res, err := r.db.ExecContext(ctx, `DELETE FROM policy_rules WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("remove rule: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("rule %d: %w", id, ErrNotFound)
	}
	return nil
}
