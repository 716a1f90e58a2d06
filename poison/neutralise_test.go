package poison

import (
	"encoding/json"
	"testing"
)

func TestNeutralise(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`{"text":"plain \"quoted\" \\u001b text"}`, ""}, // an escaped backslash: literal text, unchanged
		{`{"text":"caf\u00e9 and “quotes” and \n"}`, ""},
		{`{"text":"a\u001b[8mb"}`, `{"text":"a␛[8mb"}`},
		{"{\"text\":\"a\x1b[8mb\"}", `{"text":"a␛[8mb"}`},
		{`{"text":"x\u202eevil\u202c"}`, `{"text":"xevil"}`},
		{"{\"text\":\"x\u202eevil\u202c\"}", `{"text":"xevil"}`},
		{`{"text":"x\udb40\udc41\udb40\udc42y"}`, `{"text":"xy"}`},
		{"{\"text\":\"x\U000E0041y\"}", `{"text":"xy"}`},
		{"{\"text\":\"x\u009by\"}", `{"text":"x�y"}`},
		{`{"text":"emoji 👩‍💻 ⚠️"}`, ""},
	} {
		got, n := Neutralise([]byte(c.in))
		want := c.want
		if want == "" {
			want = c.in
			if n != 0 {
				t.Errorf("Neutralise(%q) changed %d characters, want none", c.in, n)
			}
		}
		if string(got) != want {
			t.Errorf("Neutralise(%q) = %q, want %q", c.in, got, want)
		}
		if !json.Valid(got) && json.Valid([]byte(c.in)) {
			t.Errorf("Neutralise(%q) = %q: not JSON", c.in, got)
		}
	}
}

func BenchmarkNeutraliseClean(b *testing.B) {
	line := []byte(`{"jsonrpc":"2.0","id":3,"result":{"content":[{"type":"text","text":"` +
		string(make([]byte, 0)) + `Commit history: the build passed on main, 42 files changed."}]}}`)
	b.SetBytes(int64(len(line)))
	for range b.N {
		Neutralise(line)
	}
}
