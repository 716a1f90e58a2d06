package mcpproxy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
)

// sseEvent is one server-sent event as a streamable HTTP server sends it:
// its data is one JSON-RPC message, or empty for a priming event that only
// carries an id to resume from.
type sseEvent struct {
	event string // the event type; the legacy transport names its endpoint so
	id    string
	data  []byte
	retry time.Duration // the server's reconnection delay, when it sent one
}

// errFrameTooLarge is a message from the server over the remote upstream's
// bound: it is answered as an error, never buffered whole.
var errFrameTooLarge = errors.New("message too large")

// readSSE reads events from r until it ends, giving each to fn; fn returns
// false to stop early. An event (or a line) over max bytes ends the stream
// with errFrameTooLarge. A clean end of the stream returns nil.
func readSSE(r io.Reader, max int, fn func(sseEvent) bool) error {
	br := bufio.NewReaderSize(r, 16<<10)
	var ev sseEvent
	var data bytes.Buffer
	hasData, seen := false, false // seen: a field since the last event
	dispatch := func() bool {
		if !seen {
			return true
		}
		ev.data = bytes.Clone(data.Bytes())
		ok := fn(ev)
		id := ev.id // the last event id persists across events, per the spec
		ev, hasData, seen = sseEvent{id: id}, false, false
		data.Reset()
		return ok
	}
	for {
		line, err := readLine(br, max)
		if err != nil {
			if errors.Is(err, io.EOF) {
				if len(line) == 0 {
					// A stream that ends mid-event drops that event.
					return nil
				}
			} else {
				return err
			}
		}
		line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
		switch {
		case len(line) == 0:
			if !dispatch() {
				return nil
			}
		case line[0] == ':': // a comment, often a keep-alive
		default:
			field, value, _ := bytes.Cut(line, []byte(":"))
			value = bytes.TrimPrefix(value, []byte(" "))
			switch string(field) {
			case "data", "id", "retry":
				seen = true
			}
			switch string(field) {
			case "data":
				if hasData {
					data.WriteByte('\n')
				}
				if data.Len()+len(value) > max {
					return fmt.Errorf("server-sent event over %d bytes: %w", max, errFrameTooLarge)
				}
				data.Write(value)
				hasData = true
			case "event":
				ev.event = string(value)
			case "id":
				if !bytes.ContainsRune(value, 0) {
					ev.id = string(value)
				}
			case "retry":
				if ms, err := strconv.Atoi(string(value)); err == nil && ms >= 0 {
					ev.retry = time.Duration(ms) * time.Millisecond
				}
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
	}
}

// readLine reads one line of at most max bytes.
func readLine(br *bufio.Reader, max int) ([]byte, error) {
	var long []byte
	for {
		part, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			if len(long)+len(part) > max {
				return nil, fmt.Errorf("line over %d bytes: %w", max, errFrameTooLarge)
			}
			long = append(long, part...)
			continue
		}
		if long == nil {
			return part, err
		}
		if len(long)+len(part) > max {
			return nil, fmt.Errorf("line over %d bytes: %w", max, errFrameTooLarge)
		}
		return append(long, part...), err
	}
}
