package mcpproxy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/opena2a-org/aim-mcp/internal/canon"
	"github.com/opena2a-org/aim-mcp/internal/syncbuf"
	"github.com/opena2a-org/aim-mcp/registry"
)

// testRegistry is a real embedded registry in a temporary directory with one
// registered server, as "aim-mcp install" leaves it.
type testRegistry struct {
	dir    string
	db     *registry.DB
	server registry.Server
}

func newRegistry(t testing.TB) *testRegistry {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	db, err := registry.Open(ctx, filepath.Join(dir, "aim.db"), registry.Options{})
	if err != nil {
		t.Fatalf("registry.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	s, _, err := db.Register(ctx, registry.Registration{Client: "test", Name: "fake", Command: os.Args[0]})
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	return &testRegistry{dir: dir, db: db, server: s}
}

// journal is the journal the proxy's Setup returns.
func (r *testRegistry) journal(t testing.TB) *RegistryJournal {
	t.Helper()
	key, err := r.db.Key(r.server)
	if err != nil {
		t.Fatalf("Key: %v", err)
	}
	return &RegistryJournal{DB: r.db, Key: key, Server: r.server}
}

// records returns every record, oldest first, after checking the chain.
func (r *testRegistry) records(t testing.TB) []registry.Record {
	t.Helper()
	ctx := context.Background()
	v, err := r.db.Verify(ctx, "")
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if !v.OK() {
		t.Fatalf("Verify: record %d is bad: %s", v.BadSeq, v.Reason)
	}
	recs, err := r.db.Records(ctx, registry.Filter{})
	if err != nil {
		t.Fatalf("Records: %v", err)
	}
	return recs
}

// kinds counts records by kind.
func kinds(recs []registry.Record) map[string]int {
	out := map[string]int{}
	for _, r := range recs {
		out[r.Kind]++
	}
	return out
}

// only returns the records of one kind.
func only(recs []registry.Record, kind string) []registry.Record {
	var out []registry.Record
	for _, r := range recs {
		if r.Kind == kind {
			out = append(out, r)
		}
	}
	return out
}

// data decodes a record's data.
func data(t testing.TB, r registry.Record) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Data, &m); err != nil {
		t.Fatalf("record %d data %s: %v", r.Seq, r.Data, err)
	}
	return m
}

// testGuard decides calls by tool name and remembers what it saw.
type testGuard struct {
	deny  map[string]Verdict // tool → verdict
	block map[string]bool    // tool → wait until the call's ctx ends

	mu       sync.Mutex
	calls    []*Call
	entered  chan string // gets the tool of every call that starts blocking
	listed   []json.RawMessage
	changed  int
	outcomes []Outcome
}

func (g *testGuard) Check(ctx context.Context, c *Call) Verdict {
	g.mu.Lock()
	g.calls = append(g.calls, c)
	g.mu.Unlock()
	if g.block[c.Tool] {
		if g.entered != nil {
			g.entered <- c.Tool
		}
		<-ctx.Done()
		return Verdict{Decision: "timeout", Source: "test", Reason: "no decision: " + ctx.Err().Error()}
	}
	if v, ok := g.deny[c.Tool]; ok {
		return v
	}
	return Verdict{Allow: true, Decision: "allow", Risk: "low", Source: "test"}
}

func (g *testGuard) ToolsListed(ctx context.Context, result json.RawMessage) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.listed = append(g.listed, result)
}

func (g *testGuard) ToolsChanged(ctx context.Context) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.changed++
}

func (g *testGuard) Outcome(ctx context.Context, c *Call, o Outcome) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.outcomes = append(g.outcomes, o)
}

// frameChecker is the proxy's stdout. It fails the test when a Write is not
// exactly one whole line: frames must never be split or interleaved.
type frameChecker struct {
	t testing.TB
	w io.Writer
}

func (f *frameChecker) Write(p []byte) (int, error) {
	if len(p) == 0 || p[len(p)-1] != '\n' || bytes.IndexByte(p, '\n') != len(p)-1 {
		f.t.Errorf("proxy wrote %d bytes that are not one line: %.200q", len(p), p)
	}
	return f.w.Write(p)
}

