package registry

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func open(t *testing.T) *DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "aim.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// A new file is migrated to the latest schema; an existing one is left at
// it; a file from a newer aim-mcp is refused.
func TestMigrate(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "aim.db")
	if err := os.WriteFile(path, nil, 0o600); err != nil { // an empty file
		t.Fatal(err)
	}
	db, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatalf("Open of an empty file: %v", err)
	}
	var v int
	db.SQL().QueryRowContext(ctx, "PRAGMA user_version").Scan(&v)
	if v != len(migrations) {
		t.Errorf("user_version = %d, want %d", v, len(migrations))
	}
	for _, table := range []string{"servers", "records", "approvals", "tools", "policy_rules", "configs"} {
		if err := db.SQL().QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(new(int)); err != nil {
			t.Errorf("table %s: %v", table, err)
		}
	}
	db.SQL().ExecContext(ctx, "PRAGMA user_version = 999")
	db.Close()
	if _, err := Open(ctx, path, Options{}); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("Open of a newer schema = %v, want a 'newer' error", err)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("database mode %04o, want 0600", st.Mode().Perm())
	}
}

// Registration is idempotent per (client, name): the id and key stay, a
// changed command updates the record, and env values never reach it.
func TestRegisterIdempotent(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	in := Registration{Client: "claude-desktop", Name: "my server/Łódź", Command: "npx", Args: []string{"-y", "pkg"}, EnvNames: []string{"API_KEY"}}
	a, created, err := db.Register(ctx, in)
	if err != nil || !created {
		t.Fatalf("first Register = %v, created %v", err, created)
	}
	b, created, err := db.Register(ctx, in)
	if err != nil || created || b.ID != a.ID || b.PublicKey != a.PublicKey || !b.UpdatedAt.Equal(a.UpdatedAt) {
		t.Fatalf("second Register = %+v, created %v, %v; want the same record untouched", b, created, err)
	}
	in.Args = []string{"-y", "pkg@2"}
	c, created, err := db.Register(ctx, in)
	if err != nil || created || c.ID != a.ID || c.PublicKey != a.PublicKey || c.Args[1] != "pkg@2" {
		t.Fatalf("Register with a new command = %+v, created %v, %v; want the same id and key, new args", c, created, err)
	}
	other, _, _ := db.Register(ctx, Registration{Client: "cursor", Name: in.Name, Command: "npx"})
	if other.ID == a.ID {
		t.Error("another client's server of the same name got the same id")
	}
	k, err := db.Key(c)
	if err != nil || k.PublicString() != a.PublicKey {
		t.Fatalf("Key = %v, %v; want the registered key", k, err)
	}
	got, _ := db.Server(ctx, "claude-desktop", in.Name)
	if got.EnvNames[0] != "API_KEY" || got.AgentType != MCPServer {
		t.Errorf("stored server = %+v", got)
	}
	if _, err := db.Server(ctx, "claude-desktop", "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Server(nope) = %v, want ErrNotFound", err)
	}
	if err := db.Purge(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(db.Keys().Path(a.ID)); !os.IsNotExist(err) {
		t.Errorf("key file after purge: %v, want gone", err)
	}
}

// The chain links every record to the one before; Verify finds edits.
func TestChain(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	s, _, _ := db.Register(ctx, Registration{Client: "c", Name: "s", Command: "x"})
	key, _ := db.Key(s)
	var last Record
	for i := range 5 {
		recs, err := db.AppendAll(ctx, key, []Event{
			{ServerID: s.ID, Server: s.Name, Kind: KindCall, Tool: "t", Decision: "allow", Data: map[string]any{"i": i}},
			{ServerID: s.ID, Server: s.Name, Kind: KindOutcome, Tool: "t", Decision: "success"},
		})
		if err != nil {
			t.Fatal(err)
		}
		if recs[0].Prev != last.Hash || recs[1].Prev != recs[0].Hash {
			t.Fatalf("record %d does not link to the one before", recs[0].Seq)
		}
		last = recs[1]
	}
	v, err := db.Verify(ctx, "")
	if err != nil || !v.OK() || v.Records != 10 || v.Servers != 1 {
		t.Fatalf("Verify = %+v, %v; want 10 intact records from 1 server", v, err)
	}
	got, _ := db.Records(ctx, Filter{Kind: KindCall, Limit: 2})
	if len(got) != 2 || got[0].Seq != 7 || got[1].Seq != 9 {
		t.Errorf("newest 2 calls = %+v, want seq 7 and 9, oldest first", got)
	}
	got, _ = db.Records(ctx, Filter{Since: time.Now().Add(time.Hour)})
	if len(got) != 0 {
		t.Errorf("records from the future: %d", len(got))
	}
	db.SQL().ExecContext(ctx, `UPDATE records SET decision = 'deny' WHERE seq = 4`)
	if v, _ := db.Verify(ctx, ""); v.BadSeq != 4 {
		t.Errorf("after editing a column: Verify = %+v, want bad record 4", v)
	}
}

