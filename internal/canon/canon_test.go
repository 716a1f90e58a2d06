package canon

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestJSON(t *testing.T) {
	tests := []struct{ in, want string }{
		{``, `{}`},
		{`{"b":1, "a":[true,null,"x"]}`, `{"a":[true,null,"x"],"b":1}`},
		{" {\n \"z\" : {\"y\":2,\"x\":1.50}}", `{"z":{"x":1.50,"y":2}}`},
		{`{"s":"\u0041<&>"}`, `{"s":"A<&>"}`},
		{`{"\ud83d\ude00":1,"\uffff":2}`, `{"😀":1,"￿":2}`}, // UTF-16 order puts the surrogate pair first
		{`[3,2,1]`, `[3,2,1]`},
	}
	for _, tt := range tests {
		got, err := JSON([]byte(tt.in))
		if err != nil {
			t.Fatalf("JSON(%q): %v", tt.in, err)
		}
		if string(got) != tt.want {
			t.Errorf("JSON(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
	for _, bad := range []string{`{`, `{"a":1} x`, `nope`} {
		if _, err := JSON([]byte(bad)); err == nil {
			t.Errorf("JSON(%q) succeeded, want an error", bad)
		}
	}
}

func TestDigestIgnoresEncoding(t *testing.T) {
	a, _ := Digest([]byte(`{"a":1,"b":"x"}`))
	b, _ := Digest([]byte("{ \"b\" : \"\\u0078\",\n\"a\":1 }"))
	c, _ := Digest([]byte(`{"a":2,"b":"x"}`))
	if a != b {
		t.Errorf("same value, different digests: %s vs %s", a, b)
	}
	if a == c {
		t.Errorf("different values, same digest %s", a)
	}
}

// The hand-written string escaper matches encoding/json with HTML escaping
// off, so digests do not depend on which one wrote them.
func FuzzString(f *testing.F) {
	for _, s := range []string{"", "plain", "q\"b\\s", "\x00\x01\x1f\t\n\r\b\f", "<&>", "\u2028\u2029", "\xff\xfe", "Łódź 😀"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		enc.Encode(s)
		var got bytes.Buffer
		writeString(&got, s)
		if got.String()+"\n" != want.String() {
			t.Fatalf("writeString(%q) = %s, encoding/json gives %s", s, got.String(), want.String())
		}
	})
}

func TestDigestValue(t *testing.T) {
	raw := []byte(`{"b":[1,2.50,"x"],"a":{"z":null,"y":true}}`)
	v, _ := decodeForTest(raw)
	want, _ := Digest(raw)
	if got := DigestValue(v); got != want {
		t.Errorf("DigestValue = %s, Digest = %s", got, want)
	}
}

func decodeForTest(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	return v, dec.Decode(&v)
}