// proxyOpts configures an in-process proxy.
type proxyOpts struct {
	mode     string   // fake server: mcp (default) or raw
	command  []string // instead of the test binary
	env      []string // added to the fake server's environment
	guard    Decider
	setup    func(ctx context.Context) (Decider, Journal, error) // instead of the registry's
	noSetup  bool                                                // Options.Setup stays nil
	setupErr error
	rawOut   []byte // raw: what the server prints
	grace    time.Duration
	signals  chan os.Signal
	reg      *testRegistry // made by the test, for its own Setup
}

// fastExit stops a fake server built with -race from sleeping a second
// before it exits (ThreadSanitizer's default), which would look like a
// server that ignores stdin EOF.
var fastExit = "GORACE=" + strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0")

// proxy is mcpproxy.Run in this process, on pipes, with a fake server child.
type proxy struct {
	t       testing.TB
	reg     *testRegistry
	stdin   *os.File  // the client's end: what it writes reaches the proxy
	stdout  io.Reader // the client's end: what the proxy wrote, also copied to wire
	wire    *syncbuf.Buffer
	stderr  *syncbuf.Buffer // the fake server's stderr
	reports *syncbuf.Buffer // what Run reported, one error a line
	log     string          // the fake server's log
	exit    chan error
	err     error // Run's
	code    int   // the exit code Run's error carries
	exited  bool
	closers []io.Closer
}

func startProxy(t testing.TB, o proxyOpts) *proxy {
	t.Helper()
	p := &proxy{t: t, wire: &syncbuf.Buffer{}, stderr: &syncbuf.Buffer{}, reports: &syncbuf.Buffer{}, exit: make(chan error, 1)}
	p.reg = o.reg
	if p.reg == nil {
		p.reg = newRegistry(t)
	}
	p.log = filepath.Join(t.TempDir(), "server.log")
	if o.mode == "" {
		o.mode = "mcp"
	}
	env := append(os.Environ(), envFake+"="+o.mode, envLog+"="+p.log, fastExit)
	if o.rawOut != nil {
		out := filepath.Join(t.TempDir(), "out")
		if err := os.WriteFile(out, o.rawOut, 0o600); err != nil {
			t.Fatal(err)
		}
		env = append(env, envOut+"="+out)
	}
	env = append(env, o.env...)
	cmd := o.command
	if cmd == nil {
		cmd = []string{os.Args[0]}
	}
	setup := o.setup
	if setup == nil && !o.noSetup {
		setup = func(ctx context.Context) (Decider, Journal, error) {
			if o.setupErr != nil {
				return nil, nil, o.setupErr
			}
			return o.guard, p.reg.journal(t), nil
		}
	}
	inR, inW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	p.stdin = inW
	p.stdout = io.TeeReader(outR, p.wire)
	p.closers = []io.Closer{inW, inR, outR}
	if o.grace == 0 {
		o.grace = 2 * time.Second // the default; a fake server under -race is slow to exit
	}
	go func() {
		err := Run(context.Background(), Options{
			Command: cmd, Env: env, Stdin: inR, Stdout: &frameChecker{t: t, w: outW}, Stderr: p.stderr,
			Report: func(err error) { fmt.Fprintln(p.reports, err) },
			Setup:  setup, Signals: o.signals, StdinGrace: o.grace, TermGrace: o.grace, Supervise: true,
		})
		// The proxy's process would exit now: its stdout closes.
		outW.Close()
		p.exit <- err
	}()
	t.Cleanup(func() {
		p.stdin.Close()
		p.wait(30 * time.Second)
		for _, c := range p.closers {
			c.Close()
		}
	})
	return p
}

// wait returns Run's exit code, failing the test after d.
func (p *proxy) wait(d time.Duration) int {
	p.t.Helper()
	if p.exited {
		return p.code
	}
	select {
	case p.err = <-p.exit:
		p.exited = true
		p.code = exitCode(p.err)
	case <-time.After(d):
		p.t.Fatalf("the proxy did not return within %v; stderr:\n%s", d, p.stderr)
	}
	return p.code
}

