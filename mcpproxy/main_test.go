package mcpproxy

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// The test binary doubles as the MCP servers the proxy runs: when
// AIM_MCP_FAKE_SERVER is set, TestMain runs one of them on stdio instead of
// the tests.
const (
	envFake   = "AIM_MCP_FAKE_SERVER" // mcp, raw, echo, python or sleeper
	envLog    = "AIM_MCP_FAKE_LOG"    // file that gets every stdin line (cut at 1 KiB) and "#" events
	envOut    = "AIM_MCP_FAKE_OUT"    // raw: file whose bytes are written to stdout at start
	envDeaf   = "AIM_MCP_FAKE_DEAF"   // mcp: ignore stdin EOF and SIGTERM (only SIGKILL stops it)
	envSetsid = "AIM_MCP_FAKE_SETSID" // sleeper: start a session of its own
)

func TestMain(m *testing.M) {
	switch os.Getenv(envFake) {
	case "":
	case "mcp":
		os.Exit(fakeMCPServer())
	case "raw":
		os.Exit(fakeRawServer())
	case "echo":
		var in io.Reader = os.Stdin
		if log := openFakeLog(); log.f != nil {
			in = io.TeeReader(os.Stdin, log.f) // what it read, as it read it
		}
		os.Exit(fakeEchoServer(in, os.Stdout))
	case "sleeper":
		os.Exit(fakeSleeper())
	case "python":
		os.Exit(fakePythonServer(os.Stdin, os.Stdout))
	default:
		fmt.Fprintf(os.Stderr, "unknown %s=%q\n", envFake, os.Getenv(envFake))
		os.Exit(2)
	}
	code := m.Run()
	cleanupBinary()
	os.Exit(code)
}

// fakeLog appends to the file named by AIM_MCP_FAKE_LOG, one write per entry,
// so that several processes may share it.
type fakeLog struct {
	mu sync.Mutex
	f  *os.File
}

func openFakeLog() *fakeLog {
	name := os.Getenv(envLog)
	if name == "" {
		return &fakeLog{}
	}
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake server:", err)
		os.Exit(2)
	}
	return &fakeLog{f: f}
}

// line logs a line read from stdin, cut to 1 KiB (and marked) when longer.
func (l *fakeLog) line(b []byte) {
	if l.f == nil {
		return
	}
	b = bytes.TrimRight(b, "\r\n")
	if len(b) > 1024 {
		b = append(b[:1024:1024], fmt.Sprintf("…[%d bytes]", len(b))...)
	}
	l.write(append(b, '\n'))
}

// event logs something the server did, as a line starting with "#".
func (l *fakeLog) event(format string, a ...any) {
	if l.f == nil {
		return
	}
	l.write([]byte("#" + fmt.Sprintf(format, a...) + "\n"))
}

func (l *fakeLog) write(b []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.f.Write(b)
}

// noiseLine is what the noise tool prints on stdout, outside the transport.
const noiseLine = "fake-server: this line is not JSON-RPC\n"

