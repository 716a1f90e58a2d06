package report

import (
	"context"

	"github.com/opena2a-org/aim-mcp/registry"
)

// readAhead is [registry.DB.EachRawRecord] with the rows read in a
// goroutine of their own, a batch ahead of fn: stepping through the
// table and decoding the bodies take about as long each, so on two
// cores a report's read takes the time of the longer rather than of
// both. fn is called in this goroutine, in order; what it is handed is
// valid only during the call. Memory is a few batches of records.
func readAhead(ctx context.Context, db *registry.DB, f registry.Filter, fn func(registry.RawRecord) error) error {
	const batches, batchSize = 4, 512
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	full := make(chan *rowBatch, batches)
	free := make(chan *rowBatch, batches)
	for range batches {
		free <- &rowBatch{}
	}
	var readErr error // set before full is closed
	go func() {
		defer close(full)
		b := <-free
		readErr = db.EachRawRecord(ctx, f, func(rec registry.RawRecord) error {
			b.add(rec)
			if len(b.seqs) < batchSize {
				return nil
			}
			full <- b // never blocks for long: the reader takes every batch, even after an error
			select {
			case b = <-free:
			case <-ctx.Done():
				return ctx.Err()
			}
			b.reset()
			return nil
		})
		if readErr == nil && len(b.seqs) > 0 {
			full <- b
		}
	}()
	var err error
	for b := range full {
		if err == nil {
			if err = b.each(fn); err != nil {
				cancel() // the rest are not wanted
			}
		}
		free <- b
	}
	if err != nil {
		return err
	}
	return readErr
}

// rowBatch is a run of records copied out of the driver's buffers: their
// seqs, and their bodies and hashes end to end in text.
type rowBatch struct {
	seqs []int64
	ends []int // of each body, then of its hash, in text
	text []byte
}

func (b *rowBatch) add(rec registry.RawRecord) {
	b.seqs = append(b.seqs, rec.Seq)
	b.text = append(b.text, rec.Body...)
	b.ends = append(b.ends, len(b.text))
	b.text = append(b.text, rec.Hash...)
	b.ends = append(b.ends, len(b.text))
}

func (b *rowBatch) reset() {
	b.seqs, b.ends, b.text = b.seqs[:0], b.ends[:0], b.text[:0]
}

func (b *rowBatch) each(fn func(registry.RawRecord) error) error {
	start := 0
	for i, seq := range b.seqs {
		body, hash := b.ends[2*i], b.ends[2*i+1]
		if err := fn(registry.RawRecord{Seq: seq, Body: b.text[start:body], Hash: b.text[body:hash]}); err != nil {
			return err
		}
		start = hash
	}
	return nil
}
