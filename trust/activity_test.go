package trust

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/opena2a-org/aim-mcp/registry"
)

var update = flag.Bool("update", false, "rewrite testdata/activity-score.json")

// TestActivityLarge scores a server with 6,000 records of every kind in a
// real registry two ways: streamed by a Source (which keeps no record) and
// from the records held in memory. The scores are the same, and the same as
// when every factor walked the records itself (testdata/activity-score.json
// was written by that code, before Activity).
func TestActivityLarge(t *testing.T) {
	ctx := context.Background()
	db, err := registry.Open(ctx, filepath.Join(t.TempDir(), "aim.db"), registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	srv, _, err := db.Register(ctx, registry.Registration{Client: "c", Name: "busy", Command: "busy"})
	if err != nil {
		t.Fatal(err)
	}
	key, err := db.Key(srv)
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC) // midnight: the window of whole days is 30 days to the nanosecond
	var evs []registry.Event
	add := func(ago time.Duration, kind, tool, decision string, id int, data any) {
		ev := registry.Event{Time: clock.Add(-ago), ServerID: srv.ID, Server: srv.Name, Client: srv.Client,
			Kind: kind, Tool: tool, Decision: decision, Data: data}
		if id >= 0 {
			ev.RequestID = json.RawMessage(fmt.Sprint(id))
		}
		evs = append(evs, ev)
	}
	statuses := []string{"success", "success", "success", "tool_error", "rpc_error", "cancelled", "server_exited", "input_required"}
	risks := []any{"critical", "high", "low", nil}
	const n = 6000
	for i := range n {
		// Oldest first, from 40 days ago (outside the window) to now.
		ago := time.Duration(n-i) * (40 * 24 * time.Hour / n)
		tool := fmt.Sprintf("t%d", i%7)
		id := i % 50 // reused ids stack calls on one key
		switch i % 20 {
		case 0:
			add(ago, registry.KindSessionStart, "", "", -1, nil)
		case 1:
			dur := []int{500, 3600000, 20000}[i/20%3]
			add(ago, registry.KindSessionEnd, "", "exited", -1, map[string]any{"crashed": i/20%4 != 0, "duration_ms": dur})
		case 2, 3, 4, 5, 6, 7, 8, 9:
			add(ago, registry.KindCall, tool, "allow", id, map[string]any{"args": map[string]any{"n": i}})
		case 10, 11, 12, 13, 14, 15:
			add(ago, registry.KindOutcome, tool, statuses[i%len(statuses)], id-8, map[string]any{"duration_ms": 1})
		case 16, 17, 18: // rarer: the alerts must not add up past 1
			switch k := i / 20; {
			case i%20 == 16 && k%15 == 0:
				j := k / 15 % 4
				add(ago, registry.KindDenied, tool, []string{"deny", "cancelled", "deny", "deny"}[j], id,
					map[string]any{"risk": risks[k/60%4], "source": []string{"policy", "policy", "tool pin", "policy"}[j]})
			case i%20 == 17 && k%40 == 0:
				add(ago, registry.KindDrift, tool, []string{"changed", "accepted", "removed", "new"}[k/40%4], -1, nil)
			case i%20 == 18 && k%150 == 0:
				add(ago, registry.KindBypass, "", "refused", -1, nil)
			default:
				add(ago, registry.KindNoise, "", "", -1, map[string]any{"line": "x"})
			}
		case 19:
			add(ago, registry.KindNoise, "", "", -1, map[string]any{"line": "x"})
		}
	}
	// Calls without an outcome: one running, one missing.
	add(10*time.Minute, registry.KindCall, "late", "allow", 9999, nil)
	add(3*time.Hour, registry.KindCall, "lost", "allow", 9998, nil)
	for len(evs) > 0 {
		m := min(len(evs), 1000)
		if _, err := db.AppendAll(ctx, key, evs[:m]); err != nil {
			t.Fatal(err)
		}
		evs = evs[m:]
	}

	for _, def := range []string{`{"name":"a"}`, `{"name":"a","description":"changed"}`} {
		tools := []registry.ToolDef{{Name: "a", Definition: json.RawMessage(def), Hash: def}, {Name: "b", Definition: json.RawMessage(`{"name":"b"}`), Hash: "b"}}
		if _, err := db.ObserveTools(ctx, srv.ID, tools, clock); err != nil {
			t.Fatal(err)
		}
	}

	streamed, err := (&Source{DB: db, Now: clock}).Score(ctx, srv)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := (&Source{DB: db, Now: clock}).Evidence(ctx, srv)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Records, err = db.Records(ctx, registry.Filter{ServerID: srv.ID, Since: WindowStart(clock), Until: clock.Add(time.Nanosecond)}); err != nil {
		t.Fatal(err)
	}
	if len(ev.Records) < 4000 {
		t.Fatalf("%d records in the window, want most of %d", len(ev.Records), n)
	}
	ev.Activity = nil
	held := Compute(ev)
	if !reflect.DeepEqual(streamed, held) {
		t.Errorf("streamed score differs from the score of the records held:\n%+v\n%+v", streamed, held)
	}

	// The factors that rest on the records, as the code before Activity
	// computed them (verification and age rest on the day of the run).
	got := map[string]Factor{}
	for name, f := range streamed.Evidence {
		if name != VerificationStatus && name != Age {
			got[name] = f
		}
	}
	gotJSON, _ := json.MarshalIndent(got, "", "  ")
	golden := filepath.Join("testdata", "activity-score.json")
	if *update {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(golden, append(gotJSON, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if string(want) != string(gotJSON)+"\n" {
		t.Errorf("factors differ from %s:\n%s", golden, gotJSON)
	}
	for _, name := range []string{Uptime, SuccessRate, SecurityAlerts, Compliance, DriftDetection} {
		if f := streamed.Evidence[name]; f.Neutral || f.Value == 1 {
			t.Errorf("%s = %+v: want evidence that lowers it", name, f)
		}
	}
}
