package mcpproxy

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// message is the little the pump needs to know about a JSON-RPC line: the
// spans of the top-level members it routes on. Values are sub-slices of the
// line, so scanning allocates nothing for lines that are not policed.
type message struct {
	id, method, params, result, error []byte
	hasMethod, hasID                  bool
}

var (
	errNotObject = errors.New("not a JSON object")
	errAmbiguous = errors.New("ambiguous message")
	// errTooDeep: a value nested deeper than maxDepth. Every walk over a
	// message (the key check, decoding, the digest, redaction, policy
	// conditions) recurses with the nesting, so the bound is what keeps
	// input from driving the proxy's stack.
	errTooDeep = fmt.Errorf("nested deeper than %d levels", maxDepth)
	// errLineBreak: a raw carriage return inside a line. Python's and
	// Node's line readers split on it, so the server would read two
	// messages where the proxy saw one. Valid JSON never needs one: it is
	// whitespace at most, and inside a string it must be escaped.
	errLineBreak = errors.New("raw carriage return inside the line (a line boundary for some readers)")
)

// maxDepth bounds the nesting of arrays and objects in anything the proxy
// parses. Tool schemas and arguments seen in the wild nest a few dozen
// levels; Python's json module gives up near 1000.
const maxDepth = 512

// innerBreak reports whether a line holds a line boundary before its own
// end: a raw '\r' anywhere but directly before the final '\n'.
func innerBreak(line []byte) bool {
	line = bytes.TrimSuffix(line, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	return bytes.IndexByte(line, '\r') >= 0
}

// ambiguityError names the keys that made a message ambiguous.
type ambiguityError struct {
	a, b string
	lone bool // b alone, standing for a
}

func (e *ambiguityError) Error() string {
	switch {
	case e.lone:
		return fmt.Sprintf("key %q differs from %q only in case", e.b, e.a)
	case e.a == e.b:
		return fmt.Sprintf("duplicate key %q", e.a)
	}
	return fmt.Sprintf("keys %q and %q differ only in case", e.a, e.b)
}

// foldedKey refuses a key that equals one of names under case folding
// without spelling it exactly. Go's encoding/json (so an mcp-go server) takes
// "Method" or "paramſ" for "method" and "params"; the proxy reads exact keys
// and would not see them.
func foldedKey(key string, names ...string) error {
	for _, n := range names {
		if key != n && strings.EqualFold(key, n) {
			return &ambiguityError{a: n, b: key, lone: true}
		}
	}
	return nil
}

func (e *ambiguityError) Is(target error) bool { return target == errAmbiguous }

// scanMessage reads the top-level members of a JSON object. It refuses an
// object whose keys repeat or differ only in case: Go, JavaScript and Python
// resolve those differently, and a proxy that sees another message than the
// server is a proxy that can be walked past.
func scanMessage(line []byte) (message, error) {
	var m message
	s := scanner{b: line}
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		return m, errNotObject
	}
	var keys [8]string
	seen := keys[:0]
	err := s.object(func(key string, val []byte) error {
		for _, k := range seen {
			if strings.EqualFold(k, key) {
				return &ambiguityError{a: k, b: key}
			}
		}
		if err := foldedKey(key, "jsonrpc", "id", "method", "params", "result", "error"); err != nil {
			return err
		}
		seen = append(seen, key)
		switch key {
		case "id":
			m.id, m.hasID = val, true
		case "method":
			m.method, m.hasMethod = val, true
		case "params":
			m.params = val
		case "result":
			m.result = val
		case "error":
			m.error = val
		}
		return nil
	})
	if err != nil {
		return m, err
	}
	s.ws()
	if s.i != len(s.b) {
		return m, fmt.Errorf("trailing data at offset %d", s.i)
	}
	return m, nil
}

