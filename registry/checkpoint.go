package registry

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/opena2a-org/aim-mcp/identity"
)

// A checkpoint remembers a verified prefix of the chain, so that commands
// that show the chain's state (list, trust, status) check only what was
// appended since instead of every record from the first: at a million
// records that is the difference between a blink and minutes.
//
// It holds the seq and hash of the last record verified and the servers'
// keys at that record (rotations applied), signed by the home's checkpoint
// key. A later check trusts it only when its signature verifies, the record
// at its seq still hashes to its hash (the hash links every record before
// it, so rewriting the prefix and re-chaining it shows here) and no record
// was changed in place since; it then checks the records after it with the
// keys it names, not with whatever the servers table says now. "aim-mcp
// audit verify" still reads everything from the start.

// checkpointKeyID names the checkpoint key in the key store.
const checkpointKeyID = "checkpoint"

type checkpointBody struct {
	Seq  int64             `json:"seq"`
	Hash string            `json:"hash"`
	Keys map[string]string `json:"keys"` // server id → its public key at Seq
	At   string            `json:"at"`
}

// checkpointSchema is created with the first checkpoint. Records are only
// ever inserted, so the triggers note any row changed or deleted in place
// (the sqlite3 shell fires them too): that is how a checkpoint learns of an
// edit before it without reading the records again. Someone who drops the
// triggers first is found by "aim-mcp audit verify", which trusts nothing.
var checkpointSchema = []string{
	`CREATE TABLE IF NOT EXISTS checkpoints (
		id INTEGER PRIMARY KEY CHECK (id = 1),
		body TEXT NOT NULL,
		sig TEXT NOT NULL
	)`,
	`CREATE TABLE IF NOT EXISTS record_edits (seq INTEGER NOT NULL)`,
	`CREATE TRIGGER IF NOT EXISTS records_updated AFTER UPDATE ON records
		BEGIN INSERT INTO record_edits (seq) VALUES (OLD.seq); END`,
	`CREATE TRIGGER IF NOT EXISTS records_deleted AFTER DELETE ON records
		BEGIN INSERT INTO record_edits (seq) VALUES (OLD.seq); END`,
}

// saveCheckpoint remembers that the chain is intact up to seq, verified with
// keys, and forgets the in-place edits noted up to row answered (a check
// from the first record found them harmless). It is best effort: without a
// checkpoint the next check starts from the first record, which is slower,
// never wrong.
func (r *DB) saveCheckpoint(ctx context.Context, seq int64, keys map[string][]byte, answered int64) error {
	var hash string
	if err := r.db.QueryRowContext(ctx, `SELECT hash FROM records WHERE seq = ?`, seq).Scan(&hash); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	key, err := r.checkpointKey(true)
	if err != nil {
		return err
	}
	cp := checkpointBody{Seq: seq, Hash: hash, Keys: map[string]string{}, At: fmtTime(time.Now())}
	for id, pub := range keys {
		cp.Keys[id] = base64.StdEncoding.EncodeToString(pub)
	}
	text, err := marshal(cp) // map keys sorted: canonical
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	sum := sha256.Sum256(text)
	sig := base64.StdEncoding.EncodeToString(key.Sign(sum[:]))
	for _, q := range checkpointSchema {
		if _, err := r.db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
	}
	if _, err := r.db.ExecContext(ctx, `INSERT OR REPLACE INTO checkpoints (id, body, sig) VALUES (1, ?, ?)`, string(text), sig); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if answered > 0 {
		if _, err := r.db.ExecContext(ctx, `DELETE FROM record_edits WHERE rowid <= ?`, answered); err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
	}
	return nil
}

// checkpointKey loads the home's checkpoint key, creating it when asked.
func (r *DB) checkpointKey(create bool) (*identity.Key, error) {
	key, err := r.keys.LoadFile(checkpointKeyID)
	if err == nil || !create || r.keys.Exists(checkpointKeyID) {
		return key, err
	}
	if key, err = identity.Generate(); err != nil {
		return nil, err
	}
	if err := r.keys.Save(checkpointKeyID, key); err != nil {
		return nil, err
	}
	return key, nil
}

// errNoCheckpoint: no usable checkpoint; verify from the start.
var errNoCheckpoint = errors.New("no checkpoint")

// checkpoint returns the latest checkpoint after checking that it can be
// trusted. It returns the reason it cannot when it is there but must not be
// trusted, and errNoCheckpoint when there is none.
func (r *DB) checkpoint(ctx context.Context) (cp checkpointBody, distrust string, err error) {
	var text, sig string
	err = r.db.QueryRowContext(ctx, `SELECT body, sig FROM checkpoints WHERE id = 1`).Scan(&text, &sig)
	if err != nil {
		return cp, "", errNoCheckpoint // no table or no row
	}
	key, err := r.checkpointKey(false)
	if err != nil {
		return cp, "the checkpoint key is missing or unreadable", nil
	}
	sum := sha256.Sum256([]byte(text))
	raw, err := base64.StdEncoding.DecodeString(sig)
	if err != nil || !identity.Verify(key.Public(), sum[:], raw) {
		return cp, "the checkpoint's signature does not verify: it was edited", nil
	}
	if err := json.Unmarshal([]byte(text), &cp); err != nil {
		return cp, "the checkpoint is not valid JSON", nil
	}
	// Any edit noted, even after its seq: the records after it are
	// checked next, and a checkpoint that moved past the edit must not
	// forget it.
	if why := r.anchored(ctx, cp.Seq, cp.Hash, false); why != "" {
		return cp, why, nil
	}
	return cp, "", nil
}

// VerifySince checks the chain the fast way: from the last checkpoint on,
// and moves the checkpoint to the new head when that part is intact. With
// no checkpoint, or one that cannot be trusted (Distrust says why), it
// checks from the start as Verify does, and leaves a new checkpoint when
// the chain is intact: the answer is always Verify's, only sooner.
func (r *DB) VerifySince(ctx context.Context) (Verification, error) {
	cp, distrust, err := r.checkpoint(ctx)
	if errors.Is(err, errNoCheckpoint) {
		cp, err = checkpointBody{}, nil
	}
	// The registered keys are read only when the check starts at the
	// checkpoint: Verify reads its own, and ten thousand servers are ten
	// thousand rows.
	var keys map[string][]byte
	if err == nil && distrust == "" && cp.Seq > 0 {
		if keys, err = r.publicKeys(ctx); err == nil {
			// Registered keys for servers new since; each server's first
			// key after the checkpoint when it rotated since; the
			// checkpoint's own keys for the servers it knew.
			err = r.firstKeysAfter(ctx, cp.Seq, keys)
			for id, pk := range cp.Keys {
				pub, perr := identity.ParsePublicKey(pk)
				if perr != nil {
					distrust = "the checkpoint names a key that is not one"
					break
				}
				keys[id] = pub
			}
		}
	}
	if err != nil {
		return Verification{}, err
	}
	if distrust != "" || cp.Seq == 0 {
		v, err := r.Verify(ctx, "")
		v.Distrust = distrust
		return v, err
	}
	v, err := r.verifyAfter(ctx, cp.Seq, cp.Hash, "", keys)
	if err == nil && v.OK() && v.Head > cp.Seq {
		r.saveCheckpoint(ctx, v.Head, keys, 0)
	}
	return v, err
}
