package jsonedit

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestApply(t *testing.T) {
	src := []byte(`{"a": 1, "b": 2}`)
	tests := []struct {
		name    string
		edits   []Edit
		want    string
		wantErr bool
	}{
		{"none", nil, `{"a": 1, "b": 2}`, false},
		{"replace out of order", []Edit{{14, 15, []byte("[]")}, {6, 7, []byte(`"x"`)}}, `{"a": "x", "b": []}`, false},
		{"insert", []Edit{{7, 7, []byte(`, "c": 3`)}}, `{"a": 1, "c": 3, "b": 2}`, false},
		{"inserts at one offset keep order", []Edit{{1, 1, []byte("x")}, {1, 1, []byte("y")}}, `{xy"a": 1, "b": 2}`, false},
		{"overlap", []Edit{{1, 5, nil}, {4, 6, nil}}, "", true},
		{"out of range", []Edit{{10, 99, nil}}, "", true},
		{"reversed", []Edit{{5, 4, nil}}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Apply(src, tt.edits)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Apply() error = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil && string(got) != tt.want {
				t.Errorf("Apply() = %s, want %s", got, tt.want)
			}
		})
	}
	if string(src) != `{"a": 1, "b": 2}` {
		t.Errorf("Apply modified its input: %s", src)
	}
}

func TestQuote(t *testing.T) {
	for _, s := range []string{
		"", "plain", `C:\Program Files\aim-mcp.exe`, "<a> & \"b\"", "tab\tnl\ncr\rbs\bff\f",
		"\x00\x01\x1f\x7f", "Łódź files 😀", "\u2028\u2029", "bad \xff utf8", "/slash/",
	} {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		want := bytes.TrimSuffix(b.Bytes(), []byte("\n"))
		if got := Quote(s); !bytes.Equal(got, want) {
			t.Errorf("Quote(%q) = %s, want %s", s, got, want)
		}
	}
}

func FuzzQuote(f *testing.F) {
	f.Add("a<b>\u2028\xff\x00")
	f.Fuzz(func(t *testing.T, s string) {
		v, err := Parse(Quote(s), Options{})
		if err != nil {
			t.Fatalf("Quote(%q) = %s does not parse: %v", s, Quote(s), err)
		}
		var want string
		json.Unmarshal(Quote(s), &want)
		if v.Str != want {
			t.Fatalf("Quote(%q) round trip = %q, want %q", s, v.Str, want)
		}
	})
}

func TestRenderStrings(t *testing.T) {
	items := []string{"proxy", "--home", "/Users/a b/<x>"}
	tests := []struct {
		name  string
		items []string
		st    ArrayStyle
		want  string
	}{
		{"single", items, ArrayStyle{}, `["proxy", "--home", "/Users/a b/<x>"]`},
		{"compact", items, ArrayStyle{Compact: true}, `["proxy","--home","/Users/a b/<x>"]`},
		{"empty multiline", nil, ArrayStyle{Multiline: true, ElemIndent: "  "}, `[]`},
		{"multiline", items, ArrayStyle{Multiline: true, ElemIndent: "        ", CloseIndent: "      "},
			"[\n        \"proxy\",\n        \"--home\",\n        \"/Users/a b/<x>\"\n      ]"},
		{"crlf tabs", items[:1], ArrayStyle{Multiline: true, Newline: "\r\n", ElemIndent: "\t\t", CloseIndent: "\t"},
			"[\r\n\t\t\"proxy\"\r\n\t]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(RenderStrings(tt.items, tt.st)); got != tt.want {
				t.Errorf("RenderStrings(%q, %+v) = %q, want %q", tt.items, tt.st, got, tt.want)
			}
		})
	}
}

func TestDetectArrayStyle(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want ArrayStyle
	}{
		{"single", `{"a": ["x", "y"]}`, ArrayStyle{Newline: "\n"}},
		{"compact", `{"a":["x","y"]}`, ArrayStyle{Newline: "\n", Compact: true}},
		{"one element", `{"a":["x"]}`, ArrayStyle{Newline: "\n"}},
		{"multiline", "{\n  \"a\": [\n    \"x\",\n    \"y\"\n  ]\n}",
			ArrayStyle{Multiline: true, Newline: "\n", ElemIndent: "    ", CloseIndent: "  "}},
		{"crlf", "{\r\n\t\"a\": [\r\n\t\t\"x\"\r\n\t]\r\n}",
			ArrayStyle{Multiline: true, Newline: "\r\n", ElemIndent: "\t\t", CloseIndent: "\t"}},
		{"hugging brackets", "{\"a\": [\"x\",\n  \"y\"]}", ArrayStyle{Multiline: true, Newline: "\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, err := Parse([]byte(tt.src), Options{})
			if err != nil {
				t.Fatal(err)
			}
			got := DetectArrayStyle([]byte(tt.src), root.Lookup("a").Value)
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("DetectArrayStyle(%q) (-got +want):\n%s", tt.src, diff)
			}
		})
	}
}

func TestLineIndent(t *testing.T) {
	src := []byte("{\n\t  \"a\": 1\n}")
	if ind, first := LineIndent(src, 5); ind != "\t  " || !first {
		t.Errorf("LineIndent(key) = %q, %v; want %q, true", ind, first, "\t  ")
	}
	if ind, first := LineIndent(src, 10); ind != "\t  " || first {
		t.Errorf("LineIndent(value) = %q, %v; want %q, false", ind, first, "\t  ")
	}
	if ind, first := LineIndent(src, 0); ind != "" || !first {
		t.Errorf("LineIndent(0) = %q, %v; want \"\", true", ind, first)
	}
}
