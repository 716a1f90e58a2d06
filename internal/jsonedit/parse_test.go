package jsonedit

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// tree is a span-free view of a Value, to compare structure in tables.
func tree(v *Value) any {
	switch v.Kind {
	case Object:
		m := [][2]any{}
		for _, mb := range v.Members {
			m = append(m, [2]any{mb.Key, tree(mb.Value)})
		}
		return m
	case Array:
		a := []any{}
		for _, e := range v.Elems {
			a = append(a, tree(e))
		}
		return a
	case String:
		return v.Str
	}
	return v.Kind.String()
}

func TestParse(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		jsonc bool
		want  any
	}{
		{"scalar", ` 12.5e-3 `, false, "number"},
		{"literals", `[true,false,null]`, false, []any{"bool", "bool", "null"}},
		{"order kept", `{"b":1,"a":{"z":[],"y":{}}}`, false,
			[][2]any{{"b", "number"}, {"a", [][2]any{{"z", []any{}}, {"y", [][2]any{}}}}}},
		{"escapes", `"a\"\\\/\b\f\n\r\t\u00e9\u20AC"`, false, "a\"\\/\b\f\n\r\té€"},
		{"surrogate pair", `"\ud83d\ude00"`, false, "😀"},
		{"lone high surrogate", `"\ud83dx"`, false, "\uFFFDx"},
		{"high then high", `"\ud83d\ud83d\ude00"`, false, "\uFFFD😀"},
		{"lone low surrogate", `"\ude00"`, false, "\uFFFD"},
		{"invalid utf8", "\"a\xffb\"", false, "a\uFFFDb"},
		{"non-ascii", `{"Łódź files":"ok"}`, false, [][2]any{{"Łódź files", "ok"}}},
		{"same key in two objects", `[{"a":1},{"a":2}]`, false,
			[]any{[][2]any{{"a", "number"}}, [][2]any{{"a", "number"}}}},
		{"keys differing in case", `{"a":1,"A":2}`, false, [][2]any{{"a", "number"}, {"A", "number"}}},
		{"jsonc comments", "// head\n{ /* a */ \"a\" /* b */ : // c\n 1 /* d */ , \"b\":[1, /**/ 2,],} // tail", true,
			[][2]any{{"a", "number"}, {"b", []any{"number", "number"}}}},
		{"jsonc bom", "\uFEFF{}", true, [][2]any{}},
		{"jsonc comment at eof without newline", "1 // x", true, "number"},
		{"jsonc slash in string", `{"a":"//not a comment"}`, true, [][2]any{{"a", "//not a comment"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := Parse([]byte(tt.in), Options{JSONC: tt.jsonc})
			if err != nil {
				t.Fatalf("Parse(%q) error: %v", tt.in, err)
			}
			if diff := cmp.Diff(tree(v), tt.want); diff != "" {
				t.Errorf("Parse(%q) (-got +want):\n%s", tt.in, diff)
			}
		})
	}
}

func TestParseKeep(t *testing.T) {
	src := `{"n": 1, "hist": ["a", {"b": "c"}], "mcp": {"s": {"command": "x", "args": ["1"]}},
		"projects": {"/p": {"hist": "long", "mcp": {"t": {"command": "y"}}}, "/q": {}}}`
	v, err := Parse([]byte(src), Options{Keep: [][]string{{"mcp"}, {"projects", "*", "mcp"}}})
	if err != nil {
		t.Fatal(err)
	}
	want := [][2]any{
		{"n", "number"},
		{"hist", []any{}}, // left out: no elements
		{"mcp", [][2]any{{"s", [][2]any{{"command", "x"}, {"args", []any{"1"}}}}}},
		{"projects", [][2]any{
			{"/p", [][2]any{{"hist", ""}, {"mcp", [][2]any{{"t", [][2]any{{"command", "y"}}}}}}},
			{"/q", [][2]any{}},
		}},
	}
	if diff := cmp.Diff(tree(v), want); diff != "" {
		t.Errorf("tree (-got +want):\n%s", diff)
	}
	// A value left out still has its span, so it can be replaced.
	if h := v.Lookup("hist").Value; src[h.Start:h.End] != `["a", {"b": "c"}]` {
		t.Errorf("span of a value left out = %q", src[h.Start:h.End])
	}
}

