package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func openTestDB(t *testing.T) (*DB, Server) {
	t.Helper()
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "aim.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s, _, err := db.Register(ctx, Registration{Client: "test", Name: "srv", Command: "srv"})
	if err != nil {
		t.Fatal(err)
	}
	return db, s
}

// def builds a ToolDef whose hash is its text, which is all the registry
// compares.
func def(name, desc string) ToolDef {
	d, _ := json.Marshal(map[string]string{"name": name, "description": desc})
	return ToolDef{Name: name, Definition: d, Hash: "h:" + name + ":" + desc}
}

type change struct{ Name, From, Change, State string }

func changesOf(cs []ToolChange) []change {
	var out []change
	for _, c := range cs {
		out = append(out, change{c.Tool.Name, c.From, c.Change, c.Tool.State})
	}
	return out
}

func states(t *testing.T, db *DB, id string) map[string]string {
	t.Helper()
	ts, err := db.Tools(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, tl := range ts {
		out[tl.Name] = tl.State
	}
	return out
}

func TestObserveTools(t *testing.T) {
	ctx := context.Background()
	db, s := openTestDB(t)
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	observe := func(defs ...ToolDef) []change {
		t.Helper()
		now = now.Add(time.Minute)
		cs, err := db.ObserveTools(ctx, s.ID, defs, now)
		if err != nil {
			t.Fatal(err)
		}
		return changesOf(cs)
	}
	if has, _ := db.HasPins(ctx, s.ID); has {
		t.Fatal("HasPins before the first answer")
	}
	steps := []struct {
		name   string
		defs   []ToolDef
		want   []change
		states map[string]string
	}{
		{"first answer pins", []ToolDef{def("a", "A"), def("b", "B"), def("c", "C")},
			[]change{{"a", "", "pinned", "pinned"}, {"b", "", "pinned", "pinned"}, {"c", "", "pinned", "pinned"}},
			map[string]string{"a": "pinned", "b": "pinned", "c": "pinned"}},
		{"same answer, other order: nothing", []ToolDef{def("c", "C"), def("a", "A"), def("b", "B")},
			nil, map[string]string{"a": "pinned", "b": "pinned", "c": "pinned"}},
		{"changed, new and removed", []ToolDef{def("a", "A2"), def("b", "B"), def("d", "D")},
			[]change{{"a", "pinned", "changed", "changed"}, {"d", "", "new", "new"}, {"c", "pinned", "removed", "removed"}},
			map[string]string{"a": "changed", "b": "pinned", "c": "removed", "d": "new"}},
		{"the same drift again: no second alert", []ToolDef{def("a", "A2"), def("b", "B"), def("d", "D")},
			nil, map[string]string{"a": "changed", "b": "pinned", "c": "removed", "d": "new"}},
		{"changed again, new tool changed, removed one back as pinned", []ToolDef{def("a", "A3"), def("b", "B"), def("c", "C"), def("d", "D2")},
			[]change{{"a", "changed", "changed", "changed"}, {"c", "removed", "reverted", "pinned"}, {"d", "new", "new", "new"}},
			map[string]string{"a": "changed", "b": "pinned", "c": "pinned", "d": "new"}},
		{"reverted; a new tool that goes away is forgotten", []ToolDef{def("a", "A"), def("b", "B"), def("c", "C")},
			[]change{{"a", "changed", "reverted", "pinned"}},
			map[string]string{"a": "pinned", "b": "pinned", "c": "pinned"}},
		{"duplicate names: the first counts", []ToolDef{def("a", "A"), def("a", "evil"), def("b", "B"), def("c", "C")},
			nil, map[string]string{"a": "pinned", "b": "pinned", "c": "pinned"}},
	}
	for _, st := range steps {
		if diff := cmp.Diff(st.want, observe(st.defs...)); diff != "" {
			t.Errorf("%s: changes (-want +got):\n%s", st.name, diff)
		}
		if diff := cmp.Diff(st.states, states(t, db, s.ID)); diff != "" {
			t.Errorf("%s: states (-want +got):\n%s", st.name, diff)
		}
	}
	// A removed tool keeps its pin and loses its current definition.
	observe(def("a", "A"), def("b", "B"))
	c, err := db.Tool(ctx, s.ID, "c")
	if err != nil {
		t.Fatal(err)
	}
	if c.State != ToolRemoved || c.Hash != "" || c.PinnedHash != "h:c:C" || c.Definition != nil {
		t.Errorf("removed tool = %+v", c)
	}
}

func TestAcceptTools(t *testing.T) {
	ctx := context.Background()
	db, s := openTestDB(t)
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	must := func(cs []ToolChange, err error) []change {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return changesOf(cs)
	}
	must(db.ObserveTools(ctx, s.ID, []ToolDef{def("a", "A"), def("b", "B"), def("c", "C")}, now))
	must(db.ObserveTools(ctx, s.ID, []ToolDef{def("a", "A2"), def("b", "B"), def("d", "D")}, now))

	if _, err := db.AcceptTools(ctx, s.ID, []string{"nope"}, now); !errors.Is(err, ErrNotFound) {
		t.Errorf("accept of an unknown tool: %v, want ErrNotFound", err)
	}
	got := must(db.AcceptTools(ctx, s.ID, []string{"a", "b"}, now))
	if diff := cmp.Diff([]change{{"a", "changed", "accepted", "pinned"}}, got); diff != "" {
		t.Errorf("accept a, b (-want +got):\n%s", diff)
	}
	a, _ := db.Tool(ctx, s.ID, "a")
	if a.PinnedHash != "h:a:A2" || string(a.PinnedDef) != string(def("a", "A2").Definition) {
		t.Errorf("accepted a = %+v", a)
	}
	got = must(db.AcceptTools(ctx, s.ID, nil, now))
	if diff := cmp.Diff([]change{{"c", "removed", "accepted", "removed"}, {"d", "new", "accepted", "pinned"}}, got); diff != "" {
		t.Errorf("accept all (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"a": "pinned", "b": "pinned", "d": "pinned"}, states(t, db, s.ID)); diff != "" {
		t.Errorf("after accept (-want +got):\n%s", diff)
	}
	if _, err := db.Tool(ctx, s.ID, "c"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Tool(c) after its removal was accepted: %v, want ErrNotFound", err)
	}
	if _, err := db.AcceptTools(ctx, s.ID, []string{"c"}, now); !errors.Is(err, ErrNotFound) {
		t.Errorf("accept of a retired tool: %v, want ErrNotFound", err)
	}
	// The removed tool comes back: it is new, not silently pinned.
	got = must(db.ObserveTools(ctx, s.ID, []ToolDef{def("a", "A2"), def("b", "B"), def("c", "C"), def("d", "D")}, now))
	if diff := cmp.Diff([]change{{"c", "", "new", "new"}}, got); diff != "" {
		t.Errorf("removed tool back (-want +got):\n%s", diff)
	}

	// Every tool removed and accepted: the server still counts as pinned,
	// so its next answer is drift, not a first answer.
	must(db.ObserveTools(ctx, s.ID, nil, now))
	must(db.AcceptTools(ctx, s.ID, nil, now))
	if has, _ := db.HasPins(ctx, s.ID); !has {
		t.Error("HasPins = false after every removal was accepted")
	}
	if ts, _ := db.Tools(ctx, s.ID); len(ts) != 0 {
		t.Errorf("Tools = %v, want none", ts)
	}
	got = must(db.ObserveTools(ctx, s.ID, []ToolDef{def("x", "X")}, now))
	if diff := cmp.Diff([]change{{"x", "", "new", "new"}}, got); diff != "" {
		t.Errorf("after everything was removed (-want +got):\n%s", diff)
	}
}

// A scan outside any session (install's) quarantines held tools before the
// client starts the server; the session's first answer still pins the rest,
// and what the scan saw that the session does not list is forgotten.
func TestQuarantineScanned(t *testing.T) {
	ctx := context.Background()
	db, s := openTestDB(t)
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	held := func(d ToolDef) ToolDef { d.Hold = true; return d }
	cs, err := db.QuarantineScanned(ctx, s.ID, []ToolDef{def("a", "A"), held(def("evil", "E")), held(def("gone", "G"))}, now)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]change{{"evil", "", "quarantined", "quarantined"}, {"gone", "", "quarantined", "quarantined"}}, changesOf(cs)); diff != "" {
		t.Errorf("scan: changes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"evil": "quarantined", "gone": "quarantined"}, states(t, db, s.ID)); diff != "" {
		t.Errorf("scan: states (-want +got):\n%s", diff)
	}
	// A person may accept before any session: the pin is theirs.
	if _, err := db.AcceptTools(ctx, s.ID, []string{"gone"}, now); err != nil {
		t.Fatal(err)
	}
	// The session's first answer: a, b pinned; evil still held with no
	// second alert; gone (not listed to this client) forgotten.
	cs, err = db.ObserveTools(ctx, s.ID, []ToolDef{def("a", "A"), def("b", "B"), held(def("evil", "E"))}, now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]change{{"a", "", "pinned", "pinned"}, {"b", "", "pinned", "pinned"}}, changesOf(cs)); diff != "" {
		t.Errorf("first answer: changes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"a": "pinned", "b": "pinned", "evil": "quarantined"}, states(t, db, s.ID)); diff != "" {
		t.Errorf("first answer: states (-want +got):\n%s", diff)
	}
	// Once a session listed, a scan writes nothing.
	if cs, err := db.QuarantineScanned(ctx, s.ID, []ToolDef{held(def("c", "C"))}, now); err != nil || cs != nil {
		t.Errorf("scan after a session = %v, %v", cs, err)
	}
	if _, err := db.Tool(ctx, s.ID, "c"); !errors.Is(err, ErrNotFound) {
		t.Errorf("scan after a session wrote tool c: %v", err)
	}
	// A tool the scan held that the session shows clean (another
	// definition) is pinned by the first answer.
	db2, s2 := openTestDB(t)
	if _, err := db2.QuarantineScanned(ctx, s2.ID, []ToolDef{held(def("x", "bad"))}, now); err != nil {
		t.Fatal(err)
	}
	cs, _ = db2.ObserveTools(ctx, s2.ID, []ToolDef{def("x", "good")}, now)
	if diff := cmp.Diff([]change{{"x", "quarantined", "pinned", "pinned"}}, changesOf(cs)); diff != "" {
		t.Errorf("clean in session: changes (-want +got):\n%s", diff)
	}
	if x, _ := db2.Tool(ctx, s2.ID, "x"); x.PinnedHash != "h:x:good" {
		t.Errorf("clean in session: pinned %q", x.PinnedHash)
	}
}

// TestCompareToolsWritesNothingUnchanged: a later answer with the same
// tools is compared without a write; the tools are named for TouchTools,
// which marks them seen and keeps a later time already there. A changed
// tool is written as ObserveTools writes it.
func TestCompareToolsWritesNothingUnchanged(t *testing.T) {
	ctx := context.Background()
	db, s := openTestDB(t)
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if _, err := db.ObserveTools(ctx, s.ID, []ToolDef{def("a", "A"), def("b", "B")}, t0); err != nil {
		t.Fatal(err)
	}
	seen := func() map[string]time.Time {
		ts, err := db.Tools(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]time.Time{}
		for _, tl := range ts {
			out[tl.Name] = tl.SeenAt
		}
		return out
	}
	t1 := t0.Add(time.Hour)
	cmpd, err := db.CompareTools(ctx, s.ID, []ToolDef{def("a", "A"), def("b", "B2")}, t1)
	cs, unchanged := cmpd.Changes, cmpd.Unchanged
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]change{{"b", ToolPinned, ChangeChanged, ToolChanged}}, changesOf(cs)); diff != "" {
		t.Fatalf("changes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"a"}, unchanged); diff != "" {
		t.Fatalf("unchanged (-want +got):\n%s", diff)
	}
	if got := seen(); !got["a"].Equal(t0) || !got["b"].Equal(t1) {
		t.Fatalf("seen at %v, want a at %v (not written) and b at %v", got, t0, t1)
	}
	if err := db.TouchTools(ctx, s.ID, unchanged, t1); err != nil {
		t.Fatal(err)
	}
	if err := db.TouchTools(ctx, s.ID, []string{"a", "b"}, t0); err != nil {
		t.Fatal(err)
	}
	if got := seen(); !got["a"].Equal(t1) || !got["b"].Equal(t1) {
		t.Fatalf("seen at %v, want both at %v", got, t1)
	}
	if diff := cmp.Diff(map[string]string{"a": ToolPinned, "b": ToolChanged}, states(t, db, s.ID)); diff != "" {
		t.Fatalf("states (-want +got):\n%s", diff)
	}
}