// Approvals are bound to the exact call, single use, and expire.
func TestApprovals(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	req := Approval{ServerID: "s1", Server: "s", Tool: "t", ArgsDigest: "sha256:a"}
	a, created, err := db.RequestApproval(ctx, req, time.Minute)
	if err != nil || !created || a.Status != ApprovalPending || len(a.ID) != 8 {
		t.Fatalf("RequestApproval = %+v, %v, %v", a, created, err)
	}
	again, created, _ := db.RequestApproval(ctx, req, time.Minute)
	if created || again.ID != a.ID {
		t.Errorf("the same call asked again got a new approval %s", again.ID)
	}
	req2 := req
	req2.ArgsDigest = "sha256:b"
	if b, created, _ := db.RequestApproval(ctx, req2, time.Minute); !created || b.ID == a.ID {
		t.Error("other arguments shared an approval")
	}
	if _, err := db.DecideApproval(ctx, a.ID, ApprovalApproved, "alice", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := db.DecideApproval(ctx, a.ID, ApprovalDenied, "bob", ""); !errors.Is(err, ErrNotPending) {
		t.Errorf("answering twice = %v, want ErrNotPending", err)
	}
	if ok, _ := db.UseApproval(ctx, a.ID); !ok {
		t.Error("first use refused")
	}
	if ok, _ := db.UseApproval(ctx, a.ID); ok {
		t.Error("second use allowed: approvals are single use")
	}
	short, _, _ := db.RequestApproval(ctx, Approval{ServerID: "s1", Tool: "u", ArgsDigest: "x"}, time.Millisecond)
	time.Sleep(5 * time.Millisecond)
	if _, err := db.DecideApproval(ctx, short.ID, ApprovalApproved, "alice", ""); !errors.Is(err, ErrNotPending) {
		t.Errorf("approving an expired approval = %v, want ErrNotPending", err)
	}
	if _, err := db.Approval(ctx, "nosuchid"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown approval = %v, want ErrNotFound", err)
	}
}

// Two handles on one file append to one chain that never forks.
func TestConcurrentAppenders(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "aim.db")
	var dbs []*DB
	for range 3 {
		db, err := Open(ctx, path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		dbs = append(dbs, db)
	}
	s, _, _ := dbs[0].Register(ctx, Registration{Client: "c", Name: "s", Command: "x"})
	key, _ := dbs[0].Key(s)
	errs := make(chan error, len(dbs))
	for _, db := range dbs {
		go func(db *DB) {
			for range 50 {
				if _, err := db.Append(ctx, key, Event{ServerID: s.ID, Server: s.Name, Kind: KindCall}); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}(db)
	}
	for range dbs {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	v, _ := dbs[1].Verify(ctx, "")
	if !v.OK() || v.Records != 150 {
		t.Errorf("Verify = %+v, want 150 intact records", v)
	}
}

// A home whose path has spaces, '#' or '?' keeps its database inside it.
func TestOddPath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "Application Support", "h#o?me")
	path := filepath.Join(dir, "aim.db")
	db, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database not where it was asked for: %v", err)
	}
}

