package canon

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

// slowString is writeString as it was before plain runs were skipped a
// word at a time: one byte or rune per step. The fast one must write the
// same bytes, or every digest and approval made before would break.
func slowString(buf *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	buf.WriteByte('"')
	start := 0
	for i := 0; i < len(s); {
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

func TestWriteStringMatchesSlow(t *testing.T) {
	pieces := []string{"a", "plain text ", "x", "\"", "\\", "\n", "\t", "\x00", "\x1f", "\x7f", " ", "~",
		"é", "日本", "😀", "\u2028", "\u2029", "\u2027", "\xe2\x80", "\xff", "\xc3", "\xed\xa0\x80", "<&>", "/"}
	r := rand.New(rand.NewPCG(1, 2))
	var inputs []string
	for range 5000 {
		var sb strings.Builder
		for range r.IntN(40) {
			sb.WriteString(pieces[r.IntN(len(pieces))])
		}
		inputs = append(inputs, sb.String())
	}
	for range 2000 { // raw random bytes, all 256 values
		b := make([]byte, r.IntN(70))
		for i := range b {
			b[i] = byte(r.UintN(256))
		}
		inputs = append(inputs, string(b))
	}
	// Every byte at every offset of a word of plain text.
	for c := range 256 {
		for at := range 17 {
			b := []byte(strings.Repeat("abcdefgh", 3))
			b[at] = byte(c)
			inputs = append(inputs, string(b))
		}
	}
	inputs = append(inputs, "", strings.Repeat("x", 1<<16), strings.Repeat("x", 1<<16+3)+"\"")
	for _, s := range inputs {
		var fast, slow bytes.Buffer
		writeString(&fast, s)
		slowString(&slow, s)
		if !bytes.Equal(fast.Bytes(), slow.Bytes()) {
			t.Fatalf("writeString(%q) = %q, want %q", s, fast.Bytes(), slow.Bytes())
		}
	}
}

func BenchmarkDigestBigString(b *testing.B) {
	v := map[string]any{"text": strings.Repeat("x", 8<<20)}
	b.SetBytes(8 << 20)
	for b.Loop() {
		DigestValue(v)
	}
}
