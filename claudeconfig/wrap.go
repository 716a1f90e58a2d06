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
	e, err := f.find(root, name)
	if err != nil {
		return false, fmt.Errorf("wrap: %w", err)
	}
	where := keyPath(append(slices.Clip(root), name))
	if e.Skip != "" {
		return false, fmt.Errorf("wrap %s: %s", where, e.Skip)
	}
	if p.Server == "" {
		p.Server = name
	}
	// The raw JSON of the real command and its arguments: moved, not
	// re-encoded, so unwrapping gives back exactly what the user wrote.
	var orig [][]byte
	if e.Wrapped {
		if len(e.Original) == 0 {
			return false, fmt.Errorf("wrap %s: wrapped entry has no original command after \"--\"", where)
		}
		if sameSpec(e.Proxy, p) {
			return false, nil
		}
		orig = f.rawElems(e.args.Value)[e.sep+1:]
	} else {
		orig = append([][]byte{f.raw(e.command.Value)}, f.rawElems(argsValue(e))...)
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
	args = append(args, orig...)
	if err := f.setCommand(e, jsonedit.Quote(p.Exe), args); err != nil {
		return false, fmt.Errorf("wrap %s: %w", where, err)
	}
	return true, nil
}

// Unwrap restores the command and arguments that follow "--" in a wrapped
// entry. An entry that is not wrapped is left alone. An entry that had no
// "args" before wrapping keeps an empty one.
func (f *File) Unwrap(root []string, name string) (changed bool, err error) {
	e, err := f.find(root, name)
	if err != nil {
		return false, fmt.Errorf("unwrap: %w", err)
	}
	if !e.Wrapped {
		return false, nil
	}
	where := keyPath(append(slices.Clip(root), name))
	if len(e.Original) == 0 {
		return false, fmt.Errorf("unwrap %s: no original command after \"--\"", where)
	}
	orig := f.rawElems(e.args.Value)[e.sep+1:]
	if err := f.setCommand(e, orig[0], orig[1:]); err != nil {
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

func argsValue(e *entry) *jsonedit.Value {
	if e.args == nil {
		return nil
	}
	return e.args.Value
}

func (f *File) raw(v *jsonedit.Value) []byte { return f.src[v.Start:v.End] }

func (f *File) rawElems(v *jsonedit.Value) [][]byte {
	if v == nil {
		return nil
	}
	out := make([][]byte, len(v.Elems))
	for i, el := range v.Elems {
		out[i] = f.raw(el)
	}
	return out
}

// setCommand replaces the entry's command value and its args array (or
// inserts one after the command), then re-parses the file.
func (f *File) setCommand(e *entry, command []byte, args [][]byte) error {
	edits := []jsonedit.Edit{{Start: e.command.Value.Start, End: e.command.Value.End, Text: command}}
	if e.args != nil {
		v := e.args.Value
		edits = append(edits, jsonedit.Edit{Start: v.Start, End: v.End, Text: jsonedit.RenderArray(args, f.argsStyle(e))})
	} else {
		edits = append(edits, f.insertArgs(e, args))
	}
	src, err := jsonedit.Apply(f.src, edits)
	if err != nil {
		return err
	}
	old := f.src
	if err := f.reparse(src); err != nil {
		// Our own edit produced something we cannot read: a bug, never a
		// file to save. Go back to the previous state, which parsed.
		f.reparse(old)
		return fmt.Errorf("internal error: edited config does not parse: %w", err)
	}
	return nil
}

// unit is one level of indentation in the entry: what its members add to
// the indentation of its name, or Claude's two spaces.
func (f *File) unit(e *entry) string {
	ind, first := jsonedit.LineIndent(f.src, e.command.KeyStart)
	if first && len(ind) > len(e.keyIndent) && ind[:len(e.keyIndent)] == e.keyIndent {
		return ind[len(e.keyIndent):]
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
	ind, first := jsonedit.LineIndent(f.src, cmd.KeyStart)
	multiline := bytes.IndexByte(f.raw(e.obj), '\n') >= 0 && first
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