// checkKeys walks a whole value and refuses any object in it with repeated
// or case-equal keys. It runs on the params of policed requests only.
func checkKeys(v []byte) error {
	s := scanner{b: v, deep: true}
	s.ws()
	if _, err := s.value(); err != nil {
		return err
	}
	s.ws()
	if s.i != len(s.b) {
		return fmt.Errorf("trailing data at offset %d", s.i)
	}
	return nil
}

// members returns the members of an object value, exact keys, in order.
func members(v []byte) (map[string][]byte, error) {
	out := map[string][]byte{}
	s := scanner{b: v}
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		return nil, errNotObject
	}
	err := s.object(func(key string, val []byte) error {
		out[key] = val
		return nil
	})
	return out, err
}

// decodeString turns a JSON string value into Go text; ok is false when v is
// not a string.
func decodeString(v []byte) (string, bool) {
	if len(v) < 2 || v[0] != '"' {
		return "", false
	}
	if bytes.IndexByte(v, '\\') < 0 {
		return string(v[1 : len(v)-1]), true
	}
	var s string
	if json.Unmarshal(v, &s) != nil {
		return "", false
	}
	return s, true
}

// idKey normalises a JSON-RPC id so that "a" and "\u0061" match, and the
// string "1" and the number 1 do not.
func idKey(id []byte) string {
	if s, ok := decodeString(id); ok {
		return "s" + s
	}
	return "n" + string(bytes.TrimSpace(id))
}

// scanner is a small validating JSON reader that reports spans.
type scanner struct {
	b    []byte
	i    int
	deep bool // check keys of nested objects too
	// valid: the bytes were already checked by checkKeys, so strings
	// need only be skipped, not checked again.
	valid bool
	depth int // arrays and objects open at s.i
}

// enter counts one more level of nesting, refusing more than maxDepth.
func (s *scanner) enter() error {
	if s.depth++; s.depth > maxDepth {
		return s.errorf("%w", errTooDeep)
	}
	return nil
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) errorf(format string, a ...any) error {
	return fmt.Errorf("offset %d: "+format, append([]any{s.i}, a...)...)
}

// object reads {...} at s.i and calls f for each member.
func (s *scanner) object(f func(key string, val []byte) error) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer func() { s.depth-- }()
	s.i++ // {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return nil
	}
	for {
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			return s.errorf("want an object key")
		}
		ks := s.i
		if err := s.str(); err != nil {
			return err
		}
		key, ok := decodeString(s.b[ks:s.i])
		if !ok {
			return s.errorf("bad object key")
		}
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return s.errorf("want ':'")
		}
		s.i++
		s.ws()
		vs := s.i
		if _, err := s.value(); err != nil {
			return err
		}
		if err := f(key, s.b[vs:s.i]); err != nil {
			return err
		}
		s.ws()
		if s.i >= len(s.b) {
			return s.errorf("unterminated object")
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case '}':
			s.i++
			return nil
		default:
			return s.errorf("want ',' or '}'")
		}
	}
}

