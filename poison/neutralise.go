package poison

import (
	"encoding/binary"
	"unicode/utf8"
)

// Neutralise makes a JSON-RPC line safe to show: what a server sends can
// reach a terminal or a rendered view, where terminal escapes repaint or
// hide text and tag and bidi characters hide or reorder it. In the strings
// of line, ESC and the other C0 and C1 controls (tab, newline and carriage
// return excepted) become visible control pictures (␛), and the Unicode tag
// block and bidi embeddings, overrides and isolates are removed; both as
// raw UTF-8 and as \u escapes. Zero-width joiners and variation selectors
// have legitimate uses and are left alone (the scanner flags them).
//
// It returns line itself, and 0, when there is nothing to change, after one
// pass over the bytes; otherwise a new line and how many characters it
// changed. The JSON stays valid: only whole characters and whole escapes
// are replaced.
func Neutralise(line []byte) ([]byte, int) {
	i := firstSuspect(line)
	if i < 0 {
		return line, 0
	}
	out := make([]byte, 0, len(line)+16)
	out = append(out, line[:i]...)
	n := 0
	for i < len(line) {
		c := line[i]
		switch {
		case c == '\\' && i+1 < len(line):
			if line[i+1] != 'u' || i+6 > len(line) {
				out = append(out, line[i], line[i+1])
				i += 2
				continue
			}
			r := hex4(line[i+2 : i+6])
			switch {
			case r < 0:
				out = append(out, line[i:i+6]...)
				i += 6
			case isDropped(rune(r)):
				n++
				i += 6
			case r >= 0xDB40 && r <= 0xDB40 && i+12 <= len(line) && line[i+6] == '\\' && line[i+7] == 'u':
				// A surrogate pair of the tag block (U+E0000–E007F).
				lo := hex4(line[i+8 : i+12])
				if lo >= 0xDC00 && lo <= 0xDC7F {
					n++
					i += 12
					continue
				}
				out = append(out, line[i:i+6]...)
				i += 6
			case isControl(rune(r)):
				out = appendEscape(out, picture(rune(r)))
				n++
				i += 6
			default:
				out = append(out, line[i:i+6]...)
				i += 6
			}
		case c < 0x20 && c != '\t' && c != '\n' && c != '\r' || c == 0x7F:
			out = appendEscape(out, picture(rune(c)))
			n++
			i++
		case c >= 0x80:
			r, size := utf8.DecodeRune(line[i:])
			switch {
			case r == utf8.RuneError && size == 1:
				out = append(out, c)
			case isDropped(r) || r >= 0xE0000 && r <= 0xE007F:
				n++
			case isControl(r):
				out = appendEscape(out, picture(r))
				n++
			default:
				out = append(out, line[i:i+size]...)
			}
			i += size
		default:
			out = append(out, c)
			i++
		}
	}
	if n == 0 {
		return line, 0
	}
	return out, n
}

// firstSuspect is the index of the first byte that may start something to
// neutralise, or -1. Words of eight bytes that hold none of those are
// skipped whole: every server line passes here.
func firstSuspect(b []byte) int {
	for i := 0; i < len(b); i++ {
		if i+8 <= len(b) && plain(binary.LittleEndian.Uint64(b[i:])) {
			i += 7
			continue
		}
		c := b[i]
		switch {
		case c == '\\':
			if i+5 < len(b) && b[i+1] == 'u' && (b[i+2] == '0' && b[i+3] == '0' && (b[i+4] <= '1' || b[i+4] == '7' || b[i+4] == '8' || b[i+4] == '9') ||
				b[i+2] == '2' && b[i+3] == '0' || b[i+2] == 'd' || b[i+2] == 'D') {
				return i
			}
			i++ // the escaped character
		case c < 0x20 && c != '\t' && c != '\n' && c != '\r' || c == 0x7F:
			return i
		case c == 0xC2 || c == 0xE2 || c == 0xF3:
			return i
		}
	}
	return -1
}

// plain reports whether none of the eight bytes of x is a control, DEL, a
// backslash or of 0x80 and above: nothing firstSuspect looks for can start
// in them. (The "has a byte less than" and "has a zero byte" word tests; a
// lane that borrows sets its own high bit first, so none is missed.)
func plain(x uint64) bool {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	low := x - ones*0x20
	del := (x ^ ones*0x7F) - ones
	bs := (x ^ ones*'\\') - ones
	return (low|del|bs|x)&highs == 0
}

func hex4(b []byte) int {
	v := 0
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | int(c-'0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | int(c-'a'+10)
		case c >= 'A' && c <= 'F':
			v = v<<4 | int(c-'A'+10)
		default:
			return -1
		}
	}
	return v
}

// isDropped: bidi embeddings, overrides and isolates.
func isDropped(r rune) bool {
	return r >= 0x202A && r <= 0x202E || r >= 0x2066 && r <= 0x2069
}

// isControl: C0 and C1 controls other than tab, newline and carriage return.
func isControl(r rune) bool {
	return r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r >= 0x7F && r <= 0x9F
}

// picture is the visible stand-in of a control: U+2400 + c for C0 (␛ for
// ESC), ␡ for DEL, and the replacement character for C1.
func picture(r rune) rune {
	switch {
	case r < 0x20:
		return 0x2400 + r
	case r == 0x7F:
		return 0x2421
	}
	return 0xFFFD
}

func appendEscape(out []byte, r rune) []byte {
	return utf8.AppendRune(out, r)
}
