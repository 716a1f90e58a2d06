// Package jsonedit reads JSON and JSONC documents into a tree that remembers
// where every value sits in the source, so that a caller can change one value
// by splicing bytes and leave every other byte of the file as it was.
//
// encoding/json cannot do this: decoding loses key order, whitespace and
// comments, and re-encoding rewrites the whole file. Client config files are
// owned by the client and the user, so aim-mcp edits them by byte range
// instead:
//
//	root, err := jsonedit.Parse(src, jsonedit.Options{})
//	m := root.Lookup("command")
//	out, err := jsonedit.Apply(src, []jsonedit.Edit{{Start: m.Value.Start, End: m.Value.End, Text: jsonedit.Quote("/bin/x")}})
package jsonedit

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// Options changes what Parse accepts.
type Options struct {
	// JSONC allows // and /* */ comments wherever whitespace may appear,
	// trailing commas in objects and arrays, and a leading UTF-8 byte order
	// mark, as VS Code and Zed settings files use them.
	JSONC bool
	// Keep, when not empty, limits the tree to the values a caller reads:
	// each entry is a key path from the top-level object ("*" matching
	// every key), and everything under a path's end is built in full. The
	// objects along a path keep their Members; every other value is still
	// checked as strictly (syntax, duplicate keys) but keeps only its Kind
	// and span: no Str, Members or Elems. A client's config of tens of
	// megabytes (Claude Code keeps its history beside its servers) then
	// costs a tree of the servers alone.
	Keep [][]string
}

// SyntaxError describes why a document could not be parsed. Line and Col are
// 1-based and point at the offending byte; Col counts characters (UTF-8
// sequences), not bytes, so it matches what an editor shows.
type SyntaxError struct {
	Line, Col int
	Msg       string
	Offset    int // byte offset of the offending byte
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Col, e.Msg)
}

// maxDepth matches encoding/json, so that both accept the same documents.
const maxDepth = 10000

// Parse parses src as one JSON (or, with opts.JSONC, JSONC) value. Besides
// what encoding/json rejects, it rejects objects that repeat a key: two
// readers that disagree about which duplicate wins would see different
// configs. Invalid UTF-8 inside strings is accepted and decoded to U+FFFD, as
// encoding/json does.
func Parse(src []byte, opts Options) (*Value, error) {
	p := &parser{src: src, jsonc: opts.JSONC}
	if p.jsonc && bytes.HasPrefix(src, []byte("\uFEFF")) {
		p.pos = 3
	}
	if err := p.space(); err != nil {
		return nil, err
	}
	m := mode{build: true, full: len(opts.Keep) == 0, paths: opts.Keep}
	v, err := p.value(m)
	if err != nil {
		return nil, err
	}
	if err := p.space(); err != nil {
		return nil, err
	}
	if p.pos < len(src) {
		return nil, p.unexpected("after top-level value")
	}
	return v, nil
}

type parser struct {
	src   []byte
	pos   int
	jsonc bool
	depth int

	// What keeps the tree of a config of ten thousand servers (a quarter
	// of a million values) from costing an allocation per value, per
	// member list and per string: values come from slabs, an object's
	// members and an array's elements gather on a shared stack and are
	// copied out once at its end, at their exact size, and short strings
	// that repeat (keys, "--", a path) are shared.
	slab    []Value
	members []Member
	elems   []*Value
	strs    map[string]string
}

// Slab sizes: the first is small, so parsing a tiny document stays cheap;
// each next one doubles up to the last.
const (
	firstSlab = 8
	maxSlab   = 256
)

// node returns a new value of kind k spanning [start, end) from the
// current slab. Its fields are set one by one, not copied in as a Value:
// a slab is zeroed memory, and a copy of a whole Value would put a write
// barrier on each of its pointers while the collector runs.
func (p *parser) node(k Kind, start, end int) *Value {
	if len(p.slab) == cap(p.slab) {
		p.slab = make([]Value, 0, min(max(2*cap(p.slab), firstSlab), maxSlab))
	}
	p.slab = p.slab[:len(p.slab)+1]
	v := &p.slab[len(p.slab)-1]
	v.Kind, v.Start, v.End = k, start, end
	return v
}

