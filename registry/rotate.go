package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/opena2a-org/aim-mcp/identity"
)

// KindKeyRotated is the record of a server's new key: signed by the old
// key, it names the new one, so that audit verify follows the server from
// one key to the next and the chain stays one.
const KindKeyRotated = "key_rotated"

// KeyRotation is the data of a key_rotated record.
type KeyRotation struct {
	OldPublicKey string `json:"old_public_key"`
	NewPublicKey string `json:"new_public_key"`
	Reason       string `json:"reason,omitempty"`
}

// nextKey is the name under which a new key waits until its rotation is
// recorded.
func nextKey(id string) string { return id + ".next" }

// RotateKey gives server s a new key: the new key is saved beside the old
// one, a key_rotated record signed by the old key and naming the new one
// is appended, the server's public key becomes the new one, and only then
// does the new key file replace the old. A rotation interrupted before
// the record leaves the old key in use; one interrupted after it is
// finished by the next RotateKey. A proxy that runs meanwhile goes on: its
// records are signed when they move into the chain, with the key the
// server has then (see DB.currentKey).
func (r *DB) RotateKey(ctx context.Context, s Server, reason string) (Server, error) {
	old, err := r.keys.LoadFile(s.ID)
	if err != nil {
		return Server{}, fmt.Errorf("rotate the key of %q: %w", s.Name, err)
	}
	if old.PublicString() != s.PublicKey {
		// The record was written, the swap of files was not: finish it.
		next, nerr := r.keys.LoadFile(nextKey(s.ID))
		if nerr != nil || next.PublicString() != s.PublicKey {
			return Server{}, fmt.Errorf("rotate the key of %q: the key file %q is not the server's registered key", s.Name, r.keys.Path(s.ID))
		}
		if err := r.keys.Replace(nextKey(s.ID), s.ID); err != nil {
			return Server{}, fmt.Errorf("rotate the key of %q: %w", s.Name, err)
		}
		return s, nil
	}
	next, err := identity.Generate()
	if err != nil {
		return Server{}, err
	}
	if err := r.keys.Remove(nextKey(s.ID)); err != nil { // left by a rotation that never got recorded
		return Server{}, err
	}
	if err := r.keys.Save(nextKey(s.ID), next); err != nil {
		return Server{}, fmt.Errorf("rotate the key of %q: %w", s.Name, err)
	}
	rot := KeyRotation{OldPublicKey: s.PublicKey, NewPublicKey: next.PublicString(), Reason: reason}
	data, err := marshal(rot)
	if err != nil {
		return Server{}, err
	}
	now := time.Now()
	// The record and the server's new public key in one transaction: a
	// session that moves its records into the chain reads the key in its
	// own transaction, so it signs with the old key before the record and
	// with the new one after it, never across.
	err = r.writeTx(ctx, false, func(a *appender) error {
		if _, err := a.chain(ctx, old, []body{{Time: fmtTime(now), ServerID: s.ID, Server: s.Name, Client: s.Client,
			Kind: KindKeyRotated, Data: data}}); err != nil {
			return err
		}
		_, err := a.conn.ExecContext(ctx, `UPDATE servers SET public_key = ?, updated_at = ? WHERE id = ?`,
			rot.NewPublicKey, fmtTime(now), s.ID)
		return err
	})
	if err != nil {
		r.keys.Remove(nextKey(s.ID))
		return Server{}, fmt.Errorf("rotate the key of %q: %w", s.Name, err)
	}
	if err := r.keys.Replace(nextKey(s.ID), s.ID); err != nil {
		return Server{}, fmt.Errorf("rotate the key of %q: the rotation is recorded, but: %w", s.Name, err)
	}
	s.PublicKey, s.UpdatedAt = rot.NewPublicKey, now
	return s, nil
}

// rotatedTo is the new key a key_rotated record names.
func rotatedTo(data json.RawMessage) ([]byte, error) {
	var rot KeyRotation
	if err := json.Unmarshal(data, &rot); err != nil {
		return nil, errors.New("a key_rotated record whose data is not a rotation")
	}
	pub, err := identity.ParsePublicKey(rot.NewPublicKey)
	if err != nil {
		return nil, fmt.Errorf("a key_rotated record names no valid new key: %v", err)
	}
	return pub, nil
}
