package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// sentenceHandler writes a long-running command's log (watch) in the voice
// of the other commands: one line a record, "aim-mcp watch: ..." for
// progress, "aim-mcp: warning: ..." and "aim-mcp: error: ..." for what
// goes wrong. The config a record is about comes first ("claude-desktop
// config PATH: "), then the message, then the other attributes in
// parentheses. With stamp, each line starts with the time (a log file).
type sentenceHandler struct {
	w     io.Writer
	mu    *sync.Mutex
	level slog.Level
	stamp bool
	attrs []slog.Attr
}

func newSentenceHandler(w io.Writer, level slog.Level, stamp bool) *sentenceHandler {
	return &sentenceHandler{w: w, mu: &sync.Mutex{}, level: level, stamp: stamp}
}

func (h *sentenceHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h *sentenceHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(h.attrs[:len(h.attrs):len(h.attrs)], as...)
	return &c
}

// WithGroup is not used by watch; groups are flattened.
func (h *sentenceHandler) WithGroup(string) slog.Handler { return h }

func (h *sentenceHandler) Handle(_ context.Context, r slog.Record) error {
	var client, path string
	var rest []string
	add := func(a slog.Attr) bool {
		switch v := a.Value.Resolve().String(); a.Key {
		case "client":
			client = v
		case "path":
			path = v
		default:
			rest = append(rest, a.Key+" "+v)
		}
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	var b strings.Builder
	if h.stamp {
		b.WriteString(r.Time.Local().Format(time.DateTime) + " ")
	}
	switch {
	case r.Level >= slog.LevelError:
		b.WriteString("aim-mcp: error: ")
	case r.Level >= slog.LevelWarn:
		b.WriteString("aim-mcp: warning: ")
	default:
		b.WriteString("aim-mcp watch: ")
	}
	switch {
	case client != "" && path != "":
		fmt.Fprintf(&b, "%s config %s: ", client, path)
	case client != "":
		b.WriteString(client + ": ")
	case path != "":
		b.WriteString(path + ": ")
	}
	b.WriteString(r.Message)
	if len(rest) > 0 {
		b.WriteString(" (" + strings.Join(rest, ", ") + ")")
	}
	b.WriteByte('\n')
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := io.WriteString(h.w, b.String())
	return err
}
