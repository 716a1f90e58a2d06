package mcpproxy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"sync"
	"unsafe"
)

// frameWriter writes whole frames, one Write each, under one lock, so frames
// from the pump and from held calls never interleave.
type frameWriter struct {
	mu  sync.Mutex
	w   io.Writer
	err error
}

func (f *frameWriter) write(frame []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.writeLocked(frame)
}

func (f *frameWriter) writeLocked(frame []byte) error {
	if f.err != nil {
		return f.err
	}
	_, f.err = f.w.Write(frame)
	return f.err
}

// pump reads lines with no length limit and hands each to handle. A line is
// only valid during the call (the reader's buffer is reused) unless owned
// is true: then the pump lets go of it and handle may keep it.
func (p *Proxy) pump(r io.Reader, handle func(line []byte, owned bool)) {
	br := bufio.NewReaderSize(r, 64<<10)
	var s spill
	for {
		line, err := br.ReadSlice('\n')
		owned := false
		if errors.Is(err, bufio.ErrBufferFull) {
			for errors.Is(err, bufio.ErrBufferFull) {
				s.add(line)
				line, err = br.ReadSlice('\n')
			}
			line, owned = s.join(line)
		}
		if len(line) > 0 {
			if line[len(line)-1] != '\n' {
				line = append(line, '\n') // a last line without its newline
			}
			handle(line, owned)
			if owned && len(line) >= giveBackAt {
				// Most often the line is done with now (a result
				// passed on, a call forwarded): give its memory back
				// before the next one comes.
				giveBack()
			}
		}
		if err != nil {
			return
		}
	}
}

// spillHead is how much of a long line is gathered in a buffer the pump
// keeps for the next one; longer lines are one-offs, read into chunks.
const (
	spillHead  = 1 << 20
	spillChunk = 1 << 20
)

// giveBackAt is the size of line past which its memory is given back to
// the system at once (a full collection, a few milliseconds) rather than
// when the memory limit's collector gets to it.
const giveBackAt = 4 << 20

// spill gathers a line longer than the reader's buffer. Past its first
// MiB, the line waits in chunks that, where the platform allows, lie
// outside the Go heap and are given back one by one as they are copied
// into the line: a 64 MiB message then peaks near its own size, where
// gathering it on the heap and joining it would briefly take twice that.
type spill struct {
	head   []byte // reused from line to line
	chunks []chunk
	n      int // bytes in chunks
	// nextGiveBack: how much of the line was gathered when heap memory
	// was last looked at.
	nextGiveBack int
}

func (s *spill) add(b []byte) {
	if len(s.chunks) == 0 && len(s.head)+len(b) <= spillHead {
		s.head = append(s.head, b...)
		return
	}
	for len(b) > 0 {
		if len(s.chunks) == 0 || len(s.chunks[len(s.chunks)-1].b) == cap(s.chunks[len(s.chunks)-1].b) {
			if len(s.head)+s.n+spillChunk >= s.nextGiveBack+giveBackAt {
				// A big line is coming, and gathering it allocates
				// nothing on the heap, so no collection would run
				// meanwhile: what the last big line left (it may
				// still be in use when this one starts) is given back
				// as soon as it is done with, or the two would be
				// resident at once.
				s.nextGiveBack += giveBackAt
				giveBack()
			}
			s.chunks = append(s.chunks, newChunk(spillChunk))
		}
		c := &s.chunks[len(s.chunks)-1]
		k := min(len(b), cap(c.b)-len(c.b))
		c.b = append(c.b, b[:k]...)
		s.n += k
		b = b[k:]
	}
}

// join returns the whole line, ending with tail, and empties s. A line
// that fit in the head is in the head's buffer and is not owned; a longer
// one is a slice of its own size (and room for a newline), owned.
func (s *spill) join(tail []byte) ([]byte, bool) {
	if len(s.chunks) == 0 {
		line := append(s.head, tail...)
		s.head = line[:0]
		return line, false
	}
	line := uncleared(len(s.head) + s.n + len(tail) + 1)
	line = append(line, s.head...)
	for i := range s.chunks {
		line = append(line, s.chunks[i].b...)
		s.chunks[i].free()
	}
	line = append(line, tail...)
	clear(s.chunks)
	s.chunks, s.n, s.nextGiveBack = s.chunks[:0], 0, 0
	s.head = s.head[:0]
	return line, true
}

func trimLine(line []byte) []byte { return bytes.TrimSpace(line) }

// response keeps jsonrpc and id first, as people reading logs expect.
type response struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  any             `json:"result,omitempty"`
	Error   any             `json:"error,omitempty"`
}

func rpcError(id json.RawMessage, code int, msg string) []byte {
	b, _ := marshalNoEscape(response{JSONRPC: "2.0", ID: id,
		Error: map[string]any{"code": code, "message": msg}})
	return append(b, '\n')
}

// giveBack collects and returns freed memory to the system when the heap
// holds more than a proxy needs between big lines (its objects, live or
// not yet collected, and free memory not yet given back): reading two
// metrics is cheap, a full collection is not.
func giveBack() {
	samples := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/free:bytes"}}
	metrics.Read(samples)
	if samples[0].Value.Uint64()+samples[1].Value.Uint64() > 2*giveBackAt {
		debug.FreeOSMemory()
	}
}

// uncleared returns an empty slice with room for n bytes, not zeroed: a
// strings.Builder's growth is the standard library's one way to allocate
// so. Zeroing a 64 MiB line would touch all its pages while the chunks it
// is then filled from are still resident, and double the peak. Every byte
// is written before it is read (join appends into it).
func uncleared(n int) []byte {
	var b strings.Builder
	b.Grow(n)
	b.WriteByte(0) // a string of one byte has a pointer to take
	return unsafe.Slice(unsafe.StringData(b.String()), n)[:0]
}
