package witness

import (
	"errors"
	"io"
	"sync"
	"time"
)

// Sink is where head lines go: the system log, or a test's socket.
type Sink interface {
	// Send delivers one line, or fails; it must give up within about a
	// second rather than wait on a stuck receiver.
	Send(line string) error
}

// Options tune a Publisher.
type Options struct {
	Sinks []Sink
	// Interval is the least time between two lines; 1s when zero.
	Interval time.Duration
	// OnError is told of the first line that could not be sent, once per
	// Publisher; later failures are only counted (see Stats).
	OnError func(error)
}

// Publisher sends the chain's head to its sinks, rate limited and off the
// caller's path: Publish only notes the head and, at most once per
// interval, a timer's goroutine sends the newest one noted. Close sends the
// last head still pending, so the head a session ends on is always
// witnessed. A sink that fails never fails or delays a commit.
type Publisher struct {
	opt Options

	mu      sync.Mutex
	pending Head
	has     bool
	last    time.Time // when the last line was sent
	timer   *time.Timer
	closed  bool
	stats   Stats

	sendMu   sync.Mutex     // lines go out one at a time, in order
	inflight sync.WaitGroup // flushes that took a head and are sending it
}

// Stats counts what a Publisher did.
type Stats struct {
	Sent   int   // lines delivered to a sink
	Failed int   // lines a sink refused
	First  error // the first failure
}

// New returns a Publisher; with no sinks it drops every head.
func New(opt Options) *Publisher {
	if opt.Interval <= 0 {
		opt.Interval = time.Second
	}
	return &Publisher{opt: opt}
}

// Publish notes h as the chain's newest head. It never blocks on a sink.
func (p *Publisher) Publish(h Head) {
	if p == nil || len(p.opt.Sinks) == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || (p.has && h.Seq < p.pending.Seq) {
		return
	}
	p.pending, p.has = h, true
	if p.timer == nil {
		wait := max(time.Until(p.last.Add(p.opt.Interval)), 0)
		p.timer = time.AfterFunc(wait, p.flush)
	}
}

// flush sends the pending head.
func (p *Publisher) flush() {
	p.mu.Lock()
	h, has := p.pending, p.has
	p.has, p.timer, p.last = false, nil, time.Now()
	if has {
		p.inflight.Add(1)
		defer p.inflight.Done()
	}
	p.mu.Unlock()
	if has {
		p.send(h)
	}
}

func (p *Publisher) send(h Head) {
	p.sendMu.Lock()
	defer p.sendMu.Unlock()
	line := h.String()
	for _, s := range p.opt.Sinks {
		err := s.Send(line)
		p.mu.Lock()
		report := false
		if err != nil {
			p.stats.Failed++
			if p.stats.First == nil {
				p.stats.First, report = err, true
			}
		} else {
			p.stats.Sent++
		}
		p.mu.Unlock()
		if report && p.opt.OnError != nil {
			p.opt.OnError(err)
		}
	}
}

// Stats returns what was sent and what failed so far.
func (p *Publisher) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

// Close sends the head still pending, waits for a line being sent, and
// closes the sinks that hold something open. Later Publish calls are
// ignored.
func (p *Publisher) Close() error {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	if p.timer != nil {
		p.timer.Stop() // a flush already running takes the pending head itself
		p.timer = nil
	}
	h, has := p.pending, p.has
	p.has = false
	p.mu.Unlock()
	if has {
		p.send(h)
	}
	p.inflight.Wait() // a flush that was running has finished
	var errs []error
	for _, s := range p.opt.Sinks {
		if c, ok := s.(io.Closer); ok {
			errs = append(errs, c.Close())
		}
	}
	return errors.Join(errs...)
}
