package mcpproxy

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzScan: the frame scanner never panics or overflows, whatever a line
// holds, and what it accepts as a message it can also walk in full.
func FuzzScan(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":{"a":[1,{"b":"c"}]}}}`,
		`{"id":"a","method":"ping"}`, `[{"id":1}]`, `{"a":"\u0000"}`, "{\"a\":1}\r{\"b\":2}", `[[[[[[[[[[]]]]]]]]]]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		innerBreak(line)
		m, err := scanMessage(bytes.TrimSpace(line))
		if err != nil {
			return
		}
		if m.params != nil {
			checkKeys(m.params)
			decodeValue(m.params)
		}
	})
}

// FuzzRedacted: redaction of any arguments never panics and always gives
// valid JSON.
func FuzzRedacted(f *testing.F) {
	for _, s := range []string{`{"password":"x","headers":[{"name":"Authorization","value":"Bearer abcdefghij"}]}`,
		`{"cmd":"API_KEY=abc123 run","url":"https://u:p@h"}`, `"x"`, `[1,2]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, args []byte) {
		out := Redacted(args)
		if !json.Valid(out) {
			t.Fatalf("Redacted(%q) = %q, not JSON", args, out)
		}
	})
}
