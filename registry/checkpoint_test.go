package registry

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/opena2a-org/aim-mcp/identity"
)

// appendN appends n call records of one server.
func appendN(t *testing.T, db *DB, n int) {
	t.Helper()
	ctx := context.Background()
	s, _, err := db.Register(ctx, Registration{Client: "c", Name: "s", Command: "x"})
	if err != nil {
		t.Fatal(err)
	}
	key, err := db.Key(s)
	if err != nil {
		t.Fatal(err)
	}
	evs := make([]Event, n)
	for i := range evs {
		evs[i] = Event{ServerID: s.ID, Server: s.Name, Kind: KindCall, Tool: "t", Decision: "allow", Data: map[string]any{"i": i}}
	}
	if _, err := db.AppendAll(ctx, key, evs); err != nil {
		t.Fatal(err)
	}
}

// rotateFirst rotates the key of the first server appendN made and appends
// one call signed by the new key. It returns the server before and after,
// and the new key.
func rotateFirst(t *testing.T, db *DB) (before, after Server, key *identity.Key) {
	t.Helper()
	ctx := context.Background()
	srvs, _ := db.Servers(ctx)
	s, err := db.RotateKey(ctx, srvs[0], "test")
	if err != nil {
		t.Fatal(err)
	}
	key, _ = db.Key(s)
	if _, err := db.Append(ctx, key, Event{ServerID: s.ID, Server: s.Name, Kind: KindCall, Tool: "t"}); err != nil {
		t.Fatal(err)
	}
	return srvs[0], s, key
}

// TestCheckpoint: a verified prefix is not read again, and the checkpoint
// still finds a record changed after it and one changed before it.
func TestCheckpoint(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	appendN(t, db, 600)
	v, err := db.VerifySince(ctx)
	if err != nil || !v.OK() || v.From != 0 || v.Records != 600 || v.Head != 600 {
		t.Fatalf("first VerifySince = %+v, %v; want all 600 records from the start", v, err)
	}
	appendN(t, db, 30)
	v, err = db.VerifySince(ctx)
	if err != nil || !v.OK() || v.From != 600 || v.Records != 30 || v.Head != 630 {
		t.Fatalf("VerifySince after 30 more = %+v, %v; want 30 records after the checkpoint at 600", v, err)
	}

	// Changed after the checkpoint (630): found where it is.
	appendN(t, db, 10)
	db.SQL().ExecContext(ctx, `UPDATE records SET body = replace(body, '"tool":"t"', '"tool":"x"') WHERE seq = 635`)
	if v, _ := db.VerifySince(ctx); v.BadSeq != 635 || !strings.Contains(v.Reason, "hash") {
		t.Errorf("edited after the checkpoint: VerifySince = %+v, want bad record 635", v)
	}

	// Changed before it, in place: found, and named, by checking from the
	// start.
	db2 := open(t)
	appendN(t, db2, 100)
	if v, _ := db2.VerifySince(ctx); !v.OK() || v.Head != 100 {
		t.Fatalf("VerifySince = %+v", v)
	}
	db2.SQL().ExecContext(ctx, `UPDATE records SET body = replace(body, '"tool":"t"', '"tool":"x"') WHERE seq = 40`)
	v, _ = db2.VerifySince(ctx)
	if v.BadSeq != 40 || !strings.Contains(v.Distrust, "record 40") {
		t.Errorf("edited before the checkpoint: VerifySince = %+v, want bad record 40, the checkpoint distrusted", v)
	}

	// Changed before it and the chain re-linked and re-signed after it
	// (the key is on disk), triggers dropped first: the checkpoint's
	// record no longer has its hash.
	db3 := open(t)
	appendN(t, db3, 50)
	if v, _ := db3.VerifySince(ctx); !v.OK() {
		t.Fatalf("VerifySince = %+v", v)
	}
	db3.SQL().ExecContext(ctx, `DROP TRIGGER records_updated`)
	rechain(t, db3, 20)
	db3.SQL().ExecContext(ctx, `CREATE TRIGGER records_updated AFTER UPDATE ON records
		BEGIN INSERT INTO record_edits (seq) VALUES (OLD.seq); END`)
	v, _ = db3.VerifySince(ctx)
	if !strings.Contains(v.Distrust, "record 50 no longer has the hash") {
		t.Errorf("re-chained before the checkpoint: VerifySince = %+v, want the checkpoint distrusted", v)
	}
	if !v.OK() {
		t.Errorf("a consistently re-signed chain checks as intact from the start (the witness is what catches it): %+v", v)
	}

	// A forged checkpoint is not trusted.
	db.SQL().ExecContext(ctx, `UPDATE checkpoints SET body = replace(body, '"seq":630', '"seq":639')`)
	if v, _ := db.VerifySince(ctx); !strings.Contains(v.Distrust, "signature") {
		t.Errorf("forged checkpoint: VerifySince = %+v, want it distrusted", v)
	}
}

