// Package claudeconfig reads and edits Claude Desktop's config file, and files
// of the same shape written by other MCP clients, without disturbing anything
// aim-mcp does not own.
//
// The file belongs to the app and the user: the app
// keeps ~150 preferences in it and silently drops keys it does not know. So
// the file is never re-serialised. [File.Wrap] and [File.Unwrap] splice new
// bytes into the spans of one entry's "command" and "args" values; every
// other byte, key order, indentation, comments and the missing trailing
// newline included, stays as it was.
//
// Editing costs one pass over the file however many entries change: Wrap
// and Unwrap only queue their splices (each checked on the entry's own
// bytes), and the first look at the result applies the whole queue at once
// and parses once. Only the server maps are kept as a tree, so a file of
// tens of megabytes around them costs little more than its bytes.
//
//	f, err := claudeconfig.Load(path, claudeconfig.ClaudeDesktop)
//	for _, e := range f.Entries() {
//		if e.Skip == "" {
//			f.Wrap(e.Root, e.Name, claudeconfig.ProxySpec{Exe: exe, Home: home})
//		}
//	}
//	claudeconfig.Backup(path, backups, time.Now())
//	f.Save()
package claudeconfig

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/opena2a-org/aim-mcp/internal/atomicfile"
	"github.com/opena2a-org/aim-mcp/internal/jsonedit"
)

// Format describes where a client keeps its server map and how the file is
// written.
type Format struct {
	// Roots are key paths from the top-level object to objects that map
	// server names to entries. "*" stands for every member of an object,
	// as in Claude Code's {"projects", "*", "mcpServers"}. No roots means
	// {{"mcpServers"}}.
	Roots [][]string
	// JSONC allows comments and trailing commas (VS Code, Zed).
	JSONC bool
}

// ClaudeDesktop is the format of claude_desktop_config.json.
var ClaudeDesktop = Format{Roots: [][]string{{"mcpServers"}}}

// Entry is one server of the config, as aim-mcp sees it. Env values are
// deliberately absent: they are often secrets.
type Entry struct {
	Root     []string // concrete key path of the map holding the entry
	Name     string
	Command  string
	Args     []string
	EnvNames []string // sorted

	ExtensionID string
	URL         string // url, or Windsurf's serverUrl
	Type        string

	Wrapped  bool      // launched through aim-mcp proxy
	Proxy    ProxySpec // when Wrapped: what its arguments say
	Original []string  // the real command and arguments: after "--" when Wrapped; the URL of a rewritten remote entry
	Skip     string    // why aim-mcp must not wrap it; empty when it may

	// Remote is what a remote entry (url, serverUrl, or one aim-mcp
	// rewrote) says; nil for the others.
	Remote *Remote
	// MCPRemote is what a stdio entry that runs "npx mcp-remote URL" says,
	// for install --replace-mcp-remote; nil for the others.
	MCPRemote *Remote
}

// Reasons in Entry.Skip.
const (
	SkipExtension = "extension-managed (extensionId)"
	SkipRemote    = "remote server (url)"
	SkipNoCommand = "no command"
	// SkipProxyURL is an "aim-mcp proxy --url" entry written by hand: the
	// remote server already runs behind aim-mcp, and there is no command
	// after "--" to give back.
	SkipProxyURL = "remote server, already behind aim-mcp proxy --url"
)

// ParseError reports a config that aim-mcp will not touch: invalid JSON, or
// valid JSON of an unexpected shape. Line and Col (1-based) locate the
// problem. For invalid JSON, Err is the *jsonedit.SyntaxError.
type ParseError struct {
	Path      string
	Line, Col int
	Msg       string
	Err       error
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("parse %q: line %d, column %d: %s", e.Path, e.Line, e.Col, e.Msg)
}

func (e *ParseError) Unwrap() error { return e.Err }

