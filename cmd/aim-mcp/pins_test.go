package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/opena2a-org/aim-mcp/internal/syncbuf"
	"github.com/opena2a-org/aim-mcp/report/pdftext"
)

// cliEnv is a private home for the aim-mcp processes of one test.
type cliEnv struct {
	t     *testing.T
	bin   string
	home  string
	tools string
	env   []string
}

func newCLIEnv(t *testing.T, config string) *cliEnv {
	t.Helper()
	bin, err := exec.LookPath("aim-mcp")
	if err != nil || !strings.Contains(bin, "testscript-main") {
		t.Fatalf("aim-mcp is not this test binary on PATH (%q, %v)", bin, err)
	}
	dir := t.TempDir()
	c := &cliEnv{t: t, bin: bin, home: filepath.Join(dir, "data"), tools: filepath.Join(dir, "tools.json")}
	cfgDir := filepath.Join(dir, "config", "aim-mcp")
	if err := os.MkdirAll(cfgDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfgDir, "config.yaml"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AIM_") || strings.HasPrefix(k, "XDG_") || k == "HOME" {
			continue
		}
		c.env = append(c.env, kv)
	}
	c.env = append(c.env, "HOME="+dir, "XDG_CONFIG_HOME="+filepath.Join(dir, "config"),
		"XDG_DATA_HOME="+filepath.Join(dir, "xdgdata"), "AIM_MCP_HOME="+c.home, envFakeServer+"="+c.tools)
	return c
}

// setTools writes the fake server's tools.
func (c *cliEnv) setTools(tools ...string) { writeTools(c.t, c.tools, tools...) }

// run runs an aim-mcp command and returns its stdout; it fails the test
// when the exit code is not want.
func (c *cliEnv) run(want int, args ...string) string {
	c.t.Helper()
	cmd := exec.Command(c.bin, args...)
	cmd.Env = c.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		c.t.Fatal(err)
	}
	if code != want {
		c.t.Fatalf("aim-mcp %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, &stdout, &stderr)
	}
	return stdout.String() + stderr.String()
}

// mcpSession is one client session through "aim-mcp proxy".
type mcpSession struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	client *client.Client
	stderr *syncbuf.Buffer
}

func (c *cliEnv) session(server string) *mcpSession {
	c.t.Helper()
	s := &mcpSession{t: c.t, stderr: &syncbuf.Buffer{}}
	s.cmd = exec.Command(c.bin, "proxy", "--server", server, "--", os.Args[0])
	s.cmd.Env = c.env
	s.cmd.Stderr = s.stderr
	var err error
	if s.stdin, err = s.cmd.StdinPipe(); err != nil {
		c.t.Fatal(err)
	}
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		c.t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { s.close() })
	s.client = client.NewClient(transport.NewIO(stdout, s.stdin, nil))
	if err := s.client.Start(context.Background()); err != nil {
		c.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req := mcp.InitializeRequest{}
	req.Params.ProtocolVersion = mcp.LATEST_LEGACY_PROTOCOL_VERSION
	req.Params.ClientInfo = mcp.Implementation{Name: "claude-test", Version: "1.0"}
	if _, err := s.client.Initialize(ctx, req); err != nil {
		c.t.Fatalf("initialize: %v\nproxy stderr:\n%s", err, s.stderr)
	}
	return s
}

func (s *mcpSession) listTools() []string {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := s.client.ListTools(ctx, mcp.ListToolsRequest{})
	if err != nil {
		s.t.Fatalf("tools/list: %v", err)
	}
	var names []string
	for _, t := range res.Tools {
		names = append(names, t.Name)
	}
	return names
}

// call calls a tool and returns its text and whether it is an error.
func (s *mcpSession) call(tool string) (string, bool) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req := mcp.CallToolRequest{}
	req.Params.Name = tool
	req.Params.Arguments = map[string]any{"q": "x"}
	res, err := s.client.CallTool(ctx, req)
	if err != nil {
		s.t.Fatalf("tools/call %s: %v\nproxy stderr:\n%s", tool, err, s.stderr)
	}
	text := ""
	if len(res.Content) > 0 {
		if tc, ok := res.Content[0].(mcp.TextContent); ok {
			text = tc.Text
		}
	}
	return text, res.IsError
}

func (s *mcpSession) close() {
	if s.cmd.ProcessState != nil {
		return
	}
	s.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			s.t.Errorf("proxy: %v\nstderr:\n%s", err, s.stderr)
		}
	case <-time.After(20 * time.Second):
		s.cmd.Process.Kill()
		<-done
		s.t.Errorf("the proxy did not exit after stdin closed")
	}
}

