package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/adrg/xdg"

	"github.com/opena2a-org/aim-mcp/identity"
	"github.com/opena2a-org/aim-mcp/internal/home"
	"github.com/opena2a-org/aim-mcp/internal/syncbuf"
	"github.com/opena2a-org/aim-mcp/registry"
	"github.com/opena2a-org/aim-mcp/registry/remote"
	"github.com/opena2a-org/aim-mcp/registry/remote/aimtest"
)

// remoteTools are the tools of the servers the proxy wraps in these tests.
var remoteTools = []string{
	`{"name":"echo","inputSchema":{"type":"object"},"annotations":{"readOnlyHint":true}}`,
	`{"name":"write_note","inputSchema":{"type":"object"}}`,
}

// remoteWorld is a user's machine with Claude Desktop's config, and an AIM.
type remoteWorld struct {
	t       *testing.T
	aim     *aimtest.Server
	home    string // AIM_MCP_HOME
	config  string // claude_desktop_config.json
	exe     string // aim-mcp, a link to the test binary
	outputs []string
}

func newRemoteWorld(t *testing.T) *remoteWorld {
	root := t.TempDir()
	writeTools(t, filepath.Join(root, "tools.json"), remoteTools...)
	t.Setenv("HOME", root)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(root, ".config"))
	t.Setenv("XDG_DATA_HOME", filepath.Join(root, ".local/share"))
	xdg.Reload()
	t.Cleanup(xdg.Reload)
	for _, k := range []string{"AIM_MCP_HOME", "AIM_PRIVATE_KEY", "AIM_URL", "AIM_API_KEY", "AIM_DEBUG", "AIM_TIMEOUT", "AIM_RETRY_ATTEMPTS", "AIM_MCP_CONFIG"} {
		t.Setenv(k, "")
	}
	// install writes its own path into the config, and must be called aim-mcp.
	test, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(root, "bin")
	os.MkdirAll(bin, 0o755)
	exe := filepath.Join(bin, "aim-mcp")
	if err := os.Symlink(test, exe); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	// The wrapped servers are this test binary; only the children act on it.
	t.Setenv(envFakeServer, filepath.Join(root, "tools.json"))

	testOnlyAIMBackoff = time.Millisecond
	testOnlyHostname = "laptop1.example.com"
	t.Cleanup(func() { testOnlyAIMBackoff, testOnlyHostname = 0, "" })

	w := &remoteWorld{t: t, home: filepath.Join(root, "aim-home"), config: filepath.Join(root, "claude_desktop_config.json"), exe: exe}
	w.aim = aimtest.New()
	t.Cleanup(func() {
		w.aim.Close()
		if n := w.aim.BadSignatures(); n != 0 {
			t.Errorf("AIM saw %d bad signatures", n)
		}
		w.noSecrets()
	})
	cfg := fmt.Sprintf(`{
  "mcpServers": {
    "notes": {"command": %q, "args": ["--notes"], "env": {"NOTES_TOKEN": "s3cr3t-value"}},
    "my files/Łódź": {"command": %q}
  },
  "globalShortcut": "Alt+Space"
}
`, test, test)
	if err := os.WriteFile(w.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return w
}

// aimMCP runs a command in-process and returns its exit code, stdout and
// stderr; every output is kept for the secret scan.
func (w *remoteWorld) aimMCP(stdin io.Reader, args ...string) (int, string, string) {
	w.t.Helper()
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	var out bytes.Buffer
	var errb syncbuf.Buffer
	code := run(context.Background(), args, env{stdin: stdin, stdout: &out, stderr: &errb})
	w.outputs = append(w.outputs, out.String(), errb.String())
	return code, out.String(), errb.String()
}

func (w *remoteWorld) install(extra ...string) (int, string, string) {
	return w.aimMCP(nil, append([]string{"install", "--config", w.config, "--home", w.home}, extra...)...)
}