func TestParseSpans(t *testing.T) {
	src := []byte("{\n  \"k\": [\"x\", 1],\n  \"é\" : \"v\"\n}")
	v, err := Parse(src, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, m := range v.Members {
		got[string(src[m.KeyStart:m.KeyEnd])] = string(src[m.Value.Start:m.Value.End])
	}
	want := map[string]string{`"k"`: `["x", 1]`, `"é"`: `"v"`}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("spans (-got +want):\n%s", diff)
	}
	if v.Start != 0 || v.End != len(src) {
		t.Errorf("root span = [%d,%d), want [0,%d)", v.Start, v.End, len(src))
	}
	if m := v.Lookup("é"); m == nil || m.Value.Str != "v" {
		t.Errorf(`Lookup("é") = %v, want member with "v"`, m)
	}
	if m := v.Lookup("missing"); m != nil {
		t.Errorf(`Lookup("missing") = %v, want nil`, m)
	}
	if s, ok := v.Lookup("k").Value.Strings(); ok {
		t.Errorf("Strings() of mixed array = %q, true; want false", s)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		in    string
		jsonc bool
		want  string
	}{
		{``, false, "line 1, column 1: unexpected end of JSON input"},
		{`{"a":1`, false, "line 1, column 7: unexpected end of JSON input"},
		{"{\n  \"a\": 1,\n  \"b\" }", false, `line 3, column 7: invalid character '}' after object key`},
		{`{"a":1 "b":2}`, false, `line 1, column 8: invalid character '"' after object key:value pair`},
		{`[1 2]`, false, `line 1, column 4: invalid character '2' after array element`},
		{`{"a":1,}`, false, `line 1, column 8: invalid character '}' looking for beginning of object key string`},
		{`[1,]`, false, `line 1, column 4: invalid character ']' looking for beginning of value`},
		{`{"a":1,"a":2}`, false, `line 1, column 8: duplicate key "a" in object`},
		{`{"a":1,"\u0061":2}`, false, `line 1, column 8: duplicate key "a" in object`},
		{`{"Łódź":1,"Łódź":2}`, false, `line 1, column 11: duplicate key "Łódź" in object`},
		{`01`, false, `line 1, column 2: invalid character '1' after top-level value`},
		{`-`, false, `line 1, column 2: unexpected end of JSON input`},
		{`1.e5`, false, `line 1, column 3: invalid character 'e' after decimal point in numeric literal`},
		{`1e+`, false, `line 1, column 4: unexpected end of JSON input`},
		{`tru`, false, `line 1, column 4: unexpected end of JSON input`},
		{`nul1`, false, `line 1, column 4: invalid character '1' in literal null (expecting 'l')`},
		{"\"a\tb\"", false, `line 1, column 3: invalid character '\t' in string literal`},
		{`"\x"`, false, `line 1, column 3: invalid character 'x' in string escape code`},
		{`"\u12g4"`, false, `line 1, column 6: invalid character 'g' in \u hexadecimal character escape`},
		{"\"Łódź\" x", false, `line 1, column 8: invalid character 'x' after top-level value`},
		{"\xff", false, `line 1, column 1: invalid character '\xff' looking for beginning of value`},
		{"// c\n{}", false, `line 1, column 1: invalid character '/' looking for beginning of value`},
		{"\uFEFF{}", false, `line 1, column 1: invalid character '\ufeff' looking for beginning of value`},
		{"{} /* open", true, `line 1, column 4: unterminated comment`},
		{"[/ ]", true, `line 1, column 2: invalid character '/' looking for beginning of value`},
		{"[,]", true, `line 1, column 2: invalid character ',' looking for beginning of value`},
		{"{,}", true, `line 1, column 2: invalid character ',' looking for beginning of object key string`},
		{"[1,,]", true, `line 1, column 4: invalid character ',' looking for beginning of value`},
		{"{\r\n\"a\":x}", false, `line 2, column 5: invalid character 'x' looking for beginning of value`},
		{"[\"a\tb\"]", false, `line 1, column 4: invalid character '\t' in string literal`},
		{`["\x"]`, false, `line 1, column 4: invalid character 'x' in string escape code`},
		{`{"k":["\u12g4"]}`, false, `line 1, column 12: invalid character 'g' in \u hexadecimal character escape`},
		{`{"k":{"a":1,"a":2}}`, false, `line 1, column 13: duplicate key "a" in object`},
		{`{"k":{"a":1,"\u0061":2}}`, false, `line 1, column 13: duplicate key "a" in object`},
		{`{"k":{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11,"l":12,"m":13,"n":14,"o":15,"p":16,"q":17,"a":18}}`,
			false, `line 1, column 117: duplicate key "a" in object`},
		{`["ab`, false, `line 1, column 5: unexpected end of JSON input`},
		{strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1), false,
			`line 1, column 10001: exceeded max depth`},
	}
	for _, tt := range tests {
		name := []rune(tt.in)
		if len(name) > 20 {
			name = name[:20]
		}
		t.Run(string(name), func(t *testing.T) {
			_, err := Parse([]byte(tt.in), Options{JSONC: tt.jsonc})
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) error = %v, want *SyntaxError", tt.in, err)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("Parse(%q) error = %q, want %q", tt.in, got, tt.want)
			}
			// Values left out of the tree are checked just as strictly.
			_, err = Parse([]byte(tt.in), Options{JSONC: tt.jsonc, Keep: [][]string{{"other"}}})
			if err == nil || err.Error() != tt.want {
				t.Errorf("Parse(%q) with Keep: error = %v, want %q", tt.in, err, tt.want)
			}
		})
	}
}