// File is a parsed config file. Its methods edit the bytes in memory; Save
// writes them.
type File struct {
	Path string

	format  Format
	src     []byte // current bytes, before the pending edits
	loaded  digest // of the bytes as read or last saved, once src is not them
	same    bool   // src is still the bytes as read or last saved
	owned   bool   // src was read by Load, which leaves room to edit it in place
	entries []entry
	index   map[string]int // entryKey → index in entries
	newline string

	pending []jsonedit.Edit // queued by Wrap and Unwrap, against src
	edited  map[int]bool    // entries with pending edits
	err     error           // edits that failed to apply: a bug, reported by Save
}

// entry is an Entry plus where it sits in src.
type entry struct {
	Entry
	obj      *jsonedit.Value  // the entry object
	command  *jsonedit.Member // nil when absent
	args     *jsonedit.Member // nil when absent
	keyStart int              // where the entry's name starts
	sep      int              // when Wrapped: index of the "--" in Args
	remote   *remoteRaw       // what rewriting Remote or MCPRemote needs
}

// Limits on what aim-mcp edits. Editing costs twice the file in memory, so
// a bigger file is refused before it is read rather than risk the system
// killing the process; no client writes anything near either.
const (
	MaxFileSize = 256 << 20 // bytes of a config file
	MaxEntries  = 20000     // server entries in one file
)

// LimitError is a config beyond MaxFileSize or MaxEntries.
type LimitError struct {
	Path       string
	What       string // "bytes" or "servers"
	Has, Limit int64
}

func (e *LimitError) Error() string {
	if e.What == "bytes" {
		return fmt.Sprintf("%q is %d MiB; aim-mcp edits configs of at most %d MiB", e.Path, (e.Has+1<<20-1)>>20, e.Limit>>20)
	}
	return fmt.Sprintf("%q has %d %s; aim-mcp edits configs of at most %d %s", e.Path, e.Has, e.What, e.Limit, e.What)
}