// TryAppendAll steps aside while another writer holds the lock; AppendAll
// waits for it; the WAL is checkpointed outside of commits.
func TestTryAppendAndCheckpoint(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "aim.db")
	a, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	s, _, _ := a.Register(ctx, Registration{Client: "c", Name: "s", Command: "x"})
	key, _ := a.Key(s)
	ev := Event{ServerID: s.ID, Server: s.Name, Kind: KindCall}

	conn, err := a.SQL().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.TryAppendAll(ctx, key, []Event{ev}); !errors.Is(err, ErrBusy) {
		t.Fatalf("TryAppendAll under another writer's lock = %v, want ErrBusy", err)
	}
	done := make(chan error, 1)
	go func() { _, err := b.AppendAll(ctx, key, []Event{ev}); done <- err }()
	select {
	case err := <-done:
		t.Fatalf("AppendAll returned %v while the lock was held", err)
	case <-time.After(50 * time.Millisecond):
	}
	conn.ExecContext(ctx, "COMMIT")
	if err := <-done; err != nil {
		t.Fatalf("AppendAll after the lock was released: %v", err)
	}
	if _, err := b.TryAppendAll(ctx, key, []Event{ev}); err != nil {
		t.Fatalf("TryAppendAll with the lock free: %v", err)
	}

	// Enough appends for a checkpoint: the WAL is folded into the file.
	evs := make([]Event, checkpointEvery)
	for i := range evs {
		evs[i] = ev
	}
	if _, err := b.AppendAll(ctx, key, evs); err != nil {
		t.Fatal(err)
	}
	if n := b.app.uncheckpointed; n != 0 {
		t.Errorf("%d records appended since the last checkpoint, want 0 after %d", n, checkpointEvery)
	}
	if v, _ := a.Verify(ctx, ""); !v.OK() || v.Records != checkpointEvery+2 {
		t.Errorf("Verify = %+v, want %d intact records", v, checkpointEvery+2)
	}
}

// RegisterAll registers every server or none: when the keys cannot be
// saved after the rows are in, no row and no key file is left.
func TestRegisterAllAllOrNothing(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	if _, _, err := db.Register(ctx, Registration{Client: "c", Name: "old", Command: "x"}); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadDir(db.Keys().Dir)
	ins := []Registration{{Client: "c", Name: "old", Command: "y"}}
	for i := range 50 {
		ins = append(ins, Registration{Client: "c", Name: fmt.Sprintf("s%d", i), Command: "x"})
	}
	// No new key can be written: the rows are in when that is found.
	if err := os.Chmod(db.Keys().Dir, 0o500); err != nil {
		t.Fatal(err)
	}
	_, err := db.RegisterAll(ctx, ins)
	os.Chmod(db.Keys().Dir, 0o700)
	if err == nil {
		if os.Geteuid() == 0 {
			t.Skip("root writes into read-only directories")
		}
		t.Fatal("RegisterAll with an unwritable key directory succeeded")
	}
	srvs, _ := db.Servers(ctx)
	if len(srvs) != 1 || srvs[0].Command != "x" {
		t.Errorf("after a failed RegisterAll: %+v, want only the old server, unchanged", srvs)
	}
	after, _ := os.ReadDir(db.Keys().Dir)
	if len(after) != len(before) {
		t.Errorf("key files: %d before, %d after a failed RegisterAll", len(before), len(after))
	}
	out, err := db.RegisterAll(ctx, ins)
	if err != nil || len(out) != len(ins) || out[0].Created || !out[1].Created || out[0].Command != "y" {
		t.Fatalf("RegisterAll = %d results, %v; want %d, the first updated, the rest created", len(out), err, len(ins))
	}
}

// Servers and ServersBrief list by client then name, in byte order (as
// SQLite's ORDER BY compares text), whatever order they were registered
// in; the brief list leaves out the arguments and env names only.
func TestServersOrder(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	for _, cn := range [][2]string{{"cursor", "b"}, {"claude-desktop", "zeta"}, {"cursor", "B"}, {"claude-desktop", "Alpha"},
		{"claude-desktop", "alpha"}, {"cursor", "a b"}, {"claude-desktop", "é"}, {"claude-desktop", "e"}} {
		if _, _, err := db.Register(ctx, Registration{Client: cn[0], Name: cn[1], Command: "x", Args: []string{"-y"}, EnvNames: []string{"K"}}); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"claude-desktop/Alpha", "claude-desktop/alpha", "claude-desktop/e", "claude-desktop/zeta", "claude-desktop/é",
		"cursor/B", "cursor/a b", "cursor/b"}
	all, err := db.Servers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	brief, err := db.ServersBrief(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(want) || len(brief) != len(want) {
		t.Fatalf("%d servers, %d brief, want %d", len(all), len(brief), len(want))
	}
	for i, s := range all {
		if got := s.Client + "/" + s.Name; got != want[i] {
			t.Errorf("Servers()[%d] = %s, want %s", i, got, want[i])
		}
		b := brief[i]
		if b.Args != nil || b.EnvNames != nil {
			t.Errorf("ServersBrief()[%d] has args %q, env names %q", i, b.Args, b.EnvNames)
		}
		b.Args, b.EnvNames = s.Args, s.EnvNames
		if !reflect.DeepEqual(b, s) {
			t.Errorf("ServersBrief()[%d] = %+v, Servers() %+v", i, b, s)
		}
	}
}
