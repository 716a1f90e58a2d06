package registry

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// spoolHome is a registry with one server, and a session of it that dies
// after writing calls spooled, of which the first moved were moved: its
// file is closed (the lock goes) without the session's own end.
func spoolHome(t *testing.T, spooled, moved int) (dbPath string, sess *Session) {
	t.Helper()
	ctx := context.Background()
	dbPath = filepath.Join(t.TempDir(), "aim.db")
	db, err := Open(ctx, dbPath, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	srv, _, err := db.Register(ctx, Registration{Client: "c", Name: "s", Command: "x"})
	if err != nil {
		t.Fatal(err)
	}
	key, _ := db.Key(srv)
	sess, err = db.StartSession(ctx, srv, key)
	if err != nil {
		t.Fatal(err)
	}
	close(sess.stop) // no mover: this test says what is moved when
	<-sess.done
	for i := range spooled {
		if err := sess.Append(Event{Kind: KindCall, Tool: "echo", Decision: "allow", RequestID: []byte(fmt.Sprint(i + 1))}); err != nil {
			t.Fatal(err)
		}
		if i+1 == moved {
			if err := sess.Move(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	sess.f.Close() // the proxy dies: the lock goes with it
	return dbPath, sess
}

// reopen is what the next aim-mcp command does: open the registry, which
// moves what dead sessions left.
func reopen(t *testing.T, path string) *DB {
	t.Helper()
	db, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func calls(t *testing.T, db *DB) int {
	t.Helper()
	recs, err := db.Records(context.Background(), Filter{Kind: KindCall})
	if err != nil {
		t.Fatal(err)
	}
	return len(recs)
}

// TestSpoolOfDeadSession: what a killed session spooled and never moved is
// moved by the next process to open the registry, once, and its spool is
// removed.
func TestSpoolOfDeadSession(t *testing.T) {
	path, sess := spoolHome(t, 5, 2)
	db := reopen(t, path)
	if n := calls(t, db); n != 5 {
		t.Errorf("call records: got %d, want 5", n)
	}
	if _, err := os.Stat(db.spoolPath(sess.ID())); !os.IsNotExist(err) {
		t.Errorf("the spool is still there: %v", err)
	}
	db2 := reopen(t, path)
	if n := calls(t, db2); n != 5 {
		t.Errorf("after another open: %d call records, want 5", n)
	}
	if v, err := db2.Verify(context.Background(), ""); err != nil || !v.OK() {
		t.Errorf("Verify: %+v, %v", v, err)
	}
	if issues, err := db2.VerifySpools(context.Background()); err != nil || len(issues) != 0 {
		t.Errorf("VerifySpools: %+v, %v; want nothing", issues, err)
	}
}

// TestSpoolTamper: a spool edited, truncated or deleted before it was moved
// is named by verify; a half-written last line is recognised as such and
// never taken as a record.
func TestSpoolTamper(t *testing.T) {
	tests := []struct {
		name    string
		tamper  func(t *testing.T, path string)
		calls   int // call records once the next process opened the registry
		broken  bool
		because string
	}{
		{
			name: "an unmoved line edited",
			tamper: func(t *testing.T, path string) {
				edit(t, path, func(b []byte) []byte { return bytes.Replace(b, []byte(`"request_id":4`), []byte(`"request_id":44`), 1) })
			},
			// Line 4 links to line 3 as it should; only line 5 shows it changed.
			calls: 4, broken: true, because: "line 5 does not link to line 4",
		},
		{
			name: "a moved line edited",
			tamper: func(t *testing.T, path string) {
				edit(t, path, func(b []byte) []byte { return bytes.Replace(b, []byte(`"request_id":1`), []byte(`"request_id":9`), 1) })
			},
			calls: 5, broken: true, because: "line 2 does not link to line 1",
		},
		{
			name: "truncated in the middle of a moved line",
			tamper: func(t *testing.T, path string) {
				edit(t, path, func(b []byte) []byte { return b[:lineStart(b, 2)+10] })
			},
			calls: 2, broken: true, because: "truncated: 2 lines were moved from it, it holds 1",
		},
		{
			name: "a half-written last line",
			tamper: func(t *testing.T, path string) {
				edit(t, path, func(b []byte) []byte { return b[:lineStart(b, 5)+10] })
			},
			calls: 4, because: "half-written line of 10 bytes",
		},
		{
			name:   "deleted",
			tamper: func(t *testing.T, path string) { os.Remove(path) },
			calls:  2, broken: true, because: "deleted before its records were moved (2 of its lines were)",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path, sess := spoolHome(t, 5, 2)
			tc.tamper(t, filepath.Join(filepath.Dir(path), "spool", sess.ID()+".jsonl"))
			db := reopen(t, path)
			if n := calls(t, db); n != tc.calls {
				t.Errorf("call records: got %d, want %d", n, tc.calls)
			}
			if v, err := db.Verify(context.Background(), ""); err != nil || !v.OK() {
				t.Errorf("Verify of the chain: %+v, %v; want intact", v, err)
			}
			issues, err := db.VerifySpools(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(issues) != 1 || issues[0].Broken != tc.broken || !strings.Contains(issues[0].Reason, tc.because) ||
				issues[0].Session != sess.ID() {
				t.Errorf("VerifySpools: got %+v, want one issue of session %s, broken %v, %q", issues, sess.ID(), tc.broken, tc.because)
			}
		})
	}
}

func edit(t *testing.T, path string, f func([]byte) []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, f(b), 0o600); err != nil {
		t.Fatal(err)
	}
}

// lineStart is the offset of line n (from 1).
func lineStart(b []byte, n int) int {
	off := 0
	for range n - 1 {
		off += bytes.IndexByte(b[off:], '\n') + 1
	}
	return off
}

// TestSpoolFull: a spool that cannot be written refuses the record and
// keeps nothing of it, so the caller can fail closed and the spool stays
// whole.
func TestSpoolFull(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	path, sess := spoolHome(t, 0, 0)
	_ = path
	f, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	sess.f = f
	err = sess.Append(Event{Kind: KindCall, Tool: "echo"})
	if err == nil || !strings.Contains(err.Error(), "no space left") {
		t.Errorf("Append to a full disk: got %v, want an error saying so", err)
	}
	if sess.n != 0 || len(sess.pending) != 0 {
		t.Errorf("after a failed write: %d lines counted, %d pending; want none", sess.n, len(sess.pending))
	}
}

// TestSpoolsShareOneChain: four sessions on four connections to one file
// append 1,000 records each at once: one chain of 4,000, each session's
// records in its own order.
func TestSpoolsShareOneChain(t *testing.T) {
	const sessions, n = 4, 1000
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "aim.db")
	var wg sync.WaitGroup
	for i := range sessions {
		db := reopen(t, path)
		srv, _, err := db.Register(ctx, Registration{Client: "c", Name: fmt.Sprint("s", i), Command: "x"})
		if err != nil {
			t.Fatal(err)
		}
		key, _ := db.Key(srv)
		wg.Go(func() {
			sess, err := db.StartSession(ctx, srv, key)
			if err != nil {
				t.Error(err)
				return
			}
			for j := range n {
				if err := sess.Append(Event{Kind: KindCall, Tool: "echo", RequestID: []byte(fmt.Sprint(j))}); err != nil {
					t.Error(err)
					return
				}
			}
			if err := sess.Close(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	db := reopen(t, path)
	recs, err := db.Records(ctx, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != sessions*n {
		t.Fatalf("records: got %d, want %d", len(recs), sessions*n)
	}
	last := map[string]int{}
	for _, r := range recs {
		var j int
		fmt.Sscan(string(r.RequestID), &j)
		if prev, ok := last[r.Server]; ok && j != prev+1 {
			t.Fatalf("server %s: record %d follows %d", r.Server, j, prev)
		}
		last[r.Server] = j
	}
	if v, err := db.Verify(ctx, ""); err != nil || !v.OK() || v.Records != sessions*n {
		t.Errorf("Verify: %+v, %v", v, err)
	}
	if left, _ := os.ReadDir(db.SpoolDir()); len(left) != 0 {
		t.Errorf("spools left: %d, want none", len(left))
	}
}

// TestSpoolUnencodable: a record whose data cannot be encoded is kept as a
// record that says so, and the records committed with it are whole.
func TestSpoolUnencodable(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	srv, _, _ := db.Register(ctx, Registration{Client: "c", Name: "s", Command: "x"})
	key, _ := db.Key(srv)
	sess, err := db.StartSession(ctx, srv, key)
	if err != nil {
		t.Fatal(err)
	}
	err = sess.Append(
		Event{Kind: KindCall, Tool: "a", Decision: "allow", Data: map[string]any{"n": 1}},
		Event{Kind: KindOutcome, Tool: "a", Decision: "success", Data: map[string]any{"ratio": math.NaN()}},
		Event{Kind: KindCall, Tool: "b", Decision: "allow", Data: map[string]any{"n": 2}},
	)
	if err != nil {
		t.Fatalf("Append with an unencodable record: %v", err)
	}
	if err := sess.Close(ctx); err != nil {
		t.Fatal(err)
	}
	recs, err := db.Records(ctx, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		got = append(got, r.Kind+" "+r.Tool+" "+string(r.Data))
	}
	if len(recs) != 3 || !strings.Contains(got[1], `"unencodable"`) || !strings.Contains(got[1], `"digest"`) ||
		got[0] != `call a {"n":1}` || got[2] != `call b {"n":2}` {
		t.Errorf("records:\n%s", strings.Join(got, "\n"))
	}
	if v, err := db.Verify(ctx, ""); err != nil || !v.OK() {
		t.Errorf("verify: %+v, %v", v, err)
	}
}

// TestMoverWaitsForPause: lines that keep coming a little apart are moved
// in a few transactions, not one per line or per moveLinger: each move
// signs its last record, so the signed records count the moves. A line
// written after the burst is moved too, without Close.
func TestMoverWaitsForPause(t *testing.T) {
	ctx := context.Background()
	db, srv := openTestDB(t)
	key, err := db.Key(srv)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := db.StartSession(ctx, srv, key)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close(ctx)
	const burst = 400
	for i := range burst {
		if err := sess.Append(Event{Kind: KindCall, Tool: "echo", RequestID: []byte(fmt.Sprint(i + 1))}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(moveLinger / 10)
	}
	if err := sess.Append(Event{Kind: KindCall, Tool: "late"}); err != nil {
		t.Fatal(err)
	}
	var recs []Record
	for range 200 { // the mover's, not Close's: wait for it
		if recs, err = db.Records(ctx, Filter{Kind: KindCall}); err != nil {
			t.Fatal(err)
		}
		if len(recs) == burst+1 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(recs) != burst+1 {
		t.Fatalf("the mover moved %d lines of %d", len(recs), burst+1)
	}
	moves := 0
	for _, r := range recs {
		if r.Sig != "" {
			moves++
		}
	}
	// One move per moveMaxDelay of the burst, and the late line's; a
	// mover that did not wait for a pause makes one per moveLinger (40
	// and more here).
	if moves > 20 {
		t.Errorf("%d lines were moved in %d transactions; want a few", burst+1, moves)
	}
	if recs[len(recs)-1].Sig == "" {
		t.Errorf("the last line moved carries no signature")
	}
}
