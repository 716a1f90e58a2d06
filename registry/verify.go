package registry

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"runtime"
	"sync"

	"github.com/opena2a-org/aim-mcp/identity"
)

// Verification is the result of checking the chain.
type Verification struct {
	Records int    // records checked
	Servers int    // distinct servers whose signatures were checked
	BadSeq  int64  // the first bad record's seq (its row), 0 when intact
	Reason  string // why it is bad
	// From is the checkpoint the check started after: records up to it
	// were verified before and not read again. 0 when checked from the
	// start.
	From int64
	Head int64 // the last record checked, 0 for an empty chain
	// Distrust is why VerifySince did not start at the last checkpoint
	// (it was edited, a key changed, the prefix was rewritten); empty when
	// it did or there was none.
	Distrust string
}

// OK reports whether the chain is intact.
func (v Verification) OK() bool { return v.BadSeq == 0 }

// Verify recomputes every hash, link and signature from the first record,
// and stops at the first bad record. Links are checked across the whole
// chain (it is one chain for all servers); when serverID is set only that
// server's records are counted and have their signatures checked. A whole
// chain found intact is remembered as a checkpoint (see VerifySince).
func (r *DB) Verify(ctx context.Context, serverID string) (Verification, error) {
	// An empty chain has nothing to check (what verifyAfter would answer
	// after reading every registered key for nothing).
	var last sql.NullInt64
	if err := r.db.QueryRowContext(ctx, `SELECT max(seq) FROM records`).Scan(&last); err == nil && !last.Valid {
		return Verification{}, nil
	}
	keys, err := r.publicKeys(ctx)
	if err != nil {
		return Verification{}, err
	}
	// A server whose key was rotated signed its first records with the
	// old key of its first rotation; each rotation then names the next.
	if err := r.firstKeysAfter(ctx, 0, keys); err != nil {
		return Verification{}, err
	}
	// Edits noted before this check are answered by it when it passes.
	var edits sql.NullInt64
	r.db.QueryRowContext(ctx, `SELECT max(rowid) FROM record_edits`).Scan(&edits)
	v, err := r.verifyAfter(ctx, 0, "", serverID, keys)
	if err == nil && v.OK() && serverID == "" && v.Head > 0 {
		r.saveCheckpoint(ctx, v.Head, keys, edits.Int64)
	}
	return v, err
}

