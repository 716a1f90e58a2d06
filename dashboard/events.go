package dashboard

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/opena2a-org/aim-mcp/registry"
)

// watchEvery is how often the feed looks at the registry's files: two
// stat calls, no query, no connection held.
const watchEvery = 200 * time.Millisecond

// feed tells every open page that the registry changed. Any commit, by a
// proxy or a command in a terminal, writes the database's WAL file (or the
// file itself), so a change of either's size or time is the signal; a
// spurious wake-up costs a page one fetch. The dashboard's own changes
// call changed directly.
type feed struct {
	files []string

	mu   sync.Mutex
	subs map[chan struct{}]bool
}

func newFeed(db *registry.DB) *feed {
	return &feed{files: []string{db.Path() + "-wal", db.Path()}, subs: map[chan struct{}]bool{}}
}

func (f *feed) watchers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.subs)
}

func (f *feed) subscribe() chan struct{} {
	c := make(chan struct{}, 1)
	f.mu.Lock()
	f.subs[c] = true
	f.mu.Unlock()
	return c
}

func (f *feed) unsubscribe(c chan struct{}) {
	f.mu.Lock()
	delete(f.subs, c)
	f.mu.Unlock()
}

// changed wakes every page; a page already woken is not queued twice.
func (f *feed) changed() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.subs {
		select {
		case c <- struct{}{}:
		default:
		}
	}
}

type stamp struct {
	size int64
	mod  time.Time
}

// run watches the files while pages are open.
func (f *feed) run(ctx context.Context) {
	t := time.NewTicker(watchEvery)
	defer t.Stop()
	var last []stamp
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if f.watchers() == 0 {
			last = nil
			continue
		}
		now := make([]stamp, len(f.files))
		for i, p := range f.files {
			if st, err := os.Stat(p); err == nil {
				now[i] = stamp{st.Size(), st.ModTime()}
			}
		}
		if last != nil && !slices.Equal(now, last) {
			f.changed()
		}
		last = now
	}
}

// events streams "change" events to a page until it goes away.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	c := s.feed.subscribe()
	defer s.feed.unsubscribe(c)
	fmt.Fprint(w, "retry: 1000\n\nevent: hello\ndata: {}\n\n")
	fl.Flush()
	keep := time.NewTicker(15 * time.Second)
	defer keep.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-keep.C:
			fmt.Fprint(w, ": keep-alive\n\n")
		case <-c:
			fmt.Fprint(w, "event: change\ndata: {}\n\n")
		}
		fl.Flush()
		s.touch()
	}
}
