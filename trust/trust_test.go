package trust

import (
	"context"
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opena2a-org/aim-mcp/registry"
)

var now = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func rec(kind, tool, decision string, ago time.Duration, data map[string]any) registry.Record {
	raw, _ := json.Marshal(data)
	if data == nil {
		raw = nil
	}
	return registry.Record{Kind: kind, Tool: tool, Decision: decision, Time: now.Add(-ago), Data: raw}
}

func call(id int, tool string, ago time.Duration) registry.Record {
	r := rec(registry.KindCall, tool, "allow", ago, nil)
	r.RequestID = json.RawMessage(strings.Repeat("1", 1) + string(rune('0'+id%10)))
	return r
}

func outcome(id int, tool, status string, ago time.Duration) registry.Record {
	r := rec(registry.KindOutcome, tool, status, ago, nil)
	r.RequestID = json.RawMessage(strings.Repeat("1", 1) + string(rune('0'+id%10)))
	return r
}

func session(ago time.Duration, crashed bool, dur time.Duration) []registry.Record {
	return []registry.Record{
		rec(registry.KindSessionStart, "", "", ago, nil),
		rec(registry.KindSessionEnd, "", "exited", ago-dur, map[string]any{"crashed": crashed, "duration_ms": dur.Milliseconds()}),
	}
}

func tool(name, state string) registry.Tool {
	return registry.Tool{Name: name, State: state, ChangedAt: now.Add(-time.Hour)}
}

// base is a healthy server: 100 days old, key and chain fine, two clean
// sessions with four successful calls, all tools pinned.
func base() Evidence {
	ev := Evidence{
		Server: registry.Server{ID: "id-1", Name: "fs", Client: "claude-desktop", Status: registry.StatusActive,
			RegisteredAt: now.AddDate(0, 0, -100)},
		Now:   now,
		Chain: registry.Verification{Records: 20, Servers: 1},
		Tools: []registry.Tool{tool("read", "pinned"), tool("write", "pinned"), tool("list", "pinned"), tool("stat", "pinned")},
	}
	ev.Records = append(ev.Records, session(48*time.Hour, false, time.Hour)...)
	ev.Records = append(ev.Records, session(24*time.Hour, false, time.Hour)...)
	for i := range 4 {
		ev.Records = append(ev.Records, call(i, "read", 47*time.Hour), outcome(i, "read", "success", 47*time.Hour))
	}
	return ev
}

func approval(status, by string, ago time.Duration) registry.Approval {
	return registry.Approval{Status: status, DecidedBy: by, DecidedAt: now.Add(-ago)}
}

func near(a, b float64) bool { return math.Abs(a-b) < 0.0015 }

func TestBaseIsPerfectButForFeedback(t *testing.T) {
	s := Compute(base())
	for _, name := range Names {
		want := 1.0
		if name == UserFeedback {
			want = Neutral
		}
		if s.Factors[name] != want {
			t.Errorf("%s = %v (%s), want %v", name, s.Factors[name], s.Evidence[name].Evidence, want)
		}
	}
	if !near(s.Overall, 0.975) {
		t.Errorf("overall = %v, want 0.975", s.Overall)
	}
	if len(s.Reasons()) != 0 {
		t.Errorf("reasons = %v", s.Reasons())
	}
	sum := 0.0
	for _, w := range Weights {
		sum += w
	}
	if !near(sum, 1) {
		t.Errorf("weights sum to %v", sum)
	}
}

