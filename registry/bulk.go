package registry

import (
	"context"
	"fmt"
)

// Reads for commands that look at every server at once ("aim-mcp list",
// the dashboard's Servers page): one query each, whatever the number of
// servers, where a query per server would cost ten thousand statements.

// EachTool calls fn with every server's tools as [DB.Tools] lists them
// (a tool whose removal was accepted left out), grouped by server and by
// name within a server, as the rows are read.
func (r *DB) EachTool(ctx context.Context, fn func(Tool) error) error {
	rows, err := r.db.QueryContext(ctx, toolSelect+` WHERE state != ? ORDER BY server_id, name`, toolRetired)
	if err != nil {
		return fmt.Errorf("list tools: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		t, err := scanTool(rows)
		if err != nil {
			return fmt.Errorf("list tools: %w", err)
		}
		if err := fn(t); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list tools: %w", err)
	}
	return nil
}

// ToolStates lists every server's tools as [DB.Tools] does, by server id,
// with their names, states and times but not their definitions: what a
// trust score needs of each, in the memory of the names.
func (r *DB) ToolStates(ctx context.Context) (map[string][]Tool, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT server_id, name, hash, pinned_hash, state, changed_at, seen_at
		FROM tools WHERE state != ? ORDER BY server_id, name`, toolRetired)
	if err != nil {
		return nil, fmt.Errorf("list tools: %w", err)
	}
	defer rows.Close()
	out := map[string][]Tool{}
	for rows.Next() {
		var t Tool
		var changed, seen string
		if err := rows.Scan(&t.ServerID, &t.Name, &t.Hash, &t.PinnedHash, &t.State, &changed, &seen); err != nil {
			return nil, fmt.Errorf("list tools: %w", err)
		}
		t.ChangedAt, t.SeenAt = parseTime(changed), parseTime(seen)
		out[t.ServerID] = append(out[t.ServerID], t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tools: %w", err)
	}
	return out, nil
}

// PinnedHashes maps each of a server's tools that is pinned, unchanged,
// to the digest it is pinned at: what a proxy needs to know which listed
// definitions are settled, without reading every definition.
func (r *DB) PinnedHashes(ctx context.Context, serverID string) (map[string]string, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT name, pinned_hash FROM tools WHERE server_id = ? AND state = ?`, serverID, ToolPinned)
	if err != nil {
		return nil, fmt.Errorf("tool pins: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var name, hash string
		if err := rows.Scan(&name, &hash); err != nil {
			return nil, fmt.Errorf("tool pins: %w", err)
		}
		out[name] = hash
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("tool pins: %w", err)
	}
	return out, nil
}
