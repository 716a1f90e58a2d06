package registry

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// The configs table holds what aim-mcp knows of each client config file, by
// path: its last write ([Install]: the backup taken before it and the hash
// of what was written), the servers the file had when it was last
// reconciled, and whether uninstall gave the file back ([ConfigState]).

// Install remembers aim-mcp's last write to a client's config: the backup
// taken just before it and the hash of what was written. When the file still
// hashes the same, uninstall can restore the backup byte for byte.
type Install struct {
	Path        string
	Client      string
	Backup      string
	WrittenHash string
	InstalledAt time.Time
}

// SaveInstall records a write to a config file.
func (r *DB) SaveInstall(ctx context.Context, in Install) error {
	_, err := r.db.ExecContext(ctx, `INSERT INTO configs (path, client, backup, written_hash, installed_at)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (path) DO UPDATE SET client = excluded.client,
		backup = excluded.backup, written_hash = excluded.written_hash, installed_at = excluded.installed_at`,
		in.Path, in.Client, in.Backup, in.WrittenHash, fmtTime(time.Now()))
	if err != nil {
		return fmt.Errorf("save install: %w", err)
	}
	return nil
}

// Install returns what was recorded for a config file.
func (r *DB) Install(ctx context.Context, path string) (Install, error) {
	var in Install
	var at string
	err := r.db.QueryRowContext(ctx, `SELECT path, client, backup, written_hash, installed_at FROM configs WHERE path = ? AND written_hash != ''`, path).
		Scan(&in.Path, &in.Client, &in.Backup, &in.WrittenHash, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return in, ErrNotFound
	}
	if err != nil {
		return in, fmt.Errorf("read install: %w", err)
	}
	in.InstalledAt = parseTime(at)
	return in, nil
}

// ForgetInstall drops the record of aim-mcp's last write to a config file
// (after uninstall); what watch knows of the file stays.
func (r *DB) ForgetInstall(ctx context.Context, path string) error {
	if _, err := r.db.ExecContext(ctx, `UPDATE configs SET backup = '', written_hash = '' WHERE path = ?`, path); err != nil {
		return fmt.Errorf("forget install: %w", err)
	}
	return nil
}

// ConfigState is what watch remembers of a config file. The registry knows
// servers per (client, name) but not which file they came from; with this, a
// server that leaves a file is marked removed even when it left while
// nothing was watching, and one that moved to another file of the same
// client is not.
type ConfigState struct {
	Client string
	// Servers are the registered names the file had when it was last
	// reconciled, sorted; nil when it never was.
	Servers []string
	// Released says "aim-mcp uninstall" gave the file back: the watcher
	// leaves it alone until "aim-mcp install" reconciles it again.
	Released bool
}

// ConfigState returns what is known of the config at path; the zero
// ConfigState when nothing is.
func (r *DB) ConfigState(ctx context.Context, path string) (ConfigState, error) {
	var st ConfigState
	var servers sql.NullString
	err := r.db.QueryRowContext(ctx, `SELECT client, servers, released FROM configs WHERE path = ?`, path).
		Scan(&st.Client, &servers, &st.Released)
	if errors.Is(err, sql.ErrNoRows) {
		return ConfigState{}, nil
	}
	if err != nil {
		return st, fmt.Errorf("read config state: %w", err)
	}
	if servers.Valid {
		if err := json.Unmarshal([]byte(servers.String), &st.Servers); err != nil {
			return st, fmt.Errorf("read config state of %q: %v", path, err)
		}
		if st.Servers == nil {
			st.Servers = []string{}
		}
	}
	return st, nil
}

// SaveConfigState records what a reconcile found in the config at path.
func (r *DB) SaveConfigState(ctx context.Context, path string, st ConfigState) error {
	servers := st.Servers
	if servers == nil {
		servers = []string{}
	}
	b, _ := json.Marshal(servers)
	_, err := r.db.ExecContext(ctx, `INSERT INTO configs (path, client, backup, written_hash, installed_at, servers, released)
		VALUES (?, ?, '', '', '', ?, ?) ON CONFLICT (path) DO UPDATE SET client = excluded.client,
		servers = excluded.servers, released = excluded.released`,
		path, st.Client, string(b), st.Released)
	if err != nil {
		return fmt.Errorf("save config state: %w", err)
	}
	return nil
}

// ReleaseConfig records that uninstall gave the config at path back to its
// client, so that a watcher, running now or started later, does not wrap it
// again. Reconciling the file (aim-mcp install) takes it back.
func (r *DB) ReleaseConfig(ctx context.Context, path, client string) error {
	_, err := r.db.ExecContext(ctx, `INSERT INTO configs (path, client, backup, written_hash, installed_at, released)
		VALUES (?, ?, '', '', '', 1) ON CONFLICT (path) DO UPDATE SET released = 1`, path, client)
	if err != nil {
		return fmt.Errorf("release config: %w", err)
	}
	return nil
}

// ServersElsewhere lists the servers that the other configs of client had
// when they were last reconciled.
func (r *DB) ServersElsewhere(ctx context.Context, client, path string) ([]string, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT servers FROM configs WHERE client = ? AND path != ? AND servers IS NOT NULL`, client, path)
	if err != nil {
		return nil, fmt.Errorf("read config states: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var text string
		var names []string
		if err := rows.Scan(&text); err != nil {
			return nil, fmt.Errorf("read config states: %w", err)
		}
		if json.Unmarshal([]byte(text), &names) == nil {
			out = append(out, names...)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read config states: %w", err)
	}
	return out, nil
}
