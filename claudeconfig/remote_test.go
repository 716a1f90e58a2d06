package claudeconfig

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestURLProblem(t *testing.T) {
	tests := []struct {
		url, want string // want: a part of the problem, "" for none
	}{
		{"https://mcp.example.com/mcp", ""},
		{"http://localhost:3001/mcp", ""},
		{"http://127.0.0.1:3001/mcp", ""},
		{"http://[::1]:3001/mcp", ""},
		{"https://${env:HOST}/mcp", ""},
		{"http://${HOST}/mcp", "must start with https://"},
		{"http://mcp.example.com/mcp", "plain http to another machine"},
		{"http://10.0.0.5/mcp", "plain http to another machine"},
		{"https://user:pw@mcp.example.com/mcp", "holds credentials"},
		{"unix:///run/mcp.sock", "local socket"},
		{"pipe:///mcp", "local socket"},
		{"ftp://mcp.example.com", "not an http(s) URL"},
		{"mcp.example.com/mcp", "not an http(s) URL"},
		{"", "not an http(s) URL"},
	}
	for _, tt := range tests {
		got := urlProblem(tt.url)
		if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
			t.Errorf("urlProblem(%q) = %q, want %q", tt.url, got, tt.want)
		}
		if strings.Contains(got, "pw") {
			t.Errorf("urlProblem(%q) = %q: names the credentials", tt.url, got)
		}
	}
}

// TestRewriteRoundTrip rewrites each remote entry of a file and puts the
// originals back: the file comes back byte for byte, comments and all.
func TestRewriteRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		f    Format
		st   RemoteStyle
		src  string
		want []string // in the rewritten file
		not  []string // nowhere in its args
	}{{
		name: "claude code",
		st:   RemoteStyle{URLKey: "url"},
		src: `{"mcpServers": {"a": {
  "type": "http", "url": "https://a.example/mcp",
  "headers": {"X-Key": "k-\u0031", "Authorization": "Bearer ${TOKEN}"},
  "oauth": {"clientId": "cid", "clientSecret": "cs-9", "scopes": ["x", "y"], "callbackPort": 9000}
}}}`,
		want: []string{"\n  \"type\": \"stdio\",\n  \"command\"", "\"args\": [\n    \"proxy\",\n    \"--client\"",
			`"--transport",` + "\n    " + `"http"`, "\n  ],\n  \"env\": {\n    \"AIM_MCP_HEADER_1\": \"k-\\u0031\",\n",
			`"AIM_MCP_HEADER_2": "Bearer ${TOKEN}"`, `"x y"`, `"9000"`, `"AIM_MCP_OAUTH_CLIENT_SECRET": "cs-9"` + "\n  }\n}}}"},
		not: []string{"k-1", "Bearer", "cs-9"},
	}, {
		name: "vscode jsonc",
		f:    Format{Roots: [][]string{{"servers"}}, JSONC: true},
		st:   RemoteStyle{URLKey: "url", HTTPFallback: true},
		src: "{\r\n\t\"servers\": {\r\n\t\t\"g\": { // remote\r\n\t\t\t\"type\": \"http\",\r\n\t\t\t\"url\": \"https://g.example/\", /* ! */\r\n" +
			"\t\t\t\"headers\": {\"Authorization\": \"Bearer ${input:tok}\",},\r\n\t\t\t\"dev\": {\"watch\": \"x\"},\r\n\t\t},\r\n\t},\r\n}",
		want: []string{"\"--transport\",\r\n\t\t\t\t\"auto\"", "\"dev\": {\"watch\": \"x\"}", "\t\t\t\"env\": {\r\n\t\t\t\t\"AIM_MCP_HEADER_1\": \"Bearer ${input:tok}\"\r\n\t\t\t}"},
		not:  []string{"${input:tok}"},
	}, {
		name: "windsurf one line",
		st:   RemoteStyle{URLKey: "serverUrl"},
		src:  `{"mcpServers":{"w":{"serverUrl":"https://w.example/mcp","disabled":true}}}`,
		want: []string{`{"w":{"command":"/bin/aim-mcp","args":["proxy","--client","windsurf"`, `"disabled":true}`},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("cfg", []byte(tt.src), tt.f)
			if err != nil {
				t.Fatal(err)
			}
			origs := map[string][]byte{}
			for _, e := range f.Entries() {
				if why := e.RemoteSkip(&tt.st); why != "" {
					t.Fatalf("%s: %s", e.Name, why)
				}
				orig, wrapped, err := f.WrapRemote(e.Root, e.Name, ProxySpec{Exe: "/bin/aim-mcp", Client: "windsurf", Entry: "00ff"}, tt.st)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Contains(f.Bytes(), wrapped) {
					t.Errorf("the file does not hold what WrapRemote returned")
				}
				origs[e.Name] = orig
			}
			out := string(f.Bytes())
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("rewritten file lacks %q:\n%s", w, out)
				}
			}
			for _, e := range f.Entries() {
				if !e.Wrapped || e.Proxy.Entry != "00ff" || e.Remote == nil {
					t.Errorf("%s after rewrite: wrapped %v, proxy %+v", e.Name, e.Wrapped, e.Proxy)
				}
				for _, a := range e.Args {
					for _, n := range tt.not {
						if strings.Contains(a, n) {
							t.Errorf("%s: argument %q holds %q, which belongs in env", e.Name, a, n)
						}
					}
				}
				if err := f.SetEntry(e.Root, e.Name, origs[e.Name]); err != nil {
					t.Fatal(err)
				}
			}
			if got := string(f.Bytes()); got != tt.src {
				t.Errorf("after restoring the originals (-got +want):\n%s", cmp.Diff(got, tt.src))
			}
		})
	}
}