// Interning limits: strings longer than maxIntern are rarely repeated, and
// the table stops growing at maxInterned so that a document of unique
// strings costs no more than a bounded map.
const (
	maxIntern   = 64
	maxInterned = 4096
)

// intern returns b as a string, the same string for the same short bytes.
func (p *parser) intern(b []byte) string {
	if len(b) > maxIntern {
		return string(b)
	}
	if s, ok := p.strs[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(p.strs) < maxInterned {
		if p.strs == nil {
			p.strs = make(map[string]string)
		}
		p.strs[s] = s
	}
	return s
}

// Position returns the 1-based line and column (in characters) of byte
// offset off in src.
func Position(src []byte, off int) (line, col int) {
	off = min(max(off, 0), len(src))
	before := src[:off]
	line = bytes.Count(before, []byte("\n")) + 1
	lineStart := bytes.LastIndexByte(before, '\n') + 1
	return line, utf8.RuneCount(before[lineStart:]) + 1
}

func (p *parser) errorAt(off int, format string, args ...any) error {
	line, col := Position(p.src, off)
	return &SyntaxError{Line: line, Col: col, Offset: off, Msg: fmt.Sprintf(format, args...)}
}

// unexpected reports the byte at p.pos (or the end of input) in the words
// encoding/json uses, so messages look familiar.
func (p *parser) unexpected(context string) error {
	if p.pos >= len(p.src) {
		return p.errorAt(p.pos, "unexpected end of JSON input")
	}
	return p.errorAt(p.pos, "invalid character %s %s", quoteChar(p.src[p.pos:]), context)
}

// quoteChar renders the character at the start of b for an error message.
func quoteChar(b []byte) string {
	r, size := utf8.DecodeRune(b)
	switch {
	case r == utf8.RuneError && size <= 1:
		return fmt.Sprintf("'\\x%02x'", b[0])
	case r == '\'':
		return `'\''`
	case r == '"':
		return `'"'`
	}
	s := strconv.Quote(string(r))
	return "'" + s[1:len(s)-1] + "'"
}

// space skips whitespace and, in JSONC mode, comments.
func (p *parser) space() error {
	for p.pos < len(p.src) {
		switch c := p.src[p.pos]; {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			p.pos++
		case c == '/' && p.jsonc && p.pos+1 < len(p.src) && p.src[p.pos+1] == '/':
			end := bytes.IndexByte(p.src[p.pos:], '\n')
			if end < 0 {
				p.pos = len(p.src)
			} else {
				p.pos += end + 1
			}
		case c == '/' && p.jsonc && p.pos+1 < len(p.src) && p.src[p.pos+1] == '*':
			end := bytes.Index(p.src[p.pos+2:], []byte("*/"))
			if end < 0 {
				return p.errorAt(p.pos, "unterminated comment")
			}
			p.pos += 2 + end + 2
		default:
			return nil
		}
	}
	return nil
}

func (p *parser) value(m mode) (*Value, error) {
	if p.pos >= len(p.src) {
		return nil, p.unexpected("")
	}
	if !m.build {
		start := p.pos
		k, err := p.skip()
		if err != nil {
			return nil, err
		}
		return p.node(k, start, p.pos), nil
	}
	switch c := p.src[p.pos]; {
	case c == '{':
		return p.object(m)
	case c == '[':
		return p.array(m)
	case c == '"':
		start := p.pos
		s, err := p.str()
		if err != nil {
			return nil, err
		}
		v := p.node(String, start, p.pos)
		v.Str = s
		return v, nil
	case c == '-' || ('0' <= c && c <= '9'):
		return p.number()
	case c == 't':
		return p.literal("true", Bool)
	case c == 'f':
		return p.literal("false", Bool)
	case c == 'n':
		return p.literal("null", Null)
	}
	return nil, p.unexpected("looking for beginning of value")
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > maxDepth {
		return p.errorAt(p.pos, "exceeded max depth")
	}
	return nil
}

func (p *parser) object(m mode) (*Value, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	v := p.node(Object, p.pos, 0)
	p.pos++ // {
	base := len(p.members)
	// Keys for the duplicate check: in a slice while few, in a map after.
	var few [16]string
	keys := few[:0]
	var seen map[string]bool
	for first := true; ; first = false {
		if err := p.space(); err != nil {
			return nil, err
		}
		if p.pos < len(p.src) && p.src[p.pos] == '}' && (first || p.jsonc) {
			break
		}
		if p.pos >= len(p.src) || p.src[p.pos] != '"' {
			return nil, p.unexpected("looking for beginning of object key string")
		}
		keyStart := p.pos
		key, err := p.str()
		if err != nil {
			return nil, err
		}
		var dup bool
		if seen == nil && len(keys) < len(few) {
			dup = slices.Contains(keys, key)
			keys = append(keys, key)
		} else {
			if seen == nil {
				seen = make(map[string]bool, 2*len(keys))
				for _, k := range keys {
					seen[k] = true
				}
			}
			dup = seen[key]
			seen[key] = true
		}
		if dup {
			return nil, p.errorAt(keyStart, "duplicate key %s in object", strconv.Quote(key))
		}
		keyEnd := p.pos
		if err := p.space(); err != nil {
			return nil, err
		}
		if p.pos >= len(p.src) || p.src[p.pos] != ':' {
			return nil, p.unexpected("after object key")
		}
		p.pos++
		if err := p.space(); err != nil {
			return nil, err
		}
		val, err := p.value(m.member(key))
		if err != nil {
			return nil, err
		}
		if m.build {
			p.members = append(p.members, Member{Key: key, KeyStart: keyStart, KeyEnd: keyEnd, Value: val})
		}
		if err := p.space(); err != nil {
			return nil, err
		}
		if p.pos < len(p.src) && p.src[p.pos] == ',' {
			p.pos++
			continue
		}
		if p.pos < len(p.src) && p.src[p.pos] == '}' {
			break
		}
		return nil, p.unexpected("after object key:value pair")
	}
	p.pos++ // }
	v.End = p.pos
	if len(p.members) > base {
		v.Members = slices.Clone(p.members[base:])
		clear(p.members[base:]) // no tree kept alive by the stack
		p.members = p.members[:base]
	}
	p.depth--
	return v, nil
}

func (p *parser) array(m mode) (*Value, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	v := p.node(Array, p.pos, 0)
	p.pos++ // [
	base := len(p.elems)
	for first := true; ; first = false {
		if err := p.space(); err != nil {
			return nil, err
		}
		if p.pos < len(p.src) && p.src[p.pos] == ']' && (first || p.jsonc) {
			break
		}
		e, err := p.value(m.elem())
		if err != nil {
			return nil, err
		}
		if m.full {
			p.elems = append(p.elems, e)
		}
		if err := p.space(); err != nil {
			return nil, err
		}
		if p.pos < len(p.src) && p.src[p.pos] == ',' {
			p.pos++
			continue
		}
		if p.pos < len(p.src) && p.src[p.pos] == ']' {
			break
		}
		return nil, p.unexpected("after array element")
	}
	p.pos++ // ]
	v.End = p.pos
	if len(p.elems) > base {
		v.Elems = slices.Clone(p.elems[base:])
		clear(p.elems[base:])
		p.elems = p.elems[:base]
	}
	p.depth--
	return v, nil
}

func (p *parser) literal(word string, k Kind) (*Value, error) {
	start := p.pos
	for i := 0; i < len(word); i++ {
		if p.pos >= len(p.src) {
			return nil, p.unexpected("")
		}
		if p.src[p.pos] != word[i] {
			return nil, p.unexpected(fmt.Sprintf("in literal %s (expecting %s)", word, quoteChar([]byte{word[i]})))
		}
		p.pos++
	}
	return p.node(k, start, p.pos), nil
}

// number checks the JSON number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (p *parser) number() (*Value, error) {
	start := p.pos
	digits := func(context string) error {
		if p.pos >= len(p.src) || !isDigit(p.src[p.pos]) {
			return p.unexpected(context)
		}
		for p.pos < len(p.src) && isDigit(p.src[p.pos]) {
			p.pos++
		}
		return nil
	}
	if p.src[p.pos] == '-' {
		p.pos++
	}
	if p.pos < len(p.src) && p.src[p.pos] == '0' {
		p.pos++
	} else if err := digits("in numeric literal"); err != nil {
		return nil, err
	}
	if p.pos < len(p.src) && p.src[p.pos] == '.' {
		p.pos++
		if err := digits("after decimal point in numeric literal"); err != nil {
			return nil, err
		}
	}
	if p.pos < len(p.src) && (p.src[p.pos] == 'e' || p.src[p.pos] == 'E') {
		p.pos++
		if p.pos < len(p.src) && (p.src[p.pos] == '+' || p.src[p.pos] == '-') {
			p.pos++
		}
		if err := digits("in exponent of numeric literal"); err != nil {
			return nil, err
		}
	}
	return p.node(Number, start, p.pos), nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// str reads a quoted string at p.pos and returns it decoded. It follows
// encoding/json: control characters are errors, invalid UTF-8 and unpaired
// surrogates become U+FFFD.
func (p *parser) str() (string, error) {
	p.pos++ // opening quote
	start := p.pos
	// Fast path: no escapes and valid UTF-8, the common case.
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		if c == '"' {
			s := p.src[start:p.pos]
			if utf8.Valid(s) {
				p.pos++
				return p.intern(s), nil
			}
			break
		}
		if c == '\\' || c < 0x20 {
			break
		}
		p.pos++
	}
	p.pos = start
	var out []byte
	for {
		if p.pos >= len(p.src) {
			return "", p.unexpected("")
		}
		c := p.src[p.pos]
		switch {
		case c == '"':
			p.pos++
			return string(out), nil
		case c < 0x20:
			return "", p.unexpected("in string literal")
		case c == '\\':
			r, err := p.escape()
			if err != nil {
				return "", err
			}
			out = utf8.AppendRune(out, r)
		case c < utf8.RuneSelf:
			out = append(out, c)
			p.pos++
		default:
			r, size := utf8.DecodeRune(p.src[p.pos:])
			out = utf8.AppendRune(out, r)
			p.pos += size
		}
	}
}

