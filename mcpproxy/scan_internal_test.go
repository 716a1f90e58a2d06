package mcpproxy

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// decodeValue agrees with encoding/json (UseNumber) on what it accepts and
// what it produces.
func FuzzDecodeValue(f *testing.F) {
	for _, s := range []string{`{}`, `[]`, `{"a":[1,-2.5e3,"x\u00e9",true,false,null,{"b":{}}]}`, `"\ud83d\ude00"`, `0`, `-0.0`, `{"a":1,}`, `[1 2]`, `01`, `"\x01"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		dec := json.NewDecoder(bytes.NewReader(in))
		dec.UseNumber()
		var want any
		wantErr := dec.Decode(&want)
		if wantErr == nil && dec.More() {
			wantErr = errNotObject
		}
		got, err := decodeValue(in)
		if wantErr != nil {
			if err == nil {
				t.Fatalf("decodeValue(%q) accepted what encoding/json refuses (%v)", in, wantErr)
			}
			return
		}
		if err != nil {
			if json.Valid(in) && bytes.Equal(bytes.ToValidUTF8(in, nil), in) {
				t.Fatalf("decodeValue(%q) refused valid JSON: %v", in, err)
			}
			return
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("decodeValue(%q) differs from encoding/json (-want +got):\n%s", in, diff)
		}
	})
}
