package trust

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/opena2a-org/aim-mcp/identity"
	"github.com/opena2a-org/aim-mcp/registry"
)

// TestEachScoreIsScore scores servers in every situation a score tells
// apart both ways, all at once and one by one, and wants the same scores:
// records of many servers interleaved in the chain, a server with none, a
// missing key, a key that is not the registered one, a person's answers,
// drift, a server not asked for, and a chain that does not verify.
func TestEachScoreIsScore(t *testing.T) {
	ctx := context.Background()
	db, err := registry.Open(ctx, filepath.Join(t.TempDir(), "aim.db"), registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	clock := time.Now()
	type server struct {
		srv registry.Server
		key *identity.Key
	}
	var all []server
	for _, name := range []string{"busy", "crashy", "quiet", "keyless", "otherkey", "drifted", "unasked"} {
		srv, _, err := db.Register(ctx, registry.Registration{Client: "c", Name: name, Command: name})
		if err != nil {
			t.Fatal(err)
		}
		key, err := db.Key(srv)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, server{srv, key})
	}
	appendTo := func(s server, ev registry.Event) {
		ev.ServerID, ev.Server, ev.Client = s.srv.ID, s.srv.Name, s.srv.Client
		if _, err := db.Append(ctx, s.key, ev); err != nil {
			t.Fatal(err)
		}
	}
	// Interleaved: every server but quiet has records all through the chain.
	for i := range 6 {
		for j, s := range all {
			if s.srv.Name == "quiet" {
				continue
			}
			at := clock.Add(-time.Duration(10-i) * time.Hour)
			id := json.RawMessage(`"` + string(rune('a'+i)) + `"`)
			appendTo(s, registry.Event{Time: at, Kind: registry.KindSessionStart})
			appendTo(s, registry.Event{Time: at, Kind: registry.KindCall, Tool: "t", RequestID: id})
			if (i+j)%3 != 0 { // some calls never get an outcome
				appendTo(s, registry.Event{Time: at, Kind: registry.KindOutcome, Tool: "t", Decision: "success", RequestID: id})
			}
			appendTo(s, registry.Event{Time: at, Kind: registry.KindDenied, Tool: "rm", Decision: "deny", Data: map[string]any{"risk": "high"}})
			appendTo(s, registry.Event{Time: at.Add(time.Minute), Kind: registry.KindSessionEnd,
				Data: map[string]any{"crashed": s.srv.Name == "crashy", "duration_ms": 1000 * (i + 1)}})
		}
	}
	// Out of the window: counted by neither.
	appendTo(all[0], registry.Event{Time: clock.AddDate(0, 0, -40), Kind: registry.KindBypass, Decision: "refused"})
	for _, s := range all[:6] {
		if _, err := db.ObserveTools(ctx, s.srv.ID, []registry.ToolDef{{Name: "t", Definition: json.RawMessage(`{"name":"t"}`), Hash: "1"}}, clock); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.ObserveTools(ctx, all[5].srv.ID, []registry.ToolDef{{Name: "t", Definition: json.RawMessage(`{"name":"t","description":"x"}`), Hash: "2"}}, clock); err != nil {
		t.Fatal(err)
	}
	appendTo(all[5], registry.Event{Time: clock.Add(-time.Minute), Kind: registry.KindDrift, Tool: "t", Decision: "changed"})
	for i, yes := range []bool{true, false, true} {
		a, _, err := db.RequestApproval(ctx, registry.Approval{ServerID: all[0].srv.ID, Server: "busy", Tool: "rm",
			ArgsDigest: string(rune('x' + i)), Risk: "high"}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		status := registry.ApprovalApproved
		if !yes {
			status = registry.ApprovalDenied
		}
		if _, err := db.DecideApproval(ctx, a.ID, status, "alice", ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Keys().Remove(all[3].srv.ID); err != nil {
		t.Fatal(err)
	}
	other, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(db.Keys().Path(all[4].srv.ID), []byte(other.Seed()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	asked := make([]registry.Server, 0, len(all)-1)
	for _, s := range all[:6] {
		asked = append(asked, s.srv)
	}
	check := func(when string) {
		t.Helper()
		now := time.Now()
		got := map[string]Score{}
		err := (&Source{DB: db, Now: now}).EachScore(ctx, asked, func(srv registry.Server, s Score) {
			if _, twice := got[srv.ID]; twice {
				t.Errorf("%s: %s scored twice", when, srv.Name)
			}
			got[srv.ID] = s
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(asked) {
			t.Errorf("%s: %d scores for %d servers", when, len(got), len(asked))
		}
		overall := map[float64]bool{}
		for _, srv := range asked {
			want, err := (&Source{DB: db, Now: now}).Score(ctx, srv)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got[srv.ID], want) {
				t.Errorf("%s: %s all at once:\n%+v\none by one:\n%+v", when, srv.Name, got[srv.ID].Evidence, want.Evidence)
			}
			overall[want.Overall] = true
		}
		if len(overall) < 4 { // the situations must tell the servers apart
			t.Errorf("%s: only %d different scores: %v", when, len(overall), overall)
		}
	}
	check("intact")
	if _, err := db.SQL().Exec(`UPDATE records SET body = replace(body, '"success"', '"tool_error"') WHERE seq = 3`); err != nil {
		t.Fatal(err)
	}
	check("tampered")
}
