package trust

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/opena2a-org/aim-mcp/identity"
	"github.com/opena2a-org/aim-mcp/registry"
)

// trail makes records of every kind that counts, one every step from
// start, oldest first, with request ids reused so calls stack on a key,
// and calls answered steps (and so days) later: some the next day, some
// never.
func trail(start time.Time, step time.Duration, n int) []registry.Event {
	var evs []registry.Event
	statuses := []string{"success", "tool_error", "success", "cancelled", "rpc_error", "success"}
	for i := range n {
		at := start.Add(time.Duration(i) * step)
		id := json.RawMessage(fmt.Sprint(i % 5))
		tool := fmt.Sprintf("t%d", i%3)
		ev := registry.Event{Time: at, Tool: tool, RequestID: id}
		switch i % 11 {
		case 0:
			ev.Kind = registry.KindSessionStart
			ev.Tool, ev.RequestID = "", nil
		case 1:
			ev.Kind, ev.Tool, ev.RequestID = registry.KindSessionEnd, "", nil
			ev.Data = map[string]any{"crashed": i%3 == 0, "duration_ms": []int{500, 60000}[i%2]}
		case 2, 3, 4, 5:
			ev.Kind, ev.Decision = registry.KindCall, "allow"
		case 6, 7, 8:
			// Answers a call made steps ago: at 5 h a step, the day before.
			ev.Kind, ev.Decision = registry.KindOutcome, statuses[i%len(statuses)]
			ev.RequestID = json.RawMessage(fmt.Sprint((i - 4) % 5))
			ev.Tool = fmt.Sprintf("t%d", (i-4)%3)
		case 9:
			ev.Kind = registry.KindDenied
			ev.Decision = []string{"deny", "cancelled", "deny"}[i%3]
			ev.Data = map[string]any{"risk": []string{"critical", "high", "low"}[i%3], "source": "policy"}
		case 10:
			ev.Kind, ev.RequestID = registry.KindDrift, nil
			ev.Decision = []string{"changed", "accepted", "new", "removed"}[i%4]
			if i%7 == 0 {
				ev.Kind, ev.Decision, ev.Tool = registry.KindBypass, "refused", ""
			}
		}
		evs = append(evs, ev)
	}
	return evs
}

// toRecords gives events the fields the chain would, for Tally.
func toRecords(evs []registry.Event) []registry.Record {
	out := make([]registry.Record, len(evs))
	for i, ev := range evs {
		data, _ := json.Marshal(ev.Data)
		if ev.Data == nil {
			data = nil
		}
		out[i] = registry.Record{Seq: int64(i + 1), Time: ev.Time.UTC(), ServerID: "s", Server: "s", Kind: ev.Kind,
			Tool: ev.Tool, Decision: ev.Decision, RequestID: ev.RequestID, Data: data}
	}
	return out
}

// TestDaysAreTally: the days of a window merged are what Tally gives for
// the window's records, whatever day the window starts on, with calls
// answered a day later and outcomes whose call is before the window.
func TestDaysAreTally(t *testing.T) {
	start := time.Date(2026, 10, 1, 3, 0, 0, 0, time.UTC)
	recs := toRecords(trail(start, 5*time.Hour, 300)) // about 62 days
	for _, now := range []time.Time{
		start.AddDate(0, 0, 20), start.AddDate(0, 0, 31).Add(7 * time.Hour),
		start.AddDate(0, 0, 45).Add(23 * time.Hour), recs[len(recs)-1].Time,
	} {
		// The days count every record up to now, as a Source's do when
		// it uses them.
		since := WindowStart(now)
		d := days{}
		var in []registry.Record
		for _, r := range recs {
			if r.Time.After(now) {
				break
			}
			d.add(r)
			if !r.Time.Before(since) {
				in = append(in, r)
			}
		}
		want, got := Tally(in), d.sum(since, now)
		wj, _ := json.Marshal(want)
		gj, _ := json.Marshal(got)
		if string(wj) != string(gj) {
			t.Errorf("window to %v: days add up to\n%s\nrecords to\n%s", now, gj, wj)
		}
		if want.complete == 0 || want.records < 50 {
			t.Fatalf("window to %v: %d records, %d complete: the trail does not test pairing", now, want.records, want.complete)
		}
		ev := Evidence{Server: registry.Server{ID: "s"}, Now: now}
		ev.Activity = want
		ws := Compute(ev)
		ev.Activity = got
		if gs := Compute(ev); !reflect.DeepEqual(ws, gs) {
			t.Errorf("window to %v: scores differ:\n%+v\n%+v", now, gs, ws)
		}
		// Kept and read back: the same.
		back := &Activity{}
		if err := json.Unmarshal(gj, back); err != nil {
			t.Fatal(err)
		}
		if bj, _ := json.Marshal(back); string(bj) != string(gj) {
			t.Errorf("an activity read back differs:\n%s\n%s", bj, gj)
		}
	}
}