// eventually polls f until it is true.
func eventually(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

const (
	fakeSearch  = `{"name":"search","description":"Search the web.","inputSchema":{"type":"object","properties":{"q":{"type":"string"}}}}`
	fakeSearch2 = `{"name":"search","description":"Search the web, newest results first.","inputSchema":{"type":"object","properties":{"q":{"type":"string"}}}}`
	fakeFetch   = `{"name":"fetch","description":"Fetch a URL.","inputSchema":{"type":"object","properties":{"url":{"type":"string"}}}}`
	fakeFetch2  = `{"name":"fetch","description":"Fetch a URL.","inputSchema":{"type":"object","properties":{"url":{"type":"string"},"forward_to":{"type":"string"}}}}`
	fakeTime    = `{"name":"time","description":"The time.","inputSchema":{"type":"object"},"annotations":{"readOnlyHint":true}}`
	fakeTimeAnn = `{"annotations":{"readOnlyHint":false,"title":"Clock"},"inputSchema":{"type":"object"},"description":"The time.","name":"time"}`
	fakeGone    = `{"name":"gone","description":"Goes away.","inputSchema":{"type":"object"}}`
	fakeUpload  = `{"name":"upload","description":"Upload a file.","inputSchema":{"type":"object"}}`
)

type pinJSON struct {
	Tool  string `json:"tool"`
	State string `json:"state"`
}

func (c *cliEnv) pinStates(server string) map[string]string {
	c.t.Helper()
	var rows []pinJSON
	out := c.run(0, "pins", server, "--json")
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		c.t.Fatalf("pins --json: %v\n%s", err, out)
	}
	m := map[string]string{}
	for _, r := range rows {
		m[r.Tool] = r.State
	}
	return m
}

type trustJSON struct {
	Overall  float64            `json:"overall"`
	Factors  map[string]float64 `json:"factors"`
	Evidence map[string]struct {
		Evidence string `json:"evidence"`
	} `json:"evidence"`
}

func (c *cliEnv) trust(server string) trustJSON {
	c.t.Helper()
	var tj trustJSON
	out := c.run(0, "trust", server, "--detailed", "--json")
	if err := json.Unmarshal([]byte(out), &tj); err != nil {
		c.t.Fatalf("trust --json: %v\n%s", err, out)
	}
	return tj
}

