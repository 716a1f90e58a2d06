package report

import (
	"context"
	"fmt"
	"runtime"

	"github.com/opena2a-org/aim-mcp/registry"
)

// readAhead reads the records of f a few batches ahead of fn, decoded:
// one goroutine steps through the table while others decode the bodies,
// which is most of a report's time, so a report uses every core rather
// than one. fn is called in this goroutine, with the records in order;
// what it is handed is valid only during the call. Memory is a few
// batches of records.
func readAhead(ctx context.Context, db *registry.DB, f registry.Filter, fn func(e *entry, hash []byte) error) error {
	const batches, batchSize = 8, 512
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	free := make(chan *rowBatch, batches)
	for range batches {
		free <- &rowBatch{}
	}
	// Every batch goes to a decoder and, in order, to fn. Neither send
	// blocks: each channel holds every batch there is.
	work := make(chan *rowBatch, batches)
	ordered := make(chan *rowBatch, batches)
	var readErr error // set before ordered is closed
	go func() {
		defer close(ordered)
		defer close(work)
		send := func(b *rowBatch) {
			b.ready = make(chan struct{})
			work <- b
			ordered <- b
		}
		b := <-free
		readErr = db.EachRawRecord(ctx, f, func(rec registry.RawRecord) error {
			b.add(rec)
			if len(b.seqs) < batchSize {
				return nil
			}
			send(b)
			select { // a batch comes back once fn is done with it, even after an error
			case b = <-free:
			case <-ctx.Done():
				return ctx.Err()
			}
			b.reset()
			return nil
		})
		if readErr == nil && len(b.seqs) > 0 {
			send(b)
		}
	}()
	for range max(1, min(runtime.GOMAXPROCS(0), 4)) {
		go func() {
			for b := range work {
				b.decode()
				close(b.ready)
			}
		}()
	}
	var err error
	for b := range ordered {
		<-b.ready
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
// seqs, and their bodies and hashes end to end in text; then their
// bodies decoded.
type rowBatch struct {
	seqs    []int64
	ends    []int // of each body, then of its hash, in text
	text    []byte
	entries []entry
	err     error // decoding entries[len(entries)]
	ready   chan struct{}
}

func (b *rowBatch) add(rec registry.RawRecord) {
	b.seqs = append(b.seqs, rec.Seq)
	b.text = append(b.text, rec.Body...)
	b.ends = append(b.ends, len(b.text))
	b.text = append(b.text, rec.Hash...)
	b.ends = append(b.ends, len(b.text))
}

func (b *rowBatch) reset() {
	b.seqs, b.ends, b.text, b.err = b.seqs[:0], b.ends[:0], b.text[:0], nil
}

// decode decodes the bodies, up to the first that does not decode.
func (b *rowBatch) decode() {
	b.entries = b.entries[:0]
	start := 0
	for i, seq := range b.seqs {
		b.entries = append(b.entries, entry{})
		if err := b.entries[i].decode(b.text[start:b.ends[2*i]]); err != nil {
			b.entries = b.entries[:i]
			b.err = fmt.Errorf("report: record %d: %w", seq, err)
			return
		}
		start = b.ends[2*i+1]
	}
}

func (b *rowBatch) each(fn func(*entry, []byte) error) error {
	for i := range b.entries {
		if err := fn(&b.entries[i], b.text[b.ends[2*i]:b.ends[2*i+1]]); err != nil {
			return err
		}
	}
	return b.err
}
