//go:build !windows

package registry

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opena2a-org/aim-mcp/identity"
	"github.com/opena2a-org/aim-mcp/witness"
)

// witnessedDB opens a registry whose heads go to a syslog socket the test
// listens on, as journald would. heads closes the registry (which sends
// the last head) and returns what the socket received, as audit verify
// picks it from a journal.
func witnessedDB(t *testing.T) (db *DB, path string, heads func() []witness.Head) {
	t.Helper()
	dir, err := os.MkdirTemp("", "wit") // short: a socket's path is limited to about 100 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "log")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Skipf("no unixgram sockets here: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	path = filepath.Join(t.TempDir(), "aim.db")
	pub := witness.New(witness.Options{Sinks: []witness.Sink{witness.Syslog{Path: sock}}})
	db, err = Open(context.Background(), path, Options{Witness: pub})
	if err != nil {
		t.Fatal(err)
	}
	return db, path, func() []witness.Head {
		t.Helper()
		db.Close()
		if s := pub.Stats(); s.Failed > 0 || s.Sent == 0 {
			t.Fatalf("witness stats: %+v", s)
		}
		c := witness.NewCollector(db.HomeID())
		buf := make([]byte, 64<<10)
		for {
			conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			n, err := conn.Read(buf)
			if err != nil {
				break
			}
			c.Add(string(buf[:n]))
		}
		h := c.Heads()
		if len(h) == 0 {
			t.Fatal("no head was witnessed")
		}
		return h
	}
}

