package claudeconfig

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/opena2a-org/aim-mcp/internal/jsonedit"
)

// TestEditInPlace applies random edits in place and into a new buffer, as
// jsonedit.Apply does, and wants the same bytes whenever it edits in place,
// texts taken from src itself included.
func TestEditInPlace(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	done := 0
	for range 2000 {
		n := 1 + rng.IntN(200)
		src := make([]byte, n, n+rng.IntN(300))
		for i := range src {
			src[i] = byte('a' + rng.IntN(26))
		}
		var edits []jsonedit.Edit
		for at := 0; at < n; {
			start := at + rng.IntN(n-at+1)
			end := start + rng.IntN(n-start+1)/2
			var text []byte
			switch rng.IntN(3) {
			case 0:
				text = bytes.Repeat([]byte{'X'}, rng.IntN(40))
			case 1: // bytes of src, as an unwrap's argument
				a := rng.IntN(n)
				text = src[a : a+rng.IntN(n-a+1)]
			}
			edits = append(edits, jsonedit.Edit{Start: start, End: end, Text: text})
			at = end + 1
		}
		rng.Shuffle(len(edits), func(i, j int) { edits[i], edits[j] = edits[j], edits[i] })
		want, err := jsonedit.Apply(src, edits)
		if err != nil {
			t.Fatal(err)
		}
		got, ok, err := editInPlace(src, edits)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			continue
		}
		done++
		if !bytes.Equal(got, want) {
			t.Fatalf("in place %q, want %q", got, want)
		}
	}
	if done < 200 {
		t.Errorf("only %d of 2000 edited in place", done)
	}
}