func TestFactors(t *testing.T) {
	tests := []struct {
		name     string
		change   func(ev *Evidence)
		factor   string
		want     float64
		evidence string // a substring of the factor's evidence
		neutral  bool
	}{
		// verification_status
		{"key missing", func(ev *Evidence) { ev.KeyErr = "missing or unreadable: no such file" }, VerificationStatus, 2.0 / 3, "key: missing", false},
		{"purged", func(ev *Evidence) { ev.Server.Status = registry.StatusPurged }, VerificationStatus, 2.0 / 3, "not registered", false},
		{"chain broken", func(ev *Evidence) { ev.Chain = registry.Verification{BadSeq: 7, Reason: "the record was edited"} }, VerificationStatus, 2.0 / 3, "record 7", false},
		{"nothing holds", func(ev *Evidence) {
			ev.Server.Status, ev.KeyErr, ev.Chain = registry.StatusPurged, "gone", registry.Verification{BadSeq: 1}
		}, VerificationStatus, 0, "not registered", false},

		// uptime
		{"a crash", func(ev *Evidence) { ev.Records = append(ev.Records, session(2*time.Hour, true, time.Minute)...) }, Uptime, 2.0 / 3, "1 crashed, 0 failed", false},
		{"a failed start", func(ev *Evidence) { ev.Records = append(ev.Records, session(2*time.Hour, true, time.Second)...) }, Uptime, 2.0 / 3, "0 crashed, 1 failed to start", false},
		{"a stop asked for is clean", func(ev *Evidence) { ev.Records = append(ev.Records, session(2*time.Hour, false, time.Second)...) }, Uptime, 1, "3 of 3 sessions", false},
		{"no sessions", func(ev *Evidence) { ev.Records = ev.Records[4:] }, Uptime, Neutral, "no finished sessions", true},

		// success_rate
		{"a tool error", func(ev *Evidence) {
			ev.Records = append(ev.Records, call(5, "read", time.Hour), outcome(5, "read", "tool_error", time.Hour))
		}, SuccessRate, 0.8, "4 of 5 calls", false},
		{"an rpc error and a crash", func(ev *Evidence) {
			ev.Records = append(ev.Records, outcome(6, "read", "rpc_error", time.Hour), outcome(7, "read", "server_exited", time.Hour))
		}, SuccessRate, 4.0 / 6, "1 rpc_error, 1 server_exited", false},
		{"cancelled calls do not count", func(ev *Evidence) {
			ev.Records = append(ev.Records, outcome(8, "read", "cancelled", time.Hour), outcome(9, "read", "input_required", time.Hour))
		}, SuccessRate, 1, "4 of 4 calls", false},
		{"no results", func(ev *Evidence) { ev.Records = ev.Records[:4] }, SuccessRate, Neutral, "no call results", true},

		// security_alerts
		{"a bypass attempt", func(ev *Evidence) {
			ev.Records = append(ev.Records, rec(registry.KindBypass, "", "refused", time.Hour, nil))
		}, SecurityAlerts, 0.75, "1 bypass × 0.25", false},
		{"drift", func(ev *Evidence) {
			ev.Records = append(ev.Records, rec(registry.KindDrift, "read", "changed", time.Hour, nil),
				rec(registry.KindDrift, "new", "new", time.Hour, nil), rec(registry.KindDrift, "x", "removed", time.Hour, nil))
		}, SecurityAlerts, 0.75, "1 drift changed × 0.10, 1 drift removed × 0.10, 1 drift new × 0.05", false},
		{"accepted and reverted drift is no alert", func(ev *Evidence) {
			ev.Records = append(ev.Records, rec(registry.KindDrift, "read", "accepted", time.Hour, nil),
				rec(registry.KindDrift, "read", "reverted", time.Hour, nil))
		}, SecurityAlerts, 1, "no alerts", false},
		{"policy denials by risk", func(ev *Evidence) {
			ev.Records = append(ev.Records,
				rec(registry.KindDenied, "rm", "deny", time.Hour, map[string]any{"risk": "critical"}),
				rec(registry.KindDenied, "rm", "deny", time.Hour, map[string]any{"risk": "high"}),
				rec(registry.KindDenied, "ls", "deny", time.Hour, map[string]any{"risk": "low"}))
		}, SecurityAlerts, 0.83, "1 denied critical × 0.10, 1 denied high × 0.05, 1 denied other × 0.02", false},
		{"held for a person or for drift: no alert", func(ev *Evidence) {
			ev.Records = append(ev.Records,
				rec(registry.KindDenied, "rm", "approval_required", time.Hour, map[string]any{"risk": "high"}),
				rec(registry.KindDenied, "rm", "denied", time.Hour, map[string]any{"risk": "high"}),
				rec(registry.KindDenied, "read", "deny", time.Hour, map[string]any{"source": "tool pin"}))
		}, SecurityAlerts, 1, "no alerts", false},
		{"many alerts floor at 0", func(ev *Evidence) {
			for range 5 {
				ev.Records = append(ev.Records, rec(registry.KindBypass, "", "refused", time.Hour, nil))
			}
		}, SecurityAlerts, 0, "5 bypass", false},
		{"alerts older than 30 days are out of the window", func(ev *Evidence) {
			// Evidence holds only the window; Source filters by time.
		}, SecurityAlerts, 1, "no alerts", false},

		// compliance
		{"a call with no outcome for hours", func(ev *Evidence) {
			ev.Records = append(ev.Records, call(5, "read", 3*time.Hour))
		}, Compliance, 0.8, "1 without an outcome", false},
		{"a call still running", func(ev *Evidence) {
			ev.Records = append(ev.Records, call(5, "read", time.Minute))
		}, Compliance, 1, "4 of 4 forwarded calls", false},
		{"denials are signed records too", func(ev *Evidence) {
			ev.Records = append(ev.Records, rec(registry.KindDenied, "rm", "deny", time.Hour, nil), call(5, "read", 3*time.Hour))
		}, Compliance, 5.0 / 6, "1 denial signed", false},
		{"the chain does not verify", func(ev *Evidence) { ev.Chain = registry.Verification{BadSeq: 3, Reason: "edited"} }, Compliance, 0, "does not verify", false},
		{"no calls", func(ev *Evidence) { ev.Records = ev.Records[:4] }, Compliance, 1, "no calls", false},

		// age
		{"registered today", func(ev *Evidence) { ev.Server.RegisteredAt = now.Add(-time.Hour) }, Age, 0.3, "0 days ago; 0.50 from day 7", false},
		{"a week old", func(ev *Evidence) { ev.Server.RegisteredAt = now.AddDate(0, 0, -10) }, Age, 0.5, "10 days ago; 0.75 from day 30", false},
		{"a month old", func(ev *Evidence) { ev.Server.RegisteredAt = now.AddDate(0, 0, -45) }, Age, 0.75, "45 days", false},

		// drift_detection
		{"one tool changed", func(ev *Evidence) { ev.Tools[0].State = registry.ToolChanged }, DriftDetection, 0.375, "read changed since", false},
		{"one new, one removed", func(ev *Evidence) {
			ev.Tools = append(ev.Tools, tool("exfil", "new"))
			ev.Tools[1].State = registry.ToolRemoved
		}, DriftDetection, 0.3, "exfil new", false},
		{"changes accepted", func(ev *Evidence) {
			ev.Records = append(ev.Records, rec(registry.KindDrift, "read", "accepted", time.Hour, nil))
		}, DriftDetection, 1, "1 change accepted", false},
		{"nothing pinned yet", func(ev *Evidence) { ev.Tools = nil }, DriftDetection, Neutral, "no tools pinned", true},

		// user_feedback
		{"approved and denied", func(ev *Evidence) {
			ev.Approvals = []registry.Approval{approval("used", "alice", time.Hour), approval("approved", "client", time.Hour),
				approval("expired", "alice", time.Hour), approval("denied", "bob", time.Hour)}
		}, UserFeedback, 0.75, "approved 3 and denied 1", false},
		{"only denials", func(ev *Evidence) {
			ev.Approvals = []registry.Approval{approval("denied", "alice", time.Hour)}
		}, UserFeedback, 0, "approved 0 and denied 1", false},
		{"the rate limit, unanswered and old answers do not count", func(ev *Evidence) {
			ev.Approvals = []registry.Approval{approval("denied", "aim-mcp", time.Hour), {Status: "expired"},
				approval("denied", "alice", 40*24*time.Hour)}
		}, UserFeedback, Neutral, "no calls approved or denied", true},
	}
	baseScore := Compute(base())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := base()
			tt.change(&ev)
			s := Compute(ev)
			sameWithoutWhy(t, ev, s)
			f := s.Evidence[tt.factor]
			if !near(f.Value, tt.want) {
				t.Errorf("%s = %v, want %v (%s)", tt.factor, f.Value, tt.want, f.Evidence)
			}
			if !strings.Contains(f.Evidence, tt.evidence) {
				t.Errorf("%s evidence %q, want it to hold %q", tt.factor, f.Evidence, tt.evidence)
			}
			if f.Neutral != tt.neutral {
				t.Errorf("%s neutral = %v, want %v", tt.factor, f.Neutral, tt.neutral)
			}
			if !near(f.Contribution, f.Value*Weights[tt.factor]) {
				t.Errorf("contribution %v, want %v × %v", f.Contribution, f.Value, Weights[tt.factor])
			}
			// The overall moves with the factor.
			delta := (f.Value - baseScore.Factors[tt.factor]) * Weights[tt.factor]
			other := 0.0
			for _, n := range Names {
				if n != tt.factor {
					other += (s.Factors[n] - baseScore.Factors[n]) * Weights[n]
				}
			}
			if !near(s.Overall-baseScore.Overall, delta+other) {
				t.Errorf("overall %v, base %v: moved %v, want %v", s.Overall, baseScore.Overall, s.Overall-baseScore.Overall, delta+other)
			}
			if f.Value < 1 && !f.Neutral && tt.factor != Age {
				found := false
				for _, r := range s.Reasons() {
					found = found || r.Name == tt.factor
				}
				if !found {
					t.Errorf("Reasons() %v does not name %s", s.Reasons(), tt.factor)
				}
			}
		})
	}
}

