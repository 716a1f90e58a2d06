package mcpproxy

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/opena2a-org/aim-mcp/registry"
)

// recorder owns the session's records on their way to the journal. A
// call's record is committed by whoever decided the call (the pump in line,
// or the call's own goroutine) before it is forwarded; other records
// (outcomes, noise) are committed where they are seen, after what they
// record was forwarded. A commit is one write to the session's spool, so
// nobody hands it off to another goroutine and back. Records that could
// not be committed (setup still runs, or the write failed) queue, and go
// with the next commit or after linger.
type recorder struct {
	journal Journal // set once, before ready is closed; nil when there is none
	ready   <-chan struct{}
	report  func(error)
	log     *slog.Logger

	commitMu sync.Mutex // one commit at a time, in order
	mu       sync.Mutex
	queue    []registry.Event
	retried  int // how many records at the queue's head failed once already
	kick     chan struct{}
	stop     chan struct{}
	done     chan struct{}
}

func newRecorder(ready <-chan struct{}, report func(error), log *slog.Logger) *recorder {
	return &recorder{ready: ready, report: report, log: log,
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
}

// record queues an event for the journal. Nothing is dropped: if the queue
// cannot be written now, it is tried again with the next commit.
func (r *recorder) record(ev registry.Event) {
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	r.mu.Lock()
	r.queue = append(r.queue, ev)
	r.mu.Unlock()
	select {
	case <-r.ready:
		// A commit costs one write to the spool: no reason to wait.
		if r.journal != nil && r.flush() == nil {
			return
		}
	default:
	}
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// commit appends ev after everything queued and returns once it is
// committed.
func (r *recorder) commit(ev registry.Event) error {
	ev.Time = time.Now()
	r.commitMu.Lock()
	defer r.commitMu.Unlock()
	return r.flushLocked(&ev, false)
}

// tryCommit is commit without waiting: it returns registry.ErrBusy, and
// leaves everything as it was, when another commit or another proxy holds
// the write lock, or when the journal cannot try.
func (r *recorder) tryCommit(ev registry.Event) error {
	if _, ok := r.journal.(TryJournal); !ok || !r.commitMu.TryLock() {
		return registry.ErrBusy
	}
	defer r.commitMu.Unlock()
	ev.Time = time.Now()
	return r.flushLocked(&ev, true)
}

// flush writes the queue in one transaction.
func (r *recorder) flush() error {
	r.commitMu.Lock()
	defer r.commitMu.Unlock()
	return r.flushLocked(nil, false)
}

// flushLocked writes the queue, and then ev when given, in one
// transaction; commitMu is held. With try it never waits for the
// registry's write lock: it returns registry.ErrBusy and leaves the queue
// as it was.
func (r *recorder) flushLocked(ev *registry.Event, try bool) error {
	r.mu.Lock()
	queued, retried := r.queue, r.retried
	r.queue, r.retried = nil, 0
	r.mu.Unlock()
	evs := queued
	if ev != nil {
		evs = append(queued[:len(queued):len(queued)], *ev)
	}
	if len(evs) == 0 {
		return nil
	}
	if r.journal == nil {
		return errors.New("no audit log") // fail closed: no call ran, nowhere to write
	}
	var err error
	if try {
		err = r.journal.(TryJournal).TryAppend(context.Background(), evs...)
		if errors.Is(err, registry.ErrBusy) {
			r.mu.Lock()
			r.queue = append(queued[:len(queued):len(queued)], r.queue...)
			r.retried = retried
			r.mu.Unlock()
			return err
		}
	} else {
		err = r.journal.Append(context.Background(), evs...)
	}
	if err == nil {
		return nil
	}
	r.report(&AuditError{Err: err})
	// Records that failed twice are reported lost; the rest go back to the
	// head of the queue for the next commit.
	for _, lost := range queued[:retried] {
		r.report(&AuditError{Lost: lost.Kind})
	}
	again := queued[retried:]
	r.mu.Lock()
	r.queue = append(again[:len(again):len(again)], r.queue...)
	r.retried = len(again)
	r.mu.Unlock()
	return err
}

// linger is how long records queued while the journal could not take them
// wait before they are tried again.
const linger = 20 * time.Millisecond

// run flushes queued records that no call took along, after linger, and
// everything left when close is called.
func (r *recorder) run() {
	defer close(r.done)
	<-r.ready
	for {
		select {
		case <-r.kick:
		case <-r.stop:
			r.flush()
			r.flush() // once more for what failed the first time
			return
		}
		select {
		case <-time.After(linger):
		case <-r.stop:
		}
		r.flush()
	}
}

// close writes what is left and returns when it is written (or lost), and
// closes the journal.
func (r *recorder) close() {
	close(r.stop)
	<-r.done
	if c, ok := r.journal.(Closer); ok {
		if err := c.Close(context.Background()); err != nil {
			r.report(&AuditError{Err: err})
		}
	}
}
