package main

import (
	"flag"
	"regexp"
	"strings"
	"sync"
)

// nearest is the candidate a mistyped word most likely meant, or "" when
// none is close: within two edits (a swap of neighbours is one), fewer for
// short words, or a prefix of exactly one candidate.
func nearest(word string, candidates []string) string {
	if word == "" {
		return ""
	}
	limit := min(2, max(1, len([]rune(word))/3))
	best, bestD := "", limit+1
	for _, c := range candidates {
		if d := editDistance(word, c); d < bestD {
			best, bestD = c, d
		}
	}
	if best != "" {
		return best
	}
	var prefixed []string
	for _, c := range candidates {
		if len(word) >= 3 && strings.HasPrefix(c, word) {
			prefixed = append(prefixed, c)
		}
	}
	if len(prefixed) == 1 {
		return prefixed[0]
	}
	return ""
}

// editDistance is the optimal string alignment distance: insertions,
// deletions, substitutions and swaps of adjacent characters cost one.
func editDistance(a, b string) int {
	s, t := []rune(a), []rune(b)
	d := make([][]int, len(s)+1)
	for i := range d {
		d[i] = make([]int, len(t)+1)
		d[i][0] = i
	}
	for j := range t {
		d[0][j+1] = j + 1
	}
	for i := 1; i <= len(s); i++ {
		for j := 1; j <= len(t); j++ {
			cost := 1
			if s[i-1] == t[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && s[i-1] == t[j-2] && s[i-2] == t[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(s)][len(t)]
}

// didYouMean is the hint naming the candidate word most likely meant, if
// one is close.
func didYouMean(word string, candidates ...string) []string {
	if s := nearest(word, candidates); s != "" {
		return []string{"did you mean " + s + "?"}
	}
	return nil
}

// flagMessages are the flag package's messages, which name a flag Go's way
// ("-home"); compiled on first use, not at every start (a proxy is started
// for each server).
var flagMessages = sync.OnceValue(func() (m struct{ undefined, noValue, badValue *regexp.Regexp }) {
	m.undefined = regexp.MustCompile(`^flag provided but not defined: -+(.*)$`)
	m.noValue = regexp.MustCompile(`^flag needs an argument: -+(.*)$`)
	m.badValue = regexp.MustCompile(`^invalid (boolean )?value (".*") for flag -+([^:]*): (.*)$`)
	return m
})

// flagError rewrites a parse error of fs in this CLI's words: flags are
// spelled --flag, and an unknown one comes with the nearest known flag.
func flagError(cmd string, fs *flag.FlagSet, err error) *usageError {
	msg := err.Error()
	re := flagMessages()
	if m := re.undefined.FindStringSubmatch(msg); m != nil {
		ue := &usageError{cmd: cmd, msg: "unknown flag " + dashed(m[1])}
		var names []string
		fs.VisitAll(func(f *flag.Flag) {
			if !hiddenFlag(f) {
				names = append(names, f.Name)
			}
		})
		if s := nearest(m[1], names); s != "" {
			ue.hints = append(ue.hints, "did you mean "+dashed(s)+"?")
		}
		return ue
	}
	if m := re.noValue.FindStringSubmatch(msg); m != nil {
		return &usageError{cmd: cmd, msg: dashed(m[1]) + " needs a value"}
	}
	if m := re.badValue.FindStringSubmatch(msg); m != nil {
		return &usageError{cmd: cmd, msg: "invalid value " + m[2] + " for " + dashed(m[3]) + ": " + m[4]}
	}
	return &usageError{cmd: cmd, msg: msg}
}

// dashed spells a flag name as the usage texts do: -o, --home.
func dashed(name string) string {
	if len([]rune(name)) == 1 {
		return "-" + name
	}
	return "--" + name
}

// hiddenUsage marks a flag that is for aim-mcp itself, not for people: it
// is in no usage text and no completion.
const hiddenUsage = "(hidden)"

func hiddenFlag(f *flag.Flag) bool { return f.Usage == hiddenUsage }
