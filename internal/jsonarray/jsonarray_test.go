package jsonarray

import (
	"bytes"
	"encoding/json"
	"testing"
)

// The array written element by element is the bytes MarshalIndent gives
// for the whole value, at the top level and nested, empty or not.
func TestSameAsMarshalIndent(t *testing.T) {
	type item struct {
		N    int               `json:"n"`
		Text string            `json:"text"`
		Tags map[string]string `json:"tags,omitempty"`
	}
	for _, items := range [][]item{
		{},
		{{N: 1, Text: "one"}},
		{{N: 1, Text: "<one> & \"two\""}, {N: 2, Tags: map[string]string{"b": "2", "a": "1"}}, {N: 3}},
	} {
		var got bytes.Buffer
		a := New(&got, "", "  ")
		for i, it := range items {
			if i%2 == 1 { // as a caller's own encoder writes it
				b, _ := json.MarshalIndent(it, a.Prefix(), "  ")
				if err := a.AddIndented(b); err != nil {
					t.Fatal(err)
				}
				continue
			}
			if err := a.Add(it); err != nil {
				t.Fatal(err)
			}
		}
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
		want, _ := json.MarshalIndent(items, "", "  ")
		if got.String() != string(want) {
			t.Errorf("top level:\n got %s\nwant %s", got.String(), want)
		}

		// Nested one level down, as a field of an object.
		got.Reset()
		got.WriteString("{\n  \"items\": ")
		a = New(&got, "  ", "  ")
		for _, it := range items {
			a.Add(it)
		}
		a.Close()
		got.WriteString("\n}")
		want, _ = json.MarshalIndent(struct {
			Items []item `json:"items"`
		}{items}, "", "  ")
		if got.String() != string(want) {
			t.Errorf("nested:\n got %s\nwant %s", got.String(), want)
		}
	}
}
