package witness

import (
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

func head(seq int64) Head {
	return Head{Home: "0123456789abcdef", Seq: seq, Hash: strings.Repeat("ab", 32), Keys: []string{"SHA256:aaaaaaaaaaaaaaaa", "SHA256:bbbbbbbbbbbbbbbb"}}
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

// TestParse: what journalctl -o cat prints, a full syslog line and a line
// with a field from a later version parse; broken ones do not.
func TestParse(t *testing.T) {
	h := head(7)
	for _, line := range []string{
		h.String(),
		"Dec  2 09:50:00 host aim-mcp[12]: " + h.String() + "\n",
		h.String() + " next=1",
	} {
		if got, err := Parse(line); err != nil || got.String() != h.String() {
			t.Errorf("Parse(%q) = %+v, %v", line, got, err)
		}
	}
	for _, line := range []string{
		"aim-mcp started",
		"aim-mcp chain head home=x seq=0 hash=" + h.Hash,
		"aim-mcp chain head home=x seq=3 hash=abc",
		"aim-mcp chain head seq=3 hash=" + h.Hash,
		"aim-mcp chain head home=x home=y seq=3 hash=" + h.Hash,
	} {
		if got, err := Parse(line); err == nil {
			t.Errorf("Parse(%q) = %+v, want an error", line, got)
		}
	}
}

// TestCollector: the newest head wins whatever the order of lines, a key
// last named long before it keeps its own newest head, and other homes'
// lines are counted but not kept.
func TestCollector(t *testing.T) {
	c := NewCollector("0123456789abcdef")
	old := Head{Home: "0123456789abcdef", Seq: 5, Hash: strings.Repeat("cd", 32), Keys: []string{"SHA256:oldoldoldoldoldo"}}
	other := head(99)
	other.Home = "fedcba9876543210"
	for _, l := range []string{old.String(), head(12).String(), head(10).String(), other.String(), "noise"} {
		c.Add(l)
	}
	got := c.Heads()
	if len(got) != 2 || got[0].Seq != 12 || got[1].Seq != 5 || got[1].Keys[0] != "SHA256:oldoldoldoldoldo" {
		t.Errorf("Heads = %+v, want the head at 12 and the old key's at 5", got)
	}
	if c.Lines != 4 || c.Others != 1 {
		t.Errorf("Lines, Others = %d, %d; want 4, 1", c.Lines, c.Others)
	}
	if got := NewCollector("none").Heads(); got != nil {
		t.Errorf("no lines: Heads = %+v", got)
	}
}

// TestHomeID: one home, one id, however it is named.
func TestHomeID(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Skip(err)
	}
	if a, b := HomeID(dir), HomeID(link+"/"); a != b || len(a) != 16 {
		t.Errorf("HomeID(dir) = %q, HomeID(link) = %q", a, b)
	}
	if HomeID(dir) == HomeID(t.TempDir()) {
		t.Error("two homes, one id")
	}
}