// escape decodes the escape sequence at p.pos (which is a backslash),
// including a surrogate pair written as two \u escapes.
func (p *parser) escape() (rune, error) {
	p.pos++
	if p.pos >= len(p.src) {
		return 0, p.unexpected("")
	}
	c := p.src[p.pos]
	p.pos++
	switch c {
	case '"', '\\', '/':
		return rune(c), nil
	case 'b':
		return '\b', nil
	case 'f':
		return '\f', nil
	case 'n':
		return '\n', nil
	case 'r':
		return '\r', nil
	case 't':
		return '\t', nil
	case 'u':
		r, err := p.hex4()
		if err != nil {
			return 0, err
		}
		if !utf16.IsSurrogate(r) {
			return r, nil
		}
		// A high surrogate pairs with an immediately following \u low
		// surrogate; anything else leaves it unpaired.
		if p.pos+1 < len(p.src) && p.src[p.pos] == '\\' && p.src[p.pos+1] == 'u' {
			save := p.pos
			p.pos += 2
			r2, err := p.hex4()
			if err != nil {
				return 0, err
			}
			if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
				return dec, nil
			}
			p.pos = save
		}
		return utf8.RuneError, nil
	}
	p.pos--
	return 0, p.unexpected("in string escape code")
}

func (p *parser) hex4() (rune, error) {
	var r rune
	for range 4 {
		if p.pos >= len(p.src) {
			return 0, p.unexpected("")
		}
		c := p.src[p.pos]
		switch {
		case '0' <= c && c <= '9':
			r = r<<4 | rune(c-'0')
		case 'a' <= c && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case 'A' <= c && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, p.unexpected("in \\u hexadecimal character escape")
		}
		p.pos++
	}
	return r, nil
}
