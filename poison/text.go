package poison

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// token is one word of the normalised text: lower case, NFKC, invisible
// characters removed. Its text is norm[a:b] of the doc; ra and rb are its
// bytes in the field's raw text, for the evidence.
type token struct {
	a, b   int
	ra, rb int
	field  int32
	mixed  bool // Latin letters beside Cyrillic or Greek look-alikes
}

// field is one string of what a server said, with where it was.
type field struct {
	where string
	raw   string
	name  bool // a tool's or parameter's name, read as words
}

// charClass counts what a field holds that a person cannot see.
type charClass struct {
	escape, control, tag, bidi, zeroWidth, variation, private, invalid int
	padding                                                            bool
	firstEscape, firstControl, firstTag, firstBidi, firstZW, firstVS   int
	firstPUA, firstPad                                                 int
	hidden                                                             []byte // the ASCII the tag characters spell
	vsRun                                                              int    // longest run of variation selectors
}

// doc is the token stream of a set of fields: one tool's texts, one result.
// Rules run over the whole stream, so an instruction split between a
// parameter's name and its description still reads as one sentence; a field
// boundary counts as a gap of several words.
type doc struct {
	norm   []byte
	toks   []token
	fields []field
	chars  []charClass
	tmp    []byte
}

const boundaryGap = 4 // words between fields, for the gaps of the rules

func (d *doc) reset() {
	d.norm = d.norm[:0]
	d.toks = d.toks[:0]
	d.fields = d.fields[:0]
	d.chars = d.chars[:0]
}

// tok returns a token's text.
func (d *doc) tok(i int) string { return string(d.norm[d.toks[i].a:d.toks[i].b]) }

// confusable maps Cyrillic and Greek letters that look like Latin ones to
// them, so that a word spelled with a look-alike reads as the word.
var confusable = map[rune]rune{
	'а': 'a', 'в': 'b', 'е': 'e', 'ё': 'e', 'к': 'k', 'м': 'm', 'н': 'h', 'о': 'o', 'р': 'p', 'с': 'c',
	'т': 't', 'у': 'y', 'х': 'x', 'ѕ': 's', 'і': 'i', 'ї': 'i', 'ј': 'j', 'ԁ': 'd', 'ɡ': 'g', 'һ': 'h',
	'ԛ': 'q', 'ԝ': 'w', 'ӏ': 'l', 'ο': 'o', 'α': 'a', 'ε': 'e', 'ι': 'i', 'κ': 'k', 'ν': 'v', 'ρ': 'p',
	'τ': 't', 'υ': 'u', 'χ': 'x', 'β': 'b', 'γ': 'y', 'ı': 'i',
}

