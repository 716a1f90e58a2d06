package report

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/opena2a-org/aim-mcp/registry"
)

// readAhead hands over what EachRawRecord does, decoded, in order, across
// many batches; an error from fn stops it and is returned, and so is a
// body that does not decode.
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
	type read struct {
		E    entry
		Hash string
	}
	var want []read
	err = f.db.EachRawRecord(ctx, registry.Filter{}, func(rec registry.RawRecord) error {
		var e entry
		if err := e.decode(rec.Body); err != nil {
			return err
		}
		want = append(want, read{e, string(rec.Hash)})
		return nil
	})
	if err != nil || len(want) < 1300 {
		t.Fatalf("%d records, %v", len(want), err)
	}
	var got []read
	err = readAhead(ctx, f.db, registry.Filter{}, func(e *entry, hash []byte) error {
		got = append(got, read{*e, string(hash)})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d records read ahead, want %d", len(got), len(want))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("read ahead (-want +got):\n%s", diff)
	}

	stop := errors.New("stop")
	n := 0
	err = readAhead(ctx, f.db, registry.Filter{}, func(*entry, []byte) error {
		if n++; n == 700 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 700 {
		t.Errorf("after an error: %v, %d records", err, n)
	}

	if _, err := f.db.SQL().Exec(`UPDATE records SET body = '{"seq":' WHERE seq = 1000`); err != nil {
		t.Fatal(err)
	}
	n = 0
	err = readAhead(ctx, f.db, registry.Filter{}, func(e *entry, _ []byte) error {
		n++
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "record 1000") || n != 999 {
		t.Errorf("a body that does not decode: %v, after %d records", err, n)
	}
}
