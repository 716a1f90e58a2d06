package claudeconfig

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/opena2a-org/aim-mcp/internal/jsonedit"
	"github.com/opena2a-org/aim-mcp/internal/remoteurl"
)

// Remote is what a remote server's entry says: where the server is, how to
// reach it, and the OAuth client it names. Header values and a client
// secret are absent, as env values are: they are often secrets.
type Remote struct {
	URLKey      string // "url", or Windsurf's "serverUrl"; empty for npx mcp-remote
	URL         string
	Transport   string   // "http", "sse" or "auto"
	HeaderNames []string // in the entry's order
	OAuth       OAuth
	// Problem says why the entry cannot be rewritten honestly; empty when
	// it can.
	Problem string
}

// OAuth is the OAuth client a remote entry names, as proxy flags take it.
type OAuth struct {
	ClientID     string // --oauth-client-id
	Scopes       string // --oauth-scopes, space-separated
	CallbackPort string // --oauth-callback-port
	MetadataURL  string // --oauth-as-metadata
	ClientSecret bool   // one is given: it goes to env, never argv
}

func (r *Remote) clone() *Remote {
	if r == nil {
		return nil
	}
	c := *r
	c.HeaderNames = slices.Clone(r.HeaderNames)
	return &c
}

// RemoteStyle says how a client reads remote entries from its file.
type RemoteStyle struct {
	// URLKey is the key it reads a server's URL from: "url", or
	// Windsurf's "serverUrl". An entry with the other key does not
	// connect in that client, so it is not made to.
	URLKey string
	// HTTPFallback: "type": "http" falls back to the legacy SSE transport
	// when the server does not speak streamable HTTP (VS Code), which
	// --transport auto does too.
	HTTPFallback bool
}

// Names in a rewritten entry's env.
const (
	// HeaderEnvPrefix and a number (1, 2, ...) name the variable that holds
	// the value of one of the entry's headers.
	HeaderEnvPrefix = "AIM_MCP_HEADER_"
	// ClientSecretEnv holds the OAuth client secret the entry named.
	ClientSecretEnv = "AIM_MCP_OAUTH_CLIENT_SECRET"
)

// remoteRaw is what a rewrite moves from the old entry to the new one.
type remoteRaw struct {
	headers []rawHeader
	secret  []byte // the client secret: raw JSON, or quoted from an argument
}

// rawHeader is one header: its value as raw JSON, or the name of the
// entry's env variable that already holds it (npx mcp-remote's
// --header "Name:${VAR}").
type rawHeader struct {
	name   string
	value  []byte
	envVar string
}

// RemoteSkip says why the entry, which a client with style st reads, is not
// rewritten; "" when it may be. st is nil for a client that loads no remote
// entries from its file (Claude Desktop).
func (e Entry) RemoteSkip(st *RemoteStyle) string {
	switch {
	case e.Remote == nil:
		return SkipRemote
	case st == nil:
		return SkipRemote
	case e.Remote.URLKey != "" && e.Remote.URLKey != st.URLKey:
		return fmt.Sprintf("remote server (%s), which this client does not read: it reads %s", e.Remote.URLKey, st.URLKey)
	case e.Remote.Problem != "":
		return "remote server: " + e.Remote.Problem
	}
	return ""
}

// TransportFor is the --transport of a rewritten entry.
func (r *Remote) TransportFor(st RemoteStyle) string {
	if r.Transport == "http" && st.HTTPFallback {
		return "auto"
	}
	return r.Transport
}

// remoteOf reads a remote entry.
func (f *File) remoteOf(obj *jsonedit.Value, typ string) (*Remote, *remoteRaw) {
	r, raw := &Remote{}, &remoteRaw{}
	problem := func(format string, args ...any) {
		if r.Problem == "" {
			r.Problem = fmt.Sprintf(format, args...)
		}
	}
	switch strings.ToLower(typ) {
	case "http", "streamablehttp", "streamable-http":
		r.Transport = "http"
	case "sse":
		r.Transport = "sse"
	case "":
		r.Transport = "auto"
	default:
		problem("type %q with a url", typ)
	}
	for _, m := range obj.Members {
		switch m.Key {
		case "url", "serverUrl":
			if r.URLKey != "" {
				problem("both url and serverUrl")
				continue
			}
			r.URLKey = m.Key
			if m.Value.Kind != jsonedit.String {
				problem("%s is %s, want a string", m.Key, article(m.Value.Kind))
				continue
			}
			r.URL = m.Value.Str
		case "command", "args":
			problem("both a url and a %s", m.Key)
		case "headers":
			if m.Value.Kind != jsonedit.Object {
				problem("headers is %s, want an object", article(m.Value.Kind))
				continue
			}
			for _, h := range m.Value.Members {
				switch {
				case h.Value.Kind != jsonedit.String:
					problem("header %q is %s, want a string", h.Key, article(h.Value.Kind))
				case !remoteurl.HeaderName(h.Key):
					problem("%q is not a valid header name", h.Key)
				}
				r.HeaderNames = append(r.HeaderNames, h.Key)
				raw.headers = append(raw.headers, rawHeader{name: h.Key, value: f.raw(h.Value)})
			}
		case "headersHelper":
			problem("headersHelper (a command that makes the headers at each connection) is not supported")
		case "oauth": // Claude Code, VS Code
			f.oauthOf(m, r, raw, problem, map[string]string{"clientId": "id", "clientSecret": "secret",
				"scopes": "scopes", "callbackPort": "port", "authServerMetadataUrl": "metadata"})
		case "auth": // Cursor
			f.oauthOf(m, r, raw, problem, map[string]string{"CLIENT_ID": "id", "CLIENT_SECRET": "secret", "scopes": "scopes"})
		case "env":
			if env := m.Value; env.Kind == jsonedit.Object {
				for _, kv := range env.Members {
					if strings.HasPrefix(kv.Key, HeaderEnvPrefix) || kv.Key == ClientSecretEnv {
						problem("its env already has %s, which aim-mcp would use", kv.Key)
					}
				}
			}
		}
	}
	if r.URLKey == "" {
		problem("no url")
	} else if p := urlProblem(r.URL); p != "" {
		problem("%s", p)
	}
	return r, raw
}

