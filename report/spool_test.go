package report

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// What the first read spools reads back the same, strings repeated from
// one entry to the next or not, and the file is gone after close.
func TestSpoolRoundTrip(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	s, err := newSpool()
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 24, 9, 1, 0, 123456789, time.UTC)
	calls := []Call{
		{Seq: 1, Time: at, Server: "fs", Client: "claude-desktop", ServerID: "id", Tool: "read", Decision: "allow", Risk: "low",
			Source: "rule 1", ApprovalID: "a1", Approver: "alice", ArgsDigest: "sha256:aa", Hash: "h1"},
		{Seq: 3, Time: at, Server: "fs", Client: "claude-desktop", ServerID: "id", Tool: "read", Decision: "allow", Hash: "h1"},
		{Seq: 1 << 40, Time: time.Time{}, Server: "", Tool: strings.Repeat("é", 5000), Decision: "deny", Hash: ""},
	}
	outcomes := []spooledOutcome{{call: 1, seq: 2, decision: "success", ms: 12.5}, {call: 3, seq: 4, decision: "", ms: 0},
		{call: 3, seq: 5, decision: "tool_error", ms: 1e300}}
	for i := range calls {
		s.call(entryCall, &calls[i])
		o := outcomes[i]
		s.outcome(o.call, o.seq, o.decision, o.ms)
	}
	if err := s.finish(); err != nil {
		t.Fatal(err)
	}
	for range 2 { // read twice: the PDF's first calls, then another format's
		r := s.reader()
		for i := range calls {
			var c Call
			var o spooledOutcome
			if kind, err := r.next(&c, &o); kind != entryCall || err != nil {
				t.Fatalf("entry %d: %d, %v", 2*i, kind, err)
			}
			if diff := cmp.Diff(calls[i], c); diff != "" {
				t.Errorf("call %d (-wrote +read):\n%s", i, diff)
			}
			if kind, err := r.next(&c, &o); kind != entryOutcome || err != nil || o != outcomes[i] {
				t.Fatalf("entry %d: %d, %+v, %v", 2*i+1, kind, o, err)
			}
		}
		var c Call
		var o spooledOutcome
		if _, err := r.next(&c, &o); err != io.EOF {
			t.Errorf("after the last entry: %v", err)
		}
	}
	if err := s.close(); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
	if err := s.close(); err != nil {
		t.Errorf("a second close: %v", err)
	}
}

// A built report's calls read back alike each time they are read.
func TestEachCallTwice(t *testing.T) {
	r := build(t, seed(t), "soc2")
	first, second := callsOf(t, r), callsOf(t, r)
	if len(first) != 6 {
		t.Fatalf("%d calls, want 6", len(first))
	}
	if diff := cmp.Diff(first, second); diff != "" {
		t.Errorf("second read (-first +second):\n%s", diff)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.EachCall(context.Background(), func(Call) error { return nil }); err == nil {
		t.Error("calls read after Close")
	}
}
