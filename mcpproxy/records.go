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
	failing  bool // the last commit failed; reported once until one succeeds
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
// as it was. The error is ev's, or the queue's when there is no ev.
//
// Nothing is dropped. When the write fails, each record is tried on its
// own, so that one that cannot be written never holds back another; those
// that fail go back to the head of the queue and are tried again (see
// run). ev is never queued: its caller refuses the call it records.
func (r *recorder) flushLocked(ev *registry.Event, try bool) error {
	r.mu.Lock()
	queued := r.queue
	r.queue = nil
	r.mu.Unlock()
	evs := queued
	if ev != nil {
		evs = append(queued[:len(queued):len(queued)], *ev)
	}
	if len(evs) == 0 {
		return nil
	}
	if r.journal == nil {
		return errNoJournal // fail closed: no call ran; setup said why
	}
	ctx := context.Background()
	var err error
	if try {
		err = r.journal.(TryJournal).TryAppend(ctx, evs...)
		if errors.Is(err, registry.ErrBusy) {
			r.requeue(queued)
			return err
		}
	} else {
		err = r.journal.Append(ctx, evs...)
	}
	if err == nil {
		r.recovered()
		return nil
	}
	var left []registry.Event
	evErr := err
	if len(evs) > 1 {
		evErr = nil
		for i, e := range evs {
			if e1 := r.journal.Append(ctx, e); e1 != nil {
				if ev != nil && i == len(evs)-1 {
					evErr = e1
				} else {
					left = append(left, e)
				}
			}
		}
	} else if ev == nil {
		left = evs
	}
	r.requeue(left)
	if ev == nil && len(left) > 0 {
		evErr = err
	}
	r.mu.Lock()
	first := !r.failing && (evErr != nil || len(left) > 0)
	r.failing = r.failing || first
	r.mu.Unlock()
	if first || ev != nil && evErr != nil {
		r.report(&AuditError{Err: err})
	}
	return evErr
}

// errNoJournal: the session has no audit log (setup failed, or there is
// no registry); its records have nowhere to go, and calls are refused.
var errNoJournal = errors.New("no audit log")

// requeue puts evs back at the head of the queue, before what was queued
// since they were taken.
func (r *recorder) requeue(evs []registry.Event) {
	if len(evs) == 0 {
		return
	}
	r.mu.Lock()
	r.queue = append(evs[:len(evs):len(evs)], r.queue...)
	r.mu.Unlock()
}

// recovered notes a commit that went through after failures.
func (r *recorder) recovered() {
	r.mu.Lock()
	was := r.failing
	r.failing = false
	r.mu.Unlock()
	if was && r.log != nil {
		r.log.Info("audit log: records are written again; none was dropped")
	}
}

// linger is how long records queued while the journal could not take them
// wait before they are tried again; retryMax bounds the wait between tries
// while the journal keeps failing (a full disk), and exitRetry is how long
// the session's end keeps trying before it reports what is lost.
const (
	linger    = 20 * time.Millisecond
	retryMax  = time.Second
	exitRetry = 3 * time.Second
)

// run flushes queued records that no call took along, after linger, and
// keeps trying while the journal fails, until close is called; then it
// writes everything left, trying for a while before it gives up.
func (r *recorder) run() {
	defer close(r.done)
	<-r.ready
	wait := linger
	for {
		select {
		case <-r.kick:
		case <-r.stop:
			r.drain()
			return
		}
		for {
			select {
			case <-time.After(wait):
			case <-r.stop:
				r.drain()
				return
			}
			if err := r.flush(); err == nil || errors.Is(err, errNoJournal) {
				wait = linger
				break
			}
			wait = min(2*wait, retryMax) // nothing is dropped: tried again, less often
		}
	}
}

// drain writes what is queued at the session's end, trying for exitRetry;
// what still cannot be written is reported, record by record, as lost.
func (r *recorder) drain() {
	deadline := time.Now().Add(exitRetry)
	for wait := linger; ; wait = min(2*wait, retryMax) {
		err := r.flush()
		if err == nil || errors.Is(err, errNoJournal) || !time.Now().Before(deadline) {
			break
		}
		time.Sleep(wait)
	}
	r.mu.Lock()
	lost := r.queue
	r.queue = nil
	r.mu.Unlock()
	for _, ev := range lost {
		r.report(&AuditError{Lost: ev.Kind})
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
