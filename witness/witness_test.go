package witness

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func head(seq int64) Head {
	return Head{Home: "0123456789abcdef", Seq: seq, Hash: strings.Repeat("ab", 32), Keys: []string{"SHA256:aaaaaaaaaaaaaaaa", "SHA256:bbbbbbbbbbbbbbbb"}}
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
