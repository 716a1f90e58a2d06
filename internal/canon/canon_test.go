package canon

import "testing"

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