// fakeMCPServer is a real mcp-go server with tools that exercise every kind
// of traffic a relay must carry.
func fakeMCPServer() int {
	log := openFakeLog()
	srv := server.NewMCPServer("fake", "1.0.0",
		server.WithToolCapabilities(true),
		server.WithResourceCapabilities(false, false),
		server.WithPromptCapabilities(false),
		server.WithElicitation(),
		server.WithRoots(),
	)
	srv.EnableSampling()
	text := func(s string) *mcp.CallToolResult { return mcp.NewToolResultText(s) }
	var pongs sync.Map // id → chan struct{}

	srv.AddTool(mcp.NewTool("echo", mcp.WithString("text")),
		func(ctx context.Context, r mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return text(r.GetString("text", "")), nil
		})
	srv.AddTool(mcp.NewTool("sleep", mcp.WithNumber("ms"), mcp.WithString("tag")),
		func(ctx context.Context, r mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			tag := r.GetString("tag", "")
			select {
			case <-time.After(time.Duration(r.GetInt("ms", 0)) * time.Millisecond):
				return text("slept " + tag), nil
			case <-ctx.Done():
				log.event("cancelled sleep %s", tag)
				return nil, ctx.Err()
			}
		})
	srv.AddTool(mcp.NewTool("progress", mcp.WithNumber("n")),
		func(ctx context.Context, r mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			n := r.GetInt("n", 0)
			var token any
			if r.Params.Meta != nil {
				token = r.Params.Meta.ProgressToken
			}
			for i := 1; i <= n; i++ {
				if err := srv.SendNotificationToClient(ctx, "notifications/progress",
					map[string]any{"progressToken": token, "progress": i, "total": n}); err != nil {
					return nil, err
				}
			}
			return text(fmt.Sprintf("sent %d", n)), nil
		})
	srv.AddTool(mcp.NewTool("sample"),
		func(ctx context.Context, r mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			if res := server.SamplingResponse(r.Params.InputResponses, "s"); res != nil {
				t, _ := res.Content.(mcp.TextContent)
				if m, ok := res.Content.(map[string]any); ok {
					t.Text, _ = m["text"].(string)
				}
				return text("sampled: " + t.Text), nil
			}
			return server.NewInputRequestBuilder("sample-state").Sample("s", mcp.CreateMessageParams{
				Messages:  []mcp.SamplingMessage{{Role: mcp.RoleUser, Content: mcp.NewTextContent("say hi")}},
				MaxTokens: 10,
			}).ToolResult(), nil
		})
	srv.AddTool(mcp.NewTool("elicit"),
		func(ctx context.Context, r mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			if res := server.ElicitationResponse(r.Params.InputResponses, "e"); res != nil {
				return text(fmt.Sprintf("elicited: %s %v", res.Action, res.Content)), nil
			}
			return server.NewInputRequestBuilder("elicit-state").Elicit("e", mcp.ElicitationParams{
				Message: "colour?",
				RequestedSchema: map[string]any{"type": "object",
					"properties": map[string]any{"colour": map[string]any{"type": "string"}}},
			}).ToolResult(), nil
		})
	srv.AddTool(mcp.NewTool("roots"),
		func(ctx context.Context, r mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			if res := server.RootsResponse(r.Params.InputResponses, "r"); res != nil {
				var uris []string
				for _, root := range res.Roots {
					uris = append(uris, root.URI)
				}
				return text("roots: " + strings.Join(uris, ",")), nil
			}
			return server.NewInputRequestBuilder("roots-state").Roots("r").ToolResult(), nil
		})
	srv.AddTool(mcp.NewTool("pingclient"),
		func(ctx context.Context, r mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			id := fmt.Sprintf("srv-ping-%d", time.Now().UnixNano())
			ch := make(chan struct{})
			pongs.Store(id, ch)
			os.Stdout.Write([]byte(`{"jsonrpc":"2.0","id":"` + id + `","method":"ping"}` + "\n"))
			select {
			case <-ch:
				return text("pong " + id), nil
			case <-time.After(5 * time.Second):
				return mcp.NewToolResultError("no pong for " + id), nil
			}
		})
	srv.AddTool(mcp.NewTool("noise"),
		func(ctx context.Context, r mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			os.Stdout.Write([]byte(noiseLine))
			return text("noisy"), nil
		})
	srv.AddTool(mcp.NewTool("crash"),
		func(ctx context.Context, r mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			log.event("crashing")
			os.Exit(3)
			return nil, nil
		})
	srv.AddTool(mcp.NewTool("big", mcp.WithNumber("n")),
		func(ctx context.Context, r mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return text(strings.Repeat("x", r.GetInt("n", 0))), nil
		})
	srv.AddTool(mcp.NewTool("addtool"),
		func(ctx context.Context, r mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			srv.AddTool(mcp.NewTool("added"), func(ctx context.Context, r mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				return text("added"), nil
			})
			return text("ok"), nil
		})
	srv.AddResource(mcp.NewResource("test://hello", "hello", mcp.WithMIMEType("text/plain")),
		func(ctx context.Context, r mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
			return []mcp.ResourceContents{mcp.TextResourceContents{URI: "test://hello", MIMEType: "text/plain", Text: "hello, resource"}}, nil
		})
	srv.AddPrompt(mcp.NewPrompt("greet"),
		func(ctx context.Context, r mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
			return mcp.NewGetPromptResult("a greeting", []mcp.PromptMessage{
				mcp.NewPromptMessage(mcp.RoleUser, mcp.NewTextContent("hello, prompt")),
			}), nil
		})

	deaf := os.Getenv(envDeaf) != ""
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	go func() {
		s := <-sigs
		log.event("signal %v", s)
		if !deaf {
			os.Exit(0)
		}
	}()

	// Every stdin line is logged before the server sees it; answers to the
	// pings this server sent are taken off here.
	pr, pw := io.Pipe()
	go func() {
		br := bufio.NewReaderSize(os.Stdin, 64<<10)
		for {
			line, err := br.ReadBytes('\n')
			if len(line) > 0 {
				log.line(line)
				if bytes.Contains(line, []byte(`"srv-ping-`)) && !bytes.Contains(line, []byte(`"method"`)) {
					id := line[bytes.Index(line, []byte(`srv-ping-`)):]
					id = id[:bytes.IndexByte(id, '"')]
					if ch, ok := pongs.LoadAndDelete(string(id)); ok {
						close(ch.(chan struct{}))
					}
					continue
				}
				pw.Write(line)
			}
			if err != nil {
				log.event("stdin closed")
				if deaf {
					select {}
				}
				pw.Close()
				return
			}
		}
	}()
	s := server.NewStdioServer(srv)
	server.WithWorkerPoolSize(100)(s)
	if err := s.Listen(context.Background(), pr, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "fake server:", err)
		return 1
	}
	log.event("exit")
	return 0
}

