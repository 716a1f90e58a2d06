package registry

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

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
	_, err := r.db.ExecContext(ctx, `INSERT INTO installs (path, client, backup, written_hash, installed_at)
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
	err := r.db.QueryRowContext(ctx, `SELECT path, client, backup, written_hash, installed_at FROM installs WHERE path = ?`, path).
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

// ForgetInstall drops the record of a config file (after uninstall).
func (r *DB) ForgetInstall(ctx context.Context, path string) error {
	if _, err := r.db.ExecContext(ctx, `DELETE FROM installs WHERE path = ?`, path); err != nil {
		return fmt.Errorf("forget install: %w", err)
	}
	return nil
}
