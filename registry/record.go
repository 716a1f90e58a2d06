package registry

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Record reads one record of the chain by its seq; ErrNotFound when there
// is none.
func (r *DB) Record(ctx context.Context, seq int64) (Record, error) {
	var text, hash, sig string
	err := r.db.QueryRowContext(ctx, `SELECT body, hash, sig FROM records WHERE seq = ?`, seq).Scan(&text, &hash, &sig)
	if errors.Is(err, sql.ErrNoRows) {
		return Record{}, fmt.Errorf("record %d: %w", seq, ErrNotFound)
	}
	if err != nil {
		return Record{}, fmt.Errorf("record %d: %w", seq, err)
	}
	rec, err := decodeRecord(text)
	if err != nil {
		return Record{}, fmt.Errorf("record %d: %w", seq, err)
	}
	rec.Hash, rec.Sig = hash, sig
	return rec, nil
}
