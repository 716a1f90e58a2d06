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
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"unicode/utf16"
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
	var buf bytes.Buffer
	write(&buf, v)
	return buf.Bytes(), nil
}

// Value returns the canonical text of a decoded value (as produced by
// encoding/json with UseNumber, or built by hand).
func Value(v any) []byte {
	var buf bytes.Buffer
	write(&buf, v)
	return buf.Bytes()
}

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

func write(buf *bytes.Buffer, v any) {
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
	default:
		b, _ := json.Marshal(v)
		buf.Write(b)
	}
}

func writeString(buf *bytes.Buffer, s string) {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	enc.Encode(s)
	buf.Truncate(buf.Len() - 1) // Encode adds a newline
}

func compareUTF16(a, b string) int {
	return slices.Compare(utf16.Encode([]rune(a)), utf16.Encode([]rune(b)))
}