// publicKeys returns the registered public keys by server id.
func (r *DB) publicKeys(ctx context.Context) (map[string][]byte, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT id, public_key FROM servers`)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	defer rows.Close()
	keys := map[string][]byte{}
	for rows.Next() {
		var id, pk string
		if err := rows.Scan(&id, &pk); err != nil {
			return nil, fmt.Errorf("verify: %w", err)
		}
		if pub, err := identity.ParsePublicKey(pk); err == nil {
			keys[id] = pub
		}
	}
	return keys, rows.Err()
}

// firstKeysAfter sets, for each server with a rotation after seq from, the
// key it had at from: the old key of its first key_rotated record after it.
// Only records after from are read (seq is the rowid).
func (r *DB) firstKeysAfter(ctx context.Context, from int64, keys map[string][]byte) error {
	rows, err := r.db.QueryContext(ctx, `SELECT server_id, body FROM records WHERE seq > ? AND kind = ? ORDER BY seq`, from, KindKeyRotated)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	defer rows.Close()
	done := map[string]bool{}
	for rows.Next() {
		var id, text string
		if err := rows.Scan(&id, &text); err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		if done[id] {
			continue
		}
		done[id] = true
		var b body
		var rot KeyRotation
		if json.Unmarshal([]byte(text), &b) != nil || json.Unmarshal(b.Data, &rot) != nil {
			continue // the main pass names the bad record
		}
		if pub, err := identity.ParsePublicKey(rot.OldPublicKey); err == nil {
			keys[id] = pub
		}
	}
	return rows.Err()
}

// verifyRow is one record as stored, with the hash of the row before it
// and the key its signature must verify with (nil: none registered).
type verifyRow struct {
	seq                                                           int64
	time, serverID, server, kind, tool, decision, body, hash, sig string
	prevHash                                                      string
	pub                                                           []byte
}

// verifyBatch is how many rows a worker checks at a time.
const verifyBatch = 512

// verifyAfter checks the records after seq from (whose hash is fromHash),
// reading rows in order on one connection and checking bodies, hashes and
// signatures on every core. keys are the servers' keys at from; it leaves
// them as they are at the last record checked (rotations applied).
func (r *DB) verifyAfter(ctx context.Context, from int64, fromHash, serverID string, keys map[string][]byte) (Verification, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT seq, time, server_id, server, kind, tool, decision, body, hash, sig
		FROM records WHERE seq > ? ORDER BY seq`, from)
	if err != nil {
		return Verification{}, fmt.Errorf("verify: %w", err)
	}
	defer rows.Close()

	v := Verification{From: from, Head: from}
	var (
		mu      sync.Mutex
		bad     = verifyFailure{}
		counted int
		seen    = map[string]bool{}
	)
	fail := func(f verifyFailure) {
		mu.Lock()
		if bad.seq == 0 || f.seq < bad.seq {
			bad = f
		}
		mu.Unlock()
	}
	failed := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return bad.seq != 0
	}
	work := make(chan []verifyRow, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := map[string]bool{}
			n := 0
			for batch := range work {
				for i := range batch {
					c := &batch[i]
					if f, ok := checkRow(c, serverID); !ok {
						fail(f)
						break
					}
					if serverID == "" || serverID == c.serverID {
						n++
						local[c.serverID] = true
					}
				}
			}
			mu.Lock()
			counted += n
			for id := range local {
				seen[id] = true
			}
			mu.Unlock()
		}()
	}

	prevSeq, prevHash := from, fromHash
	batch := make([]verifyRow, 0, verifyBatch)
	// unsigned is each server's first record since its last signed one:
	// a later signed record of the same server vouches for it (see
	// appender.chain); one left at the end is vouched for by none.
	unsigned := map[string]int64{}
	var scanErr error
	for rows.Next() {
		var c verifyRow
		if scanErr = rows.Scan(&c.seq, &c.time, &c.serverID, &c.server, &c.kind, &c.tool, &c.decision, &c.body, &c.hash, &c.sig); scanErr != nil {
			break
		}
		if c.seq != prevSeq+1 {
			// A gap is found here, in order; what workers still check
			// before it may fail earlier.
			reason := fmt.Sprintf("record %d follows record %d: records in between were deleted", c.seq, prevSeq)
			if prevSeq == 0 {
				reason = fmt.Sprintf("the chain starts at record %d: records before it were deleted", c.seq)
			}
			fail(verifyFailure{c.seq, reason})
			if len(batch) > 0 { // the rows before the gap are checked still
				work <- batch
				batch = nil
			}
			break
		}
		c.prevHash, c.pub = prevHash, keys[c.serverID]
		if c.kind == KindKeyRotated {
			// Signed by the old key; the server's next records by the new.
			// A body that disagrees with this column fails in checkRow.
			var b body
			if json.Unmarshal([]byte(c.body), &b) == nil {
				if pub, err := rotatedTo(b.Data); err == nil {
					keys[c.serverID] = pub
				}
			}
		}
		if c.sig == "" {
			if _, ok := unsigned[c.serverID]; !ok {
				unsigned[c.serverID] = c.seq
			}
		} else {
			delete(unsigned, c.serverID)
		}
		prevSeq, prevHash = c.seq, c.hash
		batch = append(batch, c)
		if len(batch) == verifyBatch {
			if failed() {
				break
			}
			work <- batch
			batch = make([]verifyRow, 0, verifyBatch)
		}
	}
	if len(batch) > 0 {
		work <- batch
	}
	close(work)
	wg.Wait()
	if scanErr == nil {
		scanErr = rows.Err()
	}
	if scanErr != nil {
		return v, fmt.Errorf("verify: %w", scanErr)
	}
	for id, seq := range unsigned {
		// Only a chain read to its end says no signature follows.
		if bad.seq == 0 && (serverID == "" || serverID == id) {
			fail(verifyFailure{seq, "no signature covers this record: its server signed no record after it (the signed record that ended its batch was removed, or its signature was)"})
		}
	}
	if bad.seq != 0 {
		// Counts stop at the first bad record, as a reader in order would.
		return r.countBefore(ctx, v, from, bad, serverID)
	}
	v.Records, v.Servers, v.Head = counted, len(seen), prevSeq
	return v, nil
}