// fakeRawServer writes the bytes of AIM_MCP_FAKE_OUT to stdout, then copies
// every stdin byte, unchanged, to AIM_MCP_FAKE_LOG until EOF.
func fakeRawServer() int {
	if name := os.Getenv(envOut); name != "" {
		b, err := os.ReadFile(name)
		if err != nil {
			fmt.Fprintln(os.Stderr, "raw server:", err)
			return 2
		}
		if _, err := os.Stdout.Write(b); err != nil {
			fmt.Fprintln(os.Stderr, "raw server:", err)
			return 2
		}
	}
	f, err := os.Create(os.Getenv(envLog))
	if err != nil {
		fmt.Fprintln(os.Stderr, "raw server:", err)
		return 2
	}
	if _, err := io.Copy(f, os.Stdin); err != nil {
		fmt.Fprintln(os.Stderr, "raw server:", err)
		return 2
	}
	if err := f.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "raw server:", err)
		return 2
	}
	return 0
}

// fakeEchoServer answers every request line at once: a tools/call with its
// "text" argument as the tool's text, anything else with {}. It is the
// server of the benchmarks, as cheap as a JSON-RPC peer can be.
func fakeEchoServer(r io.Reader, w io.Writer) int {
	lr := newLines(r)
	var out []byte
	for {
		line, err := lr.next()
		if len(line) > 0 {
			out = echoResponse(out[:0], line)
			if len(out) > 0 {
				if _, err := w.Write(out); err != nil {
					return 1
				}
			}
		}
		if err != nil {
			return 0
		}
	}
}

// echoResponse appends the answer to one request line to out.
func echoResponse(out, line []byte) []byte {
	m, err := scanMessage(bytes.TrimSpace(line))
	if err != nil || !m.hasID || !m.hasMethod {
		return out
	}
	out = append(out, `{"jsonrpc":"2.0","id":`...)
	out = append(out, m.id...)
	if method, _ := decodeString(m.method); method == "tools/call" {
		text := []byte(`""`)
		if pm, err := members(m.params); err == nil {
			if am, err := members(pm["arguments"]); err == nil && am["text"] != nil {
				text = am["text"]
			}
		}
		out = append(out, `,"result":{"content":[{"type":"text","text":`...)
		out = append(out, text...)
		return append(out, "}]}}\n"...)
	}
	return append(out, `,"result":{}}`+"\n"...)
}

// lines reads lines of any length; a line is valid until the next call.
// Lines longer than the buffer are assembled in a buffer that is reused.
type lines struct {
	br  *bufio.Reader
	big []byte
}

func newLines(r io.Reader) *lines { return &lines{br: bufio.NewReaderSize(r, 64<<10)} }

func (l *lines) next() ([]byte, error) {
	line, err := l.br.ReadSlice('\n')
	if err != bufio.ErrBufferFull {
		return line, err
	}
	l.big = append(l.big[:0], line...)
	for err == bufio.ErrBufferFull {
		line, err = l.br.ReadSlice('\n')
		l.big = append(l.big, line...)
	}
	return l.big, err
}

// fakeSleeper stands for a launcher's grandchild: it logs its pid, waits,
// and logs the signal that ends it.
func fakeSleeper() int {
	log := openFakeLog()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGINT)
	if os.Getenv(envSetsid) != "" {
		if err := setsid(); err != nil {
			log.event("setsid: %v", err)
		}
	}
	log.event("sleeper pid %s", strconv.Itoa(os.Getpid()))
	select {
	case s := <-sigs:
		log.event("sleeper signal %v", s)
	case <-time.After(5 * time.Minute):
	}
	return 0
}