// exitCode is the server's exit code that err carries: 0 for nil, -1 when
// the server never ran.
func exitCode(err error) int {
	var ee *ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.Code
	}
	return -1
}

// close closes the client's side of stdin and returns Run's exit code.
func (p *proxy) close() int {
	p.t.Helper()
	p.stdin.Close()
	return p.wait(20 * time.Second)
}

// serverLog is what the fake server logged: its stdin lines and events.
func (p *proxy) serverLog() string {
	b, _ := os.ReadFile(p.log)
	return string(b)
}

// handlers answers the server's requests the way Claude would.
type handlers struct{}

func (handlers) CreateMessage(ctx context.Context, r mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
	return &mcp.CreateMessageResult{
		SamplingMessage: mcp.SamplingMessage{Role: mcp.RoleAssistant, Content: mcp.NewTextContent("hi from the model")},
		Model:           "test-model",
	}, nil
}

func (handlers) Elicit(ctx context.Context, r mcp.ElicitationRequest) (*mcp.ElicitationResult, error) {
	return &mcp.ElicitationResult{ElicitationResponse: mcp.ElicitationResponse{
		Action: mcp.ElicitationResponseActionAccept, Content: map[string]any{"colour": "blue"}}}, nil
}

func (handlers) ListRoots(ctx context.Context, r mcp.ListRootsRequest) (*mcp.ListRootsResult, error) {
	return &mcp.ListRootsResult{Roots: []mcp.Root{{URI: "file:///work", Name: "work"}}}, nil
}

// legacy pins the client to the initialize handshake, as Claude Desktop does.
var legacy = client.WithProtocolVersion(mcp.LATEST_LEGACY_PROTOCOL_VERSION)

// connect starts an mcp-go client, in Claude's role, on the proxy, and
// initializes it.
func (p *proxy) connect(opts ...client.ClientOption) *client.Client {
	p.t.Helper()
	tr := transport.NewIO(p.stdout, p.stdin, nil)
	opts = append([]client.ClientOption{
		client.WithSamplingHandler(handlers{}),
		client.WithElicitationHandler(handlers{}),
		client.WithRootsHandler(handlers{}),
	}, opts...)
	c := client.NewClient(tr, opts...)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// The transport keeps Start's context for the server's requests.
	if err := c.Start(context.Background()); err != nil {
		p.t.Fatalf("client Start: %v", err)
	}
	req := mcp.InitializeRequest{}
	req.Params.ClientInfo = mcp.Implementation{Name: "claude-test", Version: "9.9"}
	if _, err := c.Initialize(ctx, req); err != nil {
		p.t.Fatalf("Initialize: %v; stderr:\n%s", err, p.stderr)
	}
	return c
}

// call calls a tool and returns the text of its first content item.
func call(t testing.TB, c *client.Client, tool string, args map[string]any) (string, *mcp.CallToolResult) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req := mcp.CallToolRequest{}
	req.Params.Name = tool
	req.Params.Arguments = args
	res, err := c.CallTool(ctx, req)
	if err != nil {
		t.Fatalf("CallTool(%s): %v", tool, err)
	}
	return resultText(res), res
}

func resultText(res *mcp.CallToolResult) string {
	if res == nil || len(res.Content) == 0 {
		return ""
	}
	if tc, ok := res.Content[0].(mcp.TextContent); ok {
		return tc.Text
	}
	return fmt.Sprintf("%#v", res.Content[0])
}

// lineReader reads the proxy's stdout line by line, for raw tests.
type lineReader struct {
	t  testing.TB
	ch chan []byte
}

func (p *proxy) lines() *lineReader {
	lr := &lineReader{t: p.t, ch: make(chan []byte, 1024)}
	go func() {
		defer close(lr.ch)
		br := bufio.NewReader(p.stdout)
		for {
			line, err := br.ReadBytes('\n')
			if len(line) > 0 {
				lr.ch <- line
			}
			if err != nil {
				return
			}
		}
	}()
	return lr
}

