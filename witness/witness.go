// Package witness publishes the audit chain's head where the user who runs
// aim-mcp cannot rewrite it, and reads it back for "aim-mcp audit verify".
//
// A wrapped MCP server runs as the same user as aim-mcp, so it can write
// aim.db: delete the newest records, or re-sign the whole chain with a key
// it writes into the database, and the chain alone still verifies. The
// system log is kept by another user (journald, syslogd, the Event Log):
// a line sent there can be added to but not taken back. After each commit
// the registry hands the new head to a [Publisher], which sends it, at most
// once a second and once more when it closes, as one line:
//
//	aim-mcp chain head home=HOME seq=N hash=H keys=FP1,FP2
//
// HOME names the home directory (see [HomeID]), N and H are the last
// record's seq and hash, and the FPs are the fingerprints of the server
// keys this process signed the chain with. A chain that later ends before
// N, holds another hash at N, or names none of those keys was shortened or
// rewritten.
//
// The package knows nothing of the registry: it formats, sends, reads back
// and picks lines; the registry compares them with the chain.
package witness

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Tag is the syslog identifier of the lines: "journalctl -t aim-mcp".
const Tag = "aim-mcp"

// prefix starts every head line's message.
const prefix = "aim-mcp chain head "

// Head is the chain's last record as a process saw it after a commit.
type Head struct {
	Home string   // HomeID of the home whose chain it is
	Seq  int64    // the last record's seq
	Hash string   // its hash (hex SHA-256 of its body)
	Keys []string // fingerprints of the keys that signed the chain, sorted
}

// String is the line that is published.
func (h Head) String() string {
	return fmt.Sprintf("%shome=%s seq=%d hash=%s keys=%s", prefix, h.Home, h.Seq, h.Hash, strings.Join(h.Keys, ","))
}

// Parse reads a head line. Text before "aim-mcp chain head" (a syslog
// prefix, a timestamp) is skipped, so a line copied from any log viewer
// works.
func Parse(line string) (Head, error) {
	i := strings.Index(line, prefix)
	if i < 0 {
		return Head{}, fmt.Errorf("not a chain head line: %q does not appear in it", strings.TrimSpace(prefix))
	}
	var h Head
	seen := map[string]bool{}
	for _, f := range strings.Fields(line[i+len(prefix):]) {
		k, v, ok := strings.Cut(f, "=")
		if !ok || seen[k] {
			return Head{}, fmt.Errorf("bad chain head line: field %q", f)
		}
		seen[k] = true
		switch k {
		case "home":
			h.Home = v
		case "seq":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 1 {
				return Head{}, fmt.Errorf("bad chain head line: seq %q", v)
			}
			h.Seq = n
		case "hash":
			if _, err := hex.DecodeString(v); err != nil || len(v) != 64 {
				return Head{}, fmt.Errorf("bad chain head line: hash %q", v)
			}
			h.Hash = v
		case "keys":
			if v != "" {
				h.Keys = strings.Split(v, ",")
				sort.Strings(h.Keys)
			}
		default:
			// A later version may add fields; they do not change these.
		}
	}
	if h.Home == "" || h.Seq == 0 || h.Hash == "" {
		return Head{}, fmt.Errorf("bad chain head line: it needs home=, seq= and hash=")
	}
	return h, nil
}

// HomeID names a home directory in head lines: the first 16 hex digits of
// the SHA-256 of its absolute path (symbolic links resolved where they
// can be), so that the log says which chain a line is about without
// saying where the user keeps it.
func HomeID(dir string) string {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	sum := sha256.Sum256([]byte(filepath.Clean(dir)))
	return hex.EncodeToString(sum[:8])
}

// Collector picks, from many head lines, the few that are worth checking
// for one home: the newest head (the highest seq; lines of processes that
// ran at once may arrive out of order), and for each key the newest head
// that names it, so that a key replaced long before the last line is
// still caught. It holds one head per key, not the lines: a journal of
// years costs nothing.
type Collector struct {
	home   string
	newest Head
	byKey  map[string]Head
	Lines  int // head lines read, of any home
	Others int // head lines of other homes
}

// NewCollector collects heads of the home whose HomeID is home.
func NewCollector(home string) *Collector {
	return &Collector{home: home, byKey: map[string]Head{}}
}

// Add considers one line; lines that are not heads are ignored.
func (c *Collector) Add(line string) {
	h, err := Parse(line)
	if err != nil {
		return
	}
	c.Lines++
	if h.Home != c.home {
		c.Others++
		return
	}
	if h.Seq > c.newest.Seq {
		c.newest = h
	}
	for _, k := range h.Keys {
		if h.Seq >= c.byKey[k].Seq {
			c.byKey[k] = h
		}
	}
}

// Read adds every line of r.
func (c *Collector) Read(r io.Reader) error {
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			c.Add(line)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read witness lines: %w", err)
		}
	}
}

// Heads returns the heads to check, newest first: the newest head, then
// the newest head of each key it does not name. Nil when no line was of
// this home.
func (c *Collector) Heads() []Head {
	if c.newest.Seq == 0 {
		return nil
	}
	out := []Head{c.newest}
	have := map[string]bool{c.newest.String(): true}
	keys := make([]string, 0, len(c.byKey))
	for k := range c.byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if h := c.byKey[k]; !have[h.String()] {
			have[h.String()] = true
			out = append(out, h)
		}
	}
	sort.SliceStable(out[1:], func(i, j int) bool { return out[1+i].Seq > out[1+j].Seq })
	return out
}