// TestObserveToolsManyNew: a first answer longer than a batch of inserts
// (and not a multiple of it) pins every tool as listed; CompareTools
// does not list what a first answer pins, and reports the drift after.
func TestObserveToolsManyNew(t *testing.T) {
	ctx := context.Background()
	db, s := openTestDB(t)
	var defs []ToolDef
	for i := range 2*insertRows + 57 {
		defs = append(defs, def(fmt.Sprintf("t%04d", i), fmt.Sprintf("D%d", i)))
	}
	cmpd, err := db.CompareTools(ctx, s.ID, defs, time.Now())
	cs, unchanged := cmpd.Changes, cmpd.Unchanged
	if err != nil || len(cs) != 0 || len(unchanged) != 0 {
		t.Fatalf("first answer: %d changes, %d unchanged, %v; want none", len(cs), len(unchanged), err)
	}
	ts, err := db.Tools(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != len(defs) {
		t.Fatalf("%d tools pinned, want %d", len(ts), len(defs))
	}
	for i, tl := range ts {
		d := defs[i]
		if tl.Name != d.Name || tl.State != ToolPinned || string(tl.Definition) != string(d.Definition) ||
			string(tl.PinnedDef) != string(d.Definition) || tl.Hash != d.Hash || tl.PinnedHash != d.Hash {
			t.Fatalf("tool %d is %+v, want %s pinned at %s", i, tl, d.Name, d.Hash)
		}
	}
	defs[3] = def(defs[3].Name, "changed")
	cmpd, err = db.CompareTools(ctx, s.ID, append(defs, def("zz", "new")), time.Now())
	cs, unchanged = cmpd.Changes, cmpd.Unchanged
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]change{{defs[3].Name, ToolPinned, ChangeChanged, ToolChanged}, {"zz", "", ChangeNew, ToolNew}}, changesOf(cs)); diff != "" {
		t.Fatalf("changes (-want +got):\n%s", diff)
	}
	if len(unchanged) != len(defs)-1 {
		t.Fatalf("%d unchanged, want %d", len(unchanged), len(defs)-1)
	}
}

