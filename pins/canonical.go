package pins

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/opena2a-org/aim-mcp/internal/canon"
	"github.com/opena2a-org/aim-mcp/registry"
)

// This file writes a tool's canonical JSON straight from the bytes the
// server sent, in one pass and without decoding it into maps: a server may
// list thousands of tools, and decoding each with encoding/json was most of
// what pinning them cost. The bytes are those canon.Value writes for the
// value encoding/json decodes (numbers as json.Number): the pins of
// registries written before stay valid (see the equivalence test).

// canonicalRaw is Canonical for a tool whose bytes are known to be valid
// JSON (they were read out of a valid tools/list answer).
func canonicalRaw(tool []byte) (registry.ToolDef, error) {
	var c canonizer
	return c.tool(tool)
}

// canonizer holds what one tool's canonicalisation reuses, level by level
// of nesting.
type canonizer struct {
	src     []byte
	members [][]member // an object's members, by depth
	scratch [][]byte   // an object's sorted text, by depth
	out     []byte     // the tool's members in canonical form
}

// member is one member of an object: its decoded key (the source's bytes
// when they need no decoding) and where its canonical value lies in the
// output.
type member struct {
	key  []byte
	a, b int
}

// tool reads a tool definition: an object with a non-empty string name.
// What it returns shares nothing with c, which the next tool reuses.
func (c *canonizer) tool(src []byte) (registry.ToolDef, error) {
	c.src = src
	i := skipSpace(src, 0)
	if i >= len(src) || src[i] != '{' {
		if i < len(src) && src[i] == 'n' {
			return registry.ToolDef{}, errors.New("tool definition: not an object")
		}
		return registry.ToolDef{}, errors.New("tool definition: not a JSON object")
	}
	// The tool's own members are read once: the pinned ones (the last of
	// a name given twice, as a decoder keeps it) and the annotations.
	var name, ann []byte
	var fields [4][]byte // canonical value of each of Fields, nil when absent or null
	out := c.out[:0]
	defer func() { c.out = out[:0] }()
	i = skipSpace(src, i+1)
	if src[i] == '}' {
		return registry.ToolDef{}, errors.New("tool definition: no name")
	}
	for {
		key, j := c.key(i)
		start := len(out)
		var end int
		out, end = c.value(out, skipSpace(src, j), 1)
		v := out[start:]
		if string(v) == "null" {
			v = nil
		}
		switch string(key) {
		case "name":
			name = v
		case "description":
			fields[0] = v
		case "inputSchema":
			fields[1] = v
		case "outputSchema":
			fields[3] = v
		case "annotations":
			ann = v
		}
		_ = fields[2] // the name's slot: it is written from name below
		i = skipSpace(src, end)
		if src[i] == '}' {
			break
		}
		i = skipSpace(src, i+1) // ','
	}
	if len(name) < 3 || name[0] != '"' { // "" is an empty name
		return registry.ToolDef{}, errors.New("tool definition: no name")
	}
	n, err := decodeString(name)
	if err != nil || n == "" {
		return registry.ToolDef{}, errors.New("tool definition: no name")
	}
	fields[2] = name
	// Fields in canonical (sorted) order: description, inputSchema, name,
	// outputSchema.
	keys := [4]string{"description", "inputSchema", "name", "outputSchema"}
	def := make([]byte, 0, len(out)+48)
	def = append(def, '{')
	for k, v := range fields {
		if v == nil {
			continue
		}
		if len(def) > 1 {
			def = append(def, ',')
		}
		def = append(def, '"')
		def = append(def, keys[k]...)
		def = append(def, '"', ':')
		def = append(def, v...)
	}
	def = append(def, '}')
	d := registry.ToolDef{Name: n, Definition: def, Hash: canon.Sum(def)}
	if ann != nil {
		d.Annotations = slices.Clone(ann)
	}
	return d, nil
}

// key reads an object's key at i, and the colon after it.
func (c *canonizer) key(i int) ([]byte, int) {
	end := stringEnd(c.src, i)
	k := c.src[i+1 : end-1]
	if !plain(k) {
		d, _ := decodeString(c.src[i:end])
		k = []byte(d)
	}
	j := skipSpace(c.src, end)
	return k, j + 1
}

