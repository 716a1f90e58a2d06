package pins

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/opena2a-org/aim-mcp/internal/canon"
	"github.com/opena2a-org/aim-mcp/registry"
)

// decodedCanonical is how a pin was computed before canonicalRaw: the tool
// decoded by encoding/json (numbers as json.Number) and written by
// canon.Value. Pins in existing registries were made this way, so
// canonicalRaw must write the same bytes.
func decodedCanonical(tool []byte) (registry.ToolDef, error) {
	dec := json.NewDecoder(bytes.NewReader(tool))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return registry.ToolDef{}, err
	}
	if m == nil {
		return registry.ToolDef{}, errors.New("not an object")
	}
	name, ok := m["name"].(string)
	if !ok || name == "" {
		return registry.ToolDef{}, errors.New("no name")
	}
	def := map[string]any{}
	for _, f := range Fields {
		if v, ok := m[f]; ok && v != nil {
			def[f] = v
		}
	}
	text := canon.Value(def)
	d := registry.ToolDef{Name: name, Definition: text, Hash: canon.Sum(text)}
	if a, ok := m["annotations"]; ok && a != nil {
		d.Annotations = canon.Value(a)
	}
	return d, nil
}

var canonicalSeeds = []string{
	`{"name":"a"}`,
	`{"name":"read_file","description":"Reads a file.","inputSchema":{"type":"object","properties":{"path":{"type":"string"}},"required":["path"]}}`,
	` { "inputSchema" : { "z" : 1 , "a" : [ 1.50 , -0 , 1e3 , true , false , null , { } , [ ] ] } , "name" : "t" , "description" : null } `,
	`{"name":"t","name":"u","description":"first","description":"second"}`,
	`{"name":"t","description":"x","description":null}`,
	`{"name":"t","inputSchema":{"b":1,"a":2,"b":3,"\u0061":4}}`,
	`{"name":"t\u00e9","description":"tab\there \"quoted\" \\ slash\/ \u2028 \u2029 \u0007 \ud83d\ude00 \ud800 <>&"}`,
	"{\"name\":\"t\",\"description\":\"bad utf8 \xff\xfe here, and é and \xe2\x80\xa8 raw\"}",
	`{"name":"t","inputSchema":{"ü":1,"z":2,"é":3,"😀":4,"\uffff":5,"Z":6,"":7}}`,
	`{"name":"t","annotations":{"readOnlyHint":true,"title":"T"},"outputSchema":{"type":"object"},"other":{"ignored":[1,2]}}`,
	`{"name":"t","annotations":null}`,
	`{"name":""}`,
	`{"name":1}`,
	`{"description":"no name"}`,
	`{}`,
	`null`,
	`[1,2]`,
	`"tool"`,
	`{"name":"t","inputSchema":{"a":{"b":{"c":{"d":[{"e":{"f":"deep","a":"x"}}]}}},"A":[[],[[]],{}]}}`,
	`{"name":"t","description":"1234567890123456789012345678901234567890","inputSchema":{"n":12345678901234567890123,"f":-1.5E-10}}`,
}

// TestCanonicalRawAsDecoded: the one-pass canonical form is byte for byte
// the decoded one, and refuses what it refused.
func TestCanonicalRawAsDecoded(t *testing.T) {
	for _, s := range canonicalSeeds {
		checkCanonical(t, []byte(s))
	}
}

func FuzzCanonicalRaw(f *testing.F) {
	for _, s := range canonicalSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !json.Valid([]byte(s)) {
			if _, err := Canonical(json.RawMessage(s)); err == nil {
				t.Fatalf("%q: invalid JSON was canonicalised", s)
			}
			return
		}
		checkCanonical(t, []byte(s))
	})
}

func checkCanonical(t *testing.T, tool []byte) {
	t.Helper()
	want, werr := decodedCanonical(tool)
	got, gerr := Canonical(tool)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("%q: error %v, decoded error %v", tool, gerr, werr)
	}
	if werr != nil {
		return
	}
	if got.Name != want.Name || !bytes.Equal(got.Definition, want.Definition) || got.Hash != want.Hash ||
		!bytes.Equal(got.Annotations, want.Annotations) {
		t.Fatalf("%q:\n got %s %s %s %s\nwant %s %s %s %s", tool,
			got.Name, got.Definition, got.Hash, got.Annotations, want.Name, want.Definition, want.Hash, want.Annotations)
	}
}

