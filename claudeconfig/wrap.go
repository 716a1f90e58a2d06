package claudeconfig

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/opena2a-org/aim-mcp/internal/jsonedit"
)

// DefaultClient is the --client value that goes without saying.
const DefaultClient = "claude-desktop"

// Wrap makes the entry root/name launch through aim-mcp proxy:
//
//	"command": p.Exe,
//	"args": ["proxy", ["--client", p.Client,] "--server", NAME, "--home", p.Home, "--", <command>, <args>...]
//
// Only the "command" and "args" values change (an absent "args" is inserted
// after "command"). An entry already wrapped with the same spec is left
// byte for byte; one wrapped differently is re-pointed, keeping the original
// command after its "--". It reports whether the bytes changed.
func (f *File) Wrap(root []string, name string, p ProxySpec) (changed bool, err error) {
	// A command aim-mcp would not recognise as itself would be wrapped
	// again on every run.
	if !isProxy(p.Exe) {
		return false, fmt.Errorf("wrap: %q is not an aim-mcp executable", p.Exe)
	}
	i, err := f.find(root, name)
	if err != nil {
		return false, fmt.Errorf("wrap: %w", err)
	}
	if f.edited[i] {
		// Edited before: its spans are in the bytes to come.
		f.flush()
	}
	e := &f.entries[i]
	where := keyPath(append(slices.Clip(root), name))
	if e.Skip != "" {
		return false, fmt.Errorf("wrap %s: %s", where, e.Skip)
	}
	if e.Wrapped && e.Proxy.Entry != "" {
		// A rewritten remote entry: nothing to re-point it to.
		if p.Server == "" {
			p.Server = name
		}
		if sameSpec(e.Proxy, p) {
			return false, nil
		}
		return false, fmt.Errorf("wrap %s: remote server behind another aim-mcp (%s)", where, e.Proxy.Exe)
	}
	if p.Server == "" {
		p.Server = name
	}
	args := [][]byte{jsonedit.Quote("proxy")}
	add := func(flag, val string) { args = append(args, jsonedit.Quote(flag), jsonedit.Quote(val)) }
	if p.Client != "" && p.Client != DefaultClient {
		add("--client", p.Client)
	}
	add("--server", p.Server)
	if p.Home != "" {
		add("--home", p.Home)
	}
	args = append(args, jsonedit.Quote("--"))

	// The raw JSON of the real command and its arguments is moved, not
	// re-encoded, so unwrapping gives back exactly what the user wrote.
	// Where the args array has elements, aim-mcp's part is spliced in front
	// of them (or replaces the old part), so comments, trailing commas and
	// layout inside the user's arguments stay as they were.
	edits := []jsonedit.Edit{{Start: e.command.Value.Start, End: e.command.Value.End, Text: jsonedit.Quote(p.Exe)}}
	switch {
	case e.Wrapped:
		if len(e.Original) == 0 {
			return false, fmt.Errorf("wrap %s: wrapped entry has no original command after \"--\"", where)
		}
		if sameSpec(e.Proxy, p) {
			return false, nil
		}
		edits = append(edits, f.spliceElems(e, 0, e.sep+1, args))
	case e.args != nil && len(e.args.Value.Elems) > 0:
		edits = append(edits, f.spliceElems(e, 0, 0, append(args, f.raw(e.command.Value))))
	case e.args != nil:
		edits = append(edits, jsonedit.Edit{Start: e.args.Value.Start, End: e.args.Value.End,
			Text: jsonedit.RenderArray(append(args, f.raw(e.command.Value)), f.argsStyle(e))})
	default:
		edits = append(edits, f.insertArgs(e, append(args, f.raw(e.command.Value))))
	}
	if err := f.queue(i, edits); err != nil {
		return false, fmt.Errorf("wrap %s: %w", where, err)
	}
	return true, nil
}

// Unwrap restores the command and arguments that follow "--" in a wrapped
// entry. An entry that is not wrapped is left alone. An entry that had no
// "args" before wrapping keeps an empty one.
func (f *File) Unwrap(root []string, name string) (changed bool, err error) {
	i, err := f.find(root, name)
	if err != nil {
		return false, fmt.Errorf("unwrap: %w", err)
	}
	if f.edited[i] {
		f.flush()
	}
	e := &f.entries[i]
	if !e.Wrapped {
		return false, nil
	}
	where := keyPath(append(slices.Clip(root), name))
	if e.Proxy.Entry != "" {
		return false, fmt.Errorf("unwrap %s: a rewritten remote server; its original is kept under --entry %s", where, e.Proxy.Entry)
	}
	if len(e.Original) == 0 {
		return false, fmt.Errorf("unwrap %s: no original command after \"--\"", where)
	}
	v := e.args.Value
	edits := []jsonedit.Edit{{Start: e.command.Value.Start, End: e.command.Value.End, Text: f.raw(v.Elems[e.sep+1])}}
	if e.sep+2 < len(v.Elems) {
		// Cut everything before the first original argument.
		edits = append(edits, f.spliceElems(e, 0, e.sep+2, nil))
	} else {
		edits = append(edits, jsonedit.Edit{Start: v.Start, End: v.End, Text: []byte("[]")})
	}
	if err := f.queue(i, edits); err != nil {
		return false, fmt.Errorf("unwrap %s: %w", where, err)
	}
	return true, nil
}