// value appends the canonical form of the value at i to out and returns
// where the value ends.
func (c *canonizer) value(out []byte, i, depth int) ([]byte, int) {
	src := c.src
	switch src[i] {
	case '{':
		return c.object(out, i, depth)
	case '[':
		out = append(out, '[')
		i = skipSpace(src, i+1)
		if src[i] == ']' {
			return append(out, ']'), i + 1
		}
		for {
			out, i = c.value(out, i, depth+1)
			i = skipSpace(src, i)
			if src[i] == ']' {
				return append(out, ']'), i + 1
			}
			out = append(out, ',')
			i = skipSpace(src, i+1)
		}
	case '"':
		end := stringEnd(src, i)
		return appendString(out, src[i:end]), end
	default: // a number, true, false or null: as written
		j := i
		for j < len(src) && !isDelim(src[j]) {
			j++
		}
		return append(out, src[i:j]...), j
	}
}

// object appends an object with its keys sorted as canon sorts them (by
// UTF-16 code units), the last of a key given twice kept.
func (c *canonizer) object(out []byte, i, depth int) ([]byte, int) {
	src := c.src
	i = skipSpace(src, i+1)
	if src[i] == '}' {
		return append(out, '{', '}'), i + 1
	}
	for len(c.members) <= depth {
		c.members = append(c.members, nil)
		c.scratch = append(c.scratch, nil)
	}
	ms := c.members[depth][:0]
	base := len(out)
	for {
		var k []byte
		k, i = c.key(i)
		a := len(out)
		out, i = c.value(out, skipSpace(src, i), depth+1)
		ms = append(ms, member{key: k, a: a, b: len(out)})
		i = skipSpace(src, i)
		if src[i] == '}' {
			i++
			break
		}
		i = skipSpace(src, i+1)
	}
	slices.SortStableFunc(ms, func(x, y member) int { return compareKeys(x.key, y.key) })
	buf := append(c.scratch[depth][:0], '{')
	for n, m := range ms {
		if n+1 < len(ms) && bytes.Equal(ms[n+1].key, m.key) {
			continue // a later member of the same name wins
		}
		if len(buf) > 1 {
			buf = append(buf, ',')
		}
		buf = appendKey(buf, m.key)
		buf = append(buf, ':')
		buf = append(buf, out[m.a:m.b]...)
	}
	buf = append(buf, '}')
	c.members[depth], c.scratch[depth] = ms, buf
	return append(out[:base], buf...), i
}

func isDelim(b byte) bool {
	return b == ',' || b == '}' || b == ']' || b == ' ' || b == '\t' || b == '\n' || b == '\r'
}

func skipSpace(src []byte, i int) int {
	for i < len(src) && (src[i] == ' ' || src[i] == '\t' || src[i] == '\n' || src[i] == '\r') {
		i++
	}
	return i
}

