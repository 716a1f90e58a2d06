package main

import (
	"bytes"
	"encoding/json"
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
