// Package canon turns JSON into one canonical text, so that two encodings of
// the same value (key order, whitespace, escapes) hash alike. Approvals are
// bound to the digest of a call's canonical arguments, and tool pins to the
// digest of a tool's canonical definition.
//
// The form: objects with keys sorted by their UTF-16 code units (as RFC 8785
// does), no whitespace, strings escaped as encoding/json does without HTML
// escaping, numbers kept as their literal text. Keeping numbers verbatim
// means 1 and 1.0 differ; a server sees them as written, and so do we.
package canon

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// JSON returns the canonical text of raw. Empty input is taken as {}.
func JSON(raw []byte) ([]byte, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return []byte("{}"), nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("canonical json: %w", err)
	}
	if dec.More() {
		return nil, errors.New("canonical json: trailing data")
	}
	return Value(v), nil
}

// Value returns the canonical text of a decoded value (as produced by
// encoding/json with UseNumber, or built by hand).
func Value(v any) []byte {
	var buf bytes.Buffer
	write(&buf, v)
	return buf.Bytes()
}

// DigestValue is Digest of a decoded value, hashed as it is written so a
// multi-megabyte argument is never held twice.
func DigestValue(v any) string {
	h := sha256.New()
	w := writers.Get().(*bufio.Writer)
	w.Reset(h)
	write(w, v)
	w.Flush()
	w.Reset(nil)
	writers.Put(w)
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// writers are reused: DigestValue runs on every tool call.
var writers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 8<<10) }}

// Digest is "sha256:" and the hex SHA-256 of the canonical text of raw.
func Digest(raw []byte) (string, error) {
	c, err := JSON(raw)
	if err != nil {
		return "", err
	}
	return Sum(c), nil
}

// Sum is "sha256:" and the hex SHA-256 of b.
func Sum(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// sink is what canonical text is written to: a buffer or a hasher.
type sink interface {
	io.Writer
	io.ByteWriter
	io.StringWriter
}

func write(buf sink, v any) {
	switch v := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, compareUTF16)
		buf.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			writeString(buf, k)
			buf.WriteByte(':')
			write(buf, v[k])
		}
		buf.WriteByte('}')
	case []any:
		buf.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				buf.WriteByte(',')
			}
			write(buf, e)
		}
		buf.WriteByte(']')
	case string:
		writeString(buf, v)
	case json.Number:
		buf.WriteString(string(v))
	case bool:
		if v {
			buf.WriteString("true")
		} else {
			buf.WriteString("false")
		}
	case nil:
		buf.WriteString("null")
	case float64: // values decoded without UseNumber
		b, _ := json.Marshal(v)
		buf.Write(b)
	default:
		b, _ := json.Marshal(v)
		buf.Write(b)
	}
}

// writeString writes s as encoding/json does with HTML escaping off:
// control characters escaped, invalid UTF-8 as U+FFFD, U+2028 and U+2029
// escaped, everything else literal. Runs of plain ASCII are skipped eight
// bytes at a time and written in one piece: a multi-megabyte argument is
// digested on every call.
func writeString(buf sink, s string) {
	const hex = "0123456789abcdef"
	buf.WriteByte('"')
	start := 0
	for i := 0; i < len(s); {
		i += plainASCII(s[i:])
		if i >= len(s) {
			break
		}
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			buf.WriteString(s[start:i])
			switch b {
			case '\\', '"':
				buf.WriteByte('\\')
				buf.WriteByte(b)
			case '\b':
				buf.WriteString(`\b`)
			case '\f':
				buf.WriteString(`\f`)
			case '\n':
				buf.WriteString(`\n`)
			case '\r':
				buf.WriteString(`\r`)
			case '\t':
				buf.WriteString(`\t`)
			default:
				buf.WriteString(`\u00`)
				buf.WriteByte(hex[b>>4])
				buf.WriteByte(hex[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			buf.WriteString(s[start:i])
			buf.WriteString(`\ufffd`)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			buf.WriteString(s[start:i])
			buf.WriteString(`\u202`)
			buf.WriteByte(hex[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	buf.WriteString(s[start:])
	buf.WriteByte('"')
}

// plainASCII is the length of s's leading run, in whole words of eight
// bytes, of ASCII that needs no escaping: no control, quote, backslash or
// byte of 0x80 and above.
func plainASCII(s string) int {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	i := 0
	for ; i+8 <= len(s); i += 8 {
		x := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		// A byte below 0x20, one equal to '"' or '\\', or one with its
		// high bit set, sets the high bit of its lane (the classic
		// "has less than" and "has zero byte" tests; lanes above a hit
		// may be marked falsely, which only stops the run early).
		lt := x - ones*0x20
		q := x ^ (ones * '"')
		bs := x ^ (ones * '\\')
		if (lt|(q-ones)|(bs-ones)|x)&highs != 0 {
			break
		}
	}
	return i
}

// compareUTF16 orders keys by their UTF-16 code units. Two ASCII keys,
// nearly every key there is, compare alike byte by byte, with nothing
// converted: every object of every tool definition is sorted.
func compareUTF16(a, b string) int {
	if isASCII(a) && isASCII(b) {
		return strings.Compare(a, b)
	}
	return slices.Compare(utf16.Encode([]rune(a)), utf16.Encode([]rune(b)))
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// AppendValue is Value written after dst (a buffer sized for the text
// saves growing it as it is written).
func AppendValue(dst []byte, v any) []byte {
	buf := bytes.NewBuffer(dst)
	write(buf, v)
	return buf.Bytes()
}
