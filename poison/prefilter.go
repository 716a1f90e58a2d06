package poison

import (
	"strings"
	"sync"
)

// Window is a span [Lo, Hi) of a text that the prefilter picked.
type Window struct{ Lo, Hi int }

// windowPad is how much text around a hit a window takes: enough for the
// longest rule, which reads a few dozen words.
const windowPad = 512

// Windows is the prefilter for large texts such as tool results: it returns
// the spans around every place where a finding could start — a word that
// starts a rule, a control or non-ASCII byte, an HTML comment, a long
// encoded run — merged and in order. Only those spans are scanned. It reads
// each byte once and allocates only the windows.
func Windows(b []byte, dst []Window) []Window {
	a := anchors()
	h, n, run, start := uint64(fnvOffset), 0, 0, 0
	hit := func(at int) {
		lo, hi := max(at-windowPad, 0), min(at+windowPad, len(b))
		if k := len(dst); k > 0 && dst[k-1].Hi >= lo {
			dst[k-1].Hi = max(dst[k-1].Hi, hi)
			return
		}
		dst = append(dst, Window{lo, hi})
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
			if n == 0 {
				start = i
			}
			h = (h ^ uint64(c)) * fnvPrime
			n++
			run++
			continue
		case c >= 'A' && c <= 'Z':
			if n == 0 {
				start = i
			}
			h = (h ^ uint64(c|0x20)) * fnvPrime
			n++
			run++
			continue
		case c >= 0x80 || c < 0x20 && c != '\t' && c != '\n' && c != '\r' || c == 0x7F:
			hit(i)
		case c == '+' || c == '/' || c == '_' || c == '-' || c == '=':
			run++
		default:
			run = 0
		}
		if run == 20 {
			hit(i)
		}
		if n > 0 && a.has(h) {
			hit(start)
		}
		if c == '<' && i+3 < len(b) && b[i+1] == '!' && b[i+2] == '-' && b[i+3] == '-' {
			hit(i)
		}
		h, n = fnvOffset, 0
	}
	if n > 0 && a.has(h) {
		hit(start)
	}
	return dst
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// anchorSet is an open-addressing set of word hashes.
type anchorSet struct {
	slots []uint64
	mask  uint64
}

func (a *anchorSet) has(h uint64) bool {
	if h == 0 {
		h = 1
	}
	for i := h & a.mask; ; i = (i + 1) & a.mask {
		switch a.slots[i] {
		case h:
			return true
		case 0:
			return false
		}
	}
}

func (a *anchorSet) add(h uint64) {
	if h == 0 {
		h = 1
	}
	i := h & a.mask
	for a.slots[i] != 0 && a.slots[i] != h {
		i = (i + 1) & a.mask
	}
	a.slots[i] = h
}

func hashWord(w string) uint64 {
	h := uint64(fnvOffset)
	for i := 0; i < len(w); i++ {
		h = (h ^ uint64(w[i])) * fnvPrime
	}
	return h
}

// anchors are, for each rule, the distinctive words of its most
// distinctive step (a rule cannot match without one of them), and the words
// the structural checks start from.
var anchors = sync.OnceValue(func() *anchorSet {
	l := lex()
	bySet := map[int][][]string{} // set → its phrases' words
	for w, ps := range l.first {
		for _, p := range ps {
			bySet[p.set] = append(bySet[p.set], append([]string{w}, p.rest...))
		}
	}
	var words []string
	for _, r := range l.rules {
		best, bestBad := -1, 0
		for _, st := range r.steps {
			bad := 0
			for _, ph := range bySet[st.set] {
				if anchorWord(ph) == "" {
					bad += 4
				} else if len(anchorWord(ph)) <= 3 {
					bad++
				}
			}
			bad = bad*16 + len(bySet[st.set])
			if best < 0 || bad < bestBad {
				best, bestBad = st.set, bad
			}
		}
		for _, ph := range bySet[best] {
			w := anchorWord(ph)
			if w == "" {
				w = ph[0]
			}
			words = append(words, w)
		}
	}
	for w := range commandWords {
		words = append(words, w)
	}
	a := &anchorSet{slots: make([]uint64, 8192)}
	a.mask = uint64(len(a.slots) - 1)
	for _, w := range words {
		a.add(hashWord(strings.TrimPrefix(w, ".")))
	}
	return a
})

// anchorWord is the first word of a phrase that is not a common word (the
// modifier, as "chat" of "chat history", is the rarer word), or "" when it
// has none.
func anchorWord(ph []string) string {
	for _, w := range ph {
		w = strings.TrimPrefix(w, ".")
		if !stopWords[w] {
			return w
		}
	}
	return ""
}

var stopWords = map[string]bool{"the": true, "a": true, "an": true, "in": true, "on": true, "at": true, "to": true,
	"for": true, "of": true, "and": true, "or": true, "all": true, "any": true, "each": true, "every": true, "not": true,
	"no": true, "it": true, "me": true, "this": true, "that": true, "is": true, "are": true, "be": true, "if": true,
	"when": true, "then": true, "also": true, "first": true, "with": true, "as": true, "by": true, "from": true,
	"your": true, "you": true, "my": true, "our": true, "do": true, "don": true, "t": true, "s": true, "get": true,
	"use": true, "call": true, "put": true, "set": true, "new": true, "other": true, "only": true, "will": true,
	"can": true, "one": true, "so": true, "up": true, "out": true, "its": true, "them": true, "user": true}