// sameWithoutWhy checks that the score computed without explanations, as
// Overall computes it for "aim-mcp list", is the explained score s: every
// factor's value, neutrality and contribution, and the overall.
func sameWithoutWhy(t *testing.T, ev Evidence, s Score) {
	t.Helper()
	if got := Overall(ev); got != s.Overall {
		t.Errorf("Overall = %v, Compute(ev).Overall = %v", got, s.Overall)
	}
	bare := compute(ev, false)
	if bare.List != nil || bare.Factors != nil || bare.Evidence != nil {
		t.Errorf("compute without why kept the factors: %+v", bare)
	}
	for _, name := range Names {
		f := s.Evidence[name]
		if f.Evidence == "" {
			t.Errorf("%s has no evidence in the explained score", name)
		}
		g := bareFactor(ev, name)
		if g.Value != f.Value || g.Neutral != f.Neutral || g.Evidence != "" || g.Counts != nil {
			t.Errorf("%s without why = %+v, explained %+v", name, g, f)
		}
	}
}

// bareFactor is the factor name of ev computed without explanation,
// clamped and rounded as compute does.
func bareFactor(ev Evidence, name string) Factor {
	act := ev.Activity
	if act == nil {
		act = Tally(ev.Records)
	}
	fs := map[string]func() Factor{
		VerificationStatus: func() Factor { return verification(ev, false) },
		Uptime:             func() Factor { return uptime(act, false) },
		SuccessRate:        func() Factor { return successRate(act, false) },
		SecurityAlerts:     func() Factor { return securityAlerts(act, false) },
		Compliance:         func() Factor { return compliance(ev, act, false) },
		Age:                func() Factor { return age(ev, false) },
		DriftDetection:     func() Factor { return drift(ev, act, false) },
		UserFeedback:       func() Factor { return feedback(ev, WindowStart(ev.Now), false) },
	}
	f := fs[name]()
	f.Value = round(clamp(f.Value))
	return f
}

