package registry

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// An answer kept as settled stops being so when anything of the server's
// pins changes after it: tools pinned by a first answer inserted later, a
// new tool another answer listed.
func TestSettledAnswerGeneration(t *testing.T) {
	db, s := openTestDB(t)
	ctx := context.Background()
	settled := func(answer string) bool {
		t.Helper()
		ok, err := db.SettledAnswer(ctx, s.ID, answer)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	// An empty answer, compared at generation 0 and kept.
	cmp, err := db.CompareTools(ctx, s.ID, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := db.RememberAnswer(ctx, s.ID, "empty", cmp.Gen); err != nil {
		t.Fatal(err)
	}
	if !settled("empty") {
		t.Fatal("the empty answer was not kept")
	}
	// A first answer with tools, whose own answer is never kept.
	if _, err := db.CompareTools(ctx, s.ID, []ToolDef{def("a", "A")}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if settled("empty") {
		t.Error("the empty answer is still settled after a's pin was inserted")
	}

	cmp, _ = db.CompareTools(ctx, s.ID, []ToolDef{def("a", "A")}, time.Now())
	db.RememberAnswer(ctx, s.ID, "a", cmp.Gen)
	if !settled("a") {
		t.Fatal("the answer with a was not kept")
	}
	if _, err := db.ObserveTools(ctx, s.ID, []ToolDef{def("a", "A"), def("b", "B")}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if settled("a") {
		t.Error("still settled after another answer inserted a new tool")
	}
}

// TestSourcesMigrated: a registry whose tool sources were kept in a table
// with an index beside it opens with them in one B-tree, forgotten (the
// next list reads its tools again), and remembers sources as before.
func TestSourcesMigrated(t *testing.T) {
	ctx := context.Background()
	db, s := openTestDB(t)
	path := db.Path()
	for _, q := range []string{
		`DROP TABLE tool_sources`,
		`CREATE TABLE tool_sources (server_id TEXT NOT NULL, source TEXT NOT NULL, name TEXT NOT NULL,
			hash TEXT NOT NULL, annotations TEXT NOT NULL, PRIMARY KEY (server_id, source))`,
		`INSERT INTO tool_sources VALUES ('` + s.ID + `', 'old', 'a', 'h', '{}')`,
		fmt.Sprintf(`PRAGMA user_version = %d`, len(migrations)-1),
	} {
		if _, err := db.SQL().ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	db, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var ddl string
	if err := db.SQL().QueryRowContext(ctx, `SELECT sql FROM sqlite_schema WHERE name = 'tool_sources'`).Scan(&ddl); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(ddl, "WITHOUT ROWID") {
		t.Errorf("tool_sources is %s, want WITHOUT ROWID", ddl)
	}
	if known, err := db.KnownSources(ctx, s.ID); err != nil || len(known) != 0 {
		t.Fatalf("known sources after the migration: %v, %v; want none", known, err)
	}
	d := def("a", "A")
	if _, err := db.CompareTools(ctx, s.ID, []ToolDef{d}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := db.RememberSources(ctx, s.ID, map[string]ToolDef{"src": {Name: d.Name, Hash: d.Hash}}); err != nil {
		t.Fatal(err)
	}
	known, err := db.KnownSources(ctx, s.ID)
	if err != nil || len(known) != 1 || known["src"].Hash != d.Hash {
		t.Fatalf("known sources: %v, %v; want src as %s", known, err, d.Hash)
	}
}