func TestRemoteSkip(t *testing.T) {
	src := `{"mcpServers": {
	"helper": {"type": "http", "url": "https://h.example", "headersHelper": "x"},
	"num": {"url": "https://n.example", "headers": {"X": 1}},
	"badname": {"url": "https://n.example", "headers": {"X Y": "v"}},
	"oauthx": {"url": "https://n.example", "auth": {"CLIENT_ID": "a", "EXTRA": "b"}},
	"envtaken": {"url": "https://n.example", "env": {"AIM_MCP_HEADER_1": "v"}},
	"ws": {"serverUrl": "https://w.example"},
	"weird": {"type": "websocket", "url": "https://n.example"},
	"ok": {"url": "https://ok.example"}
}}`
	f, err := Parse("cfg", []byte(src), ClaudeDesktop)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"helper":   "headersHelper",
		"num":      `header "X" is a number`,
		"badname":  `"X Y" is not a valid header name`,
		"oauthx":   "auth.EXTRA has no aim-mcp equivalent",
		"envtaken": "already has AIM_MCP_HEADER_1",
		"ws":       "(serverUrl), which this client does not read: it reads url",
		"weird":    `type "websocket"`,
		"ok":       "",
	}
	st := &RemoteStyle{URLKey: "url"}
	for _, e := range f.Entries() {
		got := e.RemoteSkip(st)
		if w := want[e.Name]; (w == "") != (got == "") || !strings.Contains(got, w) {
			t.Errorf("%s: RemoteSkip = %q, want %q", e.Name, got, w)
		}
		if got := e.RemoteSkip(nil); got != SkipRemote {
			t.Errorf("%s: RemoteSkip(nil) = %q, want %q: Claude Desktop loads no url entries", e.Name, got, SkipRemote)
		}
		if e.RemoteSkip(st) != "" {
			if _, _, err := f.WrapRemote(e.Root, e.Name, ProxySpec{Exe: "/bin/aim-mcp", Entry: "01"}, *st); err == nil {
				t.Errorf("%s: WrapRemote rewrote an entry it must skip", e.Name)
			}
		}
	}
}

