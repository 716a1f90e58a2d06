package poison

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// slowFirstSuspect is firstSuspect as it was before it skipped plain words:
// one byte per step. Where the scan starts decides what Neutralise changes.
func slowFirstSuspect(b []byte) int {
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c == '\\':
			if i+5 < len(b) && b[i+1] == 'u' && (b[i+2] == '0' && b[i+3] == '0' && (b[i+4] <= '1' || b[i+4] == '7' || b[i+4] == '8' || b[i+4] == '9') ||
				b[i+2] == '2' && b[i+3] == '0' || b[i+2] == 'd' || b[i+2] == 'D') {
				return i
			}
			i++
		case c < 0x20 && c != '\t' && c != '\n' && c != '\r' || c == 0x7F:
			return i
		case c == 0xC2 || c == 0xE2 || c == 0xF3:
			return i
		}
	}
	return -1
}

func TestFirstSuspectMatchesSlow(t *testing.T) {
	pieces := []string{"a", "plain text ", `\\`, `\"`, `\u001b`, `\u0041`, `\u202e`, `\ud83d`, `\n`, "\\", "\x1b", "\t", "\n",
		"\x7f", "é", "\u202e", "\u2028", "\U000E0041", "日本", "😀", "\u009b", "\xff", "u", "0"}
	r := rand.New(rand.NewPCG(3, 4))
	var inputs [][]byte
	for range 5000 {
		var sb strings.Builder
		for range r.IntN(40) {
			sb.WriteString(pieces[r.IntN(len(pieces))])
		}
		inputs = append(inputs, []byte(sb.String()))
	}
	for range 2000 {
		b := make([]byte, r.IntN(70))
		for i := range b {
			b[i] = byte(r.UintN(256))
		}
		inputs = append(inputs, b)
	}
	for c := range 256 {
		for at := range 17 {
			b := []byte(strings.Repeat("abcdefgh", 3))
			b[at] = byte(c)
			inputs = append(inputs, b)
			e := []byte(strings.Repeat("abcdefgh", 3))
			copy(e[at:], `\u00`)
			e[min(at+4, len(e)-1)] = byte(c)
			inputs = append(inputs, e)
		}
	}
	for _, b := range inputs {
		if got, want := firstSuspect(b), slowFirstSuspect(b); got != want {
			t.Fatalf("firstSuspect(%q) = %d, want %d", b, got, want)
		}
	}
}