// Load reads and parses the config at path. A missing file is an error that
// wraps fs.ErrNotExist.
func Load(path string, f Format) (*File, error) {
	if st, err := os.Stat(path); err == nil && st.Size() > MaxFileSize {
		return nil, &LimitError{Path: path, What: "bytes", Has: st.Size(), Limit: MaxFileSize}
	}
	data, err := readRoomy(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	cf, err := Parse(path, data, f)
	if err != nil {
		return nil, err
	}
	cf.owned = true
	return cf, nil
}

// Parse parses data as the config at path. It checks every entry's command,
// args and env, so that a later Wrap cannot meet a shape it does not
// understand. The File keeps data: the caller must not change it.
func Parse(path string, data []byte, f Format) (*File, error) {
	if len(f.Roots) == 0 {
		f.Roots = ClaudeDesktop.Roots
	}
	if len(data) > MaxFileSize {
		return nil, &LimitError{Path: path, What: "bytes", Has: int64(len(data)), Limit: MaxFileSize}
	}
	cf := &File{Path: path, format: f, newline: "\n"}
	if i := bytes.IndexByte(data, '\n'); i > 0 && data[i-1] == '\r' {
		cf.newline = "\r\n"
	}
	if err := cf.reparse(data); err != nil {
		return nil, err
	}
	cf.same = true
	return cf, nil
}

// Replace makes data the file's new contents, as if it had been edited in
// place: Changed still compares with what was loaded, and Save writes data.
// Uninstall uses it to put a backup back.
func (f *File) Replace(data []byte) error {
	g, err := Parse(f.Path, data, f.format)
	if err != nil {
		return err
	}
	loaded := f.loadedDigest()
	*f = *g
	f.loaded, f.same = loaded, false
	return nil
}

// reparse replaces the file's bytes and rebuilds the tree and entries.
func (f *File) reparse(src []byte) error {
	root, err := jsonedit.Parse(src, jsonedit.Options{JSONC: f.format.JSONC, Keep: f.format.Roots})
	if err != nil {
		var se *jsonedit.SyntaxError
		if errors.As(err, &se) {
			return &ParseError{Path: f.Path, Line: se.Line, Col: se.Col, Msg: se.Msg, Err: err}
		}
		return fmt.Errorf("parse %q: %w", f.Path, err)
	}
	f.src, f.entries, f.pending, f.edited = src, nil, nil, nil
	if root.Kind != jsonedit.Object {
		return f.shapeError(root, nil, "the top level is %s, want an object", article(root.Kind))
	}
	for _, r := range f.format.Roots {
		if err := f.collect(root, nil, r); err != nil {
			return err
		}
	}
	if len(f.entries) > MaxEntries {
		return &LimitError{Path: f.Path, What: "servers", Has: int64(len(f.entries)), Limit: MaxEntries}
	}
	slices.SortStableFunc(f.entries, func(a, b entry) int { return a.obj.Start - b.obj.Start })
	f.index = make(map[string]int, len(f.entries))
	for i, e := range f.entries {
		f.index[entryKey(e.Root, e.Name)] = i
	}
	return nil
}

// entryKey identifies the entry root/name: JSON strings cannot hold a NUL
// unescaped, but keys can, so each part is quoted.
func entryKey(root []string, name string) string {
	var buf [128]byte // one allocation, the string, for most keys
	b := buf[:0]
	for _, k := range root {
		b = strconv.AppendQuote(b, k)
	}
	return string(strconv.AppendQuote(b, name))
}

// collect walks the rest of a root path from v (at concrete path at) and
// adds the entries of every server map it reaches.
func (f *File) collect(v *jsonedit.Value, at, rest []string) error {
	if len(rest) == 0 {
		f.entries = slices.Grow(f.entries, len(v.Members))
		for _, m := range v.Members {
			e, err := f.entry(at, m)
			if err != nil {
				return err
			}
			f.entries = append(f.entries, e)
		}
		return nil
	}
	var next []jsonedit.Member
	if rest[0] == "*" {
		next = v.Members
	} else if m := v.Lookup(rest[0]); m != nil {
		next = []jsonedit.Member{*m}
	}
	for _, m := range next {
		path := append(slices.Clip(at), m.Key)
		if m.Value.Kind != jsonedit.Object {
			return f.shapeError(m.Value, path, "%s, want an object", article(m.Value.Kind))
		}
		if err := f.collect(m.Value, path, rest[1:]); err != nil {
			return err
		}
	}
	return nil
}

// entry checks and describes one server entry.
func (f *File) entry(root []string, m jsonedit.Member) (entry, error) {
	// Where a shape error is: built only for the error, not per entry.
	where := func(keys ...string) []string { return append(append(slices.Clip(root), m.Key), keys...) }
	v := m.Value
	if v.Kind != jsonedit.Object {
		return entry{}, f.shapeError(v, where(), "%s, want an object", article(v.Kind))
	}
	e := entry{Entry: Entry{Root: root, Name: m.Key}, obj: v, keyStart: m.KeyStart}
	if c := v.Lookup("command"); c != nil {
		if c.Value.Kind != jsonedit.String {
			return entry{}, f.shapeError(c.Value, where("command"), "%s, want a string", article(c.Value.Kind))
		}
		e.command, e.Command = c, c.Value.Str
	}
	if a := v.Lookup("args"); a != nil {
		args, ok := a.Value.Strings()
		if !ok {
			return entry{}, f.shapeError(a.Value, where("args"), "want an array of strings")
		}
		e.args, e.Args = a, args
	}
	if env := v.Lookup("env"); env != nil {
		if env.Value.Kind != jsonedit.Object {
			return entry{}, f.shapeError(env.Value, where("env"), "%s, want an object of strings", article(env.Value.Kind))
		}
		for _, kv := range env.Value.Members {
			if kv.Value.Kind != jsonedit.String {
				return entry{}, f.shapeError(kv.Value, where("env", kv.Key), "%s, want a string", article(kv.Value.Kind))
			}
			e.EnvNames = append(e.EnvNames, kv.Key)
		}
		slices.Sort(e.EnvNames)
	}
	// Keys aim-mcp only reads: a value of another type is not ours to judge.
	hasExt := optString(v, "extensionId", &e.ExtensionID)
	hasURL := optString(v, "url", &e.URL)
	if !hasURL { // Windsurf names a remote server's address serverUrl
		hasURL = optString(v, "serverUrl", &e.URL)
	}
	optString(v, "type", &e.Type)

	wrapped := isProxy(e.Command) && len(e.Args) > 0 && e.Args[0] == "proxy"
	if e.Command != "" && !wrapped {
		e.Original = append([]string{e.Command}, e.Args...)
	}
	if wrapped {
		e.Wrapped = true
		e.Proxy, e.sep = parseProxyArgs(e.Command, e.Args)
		e.Original = nil
		if e.sep < len(e.Args) {
			e.Original = slices.Clone(e.Args[e.sep+1:])
		}
		if e.Original == nil && proxiesURL(e.Args[1:e.sep]) {
			if e.Proxy.Entry != "" && e.Proxy.URL != "" {
				// A remote entry install rewrote: its original is kept
				// under the id.
				e.Original = []string{e.Proxy.URL}
				e.Remote = &Remote{URL: e.Proxy.URL, Transport: e.Proxy.Transport, HeaderNames: headerEnvNames(e.Args)}
				return e, nil
			}
			e.Wrapped, e.Skip = false, SkipProxyURL
			return e, nil
		}
	}
	if len(e.Original) > 0 {
		e.MCPRemote, e.remote = parseMCPRemote(e.Original, e.EnvNames)
	}
	switch {
	case hasExt:
		e.Skip = SkipExtension
	case hasURL || isRemoteType(e.Type):
		e.Skip = SkipRemote
		e.MCPRemote = nil
		e.Remote, e.remote = f.remoteOf(v, e.Type)
	case e.Command == "":
		e.Skip = SkipNoCommand
	}
	return e, nil
}

// optString stores the value of obj[key] in dst when it is a string, and
// reports whether the key is present at all.
func optString(obj *jsonedit.Value, key string, dst *string) bool {
	m := obj.Lookup(key)
	if m == nil {
		return false
	}
	*dst = m.Value.Str // empty unless a string
	return true
}

func isRemoteType(t string) bool {
	switch strings.ToLower(t) {
	case "http", "sse", "streamablehttp", "streamable-http":
		return true
	}
	return false
}

func (f *File) shapeError(v *jsonedit.Value, where []string, format string, args ...any) error {
	line, col := jsonedit.Position(f.src, v.Start)
	msg := fmt.Sprintf(format, args...)
	if len(where) > 0 {
		msg = keyPath(where) + ": " + msg
	}
	return &ParseError{Path: f.Path, Line: line, Col: col, Msg: msg}
}

// keyPath renders a key path for messages: mcpServers."my server".args.
func keyPath(keys []string) string {
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k
		if k == "" || strings.ContainsFunc(k, func(r rune) bool {
			return !(r == '_' || r == '-' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9')
		}) {
			parts[i] = strconv.Quote(k)
		}
	}
	return strings.Join(parts, ".")
}

func article(k jsonedit.Kind) string {
	switch k {
	case jsonedit.Array, jsonedit.Object:
		return "an " + k.String()
	case jsonedit.Null:
		return "null"
	}
	return "a " + k.String()
}

// Entries returns the server entries in file order.
func (f *File) Entries() []Entry {
	f.flush()
	out := make([]Entry, 0, len(f.entries))
	f.EachEntry(func(e Entry) { out = append(out, e) })
	return out
}

// EntryCount is how many server entries the file has.
func (f *File) EntryCount() int {
	f.flush()
	return len(f.entries)
}

// EachEntry calls fn with each server entry in file order, each the
// caller's as Entries returns it, without making the list: a caller that
// keeps the entries in structs of its own (ten thousand of them for
// "aim-mcp list") copies each once.
func (f *File) EachEntry(fn func(Entry)) {
	f.flush()
	// The copies of the entries' lists share one array, each capped at its
	// length so that appending to one cannot overwrite the next: ten
	// thousand entries cost one allocation, not forty thousand.
	n := 0
	for _, e := range f.entries {
		n += len(e.Root) + len(e.Args) + len(e.EnvNames) + len(e.Original)
	}
	all := make([]string, 0, n)
	clone := func(s []string) []string {
		if s == nil {
			return nil
		}
		start := len(all)
		all = append(all, s...)
		return all[start:len(all):len(all)]
	}
	for _, e := range f.entries {
		c := e.Entry
		c.Root = clone(e.Root)
		c.Args = clone(e.Args)
		c.EnvNames = clone(e.EnvNames)
		c.Original = clone(e.Original)
		c.Remote, c.MCPRemote = e.Remote.clone(), e.MCPRemote.clone()
		fn(c)
	}
}

// Bytes returns the file's current contents. The slice is the File's own,
// valid until its next edit: read it, never change it.
func (f *File) Bytes() []byte {
	f.flush()
	return f.src
}

// Changed reports whether the contents differ from what was loaded or last
// saved.
func (f *File) Changed() bool {
	f.flush()
	if f.err != nil {
		return true
	}
	return !f.same && (len(f.src) != f.loaded.n || sha256.Sum256(f.src) != f.loaded.sum)
}

// OnDisk reports whether the file at f.Path still holds what was loaded or
// last saved, reading it a block at a time rather than whole.
func (f *File) OnDisk() (bool, error) {
	r, err := os.Open(f.Path)
	if err != nil {
		return false, fmt.Errorf("read config: %w", err)
	}
	defer r.Close()
	want := f.loadedDigest()
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(r, int64(want.n)+1))
	if err != nil {
		return false, fmt.Errorf("read config: %w", err)
	}
	return n == int64(want.n) && [sha256.Size]byte(h.Sum(nil)) == want.sum, nil
}

