package registry

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/opena2a-org/aim-mcp/identity"
	"github.com/opena2a-org/aim-mcp/witness"
)

// The chain on its own cannot prove that it was not shortened or re-signed
// by someone who can write aim.db, and a wrapped server running as the
// user can. So every commit hands the new head to a Witness (the system
// log, through witness.Publisher), and CheckWitness compares the chain
// with heads read back from there.

// Witness is told the chain's head after each commit of records. Publish
// runs with the append lock held: it must return at once.
type Witness interface {
	Publish(witness.Head)
}

// stagedHead is what a write transaction appended, published only once it
// commits.
type stagedHead struct {
	seq  int64
	hash string
	keys map[string]Signer // server id → the key its records were signed with
}

func (s *stagedHead) note(seq int64, hash, serverID string, key Signer) {
	s.seq, s.hash = seq, hash
	if s.keys == nil {
		s.keys = map[string]Signer{}
	}
	s.keys[serverID] = key
}

// witnessCommit publishes the head a committed transaction left; appendMu
// is held.
func (r *DB) witnessCommit(a *appender) {
	st := a.staged
	a.staged = stagedHead{}
	if r.witness == nil || st.seq == 0 {
		return
	}
	for id, key := range st.keys {
		if k, ok := key.(interface{ Public() ed25519.PublicKey }); ok {
			r.signed[id] = identity.Fingerprint(k.Public())
		}
	}
	h := witness.Head{Home: r.homeID, Seq: st.seq, Hash: st.hash}
	seen := map[string]bool{}
	for _, fp := range r.signed {
		if !seen[fp] {
			seen[fp] = true
			h.Keys = append(h.Keys, fp)
		}
	}
	sort.Strings(h.Keys)
	r.witness.Publish(h)
}

// HomeID is the name of this registry's home in witness lines.
func (r *DB) HomeID() string { return r.homeID }

// Witness problem kinds.
const (
	WitnessMissingTail = "missing_tail" // the chain ends before a witnessed record
	WitnessRewritten   = "rewritten"    // a witnessed record's hash changed
	WitnessKeyChanged  = "key_changed"  // a witnessed key is no key of the chain
)

// WitnessProblem is a way the chain differs from a witnessed head.
type WitnessProblem struct {
	Kind   string
	Seq    int64  // the witnessed record
	Key    string // the witnessed key's fingerprint (WitnessKeyChanged)
	Reason string
}

// CheckWitness compares the chain with heads witnessed for this home (see
// witness.Collector): every witnessed record must still be in the chain
// with the hash it had, and every key a witness names must be one the
// chain says a server signed with up to that record (its first key, or a
// key a key_rotated record named). It returns every problem found, none
// when the chain holds all it was witnessed to hold. Heads of other homes
// are ignored.
func (r *DB) CheckWitness(ctx context.Context, heads []witness.Head) ([]WitnessProblem, error) {
	end, err := r.LastSeq(ctx)
	if err != nil {
		return nil, err
	}
	var out []WitnessProblem
	short := int64(0) // the newest witnessed seq past the chain's end
	for _, h := range heads {
		if h.Home != r.homeID {
			continue
		}
		if h.Seq > end {
			if h.Seq > short {
				short = h.Seq
			}
			continue
		}
		var hash string
		err := r.db.QueryRowContext(ctx, `SELECT hash FROM records WHERE seq = ?`, h.Seq).Scan(&hash)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			out = append(out, WitnessProblem{Kind: WitnessRewritten, Seq: h.Seq,
				Reason: fmt.Sprintf("record %d was witnessed, and is gone from the chain", h.Seq)})
			continue
		case err != nil:
			return nil, fmt.Errorf("check the witness: %w", err)
		case hash != h.Hash:
			out = append(out, WitnessProblem{Kind: WitnessRewritten, Seq: h.Seq, Reason: fmt.Sprintf(
				"record %d has hash %.16s…, the witness saw %.16s…: it or a record before it was rewritten", h.Seq, hash, h.Hash)})
		}
		if len(h.Keys) == 0 {
			continue
		}
		known, err := r.keysUpTo(ctx, h.Seq)
		if err != nil {
			return nil, err
		}
		for _, fp := range h.Keys {
			if !known[fp] {
				out = append(out, WitnessProblem{Kind: WitnessKeyChanged, Seq: h.Seq, Key: fp, Reason: fmt.Sprintf(
					"key %s signed the chain up to record %d (witnessed), but no server of the chain has it, and no key_rotated record names it: a server's key was replaced",
					fp, h.Seq)})
			}
		}
	}
	if short > 0 {
		reason := fmt.Sprintf("record %d was witnessed, but the chain ends at record %d: records %d to %d were deleted", short, end, end+1, short)
		if end == 0 {
			reason = fmt.Sprintf("record %d was witnessed, but the chain is empty: every record was deleted", short)
		}
		out = append([]WitnessProblem{{Kind: WitnessMissingTail, Seq: short, Reason: reason}}, out...)
	}
	return out, nil
}

// keysUpTo is the fingerprints of every key the chain says signed records
// up to seq: each server's first key (as Verify finds it) and the new key of
// every key_rotated record up to seq.
func (r *DB) keysUpTo(ctx context.Context, seq int64) (map[string]bool, error) {
	keys, err := r.publicKeys(ctx)
	if err != nil {
		return nil, err
	}
	if err := r.firstKeysAfter(ctx, 0, keys); err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, pub := range keys {
		out[identity.Fingerprint(pub)] = true
	}
	rows, err := r.db.QueryContext(ctx, `SELECT body FROM records WHERE seq <= ? AND kind = ?`, seq, KindKeyRotated)
	if err != nil {
		return nil, fmt.Errorf("check the witness: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var text string
		if err := rows.Scan(&text); err != nil {
			return nil, fmt.Errorf("check the witness: %w", err)
		}
		var b body
		if json.Unmarshal([]byte(text), &b) != nil {
			continue // verify names the bad record
		}
		if pub, err := rotatedTo(b.Data); err == nil {
			out[identity.Fingerprint(pub)] = true
		}
	}
	return out, rows.Err()
}

// HashAt is the hash of record seq, as a report names the head it was
// made from; ErrNotFound when there is no such record.
func (r *DB) HashAt(ctx context.Context, seq int64) (string, error) {
	var hash string
	err := r.db.QueryRowContext(ctx, `SELECT hash FROM records WHERE seq = ?`, seq).Scan(&hash)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("record %d: %w", seq, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("record %d: %w", seq, err)
	}
	return hash, nil
}