// next returns the next line, failing after d.
func (lr *lineReader) next(d time.Duration) []byte {
	lr.t.Helper()
	select {
	case l, ok := <-lr.ch:
		if !ok {
			lr.t.Fatalf("the proxy's stdout closed; want another line")
		}
		return l
	case <-time.After(d):
		lr.t.Fatalf("no line from the proxy within %v", d)
	}
	return nil
}

// none checks that no line arrives within d.
func (lr *lineReader) none(d time.Duration) {
	lr.t.Helper()
	select {
	case l, ok := <-lr.ch:
		if ok {
			lr.t.Errorf("got line %.300q, want none", l)
		}
	case <-time.After(d):
	}
}

// send writes lines to the proxy's stdin.
func (p *proxy) send(lines ...string) {
	p.t.Helper()
	for _, l := range lines {
		if _, err := io.WriteString(p.stdin, l); err != nil {
			p.t.Errorf("write to the proxy: %v", err)
			return
		}
	}
}

// rpc is a decoded JSON-RPC line, for assertions.
type rpc struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
	Result *struct {
		Content []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		} `json:"content"`
		IsError    bool            `json:"isError"`
		ResultType string          `json:"resultType"`
		Meta       json.RawMessage `json:"_meta"`
	} `json:"result"`
	Error *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func decodeRPC(t testing.TB, line []byte) rpc {
	t.Helper()
	var r rpc
	d := json.NewDecoder(bytes.NewReader(line))
	d.UseNumber()
	if err := d.Decode(&r); err != nil {
		t.Fatalf("decode %.300q: %v", line, err)
	}
	return r
}

// eventually polls f until it returns true, failing after d.
func eventually(t testing.TB, d time.Duration, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// procState returns the state letter of pid from /proc ("" when gone).
func procState(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return ""
	}
	return s[i+2 : i+3]
}

// waitGone fails the test unless pid is gone (or a zombie nobody reaps)
// within a few seconds: SIGKILL is delivered, not awaited.
func waitGone(t testing.TB, pid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s := procState(pid)
		if s == "" || s == "Z" {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("process %d is still alive (state %s)", pid, s)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// groupMembers lists the live (not zombie) processes in process group pgid.
func groupMembers(pgid int) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		f := strings.Fields(s[i+1:])
		if len(f) < 3 || f[0] == "Z" || f[0] == "X" {
			continue
		}
		if g, _ := strconv.Atoi(f[2]); g == pgid {
			out = append(out, pid)
		}
	}
	return out
}

func requireProc(t testing.TB) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("needs /proc")
	}
}

// sleeperPid waits for the grandchild to log its pid.
func sleeperPid(t testing.TB, log func() string) int {
	t.Helper()
	var pid int
	eventually(t, 10*time.Second, "the sleeper's pid", func() bool {
		for _, l := range strings.Split(log(), "\n") {
			if s, ok := strings.CutPrefix(l, "#sleeper pid "); ok {
				pid, _ = strconv.Atoi(s)
				return pid > 0
			}
		}
		return false
	})
	return pid
}

// --- the real binary ---

var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
)

// aimMCP builds cmd/aim-mcp once per test run.
func aimMCP(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		gobin, err := exec.LookPath("go")
		if err != nil {
			binErr = err
			return
		}
		binDir, binErr = os.MkdirTemp("", "aim-mcp-bin-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "aim-mcp")
		cmd := exec.Command(gobin, "build", "-o", binPath, "github.com/opena2a-org/aim-mcp/cmd/aim-mcp")
		out, err := cmd.CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build ./cmd/aim-mcp: %v\n%s", err, out)
		}
	})
	if errors.Is(binErr, exec.ErrNotFound) {
		t.Skip("no go command to build aim-mcp")
	}
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

func cleanupBinary() {
	if binDir != "" {
		os.RemoveAll(binDir)
	}
}

// canonDigest is the digest the proxy records for arguments.
func canonDigest(t testing.TB, args string) string {
	t.Helper()
	d, err := canon.Digest([]byte(args))
	if err != nil {
		t.Fatalf("canon.Digest: %v", err)
	}
	return d
}