// TestParseListAsDecoded: each tool of a list is pinned as decoded, and the
// ones that cannot be pinned are skipped.
func TestParseListAsDecoded(t *testing.T) {
	var tools []string
	for i, s := range canonicalSeeds {
		tools = append(tools, s)
		tools = append(tools, fmt.Sprintf(`{"name":"n%d","description":"d"}`, i))
	}
	list := `{"tools":[` + joinComma(tools) + `]}`
	p, ok := ParseList(json.RawMessage(list))
	if !ok {
		t.Fatal("not read")
	}
	var want []registry.ToolDef
	skipped := 0
	for _, s := range tools {
		d, err := decodedCanonical([]byte(s))
		if err != nil {
			skipped++
			continue
		}
		want = append(want, d)
	}
	if len(p.Tools) != len(want) || len(p.Skipped) != skipped {
		t.Fatalf("%d tools, %d skipped; want %d and %d", len(p.Tools), len(p.Skipped), len(want), skipped)
	}
	for i := range want {
		if p.Tools[i].Hash != want[i].Hash || p.Tools[i].Name != want[i].Name {
			t.Fatalf("tool %d: %s %s, want %s %s", i, p.Tools[i].Name, p.Tools[i].Hash, want[i].Name, want[i].Hash)
		}
	}
}

func joinComma(ss []string) string {
	var b bytes.Buffer
	for i, s := range ss {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(s)
	}
	return b.String()
}

// TestSplitListAsDecoded: a list is split as encoding/json reads it.
func TestSplitListAsDecoded(t *testing.T) {
	for _, s := range []string{
		`{"tools":[]}`,
		`{"tools":null}`,
		`{}`,
		`[]`,
		`null`,
		`{"tools":{}}`,
		`{"tools":"x"}`,
		`{"tools":[{"name":"a"}, 1 ,"x",[{"]":"["}],null,{"name":"b\"}"}],"nextCursor":"c1"}`,
		`{"nextCursor":null,"tools":[{}]}`,
		`{"nextCursor":3,"tools":[{}]}`,
		`{"Tools":[{"name":"a"}],"tools":[{"name":"b"},{"name":"c"}],"NEXTCURSOR":"\u0041"}`,
		`{"tools":[{"name":"a"}],"tools":null}`,
		`{"\u0074ools":[{"name":"a"}]}`,
		`{"tools":[{"name":"a"}]} trailing`,
		`{"tools":[{"name":"a"}]`,
		` {"other":{"tools":[]},"tools" : [ {"name":"a"} ] } `,
	} {
		var r struct {
			Tools      []json.RawMessage `json:"tools"`
			NextCursor string            `json:"nextCursor"`
		}
		wantOK := json.Unmarshal([]byte(s), &r) == nil && r.Tools != nil
		tools, cursor, ok := splitList([]byte(s))
		if ok != wantOK {
			t.Fatalf("%s: ok %v, want %v", s, ok, wantOK)
		}
		if !ok {
			continue
		}
		if cursor != r.NextCursor || len(tools) != len(r.Tools) {
			t.Fatalf("%s: %q %d tools, want %q %d", s, cursor, len(tools), r.NextCursor, len(r.Tools))
		}
		for i := range tools {
			if !bytes.Equal(tools[i], r.Tools[i]) {
				t.Fatalf("%s: tool %d is %s, want %s", s, i, tools[i], r.Tools[i])
			}
		}
	}
}

// TestCanonicalRawRandom compares the two on generated tools: keys in any
// order and given twice, escapes, non-ASCII and invalid UTF-8, numbers as
// written, whitespace anywhere.
func TestCanonicalRawRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 5000))
	for range 3000 {
		var b bytes.Buffer
		g := gen{r: r, b: &b}
		g.tool()
		checkCanonical(t, b.Bytes())
	}
}

type gen struct {
	r *rand.Rand
	b *bytes.Buffer
}