// value reads one value and returns its kind's first byte.
func (s *scanner) value() (byte, error) {
	if s.i >= len(s.b) {
		return 0, s.errorf("want a value")
	}
	c := s.b[s.i]
	switch {
	case c == '"':
		return c, s.str()
	case c == '{':
		if !s.deep {
			return c, s.skipNested()
		}
		var seen []string
		return c, s.object(func(key string, _ []byte) error {
			for _, k := range seen {
				if strings.EqualFold(k, key) {
					return &ambiguityError{a: k, b: key}
				}
			}
			seen = append(seen, key)
			return nil
		})
	case c == '[':
		if !s.deep {
			return c, s.skipNested()
		}
		if err := s.enter(); err != nil {
			return c, err
		}
		defer func() { s.depth-- }()
		s.i++
		s.ws()
		if s.i < len(s.b) && s.b[s.i] == ']' {
			s.i++
			return c, nil
		}
		for {
			s.ws()
			if _, err := s.value(); err != nil {
				return c, err
			}
			s.ws()
			if s.i >= len(s.b) {
				return c, s.errorf("unterminated array")
			}
			if s.b[s.i] == ']' {
				s.i++
				return c, nil
			}
			if s.b[s.i] != ',' {
				return c, s.errorf("want ',' or ']'")
			}
			s.i++
		}
	case c == 't':
		return c, s.lit("true")
	case c == 'f':
		return c, s.lit("false")
	case c == 'n':
		return c, s.lit("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return c, s.number()
	}
	return 0, s.errorf("unexpected %q", c)
}

func (s *scanner) lit(w string) error {
	if !bytes.HasPrefix(s.b[s.i:], []byte(w)) {
		return s.errorf("bad literal")
	}
	s.i += len(w)
	return nil
}

func (s *scanner) number() error {
	start := s.i
	if s.b[s.i] == '-' {
		s.i++
	}
	digits := func() int {
		n := 0
		for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
			s.i++
			n++
		}
		return n
	}
	if s.i < len(s.b) && s.b[s.i] == '0' {
		s.i++
	} else if digits() == 0 {
		return s.errorf("bad number")
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if digits() == 0 {
			return s.errorf("bad number")
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if digits() == 0 {
			return s.errorf("bad number")
		}
	}
	if s.i == start {
		return s.errorf("bad number")
	}
	return nil
}

// str reads and validates a string starting at the quote.
func (s *scanner) str() error {
	start := s.i
	if err := s.skipString(); err != nil || s.valid {
		return err
	}
	body := s.b[start+1 : s.i-1]
	if hasControl(body) {
		return s.errorf("control character in string")
	}
	if bytes.IndexByte(body, '\\') >= 0 {
		if !json.Valid(s.b[start:s.i]) {
			return s.errorf("bad escape in string")
		}
	} else if !utf8.Valid(body) {
		// JSON.parse would replace invalid bytes; keep the text the
		// same for both sides by refusing it.
		return s.errorf("invalid UTF-8 in string")
	}
	return nil
}

// hasControl reports whether b holds a byte below 0x20. Words of eight
// bytes are tested whole (the "has a byte less than" test, which may flag a
// word falsely but never misses one): a 64 MiB argument passes here.
func hasControl(b []byte) bool {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	i := 0
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		if (x-ones*0x20)&^x&highs == 0 {
			continue
		}
		for _, c := range b[i : i+8] {
			if c < 0x20 {
				return true
			}
		}
	}
	for _, c := range b[i:] {
		if c < 0x20 {
			return true
		}
	}
	return false
}

// skipString moves past a string starting at the quote. It jumps between
// quotes with IndexByte, which is what keeps multi-megabyte values cheap.
func (s *scanner) skipString() error {
	start := s.i
	s.i++
	for {
		j := bytes.IndexByte(s.b[s.i:], '"')
		if j < 0 {
			return s.errorf("unterminated string")
		}
		s.i += j
		// An odd run of backslashes before the quote escapes it.
		n := 0
		for k := s.i - 1; k > start && s.b[k] == '\\'; k-- {
			n++
		}
		s.i++
		if n%2 == 0 {
			return nil
		}
	}
}

// class marks the bytes that matter when skipping a nested value.
var class = func() (t [256]byte) {
	for _, c := range []byte(`"{}[]`) {
		t[c] = 1
	}
	return t
}()

// skipNested skips an object or array without looking at its keys, checking
// only that brackets balance and strings end. Lines that are not policed
// never pay for more.
func (s *scanner) skipNested() error {
	depth := s.depth
	for s.i < len(s.b) {
		c := s.b[s.i]
		if class[c] == 0 {
			s.i++
			continue
		}
		switch c {
		case '"':
			if err := s.skipString(); err != nil {
				return err
			}
			continue
		case '{', '[':
			if depth++; depth > maxDepth {
				return s.errorf("%w", errTooDeep)
			}
		case '}', ']':
			depth--
		}
		s.i++
		if depth == s.depth {
			return nil
		}
	}
	return s.errorf("unterminated value")
}