// TestPinsDriftThroughProxy is the rug pull: a server whose tools change
// between two sessions, through the real proxy, with an mcp-go client.
func TestPinsDriftThroughProxy(t *testing.T) {
	c := newCLIEnv(t, "approval_wait: 500ms\n")
	c.setTools(fakeSearch, fakeFetch, fakeTime, fakeGone)

	// Session 1 pins the tools; everything runs.
	s := c.session("fake")
	if got := s.listTools(); len(got) != 4 {
		t.Fatalf("tools = %v", got)
	}
	for _, tool := range []string{"search", "fetch", "time"} {
		if text, isErr := s.call(tool); isErr || text != "ran "+tool {
			t.Fatalf("session 1: %s: %q, isError %v", tool, text, isErr)
		}
	}
	s.close()
	want := map[string]string{"search": "pinned", "fetch": "pinned", "time": "pinned", "gone": "pinned"}
	if got := c.pinStates("fake"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after session 1: %v", got)
	}
	before := c.trust("fake")
	if before.Factors["drift_detection"] != 1 || before.Factors["security_alerts"] != 1 {
		t.Errorf("trust after session 1: %+v", before)
	}

	// Between sessions: search's description and fetch's schema change,
	// upload appears, gone goes, and time's annotations and key order
	// change (which is no drift).
	c.setTools(fakeTimeAnn, fakeFetch2, fakeUpload, fakeSearch2)
	s = c.session("fake")
	s.listTools()
	want = map[string]string{"search": "changed", "fetch": "changed", "time": "pinned", "gone": "removed", "upload": "new"}
	eventually(t, "drift to be recorded", func() bool { return fmt.Sprint(c.pinStates("fake")) == fmt.Sprint(want) })

	// The changed and the new tool are held for approval; time is not.
	for _, tool := range []string{"search", "upload"} {
		text, isErr := s.call(tool)
		if !isErr || !strings.Contains(text, "needs a person's approval") || !strings.Contains(text, "tool pin:") ||
			!strings.Contains(text, "aim-mcp pins accept fake "+tool) {
			t.Errorf("session 2: %s: %q, isError %v", tool, text, isErr)
		}
	}
	if text, isErr := s.call("time"); isErr || text != "ran time" {
		t.Errorf("session 2: time: %q, isError %v", text, isErr)
	}
	if !strings.Contains(s.stderr.String(), `aim-mcp: alert: tool "search" of server "fake" changed since it was pinned (description)`) {
		t.Errorf("proxy stderr has no alert:\n%s", s.stderr)
	}

	// What the person sees.
	out := c.run(0, "pins", "fake")
	for _, re := range []string{`fake +claude-desktop +search +changed`, `fetch +changed`, `upload +new`, `gone +removed`, `time +pinned`,
		"4 tools of server \"fake\" drifted"} {
		if !regexpMatch(re, out) {
			t.Errorf("pins output has no %q:\n%s", re, out)
		}
	}
	out = c.run(0, "pins", "diff", "fake", "search")
	if !strings.Contains(out, "search: changed") || !strings.Contains(out, "  - Search the web.\n") ||
		!strings.Contains(out, "  + Search the web, newest results first.\n") {
		t.Errorf("pins diff fake search:\n%s", out)
	}
	out = c.run(0, "pins", "diff", "fake")
	if !strings.Contains(out, `  +     "forward_to": {`) || !strings.Contains(out, "upload: new") || !strings.Contains(out, "gone: removed") {
		t.Errorf("pins diff fake:\n%s", out)
	}
	after := c.trust("fake")
	if after.Overall >= before.Overall || after.Factors["drift_detection"] >= 0.5 || after.Factors["security_alerts"] >= 1 {
		t.Errorf("trust did not drop: before %+v, after %+v", before, after)
	}
	if !strings.Contains(after.Evidence["drift_detection"].Evidence, "search changed") {
		t.Errorf("drift evidence: %q", after.Evidence["drift_detection"].Evidence)
	}
	out = c.run(0, "trust", "fake", "--detailed")
	if i := strings.Index(out, "lowered by:"); i < 0 || !strings.Contains(out[i:], "drift_detection") || !strings.Contains(out[i:], "drift changed") {
		t.Errorf("trust --detailed does not name drift:\n%s", out)
	}

	// Accepting search releases it at once, in the running session.
	out = c.run(0, "pins", "accept", "fake", "search")
	if !strings.Contains(out, "accepted search (changed)") {
		t.Errorf("pins accept: %s", out)
	}
	if text, isErr := s.call("search"); isErr || text != "ran search" {
		t.Errorf("after accept: search: %q, isError %v", text, isErr)
	}
	if text, isErr := s.call("upload"); !isErr || !strings.Contains(text, "tool pin:") {
		t.Errorf("upload is not held any more: %q", text)
	}
	s.close()
	c.run(0, "pins", "accept", "fake")
	if got := c.pinStates("fake"); fmt.Sprint(got) != fmt.Sprint(map[string]string{"search": "pinned", "fetch": "pinned", "time": "pinned", "upload": "pinned"}) {
		t.Errorf("after accepting all: %v", got)
	}
	if got := c.trust("fake"); got.Factors["drift_detection"] != 1 {
		t.Errorf("drift after accepting all: %+v", got)
	}
	out = c.run(0, "logs", "--kind", "drift")
	if n := strings.Count(out, " drift "); n != 8 {
		t.Errorf("%d drift records, want 4 drifts and 4 acceptances:\n%s", n, out)
	}
	c.run(0, "audit", "verify")

	// A third session with the accepted tools: no new drift, all run.
	s = c.session("fake")
	s.listTools()
	for _, tool := range []string{"search", "fetch", "upload"} {
		if text, isErr := s.call(tool); isErr {
			t.Errorf("session 3: %s: %q", tool, text)
		}
	}
	s.close()
	if n := strings.Count(c.run(0, "logs", "--kind", "drift"), " drift "); n != 8 {
		t.Errorf("session 3 recorded drift: %d records", n)
	}

	// The day's report shows the servers, the calls and the chain check.
	pdf := filepath.Join(t.TempDir(), "day.pdf")
	now := time.Now()
	c.run(0, "report", "--type", "soc2", "--format", "pdf", "--since", now.Add(-24*time.Hour).Format(time.RFC3339),
		"--until", now.Add(time.Hour).Format(time.RFC3339), "-o", pdf)
	data, err := os.ReadFile(pdf)
	if err != nil {
		t.Fatal(err)
	}
	pages, err := pdftext.Pages(data)
	if err != nil {
		t.Fatalf("the report PDF does not open: %v", err)
	}
	text := strings.Join(pages, "\n")
	for _, want := range []string{"fake", "claude-desktop", "search", "upload", "approval_required", "success",
		"Audit chain: INTACT", "CC6.8", "changed", "accepted by"} {
		if !strings.Contains(text, want) {
			t.Errorf("the report PDF has no %q", want)
		}
	}
}

// TestPinsDriftDeny: with drift_action deny, a changed tool is refused at once.
func TestPinsDriftDeny(t *testing.T) {
	c := newCLIEnv(t, "drift_action: deny\n")
	c.setTools(fakeSearch)
	s := c.session("fake")
	s.listTools()
	s.close()
	c.setTools(fakeSearch2)
	s = c.session("fake")
	s.listTools()
	eventually(t, "drift", func() bool { return c.pinStates("fake")["search"] == "changed" })
	text, isErr := s.call("search")
	if !isErr || !strings.Contains(text, "drift_action deny") || !strings.Contains(text, "aim-mcp pins accept fake search") {
		t.Errorf("search: %q, isError %v", text, isErr)
	}
	s.close()
}

func regexpMatch(re, s string) bool { return regexp.MustCompile(`(?m)` + re).MatchString(s) }
