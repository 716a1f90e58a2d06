package aim

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opena2a-org/aim-mcp/audit"
	"github.com/opena2a-org/aim-mcp/policy"
	"github.com/opena2a-org/aim-mcp/registry"
)

func TestSecureBadInput(t *testing.T) {
	h := newHome(t)
	for _, name := range []string{"", "   ", strings.Repeat("a", MaxNameLen+1), "two\nlines"} {
		_, err := Secure(t.Context(), name, WithHome(h.dir))
		var ne *NameError
		if !errors.As(err, &ne) {
			t.Errorf("Secure(%q) = %v, want a *NameError", name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(h.dir, "aim.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a bad name left a registry behind: %v", err)
	}
	file := filepath.Join(h.dir, "file")
	os.WriteFile(file, nil, 0o600)
	_, err := Secure(t.Context(), "agent", WithHome(filepath.Join(file, "home")))
	var he *HomeError
	if !errors.As(err, &he) {
		t.Errorf("Secure with a home under a file = %v, want a *HomeError", err)
	}
}

func TestSecureLoadsTheSameIdentity(t *testing.T) {
	h := newHome(t)
	a := h.secure(t, "billing")
	b := h.secure(t, "billing")
	if a.ID() != b.ID() || a.PublicKey() != b.PublicKey() || a.Fingerprint() == "" {
		t.Errorf("second Secure gave %s %s, first %s %s", b.ID(), b.PublicKey(), a.ID(), a.PublicKey())
	}
	if a.Client() != DefaultClient || a.Home() != h.dir {
		t.Errorf("client %q home %q, want %q %q", a.Client(), a.Home(), DefaultClient, h.dir)
	}
}

func TestVerifyAction(t *testing.T) {
	h := newHome(t)
	a := h.secure(t, "files")
	for _, tt := range []struct {
		action string
		opts   []CallOption
		want   string
		risk   Risk
	}{
		{"read_file", nil, "allow", Low},
		{"delete_file", nil, "approve", High},
		{"delete_file", []CallOption{WithRisk(Low)}, "allow", Low},
		{"summarize", []CallOption{WithRisk(Critical)}, "approve", Critical},
	} {
		d, err := a.VerifyAction(t.Context(), tt.action, "/tmp/x", tt.opts...)
		if err != nil || d.Action != tt.want || d.Risk != tt.risk || d.Allowed != (tt.want == "allow") {
			t.Errorf("VerifyAction(%s) = %+v, %v; want %s at %s risk", tt.action, d, err, tt.want, tt.risk)
		}
	}
	if _, err := policy.Store(t.Context(), a.db, "files", "read_*", `/resource^=/etc/`, "", audit.ActionDeny); err != nil {
		t.Fatal(err)
	}
	if d, _ := a.VerifyAction(t.Context(), "read_file", "/etc/shadow"); d.Action != "deny" || !strings.Contains(d.Reason, "rule") {
		t.Errorf("a rule on the resource: %+v, want deny by the rule", d)
	}
	recs, _ := a.AuditLogs(t.Context(), LogFilter{})
	if len(recs) != 0 {
		t.Errorf("VerifyAction left %d records; it records nothing", len(recs))
	}
}

func TestTrackAllowedRecordsCallThenOutcome(t *testing.T) {
	h := newHome(t)
	a := h.secure(t, "weather")
	var ran atomic.Int32
	err := a.Track(t.Context(), "get_weather", Low, func(ctx context.Context) error {
		// The call record is in the chain before the action runs.
		recs, _ := a.AuditLogs(ctx, LogFilter{Action: "get_weather", Kind: registry.KindCall})
		if len(recs) != 1 {
			t.Errorf("%d call records while the action runs, want 1", len(recs))
		}
		ran.Add(1)
		return nil
	}, WithArgs(map[string]any{"city": "Paris", "api_key": "sk-live-0123456789abcdef"}))
	if err != nil || ran.Load() != 1 {
		t.Fatalf("Track = %v, ran %d times", err, ran.Load())
	}
	boom := errors.New("upstream is down")
	if err := a.Track(t.Context(), "get_weather", Low, func(context.Context) error { return boom }); !errors.Is(err, boom) {
		t.Errorf("Track returned %v, want fn's error", err)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("a panic in fn did not reach Track's caller")
			}
		}()
		a.Track(t.Context(), "panicky", Low, func(context.Context) error { panic("oops") })
	}()
	if recs, _ := a.AuditLogs(t.Context(), LogFilter{Action: "panicky", Kind: registry.KindOutcome}); len(recs) != 1 ||
		recs[0].Decision != string(audit.ToolError) || !strings.Contains(string(recs[0].Data), "panic: oops") {
		t.Errorf("a panic's outcome: %+v", recs)
	}
	recs, err := a.AuditLogs(t.Context(), LogFilter{Action: "get_weather"})
	if err != nil || len(recs) != 4 {
		t.Fatalf("AuditLogs = %d records, %v; want 4", len(recs), err)
	}
	want := []struct{ kind, decision string }{{"call", "allow"}, {"outcome", "success"}, {"call", "allow"}, {"outcome", "tool_error"}}
	for i, w := range want {
		if recs[i].Kind != w.kind || recs[i].Decision != w.decision {
			t.Errorf("record %d is %s/%s, want %s/%s", i, recs[i].Kind, recs[i].Decision, w.kind, w.decision)
		}
	}
	if string(recs[0].RequestID) != string(recs[1].RequestID) || string(recs[0].RequestID) == string(recs[2].RequestID) {
		t.Errorf("request ids %s %s %s: want the call and its outcome paired, calls apart", recs[0].RequestID, recs[1].RequestID, recs[2].RequestID)
	}
	if strings.Contains(string(recs[0].Data), "sk-live") {
		t.Errorf("a secret argument reached the record: %s", recs[0].Data)
	}
	if !strings.Contains(string(recs[3].Data), "upstream is down") {
		t.Errorf("the failed outcome does not say why: %s", recs[3].Data)
	}
	if out := h.run(t, "logs", "--server", "weather", "--tool", "get_weather"); strings.Count(out, "get_weather") != 4 {
		t.Errorf("aim-mcp logs does not show the agent's 4 records:\n%s", out)
	}
	if err := a.LogAction(t.Context(), "send_report", nil); err != nil {
		t.Fatal(err)
	}
	if recs, _ := a.AuditLogs(t.Context(), LogFilter{Action: "send_report"}); len(recs) != 2 || recs[0].Decision != decisionLogged {
		t.Errorf("LogAction left %+v", recs)
	}
	score, err := a.TrustScore(t.Context())
	if err != nil || score.Overall <= 0 || score.ServerID != a.ID() || len(score.List) != 8 {
		t.Errorf("TrustScore = %+v, %v", score, err)
	}
}