// noSecrets checks every output for the API key, the private keys and the
// signatures AIM saw.
func (w *remoteWorld) noSecrets() {
	secrets := []string{w.aim.APIKey, "s3cr3t-value"}
	keys, _ := filepath.Glob(filepath.Join(home.Keys(w.home), "*.key"))
	for _, k := range keys {
		b, _ := os.ReadFile(k)
		secrets = append(secrets, strings.TrimSpace(string(b)))
	}
	for _, r := range w.aim.Requests() {
		if s := r.Header.Get("X-Signature"); s != "" {
			secrets = append(secrets, s)
		}
	}
	for _, out := range w.outputs {
		for _, s := range secrets {
			if s != "" && strings.Contains(out, s) {
				w.t.Errorf("a secret (%d chars) appears in the output:\n%s", len(s), out)
			}
		}
	}
}

// session is one proxy run, driven like a client.
type aimSession struct {
	t      *testing.T
	in     *io.PipeWriter
	lines  chan map[string]any
	done   chan int
	stderr *syncbuf.Buffer
}

// startSession runs the CLI with args (a proxy) in this process, on
// pipes: what it prints is read as JSON lines into the session's lines.
func startSession(t *testing.T, args []string) *aimSession {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	s := &aimSession{t: t, in: inW, lines: make(chan map[string]any, 64), done: make(chan int, 1), stderr: &syncbuf.Buffer{}}
	go func() {
		code := run(context.Background(), args, env{stdin: inR, stdout: outW, stderr: s.stderr})
		outW.Close()
		s.done <- code
	}()
	go func() {
		br := bufio.NewReader(outR)
		for {
			line, err := br.ReadBytes('\n')
			if len(line) > 0 {
				var m map[string]any
				if json.Unmarshal(line, &m) == nil {
					s.lines <- m
				}
			}
			if err != nil {
				close(s.lines)
				return
			}
		}
	}()
	return s
}

// proxy starts the proxy exactly as install wrote it into the config.
func (w *remoteWorld) proxy(server string) *aimSession {
	w.t.Helper()
	var cfg struct {
		MCPServers map[string]struct {
			Command string   `json:"command"`
			Args    []string `json:"args"`
		} `json:"mcpServers"`
	}
	b, _ := os.ReadFile(w.config)
	if err := json.Unmarshal(b, &cfg); err != nil {
		w.t.Fatal(err)
	}
	entry := cfg.MCPServers[server]
	if entry.Command != w.exe || len(entry.Args) == 0 || entry.Args[0] != "proxy" {
		w.t.Fatalf("%q is not wrapped: %+v", server, entry)
	}
	s := startSession(w.t, entry.Args)
	w.t.Cleanup(func() { w.outputs = append(w.outputs, s.stderr.String()) })
	s.send(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"test","version":"1"}}}`)
	s.wait(0)
	s.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	return s
}

func (s *aimSession) send(line string) {
	s.t.Helper()
	if _, err := io.WriteString(s.in, line+"\n"); err != nil {
		s.t.Fatal(err)
	}
}

// wait returns the answer to request id (a number).
func (s *aimSession) wait(id float64) map[string]any {
	s.t.Helper()
	return s.answer(id)
}

// waitID returns the answer to the request with a string id.
func (s *aimSession) waitID(id string) map[string]any {
	s.t.Helper()
	return s.answer(id)
}

// answer returns the answer whose id is id, as JSON decoded it.
func (s *aimSession) answer(id any) map[string]any {
	s.t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case m, ok := <-s.lines:
			if !ok {
				s.t.Fatalf("the proxy closed stdout before answering %v; stderr:\n%s", id, s.stderr.String())
			}
			if m["id"] == id {
				return m
			}
		case <-timeout:
			s.t.Fatalf("no answer to %v; stderr:\n%s", id, s.stderr.String())
		}
	}
}

// call sends a tools/call and returns the result's text and isError.
func (s *aimSession) call(id int, tool string) (string, bool) {
	s.t.Helper()
	s.send(fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":%q,"arguments":{"text":"hi"}}}`, id, tool))
	m := s.wait(float64(id))
	res, _ := m["result"].(map[string]any)
	content, _ := res["content"].([]any)
	if len(content) == 0 {
		s.t.Fatalf("answer to %d has no content: %v", id, m)
	}
	text, _ := content[0].(map[string]any)["text"].(string)
	isErr, _ := res["isError"].(bool)
	return text, isErr
}

