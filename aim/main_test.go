package aim

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/opena2a-org/aim-mcp/config"
	"github.com/opena2a-org/aim-mcp/registry"
)

// serverEnv makes the test binary an MCP server protected by the
// middleware: the proxy tests run it as their real server.
const serverEnv = "AIM_TEST_MCP_SERVER"

// cli is the aim-mcp binary built for the tests; "" when it could not be.
var cli string

func TestMain(m *testing.M) {
	if os.Getenv(serverEnv) == "1" {
		os.Exit(runTestServer())
	}
	dir, err := os.MkdirTemp("", "aim-cli-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	exe := filepath.Join(dir, "aim-mcp")
	if runtime.GOOS == "windows" {
		exe += ".exe"
	}
	build := exec.Command("go", "build", "-o", exe, "github.com/opena2a-org/aim-mcp/cmd/aim-mcp")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build aim-mcp: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	cli = exe
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// notesServer is a small mcp-go server with one tool of each risk.
func notesServer(mw server.ToolHandlerMiddleware, ran *int, mu *sync.Mutex) *server.MCPServer {
	s := server.NewMCPServer("notes", "1.0.0", server.WithToolCapabilities(false), server.WithToolHandlerMiddleware(mw))
	handler := func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		mu.Lock()
		*ran++
		mu.Unlock()
		return mcp.NewToolResultText("ok: " + req.GetString("text", "")), nil
	}
	// mcp-go marks a tool destructive unless told otherwise, as the spec
	// says a client must assume: add_note says it is not.
	s.AddTool(mcp.NewTool("add_note", mcp.WithString("text", mcp.Required()), mcp.WithDestructiveHintAnnotation(false)), handler)
	s.AddTool(mcp.NewTool("wipe_notes", mcp.WithDestructiveHintAnnotation(true)), handler)
	s.AddTool(mcp.NewTool("tidy", mcp.WithReadOnlyHintAnnotation(true)), handler)
	return s
}

// runTestServer serves notesServer on stdio, secured as the child of a
// proxy would be.
func runTestServer() int {
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	agent, err := Secure(ctx, "notes-child", WithLogger(log))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer agent.Close()
	var n int
	var mu sync.Mutex
	if err := server.ServeStdio(notesServer(ToolMiddleware(agent), &n, &mu)); err != nil && err != io.EOF && err != context.Canceled {
		fmt.Fprintln(os.Stderr, err)
	}
	return 0
}

// testHome is an aim-mcp home of its own, with a config.yaml of defaults,
// and the environment that points the CLI at them.
type testHome struct {
	dir string
	env []string
}

func newHome(t *testing.T) testHome {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte("approval_wait: 20s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AIM_MCP_SYSLOG", "off")
	t.Setenv("AIM_MCP_CONFIG", cfg)
	t.Setenv("AIM_PRIVATE_KEY", "")
	return testHome{dir: dir, env: append(os.Environ(), "AIM_MCP_HOME="+dir, "AIM_MCP_CONFIG="+cfg, "AIM_MCP_SYSLOG=off")}
}

// secure opens an agent in h with the default policy; its log lines go to
// the test's log.
func (h testHome) secure(t *testing.T, name string, opts ...Option) *Agent {
	t.Helper()
	opts = append([]Option{WithHome(h.dir), WithConfig(config.Defaults()), WithPoll(20 * time.Millisecond),
		WithLogger(slog.New(slog.NewTextHandler(testWriter{t}, nil)))}, opts...)
	a, err := Secure(t.Context(), name, opts...)
	if err != nil {
		t.Fatalf("Secure(%q): %v", name, err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// run runs the aim-mcp CLI in h and returns its stdout.
func (h testHome) run(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(cli, args...)
	cmd.Env = h.env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Errorf("aim-mcp %v: %v\n%s%s", args, err, out.String(), errb.String())
	}
	return out.String()
}

// pending waits for the one pending approval of tool, read through a
// registry handle of its own, as another process would.
func (h testHome) pending(t *testing.T, tool string) registry.Approval {
	t.Helper()
	db, err := registry.Open(t.Context(), filepath.Join(h.dir, "aim.db"), registry.Options{})
	if err != nil {
		t.Error(err)
		return registry.Approval{}
	}
	defer db.Close()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		as, err := db.Approvals(t.Context(), registry.ApprovalPending)
		if err != nil {
			t.Error(err)
			return registry.Approval{}
		}
		for _, a := range as {
			if a.Tool == tool {
				return a
			}
		}
	}
	t.Errorf("no pending approval for %q", tool)
	return registry.Approval{}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}
