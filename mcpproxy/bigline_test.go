package mcpproxy

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	"github.com/opena2a-org/aim-mcp/internal/canon"
)

// randomLines builds JSON-ish lines from pieces that matter to the fast
// paths: quotes, slashes, escapes, controls, non-ASCII.
func randomLines(seed uint64, pieces []string) [][]byte {
	r := rand.New(rand.NewPCG(seed, seed+1))
	var out [][]byte
	for range 5000 {
		var sb strings.Builder
		for range r.IntN(30) {
			sb.WriteString(pieces[r.IntN(len(pieces))])
		}
		out = append(out, []byte(sb.String()))
	}
	for c := range 256 {
		for at := range 17 {
			b := []byte(strings.Repeat("abcdefgh", 3))
			b[at] = byte(c)
			out = append(out, b)
		}
	}
	return out
}

func TestAsksClientMatchesContains(t *testing.T) {
	pieces := []string{`"`, "/", "elicitation", "sampling", "/create", `/create"`, `/createMessage"`, `"elicitation/create"`,
		`"sampling/createMessage"`, `"method":`, "x", `\/`, "create", "Message"}
	for _, b := range randomLines(7, pieces) {
		want := bytes.Contains(b, []byte(`"elicitation/create"`)) || bytes.Contains(b, []byte(`"sampling/createMessage"`))
		if got := asksClient(b); got != want {
			t.Fatalf("asksClient(%q) = %v, want %v", b, got, want)
		}
	}
}

func TestHasControlMatchesBytes(t *testing.T) {
	for _, b := range randomLines(9, []string{"a", "\x00", "\x1f", " ", "\x7f", "\x80", "é", "\xff", "\t", "\n"}) {
		want := false
		for _, c := range b {
			want = want || c < 0x20
		}
		if got := hasControl(b); got != want {
			t.Fatalf("hasControl(%q) = %v, want %v", b, got, want)
		}
	}
}

// A long string is shared with the line rather than copied: the value and
// the digest must be what a copy gives.
func TestDecodeValueSharesLongStrings(t *testing.T) {
	long := strings.Repeat("x", shareAbove)
	for _, in := range []string{
		`{"text":"` + long + `"}`,
		`{"text":"` + long + `é😀\u2028"}`,
		`{"text":"` + long + `\n\"escaped\""}`,
		`{"a":["` + long + `","short",{"b":"` + long + `"}],"n":1.50}`,
		`"` + long + "\u2028\u2029" + `"`,
	} {
		got, err := decodeValue([]byte(in))
		if err != nil {
			t.Fatalf("decodeValue: %v", err)
		}
		want, err := decodeArgs([]byte(in))
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("decodeValue differs from encoding/json (-want +got):\n%.400s", d)
		}
		if err := checkKeys([]byte(in)); err != nil {
			t.Fatal(err)
		}
		checked, err := decodeChecked([]byte(in))
		if err != nil {
			t.Fatalf("decodeChecked: %v", err)
		}
		if d := cmp.Diff(want, checked); d != "" {
			t.Errorf("decodeChecked differs from encoding/json (-want +got):\n%.400s", d)
		}
		wantDigest, err := canon.Digest([]byte(in))
		if err != nil {
			t.Fatal(err)
		}
		if d := canon.DigestValue(got); d != wantDigest {
			t.Errorf("digest of the shared value %s, want %s", d, wantDigest)
		}
	}
	line := []byte(`{"text":"` + long + `"}`)
	v, _ := decodeValue(line)
	s := v.(map[string]any)["text"].(string)
	if len(s) == 0 || &line[len(`{"text":"`)] != unsafeData(s) {
		t.Error("a long string without escapes was copied, want it shared with the line")
	}
}

func unsafeData(s string) *byte { return unsafe.StringData(s) }

// The pump hands over every line whole, whatever its length: in the
// reader's buffer, in the reused head, or gathered in chunks and joined.
func TestPumpLongLines(t *testing.T) {
	var want [][]byte
	var in bytes.Buffer
	for i, n := range []int{0, 10, 64<<10 - 1, 64 << 10, 64<<10 + 1, 1<<20 - 1, 1 << 20, 1<<20 + 1, 5<<20 + 17, 3, 1<<20 + 7<<10, 2 << 20} {
		line := make([]byte, n, n+1)
		for j := range line {
			line[j] = byte('a' + (i+j)%26)
		}
		line = append(line, '\n')
		in.Write(line)
		want = append(want, line)
	}
	in.WriteString(strings.Repeat("z", 3<<20)) // a last line without its newline
	want = append(want, []byte(strings.Repeat("z", 3<<20)+"\n"))

	var p Proxy
	var got [][]byte
	p.pump(&in, func(line []byte, owned bool) {
		if len(line) > spillHead+64<<10 && !owned {
			t.Errorf("a line of %d bytes was not handed over", len(line))
		}
		got = append(got, bytes.Clone(line))
	})
	if len(got) != len(want) {
		t.Fatalf("%d lines, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Errorf("line %d: %d bytes, want %d (or the bytes differ)", i, len(got[i]), len(want[i]))
		}
	}
}

// A record keeps the arguments folded; many small values fold no further,
// so past maxRecorded the record keeps only their size.
func TestRecordedArgsBounded(t *testing.T) {
	small := `{"path":"/tmp/x","text":"` + strings.Repeat("y", 8<<20) + `"}`
	if got := Redacted([]byte(small)); len(got) > 2<<10 || !bytes.Contains(got, []byte(`"path":"/tmp/x"`)) {
		t.Errorf("Redacted(a long string) = %.200s (%d bytes), want it folded", got, len(got))
	}
	many := `{"n":[` + strings.Repeat(`1,`, 1<<20) + `1]}`
	got := Redacted([]byte(many))
	if len(got) > maxRecorded {
		t.Errorf("Redacted(a million numbers) is %d bytes, want at most %d", len(got), maxRecorded)
	}
	if !bytes.Contains(got, []byte(`"n":"[2097155 bytes, folded`)) {
		t.Errorf("Redacted(a million numbers) = %.200s, want it to say how big they were", got)
	}
	// Padded: what the call does is still in its record.
	padded := `{"cmd":"rm -rf ~","pad":[` + strings.Repeat(`1,`, 1<<20) + `1]}`
	got = Redacted([]byte(padded))
	if len(got) > maxRecorded || !bytes.Contains(got, []byte(`"cmd":"rm -rf ~"`)) || !bytes.Contains(got, []byte(`"pad":"[`)) {
		t.Errorf("Redacted(a command padded with a million numbers) = %.300s (%d bytes), want cmd kept and pad folded", got, len(got))
	}
}

// BenchmarkPumpBigLine reads one 64 MiB line through the pump: gathered in
// chunks and joined, as a big call or result is before it is checked.
func BenchmarkPumpBigLine(b *testing.B) {
	line := []byte(strings.Repeat("x", 64<<20) + "\n")
	b.SetBytes(int64(len(line)))
	var p Proxy
	for b.Loop() {
		p.pump(bytes.NewReader(line), func([]byte, bool) {})
	}
}