// TestWitnessUntouched: records committed directly and through a
// session's spool are witnessed up to the last one, with the server's
// key, and the untouched chain matches its witness.
func TestWitnessUntouched(t *testing.T) {
	ctx := context.Background()
	db, path, heads := witnessedDB(t)
	appendN(t, db, 5)
	srvs, _ := db.Servers(ctx)
	key, _ := db.Key(srvs[0])
	sess, err := db.StartSession(ctx, srvs[0], key)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := sess.Append(Event{Kind: KindCall, Tool: "echo", Decision: "allow"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := sess.Close(ctx); err != nil {
		t.Fatal(err)
	}
	h := heads()
	db = reopen(t, path)
	v, _ := db.Verify(ctx, "")
	end := v.Head
	hash, _ := db.HashAt(ctx, end)
	if h[0].Seq != end || h[0].Hash != hash || end < 8 {
		t.Errorf("witnessed head %d %s, chain head %d %s: want the last record moved from the spool", h[0].Seq, h[0].Hash, end, hash)
	}
	if fp := identity.Fingerprint(key.Public()); len(h[0].Keys) != 1 || h[0].Keys[0] != fp {
		t.Errorf("witnessed keys %v, want [%s]", h[0].Keys, fp)
	}
	if p, err := db.CheckWitness(ctx, h); err != nil || len(p) != 0 {
		t.Errorf("untouched chain: CheckWitness = %+v, %v; want no problem", p, err)
	}
	// A head of another home says nothing about this one.
	other := h[0]
	other.Home, other.Seq = "ffffffffffffffff", end+5
	if p, err := db.CheckWitness(ctx, []witness.Head{other}); err != nil || len(p) != 0 {
		t.Errorf("another home's head: CheckWitness = %+v, %v", p, err)
	}
}

// TestWitnessMissingTail: the newest records deleted, which the chain
// alone cannot show, are named against the witness; so is a chain
// emptied.
func TestWitnessMissingTail(t *testing.T) {
	ctx := context.Background()
	db, path, heads := witnessedDB(t)
	appendN(t, db, 7)
	appendN(t, db, 3) // a batch of its own: the chain before it is whole
	h := heads()
	db = reopen(t, path)
	db.SQL().ExecContext(ctx, `DELETE FROM records WHERE seq > 7`)
	if v, err := db.Verify(ctx, ""); err != nil || !v.OK() {
		t.Fatalf("Verify = %+v, %v: a shortened chain verifies on its own (the witness is what catches it)", v, err)
	}
	p, err := db.CheckWitness(ctx, h)
	if err != nil || len(p) != 1 || p[0].Kind != WitnessMissingTail || p[0].Seq != 10 ||
		!strings.Contains(p[0].Reason, "ends at record 7: records 8 to 10 were deleted") {
		t.Errorf("tail deleted: CheckWitness = %+v, %v; want the missing records 8 to 10", p, err)
	}
	db.SQL().ExecContext(ctx, `DELETE FROM records`)
	p, _ = db.CheckWitness(ctx, h)
	if len(p) != 1 || !strings.Contains(p[0].Reason, "the chain is empty") {
		t.Errorf("all deleted: CheckWitness = %+v", p)
	}
}

// TestWitnessResigned: the chain re-signed with a key written into the
// database verifies on its own; the witness names the key it replaced.
// Re-chained with the real key from an edited record on, the witnessed
// record's hash differs.
func TestWitnessResigned(t *testing.T) {
	ctx := context.Background()
	db, path, heads := witnessedDB(t)
	appendN(t, db, 10)
	srvs, _ := db.Servers(ctx)
	real := srvs[0].PublicKey
	h := heads()
	db = reopen(t, path)

	forged, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	db.SQL().ExecContext(ctx, `UPDATE servers SET public_key = ?`, forged.PublicString())
	recs, _ := db.Records(ctx, Filter{})
	for _, rec := range recs {
		var text string
		db.SQL().QueryRowContext(ctx, `SELECT body FROM records WHERE seq = ?`, rec.Seq).Scan(&text)
		sum := sha256.Sum256([]byte(text))
		db.SQL().ExecContext(ctx, `UPDATE records SET sig = ? WHERE seq = ?`, base64.StdEncoding.EncodeToString(forged.Sign(sum[:])), rec.Seq)
	}
	if v, err := db.Verify(ctx, ""); err != nil || !v.OK() {
		t.Fatalf("Verify = %+v, %v: a re-signed chain verifies on its own", v, err)
	}
	pub, _ := identity.ParsePublicKey(real)
	p, err := db.CheckWitness(ctx, h)
	if err != nil || len(p) != 1 || p[0].Kind != WitnessKeyChanged || p[0].Key != identity.Fingerprint(pub) ||
		!strings.Contains(p[0].Reason, "a server's key was replaced") {
		t.Errorf("re-signed with a new key: CheckWitness = %+v, %v; want the replaced key %s named", p, err, identity.Fingerprint(pub))
	}

	// Put the real key back and rewrite every record with it.
	db.SQL().ExecContext(ctx, `UPDATE servers SET public_key = ?`, real)
	rechain(t, db, 1)
	if v, err := db.Verify(ctx, ""); err != nil || !v.OK() {
		t.Fatalf("Verify = %+v, %v: a re-chained chain verifies on its own", v, err)
	}
	p, err = db.CheckWitness(ctx, h)
	if err != nil || len(p) != 1 || p[0].Kind != WitnessRewritten || p[0].Seq != 10 ||
		!strings.Contains(p[0].Reason, "it or a record before it was rewritten") {
		t.Errorf("re-chained: CheckWitness = %+v, %v; want record 10 rewritten", p, err)
	}
}

// TestWitnessRotation: a key changed with a key_rotated record is no
// problem, whichever key the witness names.
func TestWitnessRotation(t *testing.T) {
	ctx := context.Background()
	db, path, heads := witnessedDB(t)
	appendN(t, db, 3)
	srv, _, key := rotateFirst(t, db)
	h := heads()
	if fp := identity.Fingerprint(key.Public()); len(h[0].Keys) != 1 || h[0].Keys[0] != fp {
		t.Errorf("witnessed keys %v, want the new key %s", h[0].Keys, fp)
	}
	db = reopen(t, path)
	old, _ := identity.ParsePublicKey(srv.PublicKey)
	before := witness.Head{Home: db.HomeID(), Seq: 3, Keys: []string{identity.Fingerprint(old)}}
	db.SQL().QueryRowContext(ctx, `SELECT hash FROM records WHERE seq = 3`).Scan(&before.Hash)
	if p, err := db.CheckWitness(ctx, append(h, before)); err != nil || len(p) != 0 {
		t.Errorf("after a recorded rotation: CheckWitness = %+v, %v; want no problem", p, err)
	}
}