// countBefore fills v for a chain that fails at bad: the records and
// servers checked are those before it.
func (r *DB) countBefore(ctx context.Context, v Verification, from int64, bad verifyFailure, serverID string) (Verification, error) {
	q, args := `SELECT count(*), count(DISTINCT server_id) FROM records WHERE seq > ? AND seq < ?`, []any{from, bad.seq}
	if serverID != "" {
		q += ` AND server_id = ?`
		args = append(args, serverID)
	}
	if err := r.db.QueryRowContext(ctx, q, args...).Scan(&v.Records, &v.Servers); err != nil {
		return v, fmt.Errorf("verify: %w", err)
	}
	v.BadSeq, v.Reason, v.Head = bad.seq, bad.reason, bad.seq-1
	return v, nil
}

type verifyFailure struct {
	seq    int64
	reason string
}

// checkRow checks one record's body, hash, link and (when it is one the
// caller checks) signature.
func checkRow(c *verifyRow, serverID string) (verifyFailure, bool) {
	bad := func(format string, a ...any) (verifyFailure, bool) {
		return verifyFailure{c.seq, fmt.Sprintf(format, a...)}, false
	}
	// Only the fields compared here are decoded: the data is skipped,
	// not copied (a key rotation's is read below).
	var b struct {
		Seq      int64  `json:"seq"`
		Prev     string `json:"prev"`
		Time     string `json:"time"`
		ServerID string `json:"server_id"`
		Server   string `json:"server"`
		Kind     string `json:"kind"`
		Tool     string `json:"tool"`
		Decision string `json:"decision"`
	}
	if err := json.Unmarshal([]byte(c.body), &b); err != nil {
		return bad("the body is not valid JSON: %v", err)
	}
	if b.Seq != c.seq {
		return bad("the body says seq %d: rows were reordered", b.Seq)
	}
	if b.Prev != c.prevHash {
		return bad("the link to the previous record is broken: the previous record was changed or the rows were reordered")
	}
	sum := sha256.Sum256([]byte(c.body))
	var hexSum [2 * sha256.Size]byte // compared in place: no string per record
	hex.Encode(hexSum[:], sum[:])
	if string(hexSum[:]) != c.hash {
		return bad("the hash does not match the body: the record was edited")
	}
	if b.Time != c.time || b.ServerID != c.serverID || b.Server != c.server || b.Kind != c.kind ||
		b.Tool != c.tool || b.Decision != c.decision {
		return bad("an indexed column differs from the signed body: the row was edited")
	}
	if (serverID == "" || serverID == c.serverID) && c.sig != "" {
		if c.pub == nil {
			return bad("no public key is registered for server id %q", c.serverID)
		}
		var buf [ed25519.SignatureSize + 2]byte
		sig, err := decodeSig(buf[:], c.sig)
		if err != nil || !identity.Verify(c.pub, sum[:], sig) {
			return bad("the signature does not verify with the key of server %q", c.server)
		}
	}
	if c.kind == KindKeyRotated {
		var full body
		json.Unmarshal([]byte(c.body), &full)
		if _, err := rotatedTo(full.Data); err != nil {
			return bad("%v", err)
		}
	}
	return verifyFailure{}, true
}

// decodeSig decodes a record's base64 signature as
// base64.StdEncoding.DecodeString does, into buf when it fits (a valid
// signature always does): verification allocates nothing for it.
func decodeSig(buf []byte, text string) ([]byte, error) {
	if base64.StdEncoding.DecodedLen(len(text)) > len(buf) {
		return base64.StdEncoding.DecodeString(text)
	}
	n, err := base64.StdEncoding.Decode(buf, []byte(text))
	return buf[:n], err
}