// add appends a field's tokens. Names (of tools and parameters) are split
// into words at '_', '-', '.' and lower-to-upper case changes, so that
// content_from_reading_ssh_id_rsa reads as words.
func (d *doc) add(where, raw string, name bool) {
	fi := int32(len(d.fields))
	d.fields = append(d.fields, field{where: where, raw: raw, name: name})
	d.chars = append(d.chars, charClass{})
	cc := &d.chars[fi]
	if len(d.toks) > 0 {
		for range boundaryGap {
			d.toks = append(d.toks, token{a: len(d.norm), b: len(d.norm), field: -1})
		}
	}
	start := -1 // start of the current token in norm, or -1
	var rstart int
	var hasLatin, hasOther bool
	var prev rune // previous visible rune
	spaces, newlines := 0, 0
	vsRun := 0
	flush := func(rend int) {
		if start >= 0 && start < len(d.norm) {
			d.toks = append(d.toks, token{a: start, b: len(d.norm), ra: rstart, rb: rend, field: fi, mixed: hasLatin && hasOther})
		}
		start, hasLatin, hasOther = -1, false, false
	}
	emit := func(s string, ra, rb int) {
		flush(ra)
		a := len(d.norm)
		d.norm = append(d.norm, s...)
		d.toks = append(d.toks, token{a: a, b: len(d.norm), ra: ra, rb: rb, field: fi})
	}
	appendRune := func(r rune, at, size int) {
		if start < 0 {
			start, rstart = len(d.norm), at
		}
		d.norm = utf8.AppendRune(d.norm, r)
		_ = size
	}
	for i := 0; i < len(raw); {
		r, size := rune(raw[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(raw[i:])
		}
		at := i
		i += size
		if r != ' ' && r != '\n' && r != '\r' && r != '\t' {
			if spaces >= 40 || newlines >= 8 {
				if !cc.padding {
					cc.padding, cc.firstPad = true, at
				}
			}
			spaces, newlines = 0, 0
		}
		if !(r >= 0xFE00 && r <= 0xFE0F || r >= 0xE0100 && r <= 0xE01EF) {
			vsRun = 0
		}
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			appendRune(r, at, size)
			hasLatin = hasLatin || r >= 'a'
			prev = r
			continue
		case r >= 'A' && r <= 'Z':
			if name && start >= 0 && prev >= 'a' && prev <= 'z' {
				flush(at) // camelCase
			}
			appendRune(r+'a'-'A', at, size)
			hasLatin = true
			prev = r
			continue
		case r == ' ' || r == '\t':
			spaces++
			flush(at)
		case r == '\n' || r == '\r':
			newlines++
			spaces = 0
			flush(at)
		case r == 0x1B:
			flush(at)
			if cc.escape == 0 {
				cc.firstEscape = at
			}
			cc.escape++
			i = skipEscape(raw, i)
		case r < 0x20 || r == 0x7F || r >= 0x80 && r <= 0x9F:
			flush(at)
			if cc.control == 0 {
				cc.firstControl = at
			}
			cc.control++
		case r == utf8.RuneError && size == 1:
			flush(at)
			cc.invalid++
		case r >= 0xE0000 && r <= 0xE007F:
			if cc.tag == 0 {
				cc.firstTag = at
			}
			cc.tag++
			if c := r - 0xE0000; c >= 0x20 && c < 0x7F && len(cc.hidden) < maxHidden {
				cc.hidden = append(cc.hidden, byte(c))
			}
		case r >= 0x202A && r <= 0x202E || r >= 0x2066 && r <= 0x2069:
			if cc.bidi == 0 {
				cc.firstBidi = at
			}
			cc.bidi++
		case r == 0x200B || r == 0x200C || r == 0x2060 || r == 0x180E || r >= 0x2061 && r <= 0x2064 ||
			r == 0xFEFF && at > 0 || r == 0x200D && prev < 0x80 && prev != 0:
			if cc.zeroWidth == 0 {
				cc.firstZW = at
			}
			cc.zeroWidth++
		case r >= 0xFE00 && r <= 0xFE0F || r >= 0xE0100 && r <= 0xE01EF:
			vsRun++
			if vsRun > cc.vsRun {
				cc.vsRun = vsRun
			}
			if prev != 0 && prev < 0x80 || vsRun >= 3 {
				if cc.variation == 0 {
					cc.firstVS = at
				}
				cc.variation++
			}
		case r >= 0xE000 && r <= 0xF8FF || r >= 0xF0000:
			flush(at)
			if cc.private == 0 {
				cc.firstPUA = at
			}
			cc.private++
		case r == '.' && start < 0 && i < len(raw) && isASCIILetter(raw[i]) && !(prev < 0x80 && isAlnum(byte(prev))):
			// ".ssh", ".env": a leading dot is part of the word.
			start, rstart = len(d.norm), at
			d.norm = append(d.norm, '.')
		case r == ':' && strings.HasPrefix(raw[i:], "//"):
			emit("://", at, at+3)
			i += 2
		case r == '@' && start >= 0 && i < len(raw) && isAlnum(raw[i]):
			emit("@", at, at+1)
		case r < 0x80:
			flush(at) // ASCII punctuation
		case unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Mn, r) && start < 0:
			// Other format characters (LRM, soft hyphen) have legitimate
			// uses; they are dropped so that they cannot split a word.
		default:
			d.nonASCII(r, at, size, &start, &rstart, &hasLatin, &hasOther, flush, appendRune)
		}
		if !isInvisible(r) && !(r >= 0xE0000 && r <= 0xE007F) {
			prev = r
		}
	}
	flush(len(raw)) // trailing blank space hides nothing
}

// nonASCII folds one non-ASCII rune: NFKC (fullwidth letters, ligatures),
// lower case, look-alikes to Latin; ideographs are words of their own.
func (d *doc) nonASCII(r rune, at, size int, start, rstart *int, hasLatin, hasOther *bool, flush func(int), appendRune func(rune, int, int)) {
	var src [utf8.UTFMax]byte
	n := utf8.EncodeRune(src[:], r)
	d.tmp = norm.NFKC.Append(d.tmp[:0], src[:n]...)
	for j := 0; j < len(d.tmp); {
		q, qs := utf8.DecodeRune(d.tmp[j:])
		j += qs
		switch {
		case q < 0x80:
			if isAlnum(byte(q)) {
				q = unicode.ToLower(q)
				appendRune(q, at, size)
				*hasLatin = true
			} else {
				flush(at)
			}
		case unicode.In(q, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul, unicode.Thai):
			flush(at)
			appendRune(q, at, size)
			flush(at + size)
		case unicode.IsLetter(q) || unicode.IsDigit(q) || unicode.Is(unicode.Mn, q) || unicode.Is(unicode.Mc, q):
			q = unicode.ToLower(q)
			if l, ok := confusable[q]; ok {
				*hasOther = true
				q = l
			}
			appendRune(q, at, size)
		default:
			flush(at)
		}
	}
}