// oauthOf reads an entry's OAuth client: keys maps each key the client
// writes to what it is.
func (f *File) oauthOf(m jsonedit.Member, r *Remote, raw *remoteRaw, problem func(string, ...any), keys map[string]string) {
	if m.Value.Kind != jsonedit.Object {
		problem("%s is %s, want an object", m.Key, article(m.Value.Kind))
		return
	}
	for _, kv := range m.Value.Members {
		v := kv.Value
		str := v.Kind == jsonedit.String
		switch keys[kv.Key] {
		case "id":
			r.OAuth.ClientID = v.Str
		case "secret":
			r.OAuth.ClientSecret, raw.secret = true, f.raw(v)
		case "metadata":
			r.OAuth.MetadataURL = v.Str
		case "port":
			if v.Kind == jsonedit.Number {
				r.OAuth.CallbackPort, str = string(f.raw(v)), true
			} else {
				r.OAuth.CallbackPort = v.Str
			}
			if strings.Trim(r.OAuth.CallbackPort, "0123456789") != "" || r.OAuth.CallbackPort == "" {
				problem("%s.%s is not a port number", m.Key, kv.Key)
			}
		case "scopes":
			if s, ok := v.Strings(); ok {
				r.OAuth.Scopes, str = strings.Join(s, " "), true
			} else {
				r.OAuth.Scopes = v.Str
			}
		default:
			problem("%s.%s has no aim-mcp equivalent", m.Key, kv.Key)
			continue
		}
		if !str {
			problem("%s.%s is %s, want a string", m.Key, kv.Key, article(v.Kind))
		}
	}
}

// urlProblem says why aim-mcp must not talk to a remote server at raw; ""
// when it may. A tool's arguments and a token must not cross a network in
// the clear, and argv is readable by every local user.
func urlProblem(raw string) string {
	lower := strings.ToLower(raw)
	switch {
	case strings.HasPrefix(lower, "unix:") || strings.HasPrefix(lower, "pipe:"):
		return "a local socket (unix: or pipe: URL) is not supported"
	case strings.Contains(raw, "${"):
		// The client fills the variables in; only the scheme can be
		// checked now.
		if !strings.HasPrefix(lower, "https://") {
			return "a URL made with variables must start with https://"
		}
		return ""
	}
	switch _, problem := remoteurl.Check(raw); problem {
	case remoteurl.NotHTTP:
		return "the url is not an http(s) URL"
	case remoteurl.Credentials:
		return "the url holds credentials; put them in a header instead"
	case remoteurl.PlainHTTP:
		return "plain http to another machine; use https (plain http is for localhost only)"
	}
	return ""
}

// SameProxy reports whether two specs launch the same aim-mcp for the same
// server: a wrapped entry with a in it needs no change to say b.
func SameProxy(a, b ProxySpec) bool { return sameSpec(a, b) }

// WrapRemote rewrites the remote entry root/name into a stdio entry that
// runs "aim-mcp proxy ... --url URL" (see [File.RewriteRemote]).
func (f *File) WrapRemote(root []string, name string, p ProxySpec, st RemoteStyle) (orig, wrapped []byte, err error) {
	return f.rewrite(root, name, p, st, false)
}

// ReplaceMCPRemote rewrites the stdio entry root/name that runs "npx
// mcp-remote URL ..." (wrapped or not) into one that runs "aim-mcp proxy
// ... --url URL": aim-mcp becomes the server's client.
func (f *File) ReplaceMCPRemote(root []string, name string, p ProxySpec) (orig, wrapped []byte, err error) {
	return f.rewrite(root, name, p, RemoteStyle{}, true)
}

