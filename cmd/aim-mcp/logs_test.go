package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/opena2a-org/aim-mcp/registry"
)

// logs --json streams the array json.MarshalIndent would give, byte for byte.
func TestJSONArrayStream(t *testing.T) {
	recs := []registry.Record{
		{Seq: 1, Time: time.Unix(1, 0).UTC(), Server: "s", Kind: "call", Tool: "t", Data: json.RawMessage(`{"a":[1,2],"b":"<&>"}`)},
		{Seq: 2, Time: time.Unix(2, 0).UTC(), Server: "s", Kind: "outcome", RequestID: json.RawMessage(`7`)},
	}
	for n := range len(recs) + 1 {
		want, _ := json.MarshalIndent(append([]registry.Record{}, recs[:n]...), "", "  ")
		var got bytes.Buffer
		each, done := jsonArray(&got)
		for _, r := range recs[:n] {
			if err := each(r); err != nil {
				t.Fatal(err)
			}
		}
		if err := done(); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(got.String(), string(want)+"\n"); diff != "" {
			t.Errorf("%d records (-got +want):\n%s", n, diff)
		}
	}
}

// The text of logs: a header, columns aligned across blocks and the
// batches --follow adds, a cancelled call shown as cancelled (not denied),
// whole values when not on a terminal and rows cut to a terminal's width.
// Set AIM_MCP_UPDATE_SCRIPTS=1 to rewrite testdata/logs.golden.
func TestLogsGolden(t *testing.T) {
	at := func(sec int) time.Time { return time.Date(2026, 12, 1, 9, 0, sec, 0, time.UTC) }
	long := `{"path":"/home/alice/projects/aim-mcp/docs/a-rather-long-file-name-that-goes-on.md","mode":"read"}`
	first := []registry.Record{
		{Seq: 1, Time: at(0), Server: "fs", Kind: registry.KindSessionStart},
		{Seq: 2, Time: at(1), Server: "fs", Kind: registry.KindCall, Tool: "read_file", Decision: "allow",
			Data: json.RawMessage(`{"args":` + long + `}`)},
		{Seq: 3, Time: at(2), Server: "fs", Kind: registry.KindOutcome, Tool: "read_file", Decision: "success",
			Data: json.RawMessage(`{"duration_ms":3}`)},
	}
	// What --follow prints later: a wider server name, a refusal, a call
	// the client gave up on.
	later := []registry.Record{
		{Seq: 4, Time: at(3), Server: "github", Kind: registry.KindDenied, Tool: "delete_repo", Decision: "deny",
			Data: json.RawMessage(`{"reason":"rule 2"}`)},
		{Seq: 5, Time: at(4), Server: "fs", Kind: registry.KindDenied, Tool: "write_file", Decision: "cancelled"},
	}
	var got bytes.Buffer
	for _, width := range []int{0, 100} {
		fmt.Fprintf(&got, "-- width %d --\n", width)
		tab := newLogTable(&got, width)
		tab.loc = time.UTC
		tab.following([]string{"fs", "github"}) // as logs --follow does from the registry
		for _, batch := range [][]registry.Record{first, later} {
			for _, r := range batch {
				if err := tab.add(r); err != nil {
					t.Fatal(err)
				}
			}
			if err := tab.flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	const golden = "testdata/logs.golden"
	if os.Getenv("AIM_MCP_UPDATE_SCRIPTS") == "1" {
		if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got.String(), string(want)); diff != "" {
		t.Errorf("logs output (-got +want):\n%s", diff)
	}
	// Aligned: every column starts at the same place on every row.
	for _, block := range strings.Split(got.String(), "-- width ")[1:] {
		lines := strings.Split(strings.TrimSpace(block), "\n")[1:]
		col := strings.Index(lines[0], "KIND")
		for _, l := range lines[1:] {
			if l[col-2:col] != "  " || l[col] == ' ' {
				t.Errorf("KIND column not at %d in %q", col, l)
			}
		}
	}
}
