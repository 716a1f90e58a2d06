package registry

import (
	"context"
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
