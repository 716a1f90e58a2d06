package canon

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode/utf16"
)

// TestCompareUTF16MatchesSlow: the ASCII shortcut orders keys as their
// UTF-16 code units do, for ASCII keys, keys beyond it (where UTF-8 and
// UTF-16 orders differ: U+E000–U+FFFF against a surrogate pair) and
// invalid UTF-8, alone and against one another.
func TestCompareUTF16MatchesSlow(t *testing.T) {
	pieces := []string{"", "a", "A", "z", "~", "\x7f", "\x00", "ab", "a\x7f", "é", "\uE000", "\uFFFD", "\uFFFF",
		"😀", "\U00010000", "\xff", "\xc3", "\xed\xa0\x80", "\xef\xbf\xbd"}
	r := rand.New(rand.NewPCG(3, 4))
	var keys []string
	for range 3000 {
		var sb strings.Builder
		for range r.IntN(5) {
			sb.WriteString(pieces[r.IntN(len(pieces))])
		}
		keys = append(keys, sb.String())
	}
	keys = append(keys, pieces...)
	slow := func(a, b string) int {
		return slices.Compare(utf16.Encode([]rune(a)), utf16.Encode([]rune(b)))
	}
	for i, a := range keys {
		for _, b := range keys[max(0, i-40) : i+1] {
			if got, want := compareUTF16(a, b), slow(a, b); got != want {
				t.Fatalf("compareUTF16(%q, %q) = %d, want %d", a, b, got, want)
			}
			if got, want := compareUTF16(b, a), slow(b, a); got != want {
				t.Fatalf("compareUTF16(%q, %q) = %d, want %d", b, a, got, want)
			}
		}
	}
}

// TestAppendValue: Value's text, after what dst held, whatever dst's room.
func TestAppendValue(t *testing.T) {
	v := map[string]any{"b": []any{"x", nil, true}, "a": map[string]any{"\uE000": "1", "😀": "2"}}
	want := string(Value(v))
	for _, room := range []int{0, 3, 1 << 10} {
		dst := append(make([]byte, 0, room), "pre"...)
		if got := string(AppendValue(dst, v)); got != "pre"+want {
			t.Errorf("room %d: %q, want %q", room, got, "pre"+want)
		}
	}
}
