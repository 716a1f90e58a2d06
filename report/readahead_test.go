package report

import (
	"context"
	"errors"
	"testing"

	"github.com/opena2a-org/aim-mcp/registry"
)

// readAhead hands over what EachRawRecord does, in order, across many
// batches, and an error from fn stops it and is returned.
func TestReadAhead(t *testing.T) {
	f := seed(t)
	ctx := context.Background()
	key, err := f.db.Key(f.web)
	if err != nil {
		t.Fatal(err)
	}
	evs := make([]registry.Event, 1300) // more than two batches
	for i := range evs {
		evs[i] = registry.Event{ServerID: f.web.ID, Server: f.web.Name, Client: f.web.Client, Time: at(12, 0),
			Kind: registry.KindBypass, Decision: "refused"}
	}
	if _, err := f.db.AppendAll(ctx, key, evs); err != nil {
		t.Fatal(err)
	}
	var want []string
	err = f.db.EachRawRecord(ctx, registry.Filter{}, func(rec registry.RawRecord) error {
		want = append(want, string(rec.Body)+" "+string(rec.Hash))
		return nil
	})
	if err != nil || len(want) < 1300 {
		t.Fatalf("%d records, %v", len(want), err)
	}
	var got []string
	err = readAhead(ctx, f.db, registry.Filter{}, func(rec registry.RawRecord) error {
		got = append(got, string(rec.Body)+" "+string(rec.Hash))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d records read ahead, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("record %d: %s, want %s", i, got[i], want[i])
		}
	}

	stop := errors.New("stop")
	n := 0
	err = readAhead(ctx, f.db, registry.Filter{}, func(rec registry.RawRecord) error {
		if n++; n == 700 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 700 {
		t.Errorf("after an error: %v, %d records", err, n)
	}
}
