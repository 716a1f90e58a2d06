package poison

import (
	"sort"
	"strings"
	"sync"
)

// A phrase rule is a sequence of word sets, each within a bounded number of
// words after the one before: "read" then, within 10 words, "~/.ssh". The
// sets are the keyword prefilter: a text none of whose words starts a rule's
// first set costs that rule nothing, and a rule is only tried where its
// first set matched (its window). Gaps are bounded, so no rule reads past a
// few dozen words, whatever the length of the text.
type phraseRule struct {
	id    string
	sev   Severity
	why   string
	ctx   context // where the rule applies
	steps []step
	// unless names a set that, anywhere from a few words before the match
	// to its end, marks the text as talking about the thing rather than
	// asking for it ("for example", "detects").
	unless string
}

type step struct {
	set string
	gap int // words allowed between the previous step and this one
	// notNext names a set whose match right after this step vetoes it.
	notNext string
}

// context is a bit set of the kinds of text a rule applies to.
type context uint8

const (
	ctxDef      context = 1 << iota // tool, prompt and resource definitions, instructions
	ctxContent                      // tool results, prompt messages, resource contents
	ctxSampling                     // sampling/createMessage
	ctxElicit                       // elicitation/create messages
	ctxAll      = ctxDef | ctxContent | ctxSampling | ctxElicit
)

// phrase is one entry of a word set: its words after the first.
type phrase struct {
	set  int
	rest []string
}

// lexicon is the compiled form of the sets and rules.
type lexicon struct {
	sets  map[string]int
	first map[string][]phrase // first word → phrases starting with it
	rules []compiledRule
}

type compiledRule struct {
	phraseRule
	steps  []compiledStep
	unless int // -1 for none
}

type compiledStep struct {
	set, gap, notNext int
}

// lex compiles the word sets and rules once per process.
var lex = sync.OnceValue(func() *lexicon {
	l := &lexicon{sets: map[string]int{}, first: map[string][]phrase{}}
	var d doc
	names := make([]string, 0, len(wordSets))
	for name := range wordSets {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		id := len(l.sets)
		l.sets[name] = id
		for _, p := range strings.Split(wordSets[name], "|") {
			p = strings.TrimSpace(p)
			if p == "" {
				continue
			}
			d.reset()
			d.add("", p, false)
			var words []string
			for i := range d.toks {
				words = append(words, d.tok(i))
			}
			if len(words) == 0 {
				continue
			}
			l.first[words[0]] = append(l.first[words[0]], phrase{set: id, rest: words[1:]})
		}
	}
	set := func(name string) int {
		if name == "" {
			return -1
		}
		id, ok := l.sets[name]
		if !ok {
			panic("poison: rule names unknown word set " + name)
		}
		return id
	}
	for _, r := range phraseRules {
		c := compiledRule{phraseRule: r, unless: set(r.unless)}
		for _, s := range r.steps {
			c.steps = append(c.steps, compiledStep{set: set(s.set), gap: s.gap, notNext: set(s.notNext)})
		}
		l.rules = append(l.rules, c)
	}
	return l
})

// span is a match of a set: tokens [start, end).
type span struct{ start, end int }

// hits finds every match of every set in the doc's tokens, by set.
func (l *lexicon) hits(d *doc, out [][]span) [][]span {
	if cap(out) < len(l.sets) {
		out = make([][]span, len(l.sets))
	}
	out = out[:len(l.sets)]
	for i := range out {
		out[i] = out[i][:0]
	}
	for i := range d.toks {
		t := d.toks[i]
		if t.field < 0 {
			continue
		}
		ps, ok := l.first[string(d.norm[t.a:t.b])]
		if !ok {
			continue
		}
		for _, p := range ps {
			if j, ok := d.follows(i+1, p.rest); ok {
				out[p.set] = append(out[p.set], span{i, j})
			}
		}
	}
	return out
}

// follows reports whether the tokens from i spell words, and where they end.
func (d *doc) follows(i int, words []string) (int, bool) {
	for _, w := range words {
		if i >= len(d.toks) || d.toks[i].field < 0 || string(d.norm[d.toks[i].a:d.toks[i].b]) != w {
			return 0, false
		}
		i++
	}
	return i, true
}

// match tries a rule at each match of its first set and returns the first
// span that completes it.
func (r *compiledRule) match(h [][]span) (span, bool) {
	if len(r.steps) == 0 {
		return span{}, false
	}
next:
	for _, s0 := range h[r.steps[0].set] {
		if vetoed(h, r.steps[0].notNext, s0.end) {
			continue
		}
		end := s0.end
		for _, st := range r.steps[1:] {
			found := false
			for _, s := range h[st.set] {
				if s.start < end {
					continue
				}
				if s.start-end > st.gap {
					break
				}
				if vetoed(h, st.notNext, s.end) {
					continue
				}
				end, found = s.end, true
				break
			}
			if !found {
				continue next
			}
		}
		if r.unless >= 0 {
			for _, u := range h[r.unless] {
				if u.start >= s0.start-8 && u.start < end {
					continue next
				}
			}
		}
		return span{s0.start, end}, true
	}
	return span{}, false
}

func vetoed(h [][]span, set, at int) bool {
	if set < 0 {
		return false
	}
	for _, s := range h[set] {
		if s.start == at {
			return true
		}
	}
	return false
}