// Save writes the contents atomically to f.Path, keeping the file's mode
// (0600, as Claude writes it, for a new file).
func (f *File) Save() error {
	f.flush()
	if f.err != nil {
		return f.err
	}
	if err := atomicfile.WriteFile(f.Path, f.src, 0o600); err != nil {
		return fmt.Errorf("save config: %w", err)
	}
	f.same = true
	return nil
}

func (f *File) find(root []string, name string) (int, error) {
	if i, ok := f.index[entryKey(root, name)]; ok {
		return i, nil
	}
	return 0, fmt.Errorf("no server %s in %q", keyPath(append(slices.Clip(root), name)), f.Path)
}

// queue adds the edits of entry i, each within the entry's object, after
// checking that they leave the object an object.
func (f *File) queue(i int, edits []jsonedit.Edit) error {
	obj := f.entries[i].obj
	local := make([]jsonedit.Edit, len(edits))
	for k, e := range edits {
		local[k] = jsonedit.Edit{Start: e.Start - obj.Start, End: e.End - obj.Start, Text: e.Text}
	}
	out, err := jsonedit.Apply(f.src[obj.Start:obj.End], local)
	if err != nil {
		return err
	}
	v, err := jsonedit.Parse(out, jsonedit.Options{JSONC: f.format.JSONC})
	if err != nil || v.Kind != jsonedit.Object {
		// Our own edit produced something we cannot read: a bug, never a
		// file to save.
		return fmt.Errorf("internal error: edited entry does not parse: %v", err)
	}
	if f.edited == nil {
		f.edited = map[int]bool{}
	}
	f.pending = append(f.pending, edits...)
	f.edited[i] = true
	return nil
}

// flush applies the pending edits in one pass and parses the result once.
// Each edit was checked on its entry's bytes, and replacing an object by an
// object keeps the document valid, so the parse cannot fail; if it ever
// does, that is a bug: Save reports it. A file Load read is edited in
// place when the room it left is enough (editInPlace): the edited copy of
// a file of tens of megabytes would double what install holds.
func (f *File) flush() {
	if len(f.pending) == 0 {
		return
	}
	if f.same {
		f.loaded, f.same = f.loadedDigest(), false
	}
	old := f.src
	src, inPlace, err := []byte(nil), false, error(nil)
	if f.owned {
		src, inPlace, err = editInPlace(old, f.pending)
	}
	if err == nil && !inPlace {
		src, err = jsonedit.Apply(old, f.pending)
	}
	if err == nil {
		err = f.reparse(src)
	}
	if err != nil {
		if !inPlace {
			f.reparse(old) // parsed before
		}
		f.pending = nil
		f.err = fmt.Errorf("internal error: edited config does not parse: %w", err)
	}
}