// TestObserveToolsNameOrder: the answer and the pins are walked side by
// side in byte order, whatever the server's order and alphabet.
func TestObserveToolsNameOrder(t *testing.T) {
	ctx := context.Background()
	db, s := openTestDB(t)
	now := time.Now()
	names := []string{"z", "é", "B", "a", "a_", "Ä", "😀", "a b"}
	var defs []ToolDef
	for _, n := range names {
		defs = append(defs, def(n, "D"))
	}
	if _, err := db.ObserveTools(ctx, s.ID, defs, now); err != nil {
		t.Fatal(err)
	}
	// é is gone, B changed, 😀 listed twice (the first counts), n is new.
	later := []ToolDef{def("😀", "D"), def("z", "D"), def("B", "B2"), def("a", "D"), def("a_", "D"), def("Ä", "D"),
		def("😀", "other"), def("a b", "D"), def("n", "N")}
	cs, err := db.ObserveTools(ctx, s.ID, later, now)
	if err != nil {
		t.Fatal(err)
	}
	want := []change{{"B", ToolPinned, ChangeChanged, ToolChanged}, {"n", "", ChangeNew, ToolNew}, {"é", ToolPinned, ChangeRemoved, ToolRemoved}}
	if diff := cmp.Diff(want, changesOf(cs), cmpopts.SortSlices(func(a, b change) bool { return a.Name < b.Name })); diff != "" {
		t.Fatalf("changes (-want +got):\n%s", diff)
	}
	wantStates := map[string]string{"z": ToolPinned, "é": ToolRemoved, "B": ToolChanged, "a": ToolPinned, "a_": ToolPinned,
		"Ä": ToolPinned, "😀": ToolPinned, "a b": ToolPinned, "n": ToolNew}
	if diff := cmp.Diff(wantStates, states(t, db, s.ID)); diff != "" {
		t.Fatalf("states (-want +got):\n%s", diff)
	}
}