func TestMaxDepthAccepted(t *testing.T) {
	in := strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth)
	if _, err := Parse([]byte(in), Options{}); err != nil {
		t.Errorf("Parse(depth %d) error: %v", maxDepth, err)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{}`, `[]`, `""`, `0`, `-0.5e+10`, `true`, `null`, `{"a":[1,"b",{"c":null}]}`,
		`{"a":1,"a":2}`, `"\ud83d\ude00"`, `"\ud800"`, "\"\xff\"", `[1,]`, `{"a":1,}`,
		"// c\n{\"a\": /* x */ 1,}", "\uFEFF[]", `{"a" 1}`, `[01]`, `"\u00zz"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		v, err := Parse(src, Options{})
		valid := json.Valid(src)
		switch {
		case err == nil && !valid:
			t.Fatalf("Parse accepted %q, encoding/json rejects it", src)
		case err != nil && valid && !hasDuplicateKey(src):
			t.Fatalf("Parse rejected %q (%v), encoding/json accepts it", src, err)
		case err == nil:
			checkSpans(t, src, v)
		}
		// JSONC must accept everything JSON does and must not panic.
		if cv, cerr := Parse(src, Options{JSONC: true}); err == nil && cerr != nil {
			t.Fatalf("JSONC rejected %q (%v), JSON accepts it", src, cerr)
		} else if cerr == nil {
			checkSpans(t, src, cv)
		}
	})
}

// checkSpans verifies that every string's span decodes, with encoding/json,
// to the same text Parse decoded, and that spans nest.
func checkSpans(t *testing.T, src []byte, v *Value) {
	t.Helper()
	if v.Start < 0 || v.End > len(src) || v.Start >= v.End {
		t.Fatalf("bad span [%d,%d) in %q", v.Start, v.End, src)
	}
	switch v.Kind {
	case String:
		var s string
		if err := json.Unmarshal(src[v.Start:v.End], &s); err != nil || s != v.Str {
			t.Fatalf("string span %q decodes to %q (%v), Parse decoded %q", src[v.Start:v.End], s, err, v.Str)
		}
	case Object:
		for _, m := range v.Members {
			var k string
			if err := json.Unmarshal(src[m.KeyStart:m.KeyEnd], &k); err != nil || k != m.Key {
				t.Fatalf("key span %q decodes to %q (%v), Parse decoded %q", src[m.KeyStart:m.KeyEnd], k, err, m.Key)
			}
			checkSpans(t, src, m.Value)
		}
	case Array:
		for _, e := range v.Elems {
			checkSpans(t, src, e)
		}
	}
}

// hasDuplicateKey reports whether valid JSON src repeats a key in one
// object, found independently of Parse with encoding/json's tokenizer.
func hasDuplicateKey(src []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(src))
	type frame struct {
		keys      map[string]bool
		expectKey bool
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return false
		}
		if err != nil {
			return false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.expectKey {
			if s, ok := tok.(string); ok {
				if top.keys[s] {
					return true
				}
				top.keys[s] = true
				top.expectKey = false
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{keys: map[string]bool{}, expectKey: true})
			continue
		case json.Delim('['):
			stack = append(stack, &frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		// A value (or closed container) ends; the enclosing object wants a key next.
		if len(stack) > 0 && stack[len(stack)-1].keys != nil {
			stack[len(stack)-1].expectKey = true
		}
	}
}

// TestTreeMatchesEncodingJSON checks the whole tree, not the spans alone:
// objects and arrays nested in each other's middles share the parser's
// stacks of members and elements, and each must get its own back, in order.
func TestTreeMatchesEncodingJSON(t *testing.T) {
	src := []byte(`{"a":[1,{"b":[2,3,{"c":"d"}],"e":[]},[[4],[5,{"f":{}}]],"g"],` +
		`"h":{"i":{"j":[6,7],"k":{"l":"m"}},"n":[8]},"o":"p","q":[{"r":1},{"s":2}],` +
		`"many":{"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,` +
		`"k10":10,"k11":11,"k12":12,"k13":13,"k14":14,"k15":15,"k16":16,"k17":[17,{"k0":0}]},"t":"\u00e9"}`)
	v, err := Parse(src, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var want any
	if err := json.Unmarshal(src, &want); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, plain(t, src, v)); diff != "" {
		t.Errorf("tree (-encoding/json +Parse):\n%s", diff)
	}
}

// plain turns a tree into what encoding/json decodes into an any.
func plain(t *testing.T, src []byte, v *Value) any {
	t.Helper()
	switch v.Kind {
	case Object:
		m := map[string]any{}
		for _, mb := range v.Members {
			m[mb.Key] = plain(t, src, mb.Value)
		}
		return m
	case Array:
		a := []any{}
		for _, e := range v.Elems {
			a = append(a, plain(t, src, e))
		}
		return a
	case String:
		return v.Str
	}
	var x any
	if err := json.Unmarshal(src[v.Start:v.End], &x); err != nil {
		t.Fatalf("span %q: %v", src[v.Start:v.End], err)
	}
	return x
}