// stringEnd is the index just past the string starting at i.
func stringEnd(src []byte, i int) int {
	for j := i + 1; j < len(src); j++ {
		switch src[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(src)
}

// plain reports whether a string's content is written in canonical form
// as it is: no escape, no quote, no control character, valid UTF-8, no
// U+2028 or U+2029.
func plain[T string | []byte](s T) bool {
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b < 0x20 || b == '\\' || b == '"' {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(string(s[i:min(i+utf8.UTFMax, len(s))]))
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			return false
		}
		i += size
	}
	return true
}

// appendString appends a JSON string (quotes included) in canonical form.
func appendString(out, s []byte) []byte {
	if plain(s[1 : len(s)-1]) {
		return append(out, s...)
	}
	d, _ := decodeString(s)
	return append(out, canon.Value(d)...)
}

// appendKey appends a decoded key in canonical form.
func appendKey(out []byte, k []byte) []byte {
	if plain(k) {
		return append(append(append(out, '"'), k...), '"')
	}
	return append(out, canon.Value(string(k))...)
}

// decodeString decodes a JSON string (quotes included) as encoding/json
// does.
func decodeString(s []byte) (string, error) {
	if plain(s[1 : len(s)-1]) {
		return string(s[1 : len(s)-1]), nil
	}
	var d string
	err := json.Unmarshal(s, &d)
	return d, err
}

// compareKeys orders keys as canon does: by UTF-16 code units, which for
// ASCII is byte order.
func compareKeys(a, b []byte) int {
	if ascii(a) && ascii(b) {
		return bytes.Compare(a, b)
	}
	return slices.Compare(utf16.Encode([]rune(string(a))), utf16.Encode([]rune(string(b))))
}

func ascii(s []byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// splitList reads a tools/list result as encoding/json would into
// {Tools []json.RawMessage; NextCursor string}, without copying each tool:
// ok is false when the result is not valid JSON, is not an object, has no
// tools array, or has a member of the wrong type. Member names match as
// encoding/json matches them (case folded, the last one kept).
func splitList(result []byte) (tools [][]byte, cursor string, ok bool) {
	if !json.Valid(result) {
		return nil, "", false
	}
	i := skipSpace(result, 0)
	if result[i] != '{' {
		return nil, "", false
	}
	var c canonizer
	c.src = result
	i = skipSpace(result, i+1)
	if result[i] == '}' {
		return nil, "", false
	}
	for {
		var k []byte
		k, i = c.key(i)
		i = skipSpace(result, i)
		end := skipValue(result, i)
		switch {
		case bytes.EqualFold(k, []byte("tools")):
			switch result[i] {
			case 'n':
				tools = nil
			case '[':
				tools = splitArray(result, i)
			default:
				return nil, "", false
			}
		case bytes.EqualFold(k, []byte("nextCursor")):
			switch result[i] {
			case 'n':
			case '"':
				cursor, _ = decodeString(result[i:end])
			default:
				return nil, "", false
			}
		}
		i = skipSpace(result, end)
		if result[i] == '}' {
			break
		}
		i = skipSpace(result, i+1)
	}
	return tools, cursor, tools != nil
}

// splitArray returns the elements of the (valid) array at i, never nil.
func splitArray(src []byte, i int) [][]byte {
	out := [][]byte{}
	i = skipSpace(src, i+1)
	if src[i] == ']' {
		return out
	}
	for {
		end := skipValue(src, i)
		out = append(out, src[i:end:end])
		i = skipSpace(src, end)
		if src[i] == ']' {
			return out
		}
		i = skipSpace(src, i+1)
	}
}

// skipValue is the index just past the (valid) value at i.
func skipValue(src []byte, i int) int {
	switch src[i] {
	case '"':
		return stringEnd(src, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(src); j++ {
			switch src[j] {
			case '"':
				j = stringEnd(src, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return len(src)
	default:
		j := i
		for j < len(src) && !isDelim(src[j]) {
			j++
		}
		return j
	}
}

// decodeCanonical decodes a compact definition (as canonicalRaw and
// canon write them) as encoding/json decodes it with UseNumber, for the
// scanner, without encoding/json's reflection. ok is false for anything
// else (not valid JSON, not an object, whitespace between tokens): the
// caller decodes that with encoding/json.
func decodeCanonical(def []byte) (map[string]any, bool) {
	if !json.Valid(def) {
		return nil, false
	}
	return decodeValid(def)
}

// decodeValid is decodeCanonical for a definition known to be valid JSON
// (canonicalRaw wrote it).
func decodeValid(def []byte) (map[string]any, bool) {
	if len(def) == 0 || def[0] != '{' {
		return nil, false
	}
	d := decoder{src: def}
	v, i := d.value(0)
	m, ok := v.(map[string]any)
	return m, ok && !d.loose && i == len(def)
}

// decoder reads valid JSON with no whitespace between tokens; loose is set
// when it meets any.
type decoder struct {
	src   []byte
	loose bool
}

// at reports whether the byte at i is b; a miss is whitespace (the input
// is valid), which this decoder does not read.
func (d *decoder) at(i int, b byte) bool {
	if i < len(d.src) && d.src[i] == b {
		return true
	}
	d.loose = true
	return false
}

func (d *decoder) value(i int) (any, int) {
	src := d.src
	if i >= len(src) {
		d.loose = true
		return nil, i
	}
	switch src[i] {
	case '{':
		m := map[string]any{}
		i++
		if i < len(src) && src[i] == '}' {
			return m, i + 1
		}
		for !d.loose {
			if !d.at(i, '"') {
				break
			}
			end := stringEnd(src, i)
			k, _ := decodeString(src[i:end])
			if !d.at(end, ':') {
				break
			}
			var v any
			v, i = d.value(end + 1)
			m[k] = v
			if i < len(src) && src[i] == '}' {
				return m, i + 1
			}
			if !d.at(i, ',') {
				break
			}
			i++
		}
		return nil, i
	case '[':
		a := []any{}
		i++
		if i < len(src) && src[i] == ']' {
			return a, i + 1
		}
		for !d.loose {
			var v any
			v, i = d.value(i)
			a = append(a, v)
			if i < len(src) && src[i] == ']' {
				return a, i + 1
			}
			if !d.at(i, ',') {
				break
			}
			i++
		}
		return nil, i
	case '"':
		end := stringEnd(src, i)
		s, _ := decodeString(src[i:end])
		return s, end
	case 't':
		return true, i + 4
	case 'f':
		return false, i + 5
	case 'n':
		return nil, i + 4
	case ' ', '\t', '\n', '\r':
		d.loose = true
		return nil, i
	default:
		j := i
		for j < len(src) && !isDelim(src[j]) {
			j++
		}
		return json.Number(src[i:j]), j
	}
}
