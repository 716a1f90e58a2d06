package jsonedit

import (
	"bytes"
	"slices"
	"strconv"
	"unicode/utf8"
)

// What Options.Keep leaves out of the tree is still read, and checked as
// strictly as the rest, by the functions of this file: they build nothing.

// mode says how much of a value Parse builds (see Options.Keep): all of it
// (full), only the members on the key paths (build, with paths matched up to
// depth), or nothing but its kind and span.
type mode struct {
	build, full bool
	paths       [][]string
	depth       int
}

// member is the mode of the value of member key of an object parsed in m.
func (m mode) member(key string) mode {
	if m.full || !m.build {
		return m
	}
	next := mode{depth: m.depth + 1}
	for _, path := range m.paths {
		if len(path) <= m.depth || path[m.depth] != "*" && path[m.depth] != key {
			continue
		}
		next.build = true
		if len(path) == m.depth+1 {
			return mode{build: true, full: true}
		}
		next.paths = append(next.paths, path)
	}
	return next
}

// elem is the mode of an element of an array parsed in m: key paths never
// lead into arrays.
func (m mode) elem() mode {
	if m.full {
		return m
	}
	return mode{}
}

// skip checks the value at p.pos as value does, without building anything:
// the bulk of a big config is read this way, so it allocates nothing but
// what the duplicate-key check needs.
func (p *parser) skip() (Kind, error) {
	if p.pos >= len(p.src) {
		return Invalid, p.unexpected("")
	}
	switch c := p.src[p.pos]; {
	case c == '{':
		return Object, p.skipObject()
	case c == '[':
		return Array, p.skipArray()
	case c == '"':
		return String, p.skipStr()
	}
	v, err := p.value(mode{build: true})
	if err != nil {
		return Invalid, err
	}
	return v.Kind, nil
}

func (p *parser) skipObject() error {
	if err := p.enter(); err != nil {
		return err
	}
	p.pos++ // {
	// Keys for the duplicate check: raw bytes while few and unescaped,
	// decoded in a map after that.
	var keys [][]byte
	var seen map[string]bool
	for first := true; ; first = false {
		if err := p.space(); err != nil {
			return err
		}
		if p.pos < len(p.src) && p.src[p.pos] == '}' && (first || p.jsonc) {
			break
		}
		if p.pos >= len(p.src) || p.src[p.pos] != '"' {
			return p.unexpected("looking for beginning of object key string")
		}
		keyStart := p.pos
		if err := p.skipStr(); err != nil {
			return err
		}
		raw := p.src[keyStart+1 : p.pos-1]
		var dup bool
		if seen == nil && len(keys) < 16 && bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw) {
			dup = slices.ContainsFunc(keys, func(k []byte) bool { return bytes.Equal(k, raw) })
			keys = append(keys, raw)
		} else {
			if seen == nil {
				seen = make(map[string]bool, 2*len(keys))
				for _, k := range keys {
					seen[string(k)] = true
				}
			}
			key := p.keyAt(keyStart)
			dup = seen[key]
			seen[key] = true
		}
		if dup {
			return p.errorAt(keyStart, "duplicate key %s in object", strconv.Quote(p.keyAt(keyStart)))
		}
		if err := p.space(); err != nil {
			return err
		}
		if p.pos >= len(p.src) || p.src[p.pos] != ':' {
			return p.unexpected("after object key")
		}
		p.pos++
		if err := p.space(); err != nil {
			return err
		}
		if _, err := p.skip(); err != nil {
			return err
		}
		if err := p.space(); err != nil {
			return err
		}
		if p.pos < len(p.src) && p.src[p.pos] == ',' {
			p.pos++
			continue
		}
		if p.pos < len(p.src) && p.src[p.pos] == '}' {
			break
		}
		return p.unexpected("after object key:value pair")
	}
	p.pos++ // }
	p.depth--
	return nil
}

func (p *parser) skipArray() error {
	if err := p.enter(); err != nil {
		return err
	}
	p.pos++ // [
	for first := true; ; first = false {
		if err := p.space(); err != nil {
			return err
		}
		if p.pos < len(p.src) && p.src[p.pos] == ']' && (first || p.jsonc) {
			break
		}
		if _, err := p.skip(); err != nil {
			return err
		}
		if err := p.space(); err != nil {
			return err
		}
		if p.pos < len(p.src) && p.src[p.pos] == ',' {
			p.pos++
			continue
		}
		if p.pos < len(p.src) && p.src[p.pos] == ']' {
			break
		}
		return p.unexpected("after array element")
	}
	p.pos++ // ]
	p.depth--
	return nil
}

// keyAt decodes the string at off, which has been checked.
func (p *parser) keyAt(off int) string {
	end := p.pos
	p.pos = off
	key, _ := p.str()
	p.pos = end
	return key
}

// skipStr checks the quoted string at p.pos as str does, without decoding
// it. Invalid UTF-8 is accepted, as str accepts it.
func (p *parser) skipStr() error {
	p.pos++ // opening quote
	for p.pos < len(p.src) {
		switch c := p.src[p.pos]; {
		case c == '"':
			p.pos++
			return nil
		case c < 0x20:
			return p.unexpected("in string literal")
		case c == '\\':
			if _, err := p.escape(); err != nil {
				return err
			}
		default:
			p.pos++
		}
	}
	return p.unexpected("")
}