func TestNoHistory(t *testing.T) {
	ev := Evidence{Server: registry.Server{ID: "x", Name: "new", Status: registry.StatusActive, RegisteredAt: now.Add(-time.Minute)},
		Now: now, Chain: registry.Verification{}}
	s := Compute(ev)
	sameWithoutWhy(t, ev, s)
	if !s.NoHistory || !strings.Contains(s.Note, "no history") {
		t.Errorf("NoHistory = %v, note %q", s.NoHistory, s.Note)
	}
	// Registration and key hold (1.0 × 0.25), age 0.3 × 0.10, the other six
	// are neutral: 0.5 × 0.65.
	if want := 0.25 + 0.03 + 0.325; !near(s.Overall, want) {
		t.Errorf("overall = %v, want %v", s.Overall, want)
	}
	for _, n := range []string{Uptime, SuccessRate, SecurityAlerts, Compliance, DriftDetection, UserFeedback} {
		if !s.Evidence[n].Neutral {
			t.Errorf("%s is not neutral: %+v", n, s.Evidence[n])
		}
	}
	if len(s.Reasons()) != 0 {
		t.Errorf("reasons for a server with no history: %v", s.Reasons())
	}
	// The AIM SDK's shape.
	b, _ := json.Marshal(s)
	var m map[string]any
	json.Unmarshal(b, &m)
	if _, ok := m["overall"].(float64); !ok {
		t.Errorf("no overall in %s", b)
	}
	fs, _ := m["factors"].(map[string]any)
	if len(fs) != 8 {
		t.Errorf("factors = %v", fs)
	}
	if e, _ := m["evidence"].(map[string]any); len(e) != 8 {
		t.Errorf("evidence = %v", e)
	}
}

