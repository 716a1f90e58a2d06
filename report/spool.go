package report

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
	"time"
)

// A spool is where a report's read of the registry leaves the calls for
// [Report.EachCall]: the fields a call prints, each body decoded once, in
// a compact temporary file rather than read and decoded from the registry
// again (which was most of the time of a report of a million records). The
// file is private (0600) and removed as soon as it is made where the
// system allows (it lives on while open), else when the report is closed.
type spool struct {
	f       *os.File
	name    string // still to remove on close ("" once removed)
	w       *bufio.Writer
	size    int64 // of what the read of the registry wrote
	written [nSlots]string
	buf     []byte
	err     error // the first write error: the rest are skipped
	// unanswered are the forwarded calls the read found no outcome
	// for: handed over as they are read, not held for one.
	unanswered map[int64]bool
}

// What a spool's entries are, in its first byte.
const (
	entryCall    byte = 1 + iota // a forwarded call
	entryDenied                  // a call not forwarded
	entryOutcome                 // a call's outcome, naming the call it answers
)

// slot is a field whose strings repeat from one entry to the next: one
// equal to the last of its slot is written as a single byte.
type slot int

const (
	slotServer slot = iota
	slotClient
	slotServerID
	slotTool
	slotDecision
	slotRisk
	slotSource
	slotApprovalID
	slotApprover
	slotArgsDigest
	slotHash
	slotOutcome
	nSlots
)

func newSpool() (*spool, error) {
	f, err := os.CreateTemp("", "aim-mcp-report-*")
	if err != nil {
		return nil, fmt.Errorf("report: a temporary file for the calls: %w", err)
	}
	s := &spool{f: f, name: f.Name(), w: bufio.NewWriterSize(f, 64<<10)}
	if os.Remove(s.name) == nil {
		s.name = ""
	}
	return s, nil
}

// close closes and removes the file; a second close does nothing.
func (s *spool) close() error {
	if s == nil || s.f == nil {
		return nil
	}
	err := s.f.Close()
	if s.name != "" {
		if rerr := os.Remove(s.name); rerr != nil && err == nil {
			err = rerr
		}
	}
	s.f = nil
	return err
}

// call writes a call (or denied) entry: c, with Outcome and what follows
// it left for its outcome entry.
func (s *spool) call(kind byte, c *Call) {
	b := append(s.buf[:0], kind)
	b = binary.AppendUvarint(b, uint64(c.Seq))
	b = binary.AppendVarint(b, c.Time.Unix())
	b = binary.AppendUvarint(b, uint64(c.Time.Nanosecond()))
	for i, v := range [...]string{c.Server, c.Client, c.ServerID, c.Tool, c.Decision, c.Risk, c.Source,
		c.ApprovalID, c.Approver, c.ArgsDigest, c.Hash} {
		b = s.appendString(b, slot(i), v)
	}
	s.write(b)
}

// outcome writes the outcome of the call at seq call.
func (s *spool) outcome(call, seq int64, decision string, ms float64) {
	b := append(s.buf[:0], entryOutcome)
	b = binary.AppendUvarint(b, uint64(call))
	b = binary.AppendUvarint(b, uint64(seq))
	b = s.appendString(b, slotOutcome, decision)
	// Reversed, a duration of whole or half milliseconds is a few bytes.
	b = binary.AppendUvarint(b, bits.ReverseBytes64(math.Float64bits(ms)))
	s.write(b)
}

func (s *spool) appendString(b []byte, i slot, v string) []byte {
	if v == s.written[i] && i != slotHash {
		return append(b, 0)
	}
	s.written[i] = v
	b = binary.AppendUvarint(b, uint64(len(v))+1)
	return append(b, v...)
}

func (s *spool) write(b []byte) {
	s.buf = b
	if s.err == nil {
		_, s.err = s.w.Write(b)
	}
}

// finish ends the writing.
func (s *spool) finish() error {
	if s.err == nil {
		s.err = s.w.Flush()
	}
	if s.err != nil {
		return fmt.Errorf("report: writing the calls to a temporary file: %w", s.err)
	}
	size, err := s.f.Seek(0, io.SeekCurrent)
	if err != nil {
		return fmt.Errorf("report: the temporary file of the calls: %w", err)
	}
	s.size, s.w = size, nil
	return nil
}

// spoolReader reads a spool's entries from the start; several can read
// one spool, one after the other or at once.
type spoolReader struct {
	r    *bufio.Reader
	read [nSlots]string
	buf  []byte
	bad  bool  // a read fell short
	size int64 // of the spool: no string is longer
}

func (s *spool) reader() *spoolReader {
	return &spoolReader{r: bufio.NewReaderSize(io.NewSectionReader(s.f, 0, s.size), 64<<10), size: s.size}
}

// errCorrupt is a spool that does not read back as it was written.
var errCorrupt = errors.New("the temporary file of the calls is not as written")

// next reads the next entry into c (a call) or o (an outcome) and says
// which it was; io.EOF after the last.
func (r *spoolReader) next(c *Call, o *spooledOutcome) (byte, error) {
	kind, err := r.r.ReadByte()
	if err != nil {
		return 0, err
	}
	switch kind {
	case entryCall, entryDenied:
		seq := r.uvarint()
		sec, err := binary.ReadVarint(r.r)
		r.bad = r.bad || err != nil
		nsec := r.uvarint()
		*c = Call{Seq: int64(seq), Time: time.Unix(sec, int64(nsec)).UTC()}
		for i, p := range [...]*string{&c.Server, &c.Client, &c.ServerID, &c.Tool, &c.Decision, &c.Risk, &c.Source,
			&c.ApprovalID, &c.Approver, &c.ArgsDigest, &c.Hash} {
			*p = r.string(slot(i))
		}
	case entryOutcome:
		o.call, o.seq = int64(r.uvarint()), int64(r.uvarint())
		o.decision = r.string(slotOutcome)
		o.ms = math.Float64frombits(bits.ReverseBytes64(r.uvarint()))
	default:
		return 0, errCorrupt
	}
	if r.bad {
		return 0, errCorrupt
	}
	return kind, nil
}

// spooledOutcome is an outcome entry.
type spooledOutcome struct {
	call, seq int64
	decision  string
	ms        float64
}

func (r *spoolReader) uvarint() uint64 {
	v, err := binary.ReadUvarint(r.r)
	r.bad = r.bad || err != nil
	return v
}

func (r *spoolReader) string(i slot) string {
	n := r.uvarint()
	if n == 0 {
		return r.read[i]
	}
	n--
	if n > uint64(r.size) {
		r.bad = true
		return ""
	}
	if uint64(cap(r.buf)) < n {
		r.buf = make([]byte, n)
	}
	b := r.buf[:n]
	if _, err := io.ReadFull(r.r, b); err != nil {
		r.bad = true
		return ""
	}
	r.read[i] = string(b)
	return r.read[i]
}
