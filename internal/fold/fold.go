// Package fold shortens the long strings of a JSON value for a person to
// read, so that every key and every value stays in view and what is left
// out is said: a folded string keeps its first and last bytes around a
// marker that counts the bytes in between. Nothing is ever cut without one.
package fold

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// Marker stands for n bytes left out of the middle of a string.
func Marker(n int) string { return fmt.Sprintf("…[+%d bytes]…", n) }

// String keeps the first and the last keep bytes of s (moved to rune
// boundaries) around a Marker. A string that would not get shorter is
// returned as is; keep 0 or less folds nothing.
func String(s string, keep int) string {
	if keep <= 0 || len(s) <= 2*keep+len(Marker(len(s))) {
		return s
	}
	head := keep
	for head > 0 && !utf8.RuneStart(s[head]) {
		head--
	}
	tail := len(s) - keep
	for tail < len(s) && !utf8.RuneStart(s[tail]) {
		tail++
	}
	return s[:head] + Marker(tail-head) + s[tail:]
}

// Value returns a copy of a decoded JSON value with every string value
// folded. Keys stay whole: two long keys folded alike would hide one.
func Value(v any, keep int) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = Value(e, keep)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = Value(e, keep)
		}
		return out
	case string:
		return String(v, keep)
	}
	return v
}

// JSON is raw as one line of compact JSON with its strings folded, numbers
// as written and keys sorted. Text that is not JSON is folded as a whole.
func JSON(raw []byte, keep int) string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return String(string(raw), keep)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(Value(v, keep)); err != nil {
		return String(string(raw), keep)
	}
	return string(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

// Pretty is raw indented by two spaces, nothing left out and nothing
// re-encoded: strings, escapes and numbers stay as written. Text that is not
// JSON is returned as it is.
func Pretty(raw []byte) string {
	var buf bytes.Buffer
	if err := json.Indent(&buf, bytes.TrimSpace(raw), "", "  "); err != nil {
		return string(raw)
	}
	return buf.String()
}
