package mcpproxy

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestScanMessage(t *testing.T) {
	type spans struct{ ID, Method, Params, Result, Error string }
	tests := []struct {
		line string
		want spans
		err  string // part of the error; "" means none
	}{
		{line: `{"jsonrpc":"2.0","id":1,"method":"ping"}`, want: spans{ID: `1`, Method: `"ping"`}},
		{line: ` { "id" : "a" , "method":"tools/call", "params" : {"name":"x","NAME":"y"} } `,
			want: spans{ID: `"a"`, Method: `"tools/call"`, Params: `{"name":"x","NAME":"y"}`}},
		{line: `{"id":9007199254740993,"result":{"a":[1,{"b":"}"}]}}`, want: spans{ID: `9007199254740993`, Result: `{"a":[1,{"b":"}"}]}`}},
		{line: `{"id":null,"error":{"code":-32600,"message":"x"}}`, want: spans{ID: `null`, Error: `{"code":-32600,"message":"x"}`}},
		{line: `{"m\u0065thod":"ping"}`, want: spans{Method: `"ping"`}},
		{line: `{"method":"a","method":"b"}`, err: `duplicate key "method"`},
		{line: `{"method":"a","METHOD":"b"}`, err: `keys "method" and "METHOD" differ only in case`},
		{line: `{"Method":"tools/call"}`, err: `key "Method" differs from "method" only in case`},
		{line: `{"ID":1}`, err: `key "ID" differs from "id" only in case`},
		{line: `{"param` + "\u017f" + `":{}}`, err: `differs from "params" only in case`},
		{line: `{"x":1,"X":2}`, err: `differ only in case`},
		{line: `{"id":1} {"id":2}`, err: `trailing data`},
		{line: `[{"id":1}]`, err: `not a JSON object`},
		{line: `{"id":"` + "\xff" + `"}`, err: `invalid UTF-8`},
		{line: `{"id":"a` + "\t" + `b"}`, err: `control character`},
		{line: `{"id":"a\qb"}`, err: `bad escape`},
		{line: `{"id":01}`, err: `want ',' or '}'`},
		{line: `{"id":1,}`, err: `want an object key`},
		// Nested values are only skipped by their brackets, not validated:
		// checkKeys does that for the params of a call.
		{line: `{"params":{"a":[1,2}],"id":1}`, want: spans{ID: `1`, Params: `{"a":[1,2}]`}},
		{line: `{"params":{"a":"}`, err: `unterminated`},
	}
	for _, tc := range tests {
		t.Run(tc.line, func(t *testing.T) {
			m, err := scanMessage([]byte(tc.line))
			if tc.err != "" || err != nil {
				if err == nil || tc.err == "" || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("scanMessage: got error %v, want one containing %q", err, tc.err)
				}
				return
			}
			got := spans{string(m.id), string(m.method), string(m.params), string(m.result), string(m.error)}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("spans (-want +got):\n%s", diff)
			}
			if m.hasID != (tc.want.ID != "") || m.hasMethod != (tc.want.Method != "") {
				t.Errorf("hasID %v hasMethod %v, want %v %v", m.hasID, m.hasMethod, tc.want.ID != "", tc.want.Method != "")
			}
		})
	}
}

func TestCheckKeys(t *testing.T) {
	tests := []struct {
		value     string
		ambiguous bool
		err       bool
	}{
		{value: `{"name":"x","arguments":{"a":{"b":[{"c":1},{"c":2}]}}}`},
		{value: `{"a":[{"k":1,"K":2}]}`, ambiguous: true, err: true},
		{value: `{"a":{"b":{"c":1,"c":2}}}`, ambiguous: true, err: true},
		{value: `{"a":1,"\u0061":2}`, ambiguous: true, err: true},
		{value: `{"k":1,"` + "\u212a" + `":2}`, ambiguous: true, err: true}, // the Kelvin sign folds to k
		{value: `{"a":[1,2}`, err: true},
		{value: `{"a":tru}`, err: true},
		{value: `{"a":"` + "\xc3" + `"}`, err: true},
		{value: `[]`},
		{value: `"s"`},
	}
	for _, tc := range tests {
		err := checkKeys([]byte(tc.value))
		if (err != nil) != tc.err || errors.Is(err, errAmbiguous) != tc.ambiguous {
			t.Errorf("checkKeys(%s): got %v, want error %v, ambiguous %v", tc.value, err, tc.err, tc.ambiguous)
		}
	}
}

func TestIDKey(t *testing.T) {
	same := [][2]string{{`"a"`, `"\u0061"`}, {`1`, ` 1 `}, {`"aim-mcp:1"`, `"aim-mcp:\u0031"`}}
	for _, p := range same {
		if idKey([]byte(p[0])) != idKey([]byte(p[1])) {
			t.Errorf("idKey(%s) != idKey(%s), want equal", p[0], p[1])
		}
	}
	differ := [][2]string{{`"1"`, `1`}, {`1`, `1.0`}, {`9007199254740993`, `9007199254740992`}, {`"a"`, `"A"`}}
	for _, p := range differ {
		if idKey([]byte(p[0])) == idKey([]byte(p[1])) {
			t.Errorf("idKey(%s) == idKey(%s), want different", p[0], p[1])
		}
	}
}