// sourceDB is a registry with two servers and their keys.
func sourceDB(t *testing.T) (*registry.DB, []registry.Server, []*identity.Key) {
	t.Helper()
	ctx := context.Background()
	db, err := registry.Open(ctx, filepath.Join(t.TempDir(), "aim.db"), registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var srvs []registry.Server
	var keys []*identity.Key
	for _, name := range []string{"a", "b"} {
		srv, _, err := db.Register(ctx, registry.Registration{Client: "c", Name: name, Command: name})
		if err != nil {
			t.Fatal(err)
		}
		key, err := db.Key(srv)
		if err != nil {
			t.Fatal(err)
		}
		srvs, keys = append(srvs, srv), append(keys, key)
	}
	return db, srvs, keys
}

// appendTrail appends evs alternately to the servers, batches of 7.
func appendTrail(t *testing.T, db *registry.DB, srvs []registry.Server, keys []*identity.Key, evs []registry.Event) {
	t.Helper()
	for i := 0; i < len(evs); i += 7 {
		j := i / 7 % len(srvs)
		batch := evs[i:min(i+7, len(evs))]
		for k := range batch {
			batch[k].ServerID, batch[k].Server, batch[k].Client = srvs[j].ID, srvs[j].Name, srvs[j].Client
		}
		if _, err := db.AppendAll(context.Background(), keys[j], batch); err != nil {
			t.Fatal(err)
		}
	}
}

// checkSource scores every server with a new Source, at now, and wants
// the scores of the records themselves, and the stats the registry sums.
// It returns the Source's TallyDistrust.
func checkSource(t *testing.T, db *registry.DB, srvs []registry.Server, now time.Time) string {
	t.Helper()
	ctx := context.Background()
	src := &Source{DB: db, Now: now}
	got := map[string]Score{}
	if err := src.EachScore(ctx, srvs, func(s registry.Server, sc Score) { got[s.ID] = sc }); err != nil {
		t.Fatal(err)
	}
	for _, srv := range srvs {
		ev, err := (&Source{DB: db, Now: now}).Evidence(ctx, srv)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Records, err = db.Records(ctx, registry.Filter{ServerID: srv.ID, Since: WindowStart(now), Until: now.Add(time.Nanosecond)}); err != nil {
			t.Fatal(err)
		}
		ev.Activity = nil
		want := Compute(ev)
		if !reflect.DeepEqual(got[srv.ID], want) {
			t.Errorf("%s: counted score\n%+v\nwant the records'\n%+v", srv.Name, got[srv.ID], want)
		}
		if want.Evidence[Compliance].Counts["complete"] == 0 {
			t.Fatalf("%s: no complete calls: the trail does not test pairing", srv.Name)
		}
	}
	stats, err := src.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want, err := db.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(stats, want) {
		t.Errorf("stats %+v, want %+v", stats, want)
	}
	why, err := src.TallyDistrust(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return why
}

// TestSourceKeepsTallies: a run counts the trail and keeps the counts; the
// next reads them and the records appended since (outcomes of calls the
// kept days left waiting among them) and scores as the records do. A kept
// row edited, or a record before the counts changed in place, is noticed:
// the counts are not used, and the score is still the records'.
func TestSourceKeepsTallies(t *testing.T) {
	ctx := context.Background()
	db, srvs, keys := sourceDB(t)
	now := time.Now()
	// 40 days, one record every 3 h, up to an hour ago.
	evs := trail(now.Add(-40*24*time.Hour), 3*time.Hour, 320)
	appendTrail(t, db, srvs, keys, evs[:250])
	if why := checkSource(t, db, srvs, now); why != "" {
		t.Fatalf("first run: distrust %q", why)
	}
	saved, err := db.Tallies(ctx)
	if err != nil || saved.Seq != 250 || saved.Distrust != "" {
		t.Fatalf("tallies after the first run: seq %d, %q, %v; want 250", saved.Seq, saved.Distrust, err)
	}
	appendTrail(t, db, srvs, keys, evs[250:])
	if why := checkSource(t, db, srvs, now); why != "" {
		t.Fatalf("second run: distrust %q", why)
	}
	if saved, _ = db.Tallies(ctx); saved.Seq != 320 {
		t.Fatalf("tallies after the second run: seq %d, want 320", saved.Seq)
	}

	// A row edited: more records and calls for server a.
	edit := func(q string, args ...any) {
		t.Helper()
		if _, err := db.SQL().ExecContext(ctx, q, args...); err != nil {
			t.Fatal(err)
		}
	}
	edit(`UPDATE tallies SET data = '{"calls":1,"records":1,"last":0}' WHERE server_id = ? AND key = 'total'`, srvs[0].ID)
	if why := checkSource(t, db, srvs, now); !strings.Contains(why, "digest") {
		t.Errorf("a tally row edited: distrust %q, want the digest named", why)
	}
	// Counted again from the first record and saved: trusted again.
	if why := checkSource(t, db, srvs, now); why != "" {
		t.Errorf("after counting again: distrust %q", why)
	}
	// A day's row deleted, its mark left.
	edit(`DELETE FROM tallies WHERE rowid = (SELECT min(rowid) FROM tallies WHERE key <> 'total')`)
	if why := checkSource(t, db, srvs, now); !strings.Contains(why, "digest") {
		t.Errorf("a tally row deleted: distrust %q, want the digest named", why)
	}
	// The mark edited to count fewer records.
	edit(`UPDATE tally_mark SET body = replace(body, '"seq":320', '"seq":300')`)
	if why := checkSource(t, db, srvs, now); !strings.Contains(why, "signature") {
		t.Errorf("the mark edited: distrust %q, want the signature named", why)
	}
}

// TestTalliesAndAnEditedRecord: a record changed before the kept counts
// makes them unusable (and the chain fails, so the scores say so); one
// changed after them does not stop them being used, and the chain fails.
func TestTalliesAndAnEditedRecord(t *testing.T) {
	ctx := context.Background()
	for _, seq := range []int64{40, 130} {
		db, srvs, keys := sourceDB(t)
		now := time.Now()
		evs := trail(now.Add(-20*24*time.Hour), 3*time.Hour, 150)
		appendTrail(t, db, srvs, keys, evs[:100])
		if why := checkSource(t, db, srvs, now); why != "" {
			t.Fatalf("first run: distrust %q", why)
		}
		appendTrail(t, db, srvs, keys, evs[100:])
		if _, err := db.SQL().ExecContext(ctx, `UPDATE records SET decision = 'success', body = replace(body, '"decision":"tool_error"', '"decision":"success"')
			WHERE seq = (SELECT min(seq) FROM records WHERE seq >= ? AND decision = 'tool_error')`, seq); err != nil {
			t.Fatal(err)
		}
		why := checkSource(t, db, srvs, now)
		if before := seq < 100; before != strings.Contains(why, "changed or deleted in place") {
			t.Errorf("record after %d edited: distrust %q", seq, why)
		}
		sc, err := (&Source{DB: db, Now: now}).Score(ctx, srvs[0])
		if err != nil {
			t.Fatal(err)
		}
		if sc.Evidence[VerificationStatus].Value == 1 {
			t.Errorf("record after %d edited: verification %+v, want the chain failing", seq, sc.Evidence[VerificationStatus])
		}
	}
}
