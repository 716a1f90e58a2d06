package registry

import (
	"cmp"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"slices"
	"strings"
	"time"

	"github.com/opena2a-org/aim-mcp/identity"
)

// Tallies are what the records up to a seq add up to, kept so that a
// score over a million records reads the sums of the days in its window
// and the records appended since, not the million. The registry does not
// know what is counted: each row is an opaque blob for one server and one
// key (the trust package keys them by UTC day); it keeps them honest.
//
// The rows are signed the way a checkpoint is: a body {seq, hash, digest,
// at} signed by the home's checkpoint key, where hash is the hash of the
// record at seq (the prefix cannot be rewritten under it) and digest the
// SHA-256 of every row in order (a row edited, added or deleted shows). A
// row changed in place before seq is noted by the checkpoint's triggers.
// When any of that fails the tallies are not used: the caller counts again
// from the first record, slower and never wrong.
//
// Tallies move on their own mark, not the checkpoint's: "aim-mcp audit
// verify" moves the checkpoint without counting anything, and that must not
// throw away what was counted.

// TallyRow is one server's tally under one key.
type TallyRow struct {
	ServerID string
	Key      string
	Data     []byte
}

// Tallies are the rows saved with the seq of the last record they count.
type Tallies struct {
	// Seq is the last record counted; 0 when there are no tallies to use.
	Seq  int64
	Rows []TallyRow // sorted by server id, then key
	// Distrust says why saved tallies were not used (edited, or a record
	// before Seq was); empty when they were, or there were none.
	Distrust string
}

type tallyBody struct {
	Seq    int64  `json:"seq"`
	Hash   string `json:"hash"`
	Digest string `json:"digest"`
	At     string `json:"at"`
}

var tallySchema = []string{
	`CREATE TABLE IF NOT EXISTS tallies (
		server_id TEXT NOT NULL,
		key TEXT NOT NULL,
		data BLOB NOT NULL,
		PRIMARY KEY (server_id, key)
	)`,
	`CREATE TABLE IF NOT EXISTS tally_mark (
		id INTEGER PRIMARY KEY CHECK (id = 1),
		body TEXT NOT NULL,
		sig TEXT NOT NULL
	)`,
}

// tallyDigest adds one row to a digest of the rows: lengths first, so no
// two sets of rows run together into the same bytes.
func tallyDigest(h hash.Hash, row TallyRow) {
	var n [8]byte
	for _, part := range [][]byte{[]byte(row.ServerID), []byte(row.Key), row.Data} {
		binary.BigEndian.PutUint64(n[:], uint64(len(part)))
		h.Write(n[:])
		h.Write(part)
	}
}

// Tallies returns the saved tallies after checking that they can be
// trusted; without any, or with ones that cannot be, Seq is 0 and there
// are no rows (Distrust says why for the latter).
func (r *DB) Tallies(ctx context.Context) (Tallies, error) {
	var text, sig string
	if err := r.db.QueryRowContext(ctx, `SELECT body, sig FROM tally_mark WHERE id = 1`).Scan(&text, &sig); err != nil {
		return Tallies{}, nil // no table or no row: nothing counted yet
	}
	distrust := func(why string) (Tallies, error) { return Tallies{Distrust: "the saved tallies " + why}, nil }
	key, err := r.checkpointKey(false)
	if err != nil {
		return distrust("cannot be checked: the checkpoint key is missing or unreadable")
	}
	sum := sha256.Sum256([]byte(text))
	raw, err := base64.StdEncoding.DecodeString(sig)
	if err != nil || !identity.Verify(key.Public(), sum[:], raw) {
		return distrust("have a signature that does not verify: they were edited")
	}
	var tb tallyBody
	if err := json.Unmarshal([]byte(text), &tb); err != nil {
		return distrust("are not valid JSON")
	}
	if why := r.anchored(ctx, tb.Seq, tb.Hash, true); why != "" {
		return distrust("no longer hold: " + why)
	}
	rows, err := r.db.QueryContext(ctx, `SELECT server_id, key, data FROM tallies ORDER BY server_id, key`)
	if err != nil {
		return Tallies{}, fmt.Errorf("tallies: %w", err)
	}
	defer rows.Close()
	t := Tallies{Seq: tb.Seq}
	h := sha256.New()
	for rows.Next() {
		var row TallyRow
		if err := rows.Scan(&row.ServerID, &row.Key, &row.Data); err != nil {
			return Tallies{}, fmt.Errorf("tallies: %w", err)
		}
		tallyDigest(h, row)
		t.Rows = append(t.Rows, row)
	}
	if err := rows.Err(); err != nil {
		return Tallies{}, fmt.Errorf("tallies: %w", err)
	}
	if hex.EncodeToString(h.Sum(nil)) != tb.Digest {
		return distrust("do not match their digest: a row was edited, added or deleted")
	}
	return t, nil
}

