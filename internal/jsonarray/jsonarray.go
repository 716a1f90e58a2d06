// Package jsonarray writes a JSON array one element at a time, byte for
// byte as json.MarshalIndent writes the whole slice: a command can print a
// million records, or a report a million calls, without holding them.
package jsonarray

import (
	"encoding/json"
	"io"
)

// Writer writes one indented array. Its elements are indented one level
// deeper than the line the array starts on.
type Writer struct {
	w      io.Writer
	outer  string // the prefix of the array's own lines (its closing bracket)
	indent string
	n      int
	err    error
}

// New starts an array on w (buffer w: each element is a few writes).
// outer is the indentation of the line the array is on, as the enclosing
// MarshalIndent would write it ("" at the top level), and indent is one
// level: the same as json.MarshalIndent's prefix and indent.
func New(w io.Writer, outer, indent string) *Writer {
	return &Writer{w: w, outer: outer, indent: indent}
}

// Add writes v as the next element.
func (a *Writer) Add(v any) error {
	if a.err != nil {
		return a.err
	}
	b, err := json.MarshalIndent(v, a.Prefix(), a.indent)
	if err != nil {
		return err
	}
	return a.AddIndented(b)
}

// Prefix is the prefix of the elements' lines: what to give
// json.MarshalIndent for the bytes of [Writer.AddIndented].
func (a *Writer) Prefix() string { return a.outer + a.indent }

// AddIndented writes b as the next element: b is the element as
// json.MarshalIndent(v, a.Prefix(), indent) writes it, from an encoder of
// the caller's that writes it faster.
func (a *Writer) AddIndented(b []byte) error {
	if a.err != nil {
		return a.err
	}
	sep := ",\n"
	if a.n == 0 {
		sep = "[\n"
	}
	a.n++
	a.write(sep)
	a.write(a.outer)
	a.write(a.indent)
	if a.err == nil {
		_, a.err = a.w.Write(b)
	}
	return a.err
}

// Close ends the array: "[]" when nothing was added.
func (a *Writer) Close() error {
	if a.n == 0 {
		a.write("[]")
	} else {
		a.write("\n" + a.outer + "]")
	}
	return a.err
}

func (a *Writer) write(s string) {
	if a.err == nil {
		_, a.err = io.WriteString(a.w, s)
	}
}
