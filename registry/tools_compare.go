package registry

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// What comparing a server's thousands of tools with their pins reads and
// writes, kept small: the pins without their definitions, and the seen
// times of the tools listed as they were, written off the calls' path.

// TouchTools records that a tools/list answer at now showed the named
// tools of a server (a later answer's time is kept).
func (r *DB) TouchTools(ctx context.Context, serverID string, names []string, now time.Time) error {
	if len(names) == 0 {
		return nil
	}
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("touch tools: %w", err)
	}
	defer tx.Rollback()
	if err := touchTools(ctx, tx, serverID, names, fmtTime(now), true); err != nil {
		return fmt.Errorf("touch tools: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("touch tools: %w", err)
	}
	return nil
}

// insertRows is how many new tools one statement inserts (ten values a
// row, well under SQLite's limit on a statement's parameters).
const insertRows = 100

// touchTools sets seen_at of a server's named tools, a few hundred names a
// statement; with keepLater a later time already there is kept.
func touchTools(ctx context.Context, tx *sql.Tx, serverID string, names []string, ts string, keepLater bool) error {
	const chunk = 500
	for len(names) > 0 {
		n := min(len(names), chunk)
		args := make([]any, 0, n+2)
		args = append(args, ts, serverID)
		for _, name := range names[:n] {
			args = append(args, name)
		}
		set := `seen_at = ?`
		if keepLater {
			set = `seen_at = max(seen_at, ?)`
		}
		q := `UPDATE tools SET ` + set + ` WHERE server_id = ? AND name IN (?` + strings.Repeat(", ?", n-1) + `)`
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return err
		}
		names = names[n:]
	}
	return nil
}

// Settled maps each of a server's tools to whether it is pinned and
// unchanged, without reading a definition: what a proxy checks each call
// against.
func (r *DB) Settled(ctx context.Context, serverID string) (map[string]bool, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT name, state FROM tools WHERE server_id = ? AND state != ?`, serverID, toolRetired)
	if err != nil {
		return nil, fmt.Errorf("list tools: %w", err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var name, state string
		if err := rows.Scan(&name, &state); err != nil {
			return nil, fmt.Errorf("list tools: %w", err)
		}
		out[name] = state == ToolPinned
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tools: %w", err)
	}
	return out, nil
}

// pin is a tool's row as an answer is compared with it: no definition,
// no time. What it reads is all in the tools_pins index.
type pin struct {
	Name, Hash, Annotations, PinnedHash, State string
}

// queryToolDigests reads a server's pins, by name, as pins.
func queryToolDigests(ctx context.Context, q querier, serverID string) ([]pin, error) {
	rows, err := q.QueryContext(ctx, `SELECT name, hash, annotations, pinned_hash, state
		FROM tools WHERE server_id = ? ORDER BY name`, serverID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []pin
	var p pin
	for rows.Next() {
		if err := rows.Scan(&p.Name, &p.Hash, &p.Annotations, &p.PinnedHash, &p.State); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}
