package registry

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// A tool's pinned definition, digest and annotations are a function of the
// bytes a server lists it with, and servers list the same bytes session
// after session. So the SHA-256 of those bytes (the tool's source) is kept
// beside the pin: a later session that lists a settled tool in the same
// bytes knows its name, digest and annotations without decoding it, and
// only the tools listed otherwise are read again. A server that lists
// thousands of tools then compares them at the cost of a hash each.

// ErrStale is returned by CompareTools when a tool known by its source
// (a ToolDef without a Definition) is no longer as its pin was when it was
// looked up: the caller reads the answer whole and compares again.
var ErrStale = errors.New("a tool's pin changed while its answer was compared")

// KnownSources returns what the server's tools remembered by their source
// read as (their ToolDefs have no Definition). CompareTools checks each
// against its pin, in its transaction: one no longer settled as it read is
// ErrStale, never taken as it was.
func (r *DB) KnownSources(ctx context.Context, serverID string) (map[string]ToolDef, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT source, name, hash, annotations FROM tool_sources WHERE server_id = ?`, serverID)
	if err != nil {
		return nil, fmt.Errorf("known tool sources: %w", err)
	}
	defer rows.Close()
	out := map[string]ToolDef{}
	for rows.Next() {
		var source, ann string
		var d ToolDef
		if err := rows.Scan(&source, &d.Name, &d.Hash, &ann); err != nil {
			return nil, fmt.Errorf("known tool sources: %w", err)
		}
		if ann != "{}" {
			d.Annotations = []byte(ann)
		}
		out[source] = d
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("known tool sources: %w", err)
	}
	return out, nil
}

// RememberSources replaces what is remembered of the server's tool
// sources with sources (source → the tool it reads as), keeping only the
// tools settled now: pinned as they read. It is best kept off the path of
// the calls: nothing waits for it.
func (r *DB) RememberSources(ctx context.Context, serverID string, sources map[string]ToolDef) error {
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("remember tool sources: %w", err)
	}
	defer tx.Rollback()
	pins, err := queryToolDigests(ctx, tx, serverID)
	if err != nil {
		return fmt.Errorf("remember tool sources: %w", err)
	}
	byName := make(map[string]pin, len(pins))
	for _, p := range pins {
		byName[p.Name] = p
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM tool_sources WHERE server_id = ?`, serverID); err != nil {
		return fmt.Errorf("remember tool sources: %w", err)
	}
	const per = 100 // rows a statement
	args := make([]any, 0, per*5)
	flush := func() error {
		if len(args) == 0 {
			return nil
		}
		n := len(args) / 5
		// OR FAIL: no statement journal (see observeTools); a failure
		// rolls the whole transaction back.
		q := `INSERT OR FAIL INTO tool_sources (server_id, source, name, hash, annotations) VALUES ` +
			strings.TrimSuffix(strings.Repeat(`(?, ?, ?, ?, ?), `, n), ", ")
		_, err := tx.ExecContext(ctx, q, args...)
		args = args[:0]
		return err
	}
	// In the order of the key, so that each row is appended to the
	// table's and its key's B-trees, not put among the rows already
	// written (a source is a digest: in a map's order, each insert would
	// touch a page of its own).
	for _, source := range slices.Sorted(maps.Keys(sources)) {
		d := sources[source]
		if p, ok := byName[d.Name]; !ok || !known(d, p) {
			continue // not settled as it reads: read it again when listed
		}
		ann := string(d.Annotations)
		if ann == "" {
			ann = "{}"
		}
		args = append(args, serverID, source, d.Name, d.Hash, ann)
		if len(args) == per*5 {
			if err := flush(); err != nil {
				return fmt.Errorf("remember tool sources: %w", err)
			}
		}
	}
	if err := flush(); err != nil {
		return fmt.Errorf("remember tool sources: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("remember tool sources: %w", err)
	}
	return nil
}

// Most sessions list a server's tools in the very bytes the last one did.
// When that answer left every tool of the server pinned as it read, it is
// kept (by its SHA-256) with the server's tool generation, which triggers
// on the tools table bump at any change or removal of a pin but its seen
// time, and a comparison that inserts tools bumps once. The
// same answer again, with the generation unchanged and still no tool
// unsettled, needs no comparison: it would find what the last one did.

// bumpGen moves a server's tool generation on.
func bumpGen(ctx context.Context, tx *sql.Tx, serverID string) error {
	if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO tool_gens (server_id, gen) VALUES (?, 0)`, serverID); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `UPDATE tool_gens SET gen = gen + 1 WHERE server_id = ?`, serverID)
	return err
}

// SettledAnswer says whether answer (the SHA-256 of a whole tools/list
// answer, hex) is the server's kept answer, with no pin changed since and
// every tool still settled.
func (r *DB) SettledAnswer(ctx context.Context, serverID, answer string) (bool, error) {
	var ok bool
	err := r.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM tool_answers a
		WHERE a.server_id = ?1 AND a.answer = ?2
		AND a.gen = IFNULL((SELECT gen FROM tool_gens WHERE server_id = ?1), 0)
		AND NOT EXISTS (SELECT 1 FROM tools WHERE server_id = ?1 AND state IN (?3, ?4, ?5)))`,
		serverID, answer, ToolNew, ToolChanged, ToolQuarantined).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("settled answer: %w", err)
	}
	return ok, nil
}

// RememberAnswer keeps answer as the server's settled answer, compared at
// generation gen (Comparison.Gen), when the generation is still gen and
// every tool of the server is settled (none new, changed or quarantined);
// otherwise it forgets the one kept.
func (r *DB) RememberAnswer(ctx context.Context, serverID, answer string, gen int64) error {
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("remember answer: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM tool_answers WHERE server_id = ?`, serverID); err != nil {
		return fmt.Errorf("remember answer: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO tool_answers (server_id, answer, gen)
		SELECT ?1, ?2, ?6
		WHERE ?6 = IFNULL((SELECT gen FROM tool_gens WHERE server_id = ?1), 0)
		AND NOT EXISTS (SELECT 1 FROM tools WHERE server_id = ?1 AND state IN (?3, ?4, ?5))`,
		serverID, answer, ToolNew, ToolChanged, ToolQuarantined, gen); err != nil {
		return fmt.Errorf("remember answer: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("remember answer: %w", err)
	}
	return nil
}

// TouchSettled records that a settled answer at now showed every tool of
// the server that is pinned (a later time already there is kept): what
// TouchTools does when the tools are not named one by one.
func (r *DB) TouchSettled(ctx context.Context, serverID string, now time.Time) error {
	if _, err := r.db.ExecContext(ctx, `UPDATE tools SET seen_at = max(seen_at, ?) WHERE server_id = ? AND state = ?`,
		fmtTime(now), serverID, ToolPinned); err != nil {
		return fmt.Errorf("touch tools: %w", err)
	}
	return nil
}
