//go:build !windows

package witness

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// listen is a syslog socket of the test's own: what journald is on a
// real system. lines returns the messages received so far.
func listen(t *testing.T) (path string, lines func() []string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "wit") // short: a socket's path is limited to about 100 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path = filepath.Join(dir, "log")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Skipf("no unixgram sockets here: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return path, func() []string {
		var out []string
		buf := make([]byte, 64<<10)
		for {
			c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			n, err := c.Read(buf)
			if err != nil {
				return out
			}
			out = append(out, string(buf[:n]))
		}
	}
}

// TestSyslogSink: a line reaches the socket as one syslog message tagged
// aim-mcp, and the message after the tag is the head, which parses back.
func TestSyslogSink(t *testing.T) {
	path, lines := listen(t)
	h := head(42)
	if err := (Syslog{Path: path}).Send(h.String()); err != nil {
		t.Fatal(err)
	}
	got := lines()
	if len(got) != 1 {
		t.Fatalf("received %q, want one message", got)
	}
	want := fmt.Sprintf(`^<14>[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d aim-mcp\[%d\]: aim-mcp chain head home=0123456789abcdef seq=42 hash=(ab){32} keys=SHA256:a{16},SHA256:b{16}$`, os.Getpid())
	if !regexp.MustCompile(want).MatchString(got[0]) {
		t.Errorf("message = %q, want it to match %s", got[0], want)
	}
	back, err := Parse(got[0])
	if err != nil || back.String() != h.String() {
		t.Errorf("Parse(message) = %+v, %v; want %+v", back, err, h)
	}
}

// TestPublisherRateLimit: many commits in a burst are at most one line a
// second, and the last head is sent when the publisher closes.
func TestPublisherRateLimit(t *testing.T) {
	path, lines := listen(t)
	p := New(Options{Sinks: []Sink{Syslog{Path: path}}, Interval: time.Hour})
	for i := int64(1); i <= 100; i++ {
		p.Publish(head(i))
	}
	time.Sleep(50 * time.Millisecond) // the first line goes out at once, with the newest head by then
	if got := lines(); len(got) != 1 {
		t.Fatalf("during the first burst: %q, want one line", got)
	}
	for i := int64(101); i <= 200; i++ {
		p.Publish(head(i))
	}
	time.Sleep(50 * time.Millisecond)
	if got := lines(); len(got) != 0 {
		t.Fatalf("within the interval: %q, want nothing", got)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	got := lines()
	if len(got) != 1 || !strings.Contains(got[0], " seq=200 ") {
		t.Fatalf("at close: %q, want the last head", got)
	}
	p.Publish(head(201)) // after Close: dropped
	time.Sleep(20 * time.Millisecond)
	if got := lines(); len(got) != 0 {
		t.Errorf("after close: %q", got)
	}
	if s := p.Stats(); s.Sent != 2 || s.Failed != 0 {
		t.Errorf("Stats = %+v, want 2 sent", s)
	}
}

// TestPublisherFailure: a sink that cannot be reached never blocks
// Publish, is reported once and counted every time.
func TestPublisherFailure(t *testing.T) {
	var mu sync.Mutex
	var reported []error
	p := New(Options{Sinks: []Sink{Syslog{Path: filepath.Join(t.TempDir(), "none")}}, Interval: time.Millisecond,
		OnError: func(err error) { mu.Lock(); reported = append(reported, err); mu.Unlock() }})
	start := time.Now()
	for i := int64(1); i <= 3; i++ {
		p.Publish(head(i))
		time.Sleep(20 * time.Millisecond)
	}
	p.Publish(head(4))
	p.Close()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v", d)
	}
	s := p.Stats()
	if s.Failed < 2 || s.Sent != 0 || s.First == nil { // 4 unless a busy machine let two heads coalesce
		t.Errorf("Stats = %+v, want a failure per line sent", s)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reported) != 1 || !errors.Is(reported[0], s.First) {
		t.Errorf("reported %v, want the first failure once", reported)
	}
}

// TestJournal: the heads are read from the user's journal and the
// system's, with the tag and the bare message; journalctl here is a
// script that answers as the real one does with a line in each.
func TestJournal(t *testing.T) {
	bin := t.TempDir()
	user, system := head(9), head(12)
	system.Keys = []string{"SHA256:cccccccccccccccc"}
	script := fmt.Sprintf(`#!/bin/sh
case "$*" in
"--user --quiet --no-pager -t aim-mcp -o cat") echo '%s' ;;
"--quiet --no-pager -t aim-mcp -o cat") echo 'unrelated'; echo '%s' ;;
*) echo "unexpected arguments: $*" >&2; exit 2 ;;
esac
`, user, system)
	if err := os.WriteFile(filepath.Join(bin, "journalctl"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin)
	heads, err := Journal(context.Background(), user.Home)
	if err != nil || len(heads) != 2 || heads[0].String() != system.String() || heads[1].String() != user.String() {
		t.Errorf("Journal = %+v, %v; want the system's head at 12, then the user's at 9 for its keys", heads, err)
	}
	// No journalctl: nothing witnessed, no error.
	t.Setenv("PATH", t.TempDir())
	if heads, err := Journal(context.Background(), user.Home); heads != nil || err != nil {
		t.Errorf("without journalctl: Journal = %+v, %v", heads, err)
	}
}