var genStrings = []string{"", "a", "name", "description", "é", "😀", "\uffff", "\u2028", "Z", "ab", "a\\u0062", "\\u00e9",
	"\\\"q\\\"", "\\n\\t\\/", "\\ud83d\\ude00", "\\udc00x", "\xff", "<&>", "\x7f", "inputSchema", "\\u0000"}

func (g gen) space() {
	if g.r.IntN(4) == 0 {
		g.b.WriteString([]string{" ", "\n", "\t ", "\r\n"}[g.r.IntN(4)])
	}
}

func (g gen) str() {
	g.b.WriteByte('"')
	for range g.r.IntN(3) {
		g.b.WriteString(genStrings[g.r.IntN(len(genStrings))])
	}
	g.b.WriteByte('"')
}

func (g gen) value(depth int) {
	g.space()
	n := g.r.IntN(9)
	if depth > 4 && n < 2 {
		n += 2
	}
	switch n {
	case 0:
		g.object(depth+1, nil)
	case 1:
		g.b.WriteByte('[')
		for i := range g.r.IntN(4) {
			if i > 0 {
				g.b.WriteByte(',')
			}
			g.value(depth + 1)
		}
		g.space()
		g.b.WriteByte(']')
	case 2, 3:
		g.str()
	case 4:
		g.b.WriteString([]string{"0", "-1", "1.50", "1e3", "-0.0E+2", "12345678901234567890123"}[g.r.IntN(6)])
	case 5:
		g.b.WriteString([]string{"true", "false"}[g.r.IntN(2)])
	case 6:
		g.b.WriteString("null")
	default:
		g.str()
	}
	g.space()
}

func (g gen) object(depth int, keys []string) {
	g.b.WriteByte('{')
	n := g.r.IntN(5)
	for i := range n {
		if i > 0 {
			g.b.WriteByte(',')
		}
		g.space()
		if len(keys) > 0 && g.r.IntN(3) > 0 {
			fmt.Fprintf(g.b, "%q", keys[g.r.IntN(len(keys))])
		} else {
			g.str()
		}
		g.space()
		g.b.WriteByte(':')
		g.value(depth)
	}
	g.space()
	g.b.WriteByte('}')
}

func (g gen) tool() {
	keys := []string{"name", "description", "inputSchema", "outputSchema", "annotations", "title"}
	g.b.WriteString(`{"name":"t"`)
	for range g.r.IntN(6) {
		g.b.WriteByte(',')
		k := keys[g.r.IntN(len(keys))]
		fmt.Fprintf(g.b, "%q:", k)
		if k == "name" && g.r.IntN(3) > 0 {
			g.str()
			continue
		}
		if g.r.IntN(2) == 0 {
			g.object(1, []string{"type", "properties", "b", "a", "é", "😀", "\uffff"})
			continue
		}
		g.value(1)
	}
	g.b.WriteByte('}')
}

// TestDecodeCanonicalAsDecoded: the scanner reads a definition as
// encoding/json decodes it, whichever decoder read it; what is not compact
// is left to encoding/json.
func TestDecodeCanonicalAsDecoded(t *testing.T) {
	r := rand.New(rand.NewPCG(5000, 21))
	check := func(def []byte) {
		t.Helper()
		dec := json.NewDecoder(bytes.NewReader(def))
		dec.UseNumber()
		var want map[string]any
		werr := dec.Decode(&want)
		got, ok := decodeCanonical(def)
		if !ok {
			if werr == nil && want != nil && bytes.Equal(def, canon.Value(want)) {
				t.Fatalf("%q: canonical, not decoded", def)
			}
			return
		}
		if werr != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: decoded %#v, want %#v (%v)", def, got, want, werr)
		}
	}
	for range 3000 {
		var b bytes.Buffer
		g := gen{r: r, b: &b}
		g.tool()
		check(b.Bytes())
		if d, err := Canonical(b.Bytes()); err == nil {
			check(d.Definition)
		}
	}
	for _, s := range []string{`{"a":1}`, `{"a" :1}`, `{"a":[1, 2]}`, `{"a":1} `, `{"a":{}}x`, `{}`, `[]`, `null`, `{"a":"\u00e9\n"}`} {
		check([]byte(s))
	}
}