// rewrite replaces the entry's whole value, which it returns as it was and
// as it becomes. The new entry keeps the old one's members in their order
// and layout, except that the url (or command) becomes "command" and
// "args", "type" says "stdio", header values and a client secret move to
// "env", and headers, oauth and auth go. The caller keeps orig: it is the
// only way back, byte for byte.
func (f *File) rewrite(root []string, name string, p ProxySpec, st RemoteStyle, mcpRemote bool) (orig, wrapped []byte, err error) {
	if !isProxy(p.Exe) {
		return nil, nil, fmt.Errorf("wrap: %q is not an aim-mcp executable", p.Exe)
	}
	where := keyPath(append(slices.Clip(root), name))
	i, err := f.find(root, name)
	if err != nil {
		return nil, nil, fmt.Errorf("wrap: %w", err)
	}
	if f.edited[i] {
		f.flush()
	}
	if mcpRemote && f.entries[i].Wrapped {
		// Its original is the unwrapped entry.
		if _, err := f.Unwrap(root, name); err != nil {
			return nil, nil, err
		}
		f.flush()
		if i, err = f.find(root, name); err != nil {
			return nil, nil, fmt.Errorf("wrap: %w", err)
		}
	}
	e := &f.entries[i]
	r := e.Remote
	if mcpRemote {
		r = e.MCPRemote
	}
	switch {
	case p.Entry == "":
		return nil, nil, fmt.Errorf("wrap %s: no entry id", where)
	case r == nil || e.remote == nil || (!mcpRemote && e.Skip != SkipRemote):
		return nil, nil, fmt.Errorf("wrap %s: not a remote server", where)
	case r.Problem != "":
		return nil, nil, fmt.Errorf("wrap %s: %s", where, r.Problem)
	case !mcpRemote && r.URLKey != st.URLKey:
		return nil, nil, fmt.Errorf("wrap %s: the client reads %s, not %s", where, st.URLKey, r.URLKey)
	}
	if p.Server == "" {
		p.Server = name
	}
	var args [][]byte
	add := func(flag, val string) { args = append(args, jsonedit.Quote(flag), jsonedit.Quote(val)) }
	args = append(args, jsonedit.Quote("proxy"))
	if p.Client != "" && p.Client != DefaultClient {
		add("--client", p.Client)
	}
	add("--server", p.Server)
	if p.Home != "" {
		add("--home", p.Home)
	}
	add("--url", r.URL)
	add("--transport", r.TransportFor(st))
	var env [][2][]byte
	n := 0
	for _, h := range e.remote.headers {
		v := h.envVar
		if v == "" {
			n++
			v = fmt.Sprintf("%s%d", HeaderEnvPrefix, n)
			env = append(env, [2][]byte{jsonedit.Quote(v), h.value})
		}
		add("--header-env", h.name+"="+v)
	}
	if o := r.OAuth; o != (OAuth{}) {
		for _, fl := range [][2]string{{"--oauth-client-id", o.ClientID}, {"--oauth-scopes", o.Scopes},
			{"--oauth-callback-port", o.CallbackPort}, {"--oauth-as-metadata", o.MetadataURL}} {
			if fl[1] != "" {
				add(fl[0], fl[1])
			}
		}
		if o.ClientSecret {
			env = append(env, [2][]byte{jsonedit.Quote(ClientSecretEnv), e.remote.secret})
		}
	}
	add("--entry", p.Entry)

	orig = bytes.Clone(f.raw(e.obj))
	wrapped = f.renderRewritten(e, p.Exe, args, env, mcpRemote)
	if err := f.queue(i, []jsonedit.Edit{{Start: e.obj.Start, End: e.obj.End, Text: wrapped}}); err != nil {
		return nil, nil, fmt.Errorf("wrap %s: %w", where, err)
	}
	return orig, wrapped, nil
}

// EntryValue returns the bytes of the entry root/name's value as they are
// now.
func (f *File) EntryValue(root []string, name string) ([]byte, error) {
	f.flush()
	i, err := f.find(root, name)
	if err != nil {
		return nil, err
	}
	return bytes.Clone(f.raw(f.entries[i].obj)), nil
}

// SetEntry replaces the value of the entry root/name with raw, which must
// be an object: uninstall puts a rewritten entry's original back with it.
func (f *File) SetEntry(root []string, name string, raw []byte) error {
	i, err := f.find(root, name)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if f.edited[i] {
		f.flush()
	}
	obj := f.entries[i].obj
	if err := f.queue(i, []jsonedit.Edit{{Start: obj.Start, End: obj.End, Text: raw}}); err != nil {
		return fmt.Errorf("restore %s: %w", keyPath(append(slices.Clip(root), name)), err)
	}
	return nil
}

// headerEnvNames are the header names of the --header-env flags in a
// proxy's arguments.
func headerEnvNames(args []string) []string {
	var names []string
	for i := 1; i+1 < len(args); i++ {
		if args[i] == "--header-env" {
			name, _, _ := strings.Cut(args[i+1], "=")
			names = append(names, name)
			i++
		}
	}
	return names
}
