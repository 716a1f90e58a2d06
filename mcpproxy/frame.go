package mcpproxy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"sync"
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
	var big []byte
	var chunks [][]byte
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// Collect the pieces, then copy them once into a slice of the
			// exact size: appending would double the buffer, and a
			// multi-megabyte line would briefly take three times its size.
			n := 0
			chunks = chunks[:0]
			for errors.Is(err, bufio.ErrBufferFull) {
				chunks = append(chunks, bytes.Clone(line))
				n += len(line)
				line, err = br.ReadSlice('\n')
			}
			if cap(big) < n+len(line)+1 {
				big = make([]byte, 0, n+len(line)+1)
			}
			big = big[:0]
			for i, c := range chunks {
				big = append(big, c...)
				chunks[i] = nil
			}
			line = append(big, line...)
			big = line
		}
		// A one-off huge message is not kept for reuse: it goes to the
		// handler or back to the GC.
		owned := cap(big) > 1<<20 && len(line) > 0 && &line[0] == &big[0]
		if len(line) > 0 {
			if line[len(line)-1] != '\n' {
				line = append(line, '\n') // a last line without its newline
			}
			handle(line, owned)
		}
		if cap(big) > 1<<20 {
			big = nil
		}
		if err != nil {
			return
		}
	}
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
