package report

import (
	"encoding/json"
	"math"
	"testing"
	"time"
)

// Call.appendJSON writes what json.MarshalIndent does, byte for byte, for
// plain values and for those it leaves to encoding/json.
func TestCallJSONIsMarshalIndent(t *testing.T) {
	at := time.Date(2026, 11, 24, 9, 1, 0, 120000000, time.UTC)
	paris := time.FixedZone("CET", 3600)
	odd := time.FixedZone("LMT", 561)
	calls := []Call{
		{},
		{Seq: 1, Time: at, Server: "fs", Client: "claude-desktop", ServerID: "id-1", Tool: "read_file", Decision: "allow",
			Outcome: "success", DurationMS: 12.5, Hash: "ab12", OutcomeSeq: 2},
		{Seq: 3, Time: at.In(paris), Server: "a<b>&c", Client: "\u2028line\tsep", Tool: `"quoted" \ back`, Decision: "deny",
			Risk: "high", Source: "risk high → deny", ApprovalID: "abcd", Approver: "alice", Outcome: outcomeNotRun,
			ArgsDigest: "sha256:aa", Hash: "h"},
		{Seq: -4, Time: time.Time{}, Tool: "bad \xff utf8", DurationMS: 1e-7, OutcomeSeq: -1},
		{Seq: math.MaxInt64, Time: at.In(odd), DurationMS: 1e21},
		{Time: at, DurationMS: -0.000001},
		{Time: at, DurationMS: 123456789.123456789},
		{Time: at, DurationMS: math.Copysign(0, -1)},
		{Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, // MarshalIndent refuses it
		{Time: at, DurationMS: math.Inf(1)},                  // and this
	}
	for _, c := range calls {
		want, wantErr := json.MarshalIndent(c, "    ", "  ")
		got, err := c.appendJSON([]byte("x"), "    ", "  ")
		if (err != nil) != (wantErr != nil) {
			t.Errorf("%+v: error %v, want %v", c, err, wantErr)
			continue
		}
		if wantErr == nil && "x"+string(want) != string(got) {
			t.Errorf("%+v:\ngot  %s\nwant x%s", c, got, want)
		}
	}
}

func FuzzCallJSON(f *testing.F) {
	f.Add(int64(1), int64(1764000000), "fs", "read_file", "sha256:aa", 12.5)
	f.Add(int64(0), int64(-62135596800), "<&>", "\u2029", "", 1e-9)
	f.Fuzz(func(t *testing.T, seq, sec int64, server, tool, digest string, ms float64) {
		c := Call{Seq: seq, Time: time.Unix(sec, seq%1e9).UTC(), Server: server, Client: tool + server, Tool: tool,
			Decision: server, Risk: digest, Outcome: tool, DurationMS: ms, ArgsDigest: digest, Hash: server, OutcomeSeq: sec}
		want, wantErr := json.MarshalIndent(c, "  ", "\t")
		got, err := c.appendJSON(nil, "  ", "\t")
		if (err != nil) != (wantErr != nil) || (err == nil && string(want) != string(got)) {
			t.Fatalf("%+v:\ngot  %s (%v)\nwant %s (%v)", c, got, err, want, wantErr)
		}
	})
}