// anchored says why a prefix verified up to seq, whose record hashed to
// hash, can no longer be trusted ("" when it can): the triggers that note
// edits are gone, a record up to seq was changed in place, or the record at
// seq no longer has that hash (it or one before it was rewritten). With
// onlyBefore, an edit after seq does not count: the caller reads those
// records again anyway.
func (r *DB) anchored(ctx context.Context, seq int64, hash string, onlyBefore bool) string {
	var triggers int
	var edited sql.NullInt64
	err := r.db.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM sqlite_schema WHERE type = 'trigger'
		AND name IN ('records_updated', 'records_deleted')), (SELECT min(seq) FROM record_edits)`).Scan(&triggers, &edited)
	switch {
	case err != nil || triggers != 2:
		return "the triggers that note edited records are gone"
	case edited.Valid && (!onlyBefore || edited.Int64 <= seq):
		return fmt.Sprintf("record %d was changed or deleted in place", edited.Int64)
	}
	var body, have string
	if err := r.db.QueryRowContext(ctx, `SELECT body, hash FROM records WHERE seq = ?`, seq).Scan(&body, &have); err != nil {
		return fmt.Sprintf("record %d, the last one verified, is gone", seq)
	}
	bsum := sha256.Sum256([]byte(body))
	if have != hash || hex.EncodeToString(bsum[:]) != hash {
		return fmt.Sprintf("record %d no longer has the hash verified at the checkpoint: it or a record before it was changed", seq)
	}
	return ""
}

// SaveTallies replaces the saved tallies with rows, which count every
// record up to seq, in one transaction with their signed mark. The caller
// must have verified the chain up to seq. rows need not be sorted. Like a
// checkpoint it is best effort for the caller: without it the next count
// starts from the first record.
func (r *DB) SaveTallies(ctx context.Context, seq int64, rows []TallyRow) error {
	var hash string
	if err := r.db.QueryRowContext(ctx, `SELECT hash FROM records WHERE seq = ?`, seq).Scan(&hash); err != nil {
		return fmt.Errorf("save tallies: %w", err)
	}
	key, err := r.checkpointKey(true)
	if err != nil {
		return fmt.Errorf("save tallies: %w", err)
	}
	// The triggers the mark relies on are the checkpoint's.
	for _, q := range append(checkpointSchema[:len(checkpointSchema):len(checkpointSchema)], tallySchema...) {
		if _, err := r.db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("save tallies: %w", err)
		}
	}
	sorted := append([]TallyRow(nil), rows...)
	sortTallyRows(sorted)
	h := sha256.New()
	for _, row := range sorted {
		tallyDigest(h, row)
	}
	text, err := marshal(tallyBody{Seq: seq, Hash: hash, Digest: hex.EncodeToString(h.Sum(nil)), At: fmtTime(time.Now())})
	if err != nil {
		return fmt.Errorf("save tallies: %w", err)
	}
	sum := sha256.Sum256(text)
	sig := base64.StdEncoding.EncodeToString(key.Sign(sum[:]))

	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("save tallies: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM tallies`); err != nil {
		return fmt.Errorf("save tallies: %w", err)
	}
	ins, err := tx.PrepareContext(ctx, `INSERT INTO tallies (server_id, key, data) VALUES (?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("save tallies: %w", err)
	}
	defer ins.Close()
	for _, row := range sorted {
		if _, err := ins.ExecContext(ctx, row.ServerID, row.Key, row.Data); err != nil {
			return fmt.Errorf("save tallies: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO tally_mark (id, body, sig) VALUES (1, ?, ?)`, string(text), sig); err != nil {
		return fmt.Errorf("save tallies: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("save tallies: %w", err)
	}
	return nil
}

func sortTallyRows(rows []TallyRow) {
	slices.SortFunc(rows, func(a, b TallyRow) int {
		return cmp.Or(strings.Compare(a.ServerID, b.ServerID), strings.Compare(a.Key, b.Key))
	})
}
