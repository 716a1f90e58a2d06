package jsonedit

import (
	"bytes"
	"fmt"
	"slices"
	"unicode/utf8"
)

// Edit replaces src[Start:End] with Text. Start == End inserts Text at Start.
type Edit struct {
	Start, End int
	Text       []byte
}

// Apply returns a copy of src with edits applied. Edits may come in any
// order but must not overlap; insertions at the same offset keep their order.
// Bytes outside the edited ranges are copied unchanged.
func Apply(src []byte, edits []Edit) ([]byte, error) {
	sorted := slices.Clone(edits)
	slices.SortStableFunc(sorted, func(a, b Edit) int { return a.Start - b.Start })
	size, prev := len(src), 0
	for _, e := range sorted {
		if e.Start < prev || e.End < e.Start || e.End > len(src) {
			return nil, fmt.Errorf("edit [%d,%d) overlaps another edit or lies outside the %d-byte source", e.Start, e.End, len(src))
		}
		size += len(e.Text) - (e.End - e.Start)
		prev = e.End
	}
	// Exactly the size of the result: a file of tens of megabytes is
	// neither copied twice nor given room it will not use.
	out := make([]byte, 0, size)
	prev = 0
	for _, e := range sorted {
		out = append(out, src[prev:e.Start]...)
		out = append(out, e.Text...)
		prev = e.End
	}
	return append(out, src[prev:]...), nil
}

// Quote returns s as a JSON string. It escapes like encoding/json but leaves
// <, > and & literal: config files are read by people, not embedded in HTML.
func Quote(s string) []byte { return AppendQuote(nil, s) }

// AppendQuote appends s as a JSON string to dst, see [Quote].
func AppendQuote(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\b':
				dst = append(dst, `\b`...)
			case c == '\f':
				dst = append(dst, `\f`...)
			case c == '\n':
				dst = append(dst, `\n`...)
			case c == '\r':
				dst = append(dst, `\r`...)
			case c == '\t':
				dst = append(dst, `\t`...)
			case c < 0x20:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			// JavaScript treats these as line terminators; encoding/json
			// escapes them too.
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}

// ArrayStyle says how [RenderArray] lays out an array.
type ArrayStyle struct {
	// Multiline puts each element on its own line. Otherwise the array is
	// written on one line: ["a", "b"].
	Multiline bool
	// Newline ends lines in multi-line arrays; "\n" when empty.
	Newline string
	// ElemIndent precedes each element, CloseIndent the closing bracket, in
	// multi-line arrays.
	ElemIndent, CloseIndent string
	// Compact separates single-line elements with "," instead of ", ".
	Compact bool
}

// RenderArray renders an array whose elements are already JSON (raw bytes
// from a source, or the output of [Quote]). Reusing raw bytes keeps escapes
// exactly as the user wrote them when elements move between arrays. An empty
// array is always "[]".
func RenderArray(elems [][]byte, st ArrayStyle) []byte {
	if len(elems) == 0 {
		return []byte("[]")
	}
	nl := st.Newline
	if nl == "" {
		nl = "\n"
	}
	var b bytes.Buffer
	b.WriteByte('[')
	for i, e := range elems {
		switch {
		case st.Multiline:
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(nl)
			b.WriteString(st.ElemIndent)
		case i > 0 && st.Compact:
			b.WriteByte(',')
		case i > 0:
			b.WriteString(", ")
		}
		b.Write(e)
	}
	if st.Multiline {
		b.WriteString(nl)
		b.WriteString(st.CloseIndent)
	}
	b.WriteByte(']')
	return b.Bytes()
}

// RenderStrings renders items as a JSON array of strings, see [RenderArray].
func RenderStrings(items []string, st ArrayStyle) []byte {
	elems := make([][]byte, len(items))
	for i, s := range items {
		elems[i] = Quote(s)
	}
	return RenderArray(elems, st)
}

// LineIndent returns the run of spaces and tabs that starts the line holding
// offset off, and whether off is the first other byte on that line.
func LineIndent(src []byte, off int) (indent string, first bool) {
	start := bytes.LastIndexByte(src[:off], '\n') + 1
	end := start
	for end < off && (src[end] == ' ' || src[end] == '\t') {
		end++
	}
	return string(src[start:end]), end == off
}

// DetectArrayStyle describes how the array v is laid out in src, so that a
// replacement can be written the same way. ElemIndent and CloseIndent are
// empty when they cannot be learned (an element or the bracket does not
// start its line); Newline is "\r\n" when the array's lines end that way.
func DetectArrayStyle(src []byte, v *Value) ArrayStyle {
	raw := src[v.Start:v.End]
	st := ArrayStyle{Multiline: bytes.IndexByte(raw, '\n') >= 0, Newline: "\n"}
	if bytes.Contains(raw, []byte("\r\n")) {
		st.Newline = "\r\n"
	}
	if st.Multiline {
		if len(v.Elems) > 0 {
			if ind, first := LineIndent(src, v.Elems[0].Start); first {
				st.ElemIndent = ind
			}
		}
		if ind, first := LineIndent(src, v.End-1); first {
			st.CloseIndent = ind
		}
		return st
	}
	if len(v.Elems) > 1 {
		between := src[v.Elems[0].End:v.Elems[1].Start]
		st.Compact = bytes.HasSuffix(between, []byte(","))
	}
	return st
}