// TestSource scores servers from records appended to a real registry.
func TestSource(t *testing.T) {
	ctx := context.Background()
	db, err := registry.Open(ctx, filepath.Join(t.TempDir(), "aim.db"), registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	reg := func(name string) (registry.Server, func(registry.Event)) {
		srv, _, err := db.Register(ctx, registry.Registration{Client: "c", Name: name, Command: name})
		if err != nil {
			t.Fatal(err)
		}
		key, err := db.Key(srv)
		if err != nil {
			t.Fatal(err)
		}
		return srv, func(ev registry.Event) {
			ev.ServerID, ev.Server, ev.Client = srv.ID, srv.Name, srv.Client
			if _, err := db.Append(ctx, key, ev); err != nil {
				t.Fatal(err)
			}
		}
	}
	good, appendGood := reg("good")
	bad, appendBad := reg("bad")
	quiet, _ := reg("quiet")
	clock := time.Now()
	for i, a := range []func(registry.Event){appendGood, appendBad} {
		a(registry.Event{Time: clock.Add(-2 * time.Hour), Kind: registry.KindSessionStart})
		a(registry.Event{Time: clock.Add(-2 * time.Hour), Kind: registry.KindCall, Tool: "t", RequestID: json.RawMessage("1")})
		a(registry.Event{Time: clock.Add(-2 * time.Hour), Kind: registry.KindOutcome, Tool: "t", Decision: "success", RequestID: json.RawMessage("1")})
		a(registry.Event{Time: clock.Add(-time.Hour), Kind: registry.KindSessionEnd, Data: map[string]any{"crashed": i == 1, "duration_ms": 3600000}})
	}
	appendBad(registry.Event{Time: clock.Add(-time.Hour), Kind: registry.KindDrift, Tool: "t", Decision: "changed"})
	// An old event is out of the window.
	appendGood(registry.Event{Time: clock.AddDate(0, 0, -40), Kind: registry.KindBypass, Decision: "refused"})
	for _, srv := range []registry.Server{good, bad} {
		db.ObserveTools(ctx, srv.ID, []registry.ToolDef{{Name: "t", Definition: json.RawMessage(`{"name":"t"}`), Hash: "1"}}, clock)
	}
	db.ObserveTools(ctx, bad.ID, []registry.ToolDef{{Name: "t", Definition: json.RawMessage(`{"name":"t","description":"x"}`), Hash: "2"}}, clock)

	src := &Source{DB: db}
	score := func(s registry.Server) Score {
		sc, err := src.Score(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		return sc
	}
	g, b, q := score(good), score(bad), score(quiet)
	if g.Factors[SecurityAlerts] != 1 || g.Factors[Uptime] != 1 || g.Factors[DriftDetection] != 1 || g.Factors[VerificationStatus] != 1 {
		t.Errorf("good: %+v", g.Factors)
	}
	if !strings.Contains(g.Evidence[VerificationStatus].Evidence, "5 records verify") {
		t.Errorf("good verification: %s", g.Evidence[VerificationStatus].Evidence)
	}
	if b.Overall >= g.Overall || b.Factors[DriftDetection] != 0 || b.Factors[Uptime] != 0 || !near(b.Factors[SecurityAlerts], 0.9) {
		t.Errorf("bad %v vs good %v: %+v", b.Overall, g.Overall, b.Factors)
	}
	if r := b.Reasons(); len(r) == 0 || r[0].Name != Uptime {
		t.Errorf("bad reasons = %+v", r)
	}
	names := ""
	for _, r := range b.Reasons() {
		names += r.Name + " "
	}
	if !strings.Contains(names, DriftDetection) || !strings.Contains(names, SecurityAlerts) {
		t.Errorf("reasons %q do not name drift", names)
	}
	if !q.NoHistory || q.Factors[VerificationStatus] != 1 {
		t.Errorf("quiet: %+v", q)
	}

	// A tampered record breaks verification and compliance.
	if _, err := db.SQL().Exec(`UPDATE records SET body = replace(body, '"success"', '"tool_error"') WHERE kind = 'outcome' AND server_id = ?`, good.ID); err != nil {
		t.Fatal(err)
	}
	src = &Source{DB: db}
	g = score(good)
	if g.Factors[Compliance] != 0 || !near(g.Factors[VerificationStatus], 2.0/3) {
		t.Errorf("tampered: %+v", g.Evidence)
	}
	// Losing the key shows too.
	if err := db.Keys().Remove(quiet.ID); err != nil {
		t.Fatal(err)
	}
	if q := score(quiet); !strings.Contains(q.Evidence[VerificationStatus].Evidence, "key: missing") {
		t.Errorf("quiet without key: %s", q.Evidence[VerificationStatus].Evidence)
	}
}
