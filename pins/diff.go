package pins

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Diff shows how a tool's definition changed, member by member: the
// description as text, the schemas as indented JSON with sorted keys, each
// as a line diff with three lines of context ("-" pinned, "+" current).
// A nil side is a tool that did not exist (new) or no longer does (removed).
func Diff(pinned, current json.RawMessage) string {
	var b, a map[string]json.RawMessage
	json.Unmarshal(pinned, &b)
	json.Unmarshal(current, &a)
	var out strings.Builder
	for _, f := range Fields {
		if f == "name" || bytes.Equal(b[f], a[f]) {
			continue
		}
		fmt.Fprintf(&out, "%s:\n", f)
		switch {
		case b[f] == nil:
			out.WriteString("  (none before)\n")
		case a[f] == nil:
			out.WriteString("  (none now)\n")
		}
		out.WriteString(lineDiff(memberLines(f, b[f]), memberLines(f, a[f]), 3))
	}
	return out.String()
}

// memberLines renders a member for a person: a description as its text,
// anything else as indented JSON.
func memberLines(field string, raw json.RawMessage) []string {
	if raw == nil {
		return nil
	}
	if field == "description" {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return strings.Split(s, "\n")
		}
	}
	var buf bytes.Buffer
	if json.Indent(&buf, raw, "", "  ") != nil {
		return []string{string(raw)}
	}
	return strings.Split(buf.String(), "\n")
}

// lineDiff is a line diff (longest common subsequence) in unified style:
// "- " removed, "+ " added, "  " unchanged; runs of unchanged lines longer
// than twice the context are cut to "  ...".
func lineDiff(x, y []string, context int) string {
	ops := diffOps(x, y)
	var out strings.Builder
	for i := 0; i < len(ops); {
		if ops[i].kind != ' ' {
			fmt.Fprintf(&out, "  %c %s\n", ops[i].kind, ops[i].text)
			i++
			continue
		}
		j := i
		for j < len(ops) && ops[j].kind == ' ' {
			j++
		}
		run := ops[i:j]
		head, tail := context, context
		if i == 0 {
			head = 0
		}
		if j == len(ops) {
			tail = 0
		}
		if len(run) > head+tail+1 {
			for _, o := range run[:head] {
				fmt.Fprintf(&out, "    %s\n", o.text)
			}
			out.WriteString("    ...\n")
			for _, o := range run[len(run)-tail:] {
				fmt.Fprintf(&out, "    %s\n", o.text)
			}
		} else {
			for _, o := range run {
				fmt.Fprintf(&out, "    %s\n", o.text)
			}
		}
		i = j
	}
	return out.String()
}

type op struct {
	kind byte // ' ', '-', '+'
	text string
}

// maxDiffCells bounds the LCS table; larger inputs are shown as a whole
// replacement.
const maxDiffCells = 4 << 20

func diffOps(x, y []string) []op {
	var ops []op
	if (len(x)+1)*(len(y)+1) > maxDiffCells {
		for _, l := range x {
			ops = append(ops, op{'-', l})
		}
		for _, l := range y {
			ops = append(ops, op{'+', l})
		}
		return ops
	}
	// lcs[i][j] is the LCS length of x[i:] and y[j:].
	lcs := make([][]int, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	i, j := 0, 0
	for i < len(x) && j < len(y) {
		switch {
		case x[i] == y[j]:
			ops = append(ops, op{' ', x[i]})
			i++
			j++
		case lcs[i+1][j] >= lcs[i][j+1]:
			ops = append(ops, op{'-', x[i]})
			i++
		default:
			ops = append(ops, op{'+', y[j]})
			j++
		}
	}
	for ; i < len(x); i++ {
		ops = append(ops, op{'-', x[i]})
	}
	for ; j < len(y); j++ {
		ops = append(ops, op{'+', y[j]})
	}
	return ops
}

// Row is one line of a side-by-side diff: the pinned text on the left, the
// current on the right; Kind is ' ' (same), '-' (only pinned), '+' (only
// current) or '~' (a pinned line and the current line that replaced it).
type Row struct {
	Kind  string `json:"kind"`
	Left  string `json:"left,omitempty"`
	Right string `json:"right,omitempty"`
}

// Member is the side-by-side diff of one changed member of a tool.
type Member struct {
	Field string `json:"field"`
	Rows  []Row  `json:"rows"`
}

// SideBySide is Diff for a page: each changed member (description as text,
// schemas as indented JSON) as aligned rows, removed and added lines of one
// change paired up.
func SideBySide(pinned, current json.RawMessage) []Member {
	var b, a map[string]json.RawMessage
	json.Unmarshal(pinned, &b)
	json.Unmarshal(current, &a)
	var out []Member
	for _, f := range Fields {
		if f == "name" || bytes.Equal(b[f], a[f]) {
			continue
		}
		ops := diffOps(memberLines(f, b[f]), memberLines(f, a[f]))
		var rows []Row
		for i := 0; i < len(ops); {
			if ops[i].kind == ' ' {
				rows = append(rows, Row{Kind: " ", Left: ops[i].text, Right: ops[i].text})
				i++
				continue
			}
			var del, add []string
			for ; i < len(ops) && ops[i].kind != ' '; i++ {
				if ops[i].kind == '-' {
					del = append(del, ops[i].text)
				} else {
					add = append(add, ops[i].text)
				}
			}
			for k := 0; k < max(len(del), len(add)); k++ {
				switch {
				case k < len(del) && k < len(add):
					rows = append(rows, Row{Kind: "~", Left: del[k], Right: add[k]})
				case k < len(del):
					rows = append(rows, Row{Kind: "-", Left: del[k]})
				default:
					rows = append(rows, Row{Kind: "+", Right: add[k]})
				}
			}
		}
		out = append(out, Member{Field: f, Rows: rows})
	}
	return out
}