func sameSpec(a, b ProxySpec) bool {
	norm := func(c string) string {
		if c == DefaultClient {
			return ""
		}
		return c
	}
	return a.Exe == b.Exe && norm(a.Client) == norm(b.Client) && a.Server == b.Server && a.Home == b.Home
}

func (f *File) raw(v *jsonedit.Value) []byte { return f.src[v.Start:v.End] }

// spliceElems returns an edit that replaces elements [i, j) of the entry's
// args array with elems, j < len(Elems) or the whole tail. Elements after
// j, and whatever sits between them, are left alone; the new elements are
// separated the way the array already separates its elements.
func (f *File) spliceElems(e *entry, i, j int, elems [][]byte) jsonedit.Edit {
	v := e.args.Value
	sep := f.elemSep(e)
	var b bytes.Buffer
	for k, el := range elems {
		if k > 0 {
			b.Write(sep)
		}
		b.Write(el)
	}
	if j < len(v.Elems) {
		if len(elems) > 0 {
			b.Write(sep)
		}
		return jsonedit.Edit{Start: v.Elems[i].Start, End: v.Elems[j].Start, Text: b.Bytes()}
	}
	return jsonedit.Edit{Start: v.Elems[i].Start, End: v.Elems[j-1].End, Text: b.Bytes()}
}

// elemSep is what goes between two elements of the entry's args array: what
// already stands between its first two (when that is only a comma and white
// space), else a comma and the array's line break and indentation, or ", ".
func (f *File) elemSep(e *entry) []byte {
	v := e.args.Value
	if len(v.Elems) >= 2 {
		between := f.src[v.Elems[0].End:v.Elems[1].Start]
		if bytes.Count(between, []byte(",")) == 1 && len(bytes.Trim(between, ", \t\r\n")) == 0 && between[0] == ',' {
			return between
		}
	}
	// Indentation is looked up only in multi-line layouts: in a one-line
	// file, finding where the line starts would cost the whole file for
	// each entry.
	st := f.argsStyle(e)
	if st.Multiline {
		if _, first := jsonedit.LineIndent(f.src, v.Elems[0].Start); first {
			return []byte("," + st.Newline + st.ElemIndent)
		}
	}
	if st.Compact {
		return []byte(",")
	}
	return []byte(", ")
}

// unit is one level of indentation in the entry: what its members add to
// the indentation of its name, or Claude's two spaces.
func (f *File) unit(e *entry) string {
	ind, first := jsonedit.LineIndent(f.src, e.command.KeyStart)
	keyIndent, _ := jsonedit.LineIndent(f.src, e.keyStart)
	if first && len(ind) > len(keyIndent) && ind[:len(keyIndent)] == keyIndent {
		return ind[len(keyIndent):]
	}
	return "  "
}

// argsStyle lays out a replacement args array like the old one: on one line
// if it was on one line, else one element per line with the indentation the
// old one used (or the entry's).
func (f *File) argsStyle(e *entry) jsonedit.ArrayStyle {
	st := jsonedit.DetectArrayStyle(f.src, e.args.Value)
	st.Newline = f.newline
	if st.Multiline {
		base, _ := jsonedit.LineIndent(f.src, e.args.KeyStart)
		if st.CloseIndent == "" {
			st.CloseIndent = base
		}
		if st.ElemIndent == "" {
			st.ElemIndent = st.CloseIndent + f.unit(e)
		}
	}
	return st
}

// insertArgs returns an edit that adds an "args" member right after the
// command member: on its own line, indented like "command", when the entry
// spans lines; on the same line otherwise.
func (f *File) insertArgs(e *entry, args [][]byte) jsonedit.Edit {
	cmd := e.command
	var ind string
	multiline := bytes.IndexByte(f.raw(e.obj), '\n') >= 0
	if multiline {
		ind, multiline = jsonedit.LineIndent(f.src, cmd.KeyStart)
	}
	// Reuse the command's separator between key and value (": " or ":")
	// unless it holds a comment.
	colon := f.src[cmd.KeyEnd:cmd.Value.Start]
	if len(bytes.Trim(colon, " \t")) != 1 {
		colon = []byte(": ")
	}
	st := jsonedit.ArrayStyle{}
	var b bytes.Buffer
	b.WriteByte(',')
	if multiline {
		st = jsonedit.ArrayStyle{Multiline: true, Newline: f.newline, ElemIndent: ind + f.unit(e), CloseIndent: ind}
		b.WriteString(f.newline)
		b.WriteString(ind)
	} else {
		b.WriteByte(' ')
	}
	b.Write(jsonedit.Quote("args"))
	b.Write(colon)
	b.Write(jsonedit.RenderArray(args, st))
	return jsonedit.Edit{Start: cmd.Value.End, End: cmd.Value.End, Text: b.Bytes()}
}