func (s *aimSession) close() int {
	s.t.Helper()
	s.in.Close()
	select {
	case code := <-s.done:
		return code
	case <-time.After(20 * time.Second):
		s.t.Fatalf("the proxy did not exit; stderr:\n%s", s.stderr.String())
		return -1
	}
}

func openAIMHome(t *testing.T, dir string) *registry.DB {
	db, err := registry.Open(context.Background(), home.DB(dir), registry.Options{Keys: identity.Store{Dir: home.Keys(dir)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func fileMode(t *testing.T, path string) os.FileMode {
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

func TestRemoteInstallProxyVerifyRecord(t *testing.T) {
	w := newRemoteWorld(t)

	// install registers every server as an AIM agent of type mcp_server.
	code, out, errs := w.install("--aim-url", w.aim.URL, "--api-key", w.aim.APIKey)
	if code != 0 {
		t.Fatalf("install = %d\n%s%s", code, out, errs)
	}
	agents := w.aim.Agents()
	if len(agents) != 2 {
		t.Fatalf("AIM has %d agents, want 2: %+v", len(agents), agents)
	}
	for _, a := range agents {
		if a.Type != "mcp_server" || a.Status != "verified" || strings.Contains(a.Description, "--notes") {
			t.Errorf("agent %+v", a)
		}
		if !strings.Contains(errs, fmt.Sprintf("with AIM as agent %s", a.ID)) {
			t.Errorf("install did not say it registered %s:\n%s", a.ID, errs)
		}
		if m := fileMode(t, filepath.Join(home.Keys(w.home), remote.KeyName(a.ID)+".key")); m != 0o600 {
			t.Errorf("AIM key of %s has mode %04o", a.Name, m)
		}
	}
	if a, ok := w.aim.FindAgent("my-files-d@laptop1"); !ok || a.DisplayName != "my files/Łódź on laptop1" {
		t.Errorf("agent of \"my files/Łódź\" = %+v, %v", a, ok)
	}
	if m := fileMode(t, aimKeyFile(w.home)); m != 0o600 {
		t.Errorf("API key file mode %04o", m)
	}
	if b, _ := os.ReadFile(aimKeyFile(w.home)); strings.TrimSpace(string(b)) != w.aim.APIKey {
		t.Errorf("API key file does not hold the key")
	}

	// Idempotent: a second install (with the stored URL and key) creates nothing.
	code, _, errs = w.install()
	if code != 0 || len(w.aim.Agents()) != 2 || strings.Contains(errs, "with AIM as agent") {
		t.Fatalf("second install = %d, %d agents\n%s", code, len(w.aim.Agents()), errs)
	}

	// The local chain still verifies with the servers' own keys.
	db := openAIMHome(t, w.home)
	notes, err := db.Server(context.Background(), "claude-desktop", "notes")
	if err != nil || notes.RemoteID == "" {
		t.Fatalf("notes = %+v, %v; want linked to its agent", notes, err)
	}

	// An admin grants echo; write_note is not granted.
	w.aim.Grant(notes.RemoteID, "mcp_tool:echo")
	s := w.proxy("notes")
	s.send(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
	s.wait(1)
	if text, isErr := s.call(2, "echo"); isErr || text != "ran echo" {
		t.Errorf("echo (granted) = %q, isError %v", text, isErr)
	}
	text, isErr := s.call(3, "write_note")
	if !isErr || !strings.Contains(text, `AIM denied it: the capability "mcp_tool:write_note" is not granted (Capability violation blocked by security policy`) ||
		!strings.Contains(text, `or "mcp_tool:*" for every tool`) {
		t.Errorf("write_note (not granted) = %q, isError %v; want AIM's reason", text, isErr)
	}
	if code := s.close(); code != 0 {
		t.Errorf("proxy exit code %d; stderr:\n%s", code, s.stderr.String())
	}

	// Sent to AIM: a request for the capability that was missing, and no
	// outcome (log-action stores nothing, and aim_log_outcomes is off).
	if logged := w.aim.Logged(); len(logged) != 0 {
		t.Errorf("AIM was sent %d outcomes with aim_log_outcomes off", len(logged))
	}
	var asked []string
	for _, r := range w.aim.CapabilityRequests() {
		asked = append(asked, r.Capability)
	}
	if !slices.Equal(asked, []string{"mcp_tool:write_note"}) {
		t.Errorf("capability requests %v, want [mcp_tool:write_note]", asked)
	}
	// Recorded locally: signed, chained, intact.
	v, err := db.Verify(context.Background(), "")
	if err != nil || !v.OK() {
		t.Fatalf("audit verify = %+v, %v", v, err)
	}
	recs, err := db.Records(context.Background(), registry.Filter{ServerID: notes.ID})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, r := range recs {
		kinds = append(kinds, r.Kind+":"+r.Tool+":"+r.Decision)
	}
	for _, want := range []string{"call:echo:allow", "outcome:echo:success", "denied:write_note:deny"} {
		if !slices.Contains(kinds, want) {
			t.Errorf("records %v lack %s", kinds, want)
		}
	}

	// status reports the connection and the agent ids.
	code, out, _ = w.aimMCP(nil, "status", "--home", w.home)
	if code != 0 || !strings.Contains(out, "registry: remote AIM at "+w.aim.URL) || !strings.Contains(out, "answers") ||
		!strings.Contains(out, "API key:  accepted") || !strings.Contains(out, notes.RemoteID) || !strings.Contains(out, "0.91") {
		t.Errorf("status = %d:\n%s", code, out)
	}

	// trust shows AIM's score beside the local one.
	code, out, errs = w.aimMCP(nil, "trust", "notes", "--home", w.home)
	if code != 0 || !strings.Contains(out, "AIM trust: 0.91 (AIM agent "+notes.RemoteID+")") {
		t.Errorf("trust = %d:\n%s%s", code, out, errs)
	}
	// list shows the agent in AIM and AIM's score.
	code, out, errs = w.aimMCP(nil, "list", "--config", w.config, "--home", w.home)
	if code != 0 || !regexp.MustCompile(`AIM AGENT +AIM TRUST`).MatchString(out) || !regexp.MustCompile(`notes +wrapped .* notes@laptop1 +0\.91 `).MatchString(out) {
		t.Errorf("list = %d:\n%s%s", code, out, errs)
	}
	code, out, _ = w.aimMCP(nil, "list", "--json", "--config", w.config, "--home", w.home)
	if code != 0 || !strings.Contains(out, `"agent_name": "notes@laptop1"`) || !strings.Contains(out, `"trust": 0.91`) {
		t.Errorf("list --json = %d:\n%s", code, out)
	}
	code, out, errs = w.aimMCP(nil, "trust", "notes", "--detailed", "--home", w.home)
	if code != 0 || !regexp.MustCompile(`FACTOR +VALUE +WEIGHT +CONTRIBUTION +AIM +EVIDENCE`).MatchString(out) ||
		!regexp.MustCompile(`uptime +\S+ +0\.15 +\S+ +0\.980 `).MatchString(out) {
		t.Errorf("trust --detailed = %d:\n%s%s", code, out, errs)
	}
	for _, args := range [][]string{{"--json"}, {"--json", "--detailed"}} {
		code, out, errs = w.aimMCP(nil, append([]string{"trust", "notes", "--home", w.home}, args...)...)
		var got struct {
			Overall float64 `json:"overall"`
			AIM     struct {
				AgentID string             `json:"agent_id"`
				Score   float64            `json:"score"`
				Factors map[string]float64 `json:"factors"`
			} `json:"aim"`
		}
		if err := json.Unmarshal([]byte(out), &got); code != 0 || err != nil || got.Overall == 0 || got.AIM.AgentID != notes.RemoteID ||
			got.AIM.Score != 0.907 || got.AIM.Factors["uptime"] != 0.98 {
			t.Errorf("trust %v = %d, %v:\n%s%s", args, code, err, out, errs)
		}
	}

	// AIM goes down mid-session: AIM's allowance of echo, kept for
	// aim_verify_ttl, still lets it run; once that is gone, echo fails
	// closed, with the reason, and the local chain stays intact.
	s = w.proxy("notes")
	if _, isErr := s.call(10, "echo"); isErr {
		t.Errorf("echo before AIM went down failed")
	}
	w.aim.SetDown(true)
	if text, isErr := s.call(11, "echo"); isErr {
		t.Errorf("echo with AIM down and a fresh allowance = %q", text)
	}
	s.close()
	if err := db.ForgetAIMVerdicts(context.Background(), notes.RemoteID); err != nil {
		t.Fatal(err)
	}
	s = w.proxy("notes")
	text, isErr = s.call(12, "echo")
	if !isErr || !strings.Contains(text, "AIM is down or unreachable (cannot connect to AIM at "+w.aim.URL) || !strings.Contains(text, "aim-mcp status") {
		t.Errorf("echo with AIM down = %q, isError %v; want fail closed with the reason", text, isErr)
	}
	s.close()
	if v, err := db.Verify(context.Background(), ""); err != nil || !v.OK() {
		t.Errorf("audit verify after AIM went down = %+v, %v", v, err)
	}
	recs, _ = db.Records(context.Background(), registry.Filter{ServerID: notes.ID})
	if last := recs[len(recs)-1]; !slices.ContainsFunc(recs, func(r registry.Record) bool {
		return r.Kind == "denied" && r.Decision == "fail_closed" && r.Tool == "echo"
	}) {
		t.Errorf("no fail_closed record for echo; last is %+v", last)
	}
	code, out, errs = w.aimMCP(nil, "status", "--home", w.home)
	if code != 1 || !strings.Contains(out, "does not answer") || !strings.Contains(errs, "aim-mcp: hint: check that AIM is running") {
		t.Errorf("status with AIM down = %d:\n%s%s", code, out, errs)
	}

	// uninstall --purge deletes the AIM agent's key with the server's own.
	aimKey := db.Keys().Path(remote.KeyName(notes.RemoteID))
	if _, err := os.Stat(aimKey); err != nil {
		t.Fatalf("AIM key before purge: %v", err)
	}
	code, out, errs = w.aimMCP(nil, "uninstall", "--purge", "--config", w.config, "--home", w.home)
	if code != 0 || !strings.Contains(out, "key of AIM agent "+notes.RemoteID+" deleted") {
		t.Errorf("uninstall --purge = %d:\n%s%s", code, out, errs)
	}
	if _, err := os.Stat(aimKey); !os.IsNotExist(err) {
		t.Errorf("AIM key after purge: %v, want it gone", err)
	}
}

func TestRemoteInstallErrors(t *testing.T) {
	w := newRemoteWorld(t)
	before, _ := os.ReadFile(w.config)

	code, out, errs := w.install("--aim-url", w.aim.URL, "--api-key", "aim_live_not-a-key")
	if code != 1 || !strings.Contains(errs, "AIM refused the API key (HTTP 401): Invalid API key") ||
		!strings.Contains(errs, "aim-mcp: hint: check the API key") || strings.Contains(out+errs, "aim_live_not-a-key") {
		t.Errorf("install with a bad key = %d:\n%s%s", code, out, errs)
	}
	code, _, errs = w.install("--aim-url", w.aim.URL)
	if code != 1 || !strings.Contains(errs, "needs an API key") {
		t.Errorf("install without a key = %d:\n%s", code, errs)
	}
	code, _, errs = w.install("--aim-url", "aim.example.com", "--api-key", "k")
	if code != 1 || !strings.Contains(errs, "want http(s)://host[:port]") {
		t.Errorf("install with a bad URL = %d:\n%s", code, errs)
	}
	w.aim.SetDown(true)
	code, _, errs = w.install("--aim-url", w.aim.URL, "--api-key", w.aim.APIKey)
	if code != 1 || !strings.Contains(errs, "cannot connect to AIM") {
		t.Errorf("install with AIM down = %d:\n%s", code, errs)
	}
	w.aim.SetDown(false)
	// A web server that is not AIM: every path is a 404.
	notAIM := httptest.NewServer(http.NotFoundHandler())
	defer notAIM.Close()
	code, _, errs = w.install("--aim-url", notAIM.URL, "--api-key", w.aim.APIKey)
	if code != 1 || !strings.Contains(errs, notAIM.URL+" does not look like an AIM server") ||
		!strings.Contains(errs, "aim-mcp: hint: give the address of AIM's backend API") {
		t.Errorf("install with a URL that is not AIM = %d:\n%s", code, errs)
	}
	// A key too short to be one (AIM would answer 500).
	code, _, errs = w.install("--aim-url", w.aim.URL, "--api-key", "aim_live")
	if code != 1 || !strings.Contains(errs, "the API key is 8 characters long") {
		t.Errorf("install with a short key = %d:\n%s", code, errs)
	}
	if after, _ := os.ReadFile(w.config); !bytes.Equal(before, after) {
		t.Errorf("a failed install changed the config")
	}
	if _, err := os.Stat(aimKeyFile(w.home)); err == nil {
		t.Errorf("a failed install stored the API key")
	}

	// A name taken in AIM by an agent whose key is elsewhere (another
	// home on this machine): the server gets the next name.
	w.aim.AddAgent(aimtest.DefaultOrg, "notes@laptop1")
	code, _, errs = w.install("--aim-url", w.aim.URL, "--api-key", w.aim.APIKey)
	if _, ok := w.aim.FindAgent("notes@laptop1-2"); code != 0 || !ok || !strings.Contains(errs, "(notes@laptop1-2, verified)") {
		t.Errorf("install with the name taken = %d:\n%s", code, errs)
	}
}

func TestRemoteDebugAndRetries(t *testing.T) {
	w := newRemoteWorld(t)
	t.Setenv("AIM_DEBUG", "true")
	w.aim.FailNext(1, 503, "")
	code, out, errs := w.install("--aim-url", w.aim.URL, "--api-key", w.aim.APIKey)
	if code != 0 {
		t.Fatalf("install = %d:\n%s%s", code, out, errs)
	}
	for _, want := range []string{"path=/health status=503", "path=/health status=200", "path=/api/v1/sdk-api/agents/notes@laptop1 status=404",
		"path=/api/v1/public/agents/register status=201"} {
		if !strings.Contains(errs, want) {
			t.Errorf("debug log lacks %q:\n%s", want, errs)
		}
	}
	// The proxy logs each AIM request and its status, and (checked at
	// cleanup) no key nor signature.
	w.aim.Grant("notes@laptop1", "mcp_tool:*")
	s := w.proxy("notes")
	if _, isErr := s.call(1, "echo"); isErr {
		t.Errorf("echo failed")
	}
	s.close()
	if !strings.Contains(s.stderr.String(), "/verify-action status=200") {
		t.Errorf("proxy debug log lacks the verify-action:\n%s", s.stderr.String())
	}
	// status makes one attempt: a 429 is reported, not waited out.
	w.aim.FailNext(1, 429, "0")
	if code, out, errs := w.aimMCP(nil, "status", "--home", w.home); code != 1 || strings.Count(errs, "status=429") != 1 ||
		!strings.Contains(errs, "aim-mcp: error: AIM's rate limit was hit") {
		t.Errorf("status after a 429 = %d:\n%s%s", code, out, errs)
	}
}

func TestRemoteProxyIgnoresServerEnv(t *testing.T) {
	w := newRemoteWorld(t)
	if code, out, errs := w.install(); code != 0 {
		t.Fatalf("install = %d\n%s%s", code, out, errs)
	}
	// An MCP server's own env (Claude Desktop passes it to the proxy) may
	// name an AIM for the server's sake: the proxy does not take it as its own.
	t.Setenv("AIM_URL", w.aim.URL)
	t.Setenv("AIM_API_KEY", w.aim.APIKey)
	s := w.proxy("notes")
	if text, isErr := s.call(1, "echo"); isErr {
		t.Errorf("echo = %q, want it run under the local policy alone", text)
	}
	s.close()
	if n := len(w.aim.Requests()); n != 0 {
		t.Errorf("the proxy sent %d requests to the AIM of its server's env", n)
	}
	code, out, errs := w.aimMCP(nil, "status", "--home", w.home)
	if code != 0 || !strings.Contains(out, "registry: embedded") || !strings.Contains(errs, "proxies do not read the environment") {
		t.Errorf("status = %d:\n%s%s", code, out, errs)
	}
}
