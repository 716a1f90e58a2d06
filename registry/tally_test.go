package registry

import (
	"context"
	"reflect"
	"strings"
	"testing"
)

// TestTallies: saved rows come back as saved, in order, with their seq;
// rows edited, a record before them changed in place, the prefix re-chained
// under them or the triggers dropped make them unusable; a record changed
// after them does not (it is read again anyway).
func TestTallies(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	if got, err := db.Tallies(ctx); err != nil || got.Seq != 0 || got.Rows != nil || got.Distrust != "" {
		t.Fatalf("no tallies: %+v, %v", got, err)
	}
	appendN(t, db, 60)
	rows := []TallyRow{{"b", "x", []byte("2")}, {"a", "y", []byte(`{"n":1}`)}, {"a", "total", []byte("3")}}
	if err := db.SaveTallies(ctx, 50, rows); err != nil {
		t.Fatal(err)
	}
	want := []TallyRow{rows[2], rows[1], rows[0]}
	got, err := db.Tallies(ctx)
	if err != nil || got.Seq != 50 || got.Distrust != "" || !reflect.DeepEqual(got.Rows, want) {
		t.Fatalf("Tallies = %+v, %v; want seq 50 and %+v", got, err, want)
	}
	exec := func(q string) {
		t.Helper()
		if _, err := db.SQL().ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	distrusted := func(what, why string) {
		t.Helper()
		got, err := db.Tallies(ctx)
		if err != nil || got.Seq != 0 || got.Rows != nil || !strings.Contains(got.Distrust, why) {
			t.Errorf("%s: Tallies = %+v, %v; want them distrusted for %q", what, got, err, why)
		}
		if err := db.SaveTallies(ctx, 50, rows); err != nil {
			t.Fatal(err)
		}
	}

	exec(`UPDATE records SET body = replace(body, '"tool":"t"', '"tool":"x"') WHERE seq = 55`)
	if got, _ := db.Tallies(ctx); got.Seq != 50 || got.Distrust != "" {
		t.Errorf("a record after the tallies edited: %+v, want them used", got)
	}
	exec(`UPDATE tallies SET data = '4' WHERE server_id = 'b'`)
	distrusted("a row edited", "digest")
	exec(`INSERT INTO tallies (server_id, key, data) VALUES ('c', 'x', '1')`)
	distrusted("a row added", "digest")
	exec(`UPDATE tally_mark SET body = replace(body, '"seq":50', '"seq":40')`)
	distrusted("the mark edited", "signature")
	exec(`DROP TRIGGER records_deleted`)
	distrusted("a trigger dropped", "triggers")
	exec(`DELETE FROM record_edits`)
	exec(`UPDATE records SET body = replace(body, '"tool":"t"', '"tool":"x"') WHERE seq = 20`)
	distrusted("a record before the tallies edited", "record 20 was changed or deleted in place")

	// The prefix re-chained under the tallies, triggers dropped first.
	db3 := open(t)
	appendN(t, db3, 50)
	if err := db3.SaveTallies(ctx, 50, rows); err != nil {
		t.Fatal(err)
	}
	db3.SQL().ExecContext(ctx, `DROP TRIGGER records_updated`)
	rechain(t, db3, 20)
	db3.SQL().ExecContext(ctx, `CREATE TRIGGER records_updated AFTER UPDATE ON records
		BEGIN INSERT INTO record_edits (seq) VALUES (OLD.seq); END`)
	if got, _ := db3.Tallies(ctx); got.Seq != 0 || !strings.Contains(got.Distrust, "record 50 no longer has the hash") {
		t.Errorf("re-chained under the tallies: %+v, want them distrusted", got)
	}
}
