package fold

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestString(t *testing.T) {
	long := strings.Repeat("a", 100) + strings.Repeat("b", 5000) + strings.Repeat("c", 100)
	tests := []struct {
		name string
		in   string
		keep int
		want string
	}{
		{"short stays", "hello", 4, "hello"},
		{"no gain stays", strings.Repeat("x", 20), 4, strings.Repeat("x", 20)},
		{"zero keep stays", long, 0, long},
		{"long folds", long, 100, strings.Repeat("a", 100) + "…[+5000 bytes]…" + strings.Repeat("c", 100)},
	}
	for _, tc := range tests {
		if got := String(tc.in, tc.keep); got != tc.want {
			t.Errorf("%s: String = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// A fold never splits a character, and the marker counts exactly the bytes
// it stands for.
func TestStringRunes(t *testing.T) {
	s := strings.Repeat("é", 3000) // 2 bytes each
	for keep := 1; keep < 40; keep++ {
		got := String(s, keep)
		if !utf8.ValidString(got) {
			t.Fatalf("keep %d: %q is not valid UTF-8", keep, got)
		}
		head, rest, ok := strings.Cut(got, "…[+")
		if !ok {
			t.Fatalf("keep %d: no marker in %q", keep, got)
		}
		num, tail, _ := strings.Cut(rest, " bytes]…")
		var n int
		if err := json.Unmarshal([]byte(num), &n); err != nil {
			t.Fatalf("keep %d: marker count %q: %v", keep, num, err)
		}
		if len(head)+n+len(tail) != len(s) {
			t.Errorf("keep %d: %d + %d + %d bytes, want %d", keep, len(head), n, len(tail), len(s))
		}
	}
}

func TestJSON(t *testing.T) {
	raw := `{"path":"/tmp/x","content":"` + strings.Repeat("z", 5120) + `","n":1.50,"list":["` + strings.Repeat("y", 300) + `",true],"` + strings.Repeat("k", 80) + `":"<&>"}`
	got := JSON([]byte(raw), 8)
	want := `{"content":"zzzzzzzz…[+5104 bytes]…zzzzzzzz","kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk":"<&>","list":["yyyyyyyy…[+284 bytes]…yyyyyyyy",true],"n":1.50,"path":"/tmp/x"}`
	if got != want {
		t.Errorf("JSON =\n%s\nwant\n%s", got, want)
	}
	if got := JSON([]byte("not json "+strings.Repeat("q", 100)), 4); got != "not …[+101 bytes]…qqqq" {
		t.Errorf("JSON of text = %q", got)
	}
}

func TestPretty(t *testing.T) {
	raw := `{"b":"` + strings.Repeat("v", 3000) + `","a":1.0e3,"s":"\u00e9"}`
	got := Pretty([]byte(raw))
	want := "{\n  \"b\": \"" + strings.Repeat("v", 3000) + "\",\n  \"a\": 1.0e3,\n  \"s\": \"\\u00e9\"\n}"
	if got != want {
		t.Errorf("Pretty = %q, want %q", got, want)
	}
}