// TestTrackApprovedByTheCLI: a high-risk action waits until a person
// approves it with "aim-mcp approve" in another process, then runs once;
// the approval is spent, so the same action waits again.
func TestTrackApprovedByTheCLI(t *testing.T) {
	h := newHome(t)
	a := h.secure(t, "db-agent")
	done := make(chan string)
	go func() {
		ap := h.pending(t, "delete_user")
		done <- h.run(t, "approve", ap.ID)
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var ran atomic.Int32
	args := WithArgs(map[string]any{"user_id": 12345})
	err := a.Track(ctx, "delete_user", High, func(context.Context) error { ran.Add(1); return nil }, args)
	out := <-done
	if err != nil || ran.Load() != 1 {
		t.Fatalf("Track = %v, fn ran %d times; want nil, once (approve said %q)", err, ran.Load(), out)
	}
	calls, _ := a.AuditLogs(t.Context(), LogFilter{Kind: registry.KindCall})
	if len(calls) != 1 || calls[0].Decision != string(audit.Approved) || !strings.Contains(string(calls[0].Data), `"approver"`) {
		t.Errorf("call records %+v, want one approved with its approver", calls)
	}
	short, cancel2 := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel2()
	err = a.Track(short, "delete_user", High, func(context.Context) error { ran.Add(1); return nil }, args)
	var te *ApprovalTimeoutError
	if !errors.As(err, &te) || !errors.Is(err, context.DeadlineExceeded) || ran.Load() != 1 {
		t.Fatalf("the same action again = %v, ran %d; want an *ApprovalTimeoutError and no run: an approval is single use", err, ran.Load())
	}
	// Left pending: approved now, the same action runs the next time.
	h.run(t, "approve", te.ApprovalID)
	ctx3, cancel3 := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel3()
	if err := a.Track(ctx3, "delete_user", High, func(context.Context) error { ran.Add(1); return nil }, args); err != nil || ran.Load() != 2 {
		t.Errorf("after a late approval: Track = %v, ran %d; want it to run", err, ran.Load())
	}
}

func TestTrackDeniedNeverRuns(t *testing.T) {
	h := newHome(t)
	a := h.secure(t, "db-agent")
	fn := func(context.Context) error { t.Error("fn ran"); return nil }

	// A person says no, with "aim-mcp deny" in another process.
	go func() {
		ap := h.pending(t, "drop_table")
		h.run(t, "deny", ap.ID, "--reason", "not in production")
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	err := a.Track(ctx, "drop_table", Critical, fn)
	var de *DeniedError
	if !errors.As(err, &de) || de.Decision != string(audit.Denied) || !strings.Contains(de.Reason, "not in production") || de.ApprovalID == "" {
		t.Fatalf("Track = %v, want a *DeniedError that gives the person's reason", err)
	}

	// A rule says no: nobody is asked.
	if _, err := policy.Store(t.Context(), a.db, "db-agent", "truncate_*", "", "", audit.ActionDeny); err != nil {
		t.Fatal(err)
	}
	err = a.Track(ctx, "truncate_logs", Low, fn)
	if !errors.As(err, &de) || de.Decision != string(audit.Deny) || !strings.Contains(de.Reason, "rule") {
		t.Fatalf("Track = %v, want a *DeniedError naming the rule", err)
	}
	denied, _ := a.AuditLogs(t.Context(), LogFilter{Kind: registry.KindDenied})
	calls, _ := a.AuditLogs(t.Context(), LogFilter{Kind: registry.KindCall})
	if len(denied) != 2 || len(calls) != 0 {
		t.Errorf("%d denied and %d call records, want 2 and 0", len(denied), len(calls))
	}
}