// rechain rewrites record seq's tool and re-links and re-signs every record
// from it to the head, as someone holding the key could.
func rechain(t *testing.T, db *DB, seq int64) {
	t.Helper()
	ctx := context.Background()
	srvs, _ := db.Servers(ctx)
	key, err := db.Key(srvs[0])
	if err != nil {
		t.Fatal(err)
	}
	recs, err := db.Records(ctx, Filter{AfterSeq: seq - 1})
	if err != nil {
		t.Fatal(err)
	}
	var prev string
	db.SQL().QueryRowContext(ctx, `SELECT hash FROM records WHERE seq = ?`, seq-1).Scan(&prev)
	for i, rec := range recs {
		b := body{Seq: rec.Seq, Prev: prev, Time: fmtTime(rec.Time), ServerID: rec.ServerID, Server: rec.Server,
			Kind: rec.Kind, Tool: rec.Tool, Decision: rec.Decision, Data: rec.Data}
		if i == 0 {
			b.Tool = "x"
		}
		text, _ := marshal(b)
		sum := sha256.Sum256(text)
		prev = hex.EncodeToString(sum[:])
		if _, err := db.SQL().ExecContext(ctx, `UPDATE records SET body = ?, hash = ?, sig = ?, tool = ? WHERE seq = ?`,
			string(text), prev, base64.StdEncoding.EncodeToString(key.Sign(sum[:])), b.Tool, rec.Seq); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCheckpointAcrossRotation: records after a checkpoint are checked with
// the keys at the checkpoint and the rotations after it.
func TestCheckpointAcrossRotation(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	appendN(t, db, 10)
	if v, _ := db.VerifySince(ctx); !v.OK() || v.Head != 10 {
		t.Fatalf("VerifySince = %+v", v)
	}
	_, s, _ := rotateFirst(t, db)
	v, err := db.VerifySince(ctx)
	if err != nil || !v.OK() || v.From != 10 || v.Distrust != "" {
		t.Fatalf("VerifySince after a rotation = %+v, %v; want intact after the checkpoint at 10", v, err)
	}
	s2, err := db.RotateKey(ctx, s, "again")
	if err != nil {
		t.Fatal(err)
	}
	key2, _ := db.Key(s2)
	db.Append(ctx, key2, Event{ServerID: s.ID, Server: s.Name, Kind: KindCall, Tool: "t"})
	if v, err := db.VerifySince(ctx); err != nil || !v.OK() || v.From != v.Head-2 {
		t.Fatalf("VerifySince after a second rotation = %+v, %v", v, err)
	}
	if v, err := db.Verify(ctx, ""); err != nil || !v.OK() {
		t.Fatalf("Verify = %+v, %v", v, err)
	}
}

// TestVerifyEmptyChain: servers registered and no record yet is an intact,
// empty chain for both checks, which read no key for it; the first record
// is then checked as usual.
func TestVerifyEmptyChain(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	if _, _, err := db.Register(ctx, Registration{Client: "c", Name: "s", Command: "x"}); err != nil {
		t.Fatal(err)
	}
	for name, verify := range map[string]func(context.Context) (Verification, error){
		"Verify":      func(ctx context.Context) (Verification, error) { return db.Verify(ctx, "") },
		"VerifySince": db.VerifySince,
	} {
		if v, err := verify(ctx); err != nil || v != (Verification{}) {
			t.Errorf("%s of an empty chain = %+v, %v; want the zero Verification", name, v, err)
		}
	}
	appendN(t, db, 3)
	if v, err := db.Verify(ctx, ""); err != nil || !v.OK() || v.Records != 3 || v.Head != 3 {
		t.Errorf("Verify after 3 records = %+v, %v", v, err)
	}
	// A record whose server's registered key is gone fails: the keys are
	// read once there is a record.
	if _, err := db.SQL().ExecContext(ctx, `UPDATE servers SET public_key = ''`); err != nil {
		t.Fatal(err)
	}
	if v, err := db.Verify(ctx, ""); err != nil || v.OK() {
		t.Errorf("Verify with the keys gone = %+v, %v; want a bad record", v, err)
	}
}
