package mcpproxy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unsafe"
)

// decodeValue decodes JSON into the types encoding/json would use with
// UseNumber, straight from the bytes: encoding/json's Decoder would first
// copy a multi-megabyte argument into a buffer of its own. A string of
// shareAbove bytes or more without escapes shares v's memory instead of
// copying it, so v must never change while the value lives: a call's line
// is read once and never written to.
const shareAbove = 64 << 10

func decodeValue(v []byte) (any, error) { return decodeFrom(scanner{b: v}) }

// decodeChecked is decodeValue for bytes checkKeys accepted (a call's
// arguments are part of its params): their strings are not checked again.
func decodeChecked(v []byte) (any, error) { return decodeFrom(scanner{b: v, valid: true}) }

func decodeFrom(s scanner) (any, error) {
	s.ws()
	out, err := s.decode()
	if err != nil {
		return nil, err
	}
	s.ws()
	if s.i != len(s.b) {
		return nil, fmt.Errorf("trailing data at offset %d", s.i)
	}
	return out, nil
}

func (s *scanner) decode() (any, error) {
	if s.i >= len(s.b) {
		return nil, s.errorf("want a value")
	}
	start := s.i
	switch c := s.b[s.i]; {
	case c == '{':
		if err := s.enter(); err != nil {
			return nil, err
		}
		defer func() { s.depth-- }()
		m := map[string]any{}
		s.i++
		s.ws()
		if s.i < len(s.b) && s.b[s.i] == '}' {
			s.i++
			return m, nil
		}
		for {
			s.ws()
			ks := s.i
			if s.i >= len(s.b) || s.b[s.i] != '"' {
				return nil, s.errorf("want an object key")
			}
			if err := s.str(); err != nil {
				return nil, err
			}
			key, _ := decodeString(s.b[ks:s.i])
			s.ws()
			if s.i >= len(s.b) || s.b[s.i] != ':' {
				return nil, s.errorf("want ':'")
			}
			s.i++
			s.ws()
			val, err := s.decode()
			if err != nil {
				return nil, err
			}
			m[key] = val
			s.ws()
			if s.i >= len(s.b) {
				return nil, s.errorf("unterminated object")
			}
			if s.b[s.i] == '}' {
				s.i++
				return m, nil
			}
			if s.b[s.i] != ',' {
				return nil, s.errorf("want ',' or '}'")
			}
			s.i++
		}
	case c == '[':
		if err := s.enter(); err != nil {
			return nil, err
		}
		defer func() { s.depth-- }()
		a := []any{}
		s.i++
		s.ws()
		if s.i < len(s.b) && s.b[s.i] == ']' {
			s.i++
			return a, nil
		}
		for {
			s.ws()
			val, err := s.decode()
			if err != nil {
				return nil, err
			}
			a = append(a, val)
			s.ws()
			if s.i >= len(s.b) {
				return nil, s.errorf("unterminated array")
			}
			if s.b[s.i] == ']' {
				s.i++
				return a, nil
			}
			if s.b[s.i] != ',' {
				return nil, s.errorf("want ',' or ']'")
			}
			s.i++
		}
	case c == '"':
		if err := s.str(); err != nil {
			return nil, err
		}
		if raw := s.b[start+1 : s.i-1]; len(raw) >= shareAbove && bytes.IndexByte(raw, '\\') < 0 {
			// Shared, not copied: a 64 MiB argument would otherwise be
			// held twice while its call is decided.
			return unsafe.String(&raw[0], len(raw)), nil
		}
		str, _ := decodeString(s.b[start:s.i])
		return str, nil
	case c == '-' || (c >= '0' && c <= '9'):
		if err := s.number(); err != nil {
			return nil, err
		}
		return json.Number(s.b[start:s.i]), nil
	case c == 't':
		return true, s.lit("true")
	case c == 'f':
		return false, s.lit("false")
	case c == 'n':
		return nil, s.lit("null")
	}
	return nil, s.errorf("unexpected %q", s.b[s.i])
}