func TestParseMCPRemote(t *testing.T) {
	tests := []struct {
		argv    string
		env     []string
		want    *Remote
		problem string
	}{
		{argv: "npx -y @modelcontextprotocol/server-memory"},
		{argv: "node mcp-remote https://x.example"},
		{argv: "npx -y mcp-remote https://x.example/sse", want: &Remote{URL: "https://x.example/sse", Transport: "auto"}},
		{argv: "npx.cmd mcp-remote@0.1.29 https://x.example --transport sse-only --header X-A:b 9696",
			want: &Remote{URL: "https://x.example", Transport: "sse", HeaderNames: []string{"X-A"}, OAuth: OAuth{CallbackPort: "9696"}}},
		{argv: "npx mcp-remote https://x.example --header Authorization:${AUTH}", env: []string{"AUTH"},
			want: &Remote{URL: "https://x.example", Transport: "auto", HeaderNames: []string{"Authorization"}}},
		{argv: "npx mcp-remote https://x.example --header Authorization:Bearer_${AUTH}", env: []string{"AUTH"}, problem: "variable inside a longer value"},
		{argv: "npx mcp-remote https://x.example --resource https://other.example", problem: "differs from the URL"},
		{argv: "npx mcp-remote https://x.example --static-oauth-client-info @/tmp/info.json", problem: "not inline JSON"},
		{argv: "npx mcp-remote https://x.example --auth-timeout 60", problem: `"--auth-timeout" has no aim-mcp equivalent`},
		{argv: "npx mcp-remote https://x.example --transport carrier-pigeon", problem: "unknown"},
		{argv: "npx mcp-remote http://x.example --allow-http", problem: "plain http"},
		{argv: "npx mcp-remote", problem: "no URL"},
	}
	for _, tt := range tests {
		got, raw := parseMCPRemote(strings.Fields(tt.argv), tt.env)
		if tt.problem != "" {
			if got == nil || !strings.Contains(got.Problem, tt.problem) {
				t.Errorf("parseMCPRemote(%q) = %+v, want the problem %q", tt.argv, got, tt.problem)
			}
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("parseMCPRemote(%q) (-want +got):\n%s", tt.argv, diff)
		}
		if got != nil && len(raw.headers) != len(got.HeaderNames) {
			t.Errorf("parseMCPRemote(%q): %d header values for %d names", tt.argv, len(raw.headers), len(got.HeaderNames))
		}
	}
}

func TestSavedEntry(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "entries")
	orig, wrapped := []byte("{\"url\": \"https://x\", \"k\": \"\xff\"}"), []byte(`{"command": "/bin/aim-mcp", "args": []}`)
	s := NewSavedEntry(orig, wrapped)
	s.ID, s.Name = NewEntryID(), "x"
	if err := s.Save(dir); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(dir); err == nil {
		t.Error("Save over an existing entry succeeded, want it refused")
	}
	got, err := LoadSaved(dir, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.OriginalBytes(), orig) {
		t.Errorf("OriginalBytes = %q, want %q (not UTF-8, kept exactly)", got.OriginalBytes(), orig)
	}
	if !got.Unchanged(wrapped) || !got.Unchanged([]byte("{\"args\":[],\n \"command\":\"/bin/aim-mcp\"}")) {
		t.Error("Unchanged: false for what install wrote, or the same JSON written another way")
	}
	if got.Unchanged([]byte(`{"command": "/bin/aim-mcp", "args": ["x"]}`)) {
		t.Error("Unchanged: true for an edited entry")
	}
	if fi, err := os.Stat(SavedPath(dir, s.ID)); err != nil {
		t.Fatal(err)
	} else if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		t.Errorf("saved entry has mode %v, want private", fi.Mode().Perm())
	}
	all, err := SavedEntries(dir)
	if err != nil || len(all) != 1 || all[0].ID != s.ID {
		t.Errorf("SavedEntries = %v, %v; want the one entry", all, err)
	}
	// An id comes from a config file: it never names a file elsewhere.
	for _, id := range []string{"../x", "/etc/passwd", "", "ABC"} {
		if _, err := LoadSaved(dir, id); err == nil || errors.Is(err, ErrNoSaved) {
			t.Errorf("LoadSaved(%q) = %v, want a bad id", id, err)
		}
	}
	if err := RemoveSaved(dir, s.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSaved(dir, s.ID); !errors.Is(err, ErrNoSaved) {
		t.Errorf("LoadSaved after RemoveSaved: %v, want ErrNoSaved", err)
	}
}