const maxHidden = 4 << 10

func isASCIILetter(b byte) bool { return b|0x20 >= 'a' && b|0x20 <= 'z' }
func isAlnum(b byte) bool       { return isASCIILetter(b) || b >= '0' && b <= '9' }

// skipEscape returns the end of the terminal escape sequence whose ESC ends
// just before i: CSI (ESC [ ... final), OSC (ESC ] ... BEL or ESC \), or a
// two-byte escape. Sequences are bounded so that a lone ESC cannot swallow
// a description.
func skipEscape(s string, i int) int {
	if i >= len(s) {
		return i
	}
	switch s[i] {
	case '[':
		for j := i + 1; j < len(s) && j < i+64; j++ {
			if s[j] >= 0x40 && s[j] <= 0x7E {
				return j + 1
			}
		}
		return i + 1
	case ']':
		for j := i + 1; j < len(s) && j < i+2048; j++ {
			if s[j] == 0x07 {
				return j + 1
			}
			if s[j] == 0x1B && j+1 < len(s) && s[j+1] == '\\' {
				return j + 2
			}
		}
		return i + 1
	}
	return i + 1
}

// Visible makes what a person cannot see visible: terminal escapes and
// other controls as ␛ and ^X, invisible and tag characters as <U+XXXX>
// (a run of tag characters as the text they spell), and cuts the text to
// one line of at most max runes.
func Visible(s string, max int) string {
	var b strings.Builder
	n := 0
	for i := 0; i < len(s) && n < max; {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, "\\x%02x", s[i-1])
		case r == 0x1B:
			b.WriteString("␛")
		case r == '\n' || r == '\r' || r == '\t':
			b.WriteByte(' ')
		case r < 0x20:
			b.WriteByte('^')
			b.WriteByte(byte(r) + '@')
		case r == 0x7F || r >= 0x80 && r <= 0x9F:
			fmt.Fprintf(&b, "<U+%04X>", r)
		case r >= 0xE0000 && r <= 0xE007F:
			b.WriteString("<tags:")
			j := i - size
			for j < len(s) {
				q, qs := utf8.DecodeRuneInString(s[j:])
				if q < 0xE0000 || q > 0xE007F {
					break
				}
				if c := q - 0xE0000; c >= 0x20 && c < 0x7F {
					b.WriteRune(c)
				}
				j += qs
				n++
			}
			i = j
			b.WriteString(">")
		case isInvisible(r):
			fmt.Fprintf(&b, "<U+%04X>", r)
		default:
			b.WriteRune(r)
		}
		n++
	}
	out := b.String()
	if n >= max {
		out += "…"
	}
	return out
}

func isInvisible(r rune) bool {
	return r >= 0x200B && r <= 0x200F || r >= 0x202A && r <= 0x202E || r >= 0x2060 && r <= 0x2069 ||
		r == 0xFEFF || r == 0x180E || r == 0x00AD || r >= 0xFE00 && r <= 0xFE0F || r >= 0xE0100 && r <= 0xE01EF ||
		r >= 0xE000 && r <= 0xF8FF || r >= 0xF0000
}

// excerpt returns the evidence around raw[a:b]: the line it is on, cut to
// about a line's width around it.
func excerpt(raw string, a, b int) string {
	const before, width = 40, 140
	if a < 0 {
		a = 0
	}
	if b > len(raw) {
		b = len(raw)
	}
	if b < a {
		b = a
	}
	lo := a - before
	if lo < 0 {
		lo = 0
	}
	if j := strings.LastIndexAny(raw[lo:a], "\n\r"); j >= 0 {
		lo += j + 1
	}
	for lo > 0 && lo < len(raw) && !utf8.RuneStart(raw[lo]) {
		lo++
	}
	hi := lo + 4*width
	if hi > len(raw) {
		hi = len(raw)
	}
	if hi < b {
		hi = b
	}
	seg := raw[lo:hi]
	if j := strings.IndexAny(raw[b:hi], "\n\r"); j >= 0 {
		seg = raw[lo : b+j]
	}
	out := Visible(seg, width)
	if lo > 0 {
		out = "…" + out
	}
	return out
}
