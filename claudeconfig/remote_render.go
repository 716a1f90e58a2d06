package claudeconfig

import (
	"bytes"
	"strings"

	"github.com/opena2a-org/aim-mcp/internal/jsonedit"
)

// objectLayout is how an entry object is written: one member a line or all
// on one, the indentation, and what stands between a key and its value.
type objectLayout struct {
	multiline           bool
	memberIndent, close string // multi-line: before each member, before "}"
	unit                string // one level of indentation
	colon               []byte
	sep                 []byte // one-line: between members
	pad                 bool   // one-line: "{ " and " }"
}

func (f *File) layoutOf(e *entry) objectLayout {
	obj := e.obj
	raw := f.raw(obj)
	l := objectLayout{multiline: bytes.IndexByte(raw, '\n') >= 0, colon: []byte(": "), sep: []byte(", "), unit: "  "}
	keyIndent, _ := jsonedit.LineIndent(f.src, e.keyStart)
	l.memberIndent, l.close = keyIndent+"  ", keyIndent
	if len(obj.Members) > 0 {
		first := obj.Members[0]
		if c := f.src[first.KeyEnd:first.Value.Start]; len(bytes.Trim(c, " \t")) == 1 {
			l.colon = c
		}
		if ind, ok := jsonedit.LineIndent(f.src, first.KeyStart); ok && l.multiline {
			l.memberIndent = ind
		}
		if len(obj.Members) > 1 {
			between := f.src[first.Value.End:obj.Members[1].KeyStart]
			if len(bytes.Trim(between, " \t")) == 1 && between[0] == ',' {
				l.sep = between
			}
		}
	}
	if ind, ok := jsonedit.LineIndent(f.src, obj.End-1); ok && l.multiline {
		l.close = ind
	}
	if len(l.memberIndent) > len(l.close) && strings.HasPrefix(l.memberIndent, l.close) {
		l.unit = l.memberIndent[len(l.close):]
	}
	l.pad = len(raw) > 2 && raw[1] == ' '
	return l
}

// renderObject writes members (raw key, raw value) in layout l, at the
// depth of the entry's members plus depth levels.
func (f *File) renderObject(l objectLayout, members [][2][]byte, depth int) []byte {
	if len(members) == 0 {
		return []byte("{}")
	}
	var b bytes.Buffer
	ind := l.memberIndent + strings.Repeat(l.unit, depth)
	closeInd := l.close + strings.Repeat(l.unit, depth)
	b.WriteByte('{')
	if !l.multiline && l.pad {
		b.WriteByte(' ')
	}
	for i, m := range members {
		switch {
		case l.multiline:
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(f.newline)
			b.WriteString(ind)
		case i > 0:
			b.Write(l.sep)
		}
		b.Write(m[0])
		b.Write(l.colon)
		b.Write(m[1])
	}
	if l.multiline {
		b.WriteString(f.newline)
		b.WriteString(closeInd)
	} else if l.pad {
		b.WriteByte(' ')
	}
	b.WriteByte('}')
	return b.Bytes()
}

// renderRewritten is the new value of a rewritten remote entry e.
func (f *File) renderRewritten(e *entry, exe string, args [][]byte, env [][2][]byte, mcpRemote bool) []byte {
	l := f.layoutOf(e)
	argsArr := jsonedit.RenderArray(args, f.newArgsStyle(e, l))
	hasEnv := e.obj.Lookup("env") != nil
	var members [][2][]byte
	keep := func(m jsonedit.Member) {
		members = append(members, [2][]byte{f.src[m.KeyStart:m.KeyEnd], f.raw(m.Value)})
	}
	launch := func() {
		members = append(members, [2][]byte{jsonedit.Quote("command"), jsonedit.Quote(exe)}, [2][]byte{jsonedit.Quote("args"), argsArr})
		if !hasEnv && len(env) > 0 {
			members = append(members, [2][]byte{jsonedit.Quote("env"), f.renderObject(l, env, 1)})
		}
	}
	for _, m := range e.obj.Members {
		switch {
		case m.Key == "env":
			var all [][2][]byte
			if m.Value.Kind == jsonedit.Object {
				for _, kv := range m.Value.Members {
					all = append(all, [2][]byte{f.src[kv.KeyStart:kv.KeyEnd], f.raw(kv.Value)})
				}
			}
			if len(env) == 0 {
				keep(m) // nothing to add: as it was
				continue
			}
			members = append(members, [2][]byte{f.src[m.KeyStart:m.KeyEnd], f.renderObject(l, append(all, env...), 1)})
		case mcpRemote && m.Key == "command":
			launch()
		case mcpRemote && m.Key == "args":
		case mcpRemote:
			keep(m)
		case m.Key == "type":
			members = append(members, [2][]byte{f.src[m.KeyStart:m.KeyEnd], jsonedit.Quote("stdio")})
		case m.Key == "url" || m.Key == "serverUrl":
			launch()
		case m.Key == "headers" || m.Key == "oauth" || m.Key == "auth":
		default:
			keep(m)
		}
	}
	return f.renderObject(l, members, 0)
}

// newArgsStyle lays out a new args array: like the entry's own (npx
// mcp-remote), else like another entry's in the file, else one element a
// line in a multi-line entry.
func (f *File) newArgsStyle(e *entry, l objectLayout) jsonedit.ArrayStyle {
	st := jsonedit.ArrayStyle{Multiline: l.multiline, Newline: f.newline}
	src := e
	if src.args == nil || len(src.args.Value.Elems) < 2 {
		src = nil
		for k := range f.entries {
			if a := f.entries[k].args; a != nil && len(a.Value.Elems) >= 2 {
				src = &f.entries[k]
				break
			}
		}
	}
	if src == nil {
		st.Compact = string(l.sep) == ","
	} else {
		st.Multiline = bytes.IndexByte(f.raw(src.args.Value), '\n') >= 0
		st.Compact = jsonedit.DetectArrayStyle(f.src, src.args.Value).Compact
	}
	if st.Multiline {
		st.ElemIndent, st.CloseIndent = l.memberIndent+l.unit, l.memberIndent
		if !l.multiline {
			st.Multiline = false
		}
	}
	return st
}
