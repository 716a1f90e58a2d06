package registry

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/opena2a-org/aim-mcp/internal/canon"
	"github.com/opena2a-org/aim-mcp/internal/private"
)

// The full arguments of a pending approval, secrets and all, are what the
// person approving may reveal: the approval binds their digest, while the
// row keeps them only with secrets masked. They live in a file of their own,
// <home>/pending/<id>.json, private to the user, and only while the approval
// waits: deciding, cancelling or expiring it removes the file, and every
// registry that opens for writing sweeps what is left of answered ones.

// ErrArgsGone is returned when the full arguments of an approval are no
// longer kept: it was answered, cancelled or expired, or they were never
// written.
var ErrArgsGone = errors.New("its full arguments are no longer kept")

// ErrArgsTampered is returned when the kept arguments do not match the digest
// the approval binds.
var ErrArgsTampered = errors.New("the kept arguments do not match the digest the approval binds")

// PendingDir is where the full arguments of pending approvals are kept.
func (r *DB) PendingDir() string { return filepath.Join(filepath.Dir(r.path), "pending") }

// argsFile is the file of approval id, or "" for an id that is not one
// (ids are made by shortID: letters and digits only).
func (r *DB) argsFile(id string) string {
	if id == "" || strings.IndexFunc(id, func(c rune) bool {
		return !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9')
	}) >= 0 {
		return ""
	}
	return filepath.Join(r.PendingDir(), id+".json")
}

// KeepArgs keeps args, the exact arguments of the call that pending
// approval a is about, until a is decided. A file already kept for a (the
// same call made again) is left as it is.
func (r *DB) KeepArgs(a Approval, args []byte) error {
	if err := r.writeArgs(a.ID, args); err != nil {
		return err
	}
	// Answered while the file was written: the answer's removal came
	// first, so this one is due now.
	var status string
	if err := r.db.QueryRow(`SELECT status FROM approvals WHERE id = ?`, a.ID).Scan(&status); err != nil || status != ApprovalPending {
		r.dropArgs(a.ID)
	}
	return nil
}

// writeArgs writes the file of approval id, unless there is one already.
func (r *DB) writeArgs(id string, args []byte) error {
	path := r.argsFile(id)
	if path == "" {
		return fmt.Errorf("keep arguments of approval %q: not an approval id", id)
	}
	if _, err := os.Lstat(path); err == nil {
		return nil
	}
	if err := private.MkdirAll(r.PendingDir()); err != nil {
		return fmt.Errorf("keep arguments of approval %s: %w", id, err)
	}
	tmp := filepath.Join(r.PendingDir(), "."+id+"."+shortID()+".tmp")
	if err := writePrivate(tmp, args); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("keep arguments of approval %s: %w", id, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("keep arguments of approval %s: %w", id, err)
	}
	return nil
}

func writePrivate(path string, data []byte) error {
	f, err := private.Create(path)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// PendingArgs returns approval id and the full arguments kept for it. They
// are given only while the approval is pending (else an error wrapping
// ErrArgsGone) and only when their digest is the one the approval binds
// (else ErrArgsTampered).
func (r *DB) PendingArgs(ctx context.Context, id string) (Approval, []byte, error) {
	a, err := r.Approval(ctx, id)
	if err != nil {
		return a, nil, err
	}
	if a.Status != ApprovalPending {
		r.dropArgs(a.ID)
		return a, nil, fmt.Errorf("approval %s is %s: %w", a.ID, a.Status, ErrArgsGone)
	}
	data, err := os.ReadFile(r.argsFile(a.ID))
	if errors.Is(err, fs.ErrNotExist) {
		return a, nil, fmt.Errorf("approval %s: %w", a.ID, ErrArgsGone)
	}
	if err != nil {
		return a, nil, fmt.Errorf("read arguments of approval %s: %w", a.ID, err)
	}
	if !bound(data, a.ArgsDigest) {
		return a, nil, fmt.Errorf("approval %s: %w", a.ID, ErrArgsTampered)
	}
	return a, data, nil
}

// bound reports whether data are arguments that digest binds: by their
// canonical form, or by the bytes themselves (the proxy's digest of
// arguments it could not parse).
func bound(data []byte, digest string) bool {
	if d, err := canon.Digest(data); err == nil && d == digest {
		return true
	}
	return canon.Sum(data) == digest
}

// dropArgs removes the full arguments kept for approval id, if any.
func (r *DB) dropArgs(id string) {
	if path := r.argsFile(id); path != "" {
		os.Remove(path)
	}
}

// SweepArgs removes the kept arguments of every approval that no longer
// waits (answered, cancelled, expired or unknown), and temporary files that
// a writer left behind.
func (r *DB) SweepArgs(ctx context.Context) error {
	entries, err := os.ReadDir(r.PendingDir())
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sweep pending arguments: %w", err)
	}
	now := time.Now()
	for _, e := range entries {
		name := e.Name()
		id, ok := strings.CutSuffix(name, ".json")
		if !ok || r.argsFile(id) == "" {
			// A writer's temporary file: give a live one time to finish.
			if info, err := e.Info(); err == nil && now.Sub(info.ModTime()) > time.Minute {
				os.Remove(filepath.Join(r.PendingDir(), name))
			}
			continue
		}
		var status, expires string
		err := r.db.QueryRowContext(ctx, `SELECT status, expires_at FROM approvals WHERE id = ?`, id).Scan(&status, &expires)
		switch {
		case err == nil && status == ApprovalPending && !now.After(parseTime(expires)):
			continue
		case err != nil && !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("sweep pending arguments: %w", err)
		}
		os.Remove(filepath.Join(r.PendingDir(), name))
	}
	return nil
}
