// Command client plays Claude Desktop for the aim-mcp demo. It reads a
// claude_desktop_config.json, launches one of its MCP servers the way
// Claude Desktop does (the entry's "command" and "args" as an argv, no
// shell, its "env" added to the environment), initializes with the
// legacy handshake, lists the tools and calls the ones it is given, in
// order, printing one line per call:
//
//	read_notes: ok: 2 note(s): milk; eggs
//	delete_notes: refused: aim-mcp: call to "delete_notes" was not run: ...
//
// "refused" is a result with isError set: a tool error, or aim-mcp's
// answer to a call it did not let through.
//
// Usage:
//
//	client [-config PATH] [-timeout 60s] SERVER TOOL JSON_ARGS [TOOL JSON_ARGS...]
//
// It exits 0 when every call was answered, 1 when one was not (a timeout,
// a protocol error, a server that died), 2 on a usage mistake.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
)

const usage = `Usage: client [-config PATH] [-timeout D] [-server-log PATH] SERVER TOOL JSON_ARGS [TOOL JSON_ARGS...]

Launches SERVER from Claude Desktop's config as Claude Desktop would and
calls each TOOL with its JSON_ARGS (a JSON object, e.g. '{"text":"hi"}'),
in order. Prints "TOOL: ok: TEXT" or "TOOL: refused: TEXT" per call.

Flags:
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// call is one tool call from the command line.
type call struct {
	tool string
	args json.RawMessage
}

func run(argv []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("client", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", defaultConfigPath(), "Claude Desktop's config file")
	timeout := fs.Duration("timeout", 60*time.Second, "how long to wait for start-up and for each call's answer (Claude Desktop waits about 60s)")
	serverLog := fs.String("server-log", "", "append the server's stderr to this file, as Claude Desktop keeps mcp-server-NAME.log (default: this program's stderr)")
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(argv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	rest := fs.Args()
	if len(rest) < 3 || len(rest)%2 != 1 {
		fmt.Fprintln(stderr, "client: want a server name and one or more TOOL JSON_ARGS pairs")
		fs.Usage()
		return 2
	}
	if *timeout <= 0 {
		fmt.Fprintln(stderr, "client: -timeout must be positive")
		return 2
	}
	name := rest[0]
	var calls []call
	for i := 1; i < len(rest); i += 2 {
		args := json.RawMessage(strings.TrimSpace(rest[i+1]))
		var obj map[string]any
		if err := json.Unmarshal(args, &obj); err != nil || obj == nil {
			fmt.Fprintf(stderr, "client: arguments of %s: %q is not a JSON object\n", rest[i], rest[i+1])
			return 2
		}
		calls = append(calls, call{tool: rest[i], args: args})
	}

	entry, err := loadEntry(*configPath, name)
	if err != nil {
		fmt.Fprintf(stderr, "client: %v\n", err)
		return 1
	}
	logTo := stderr
	if *serverLog != "" {
		f, err := os.OpenFile(*serverLog, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			fmt.Fprintf(stderr, "client: %v\n", err)
			return 1
		}
		defer f.Close()
		logTo = f
	}
	if err := session(entry, calls, *timeout, stdout, logTo); err != nil {
		fmt.Fprintf(stderr, "client: %s: %v\n", name, err)
		return 1
	}
	return 0
}

// entry is one stdio server of claude_desktop_config.json.
type entry struct {
	Command     string            `json:"command"`
	Args        []string          `json:"args"`
	Env         map[string]string `json:"env"`
	URL         string            `json:"url"`
	ExtensionID string            `json:"extensionId"`
}

// loadEntry reads the config and returns the server called name.
func loadEntry(path, name string) (entry, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return entry{}, err
	}
	var cfg struct {
		MCPServers map[string]entry `json:"mcpServers"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return entry{}, fmt.Errorf("%s: %v", path, err)
	}
	e, ok := cfg.MCPServers[name]
	switch {
	case !ok:
		names := make([]string, 0, len(cfg.MCPServers))
		for n := range cfg.MCPServers {
			names = append(names, n)
		}
		slices.Sort(names)
		return entry{}, fmt.Errorf("%s has no server %q (it has: %s)", path, name, strings.Join(names, ", "))
	case e.ExtensionID != "":
		return entry{}, fmt.Errorf("server %q is a desktop extension (%s): Claude Desktop runs it itself", name, e.ExtensionID)
	case e.Command == "":
		return entry{}, fmt.Errorf("server %q has no command (a remote server?): this stand-in launches stdio servers only", name)
	}
	return e, nil
}

// session launches the server, initializes, lists the tools and makes the
// calls in order.
func session(e entry, calls []call, timeout time.Duration, stdout, serverLog io.Writer) error {
	// Claude Desktop adds the entry's env on top of its own environment.
	keys := make([]string, 0, len(e.Env))
	for k := range e.Env {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	env := make([]string, 0, len(keys))
	for _, k := range keys {
		env = append(env, k+"="+e.Env[k])
	}
	// No shell: the command and its arguments are an argv. The transport
	// runs exec.Command(command, args...) with os.Environ() plus env.
	tr := transport.NewStdioWithOptions(e.Command, env, e.Args, transport.WithCommandStderrWriter(serverLog))
	// Claude Desktop speaks the initialize handshake (protocol 2025-11-25),
	// and declares no elicitation, so approvals happen in a terminal.
	c := client.NewClient(tr, client.WithProtocolVersion(mcp.LATEST_LEGACY_PROTOCOL_VERSION))
	// Start's context lives as long as the child: cancelling it kills it.
	if err := c.Start(context.Background()); err != nil {
		return fmt.Errorf("start %s: %w", e.Command, err)
	}
	defer c.Close()

	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	hello := mcp.InitializeRequest{}
	hello.Params.ClientInfo = mcp.Implementation{Name: "aim-mcp-demo-client", Version: "1.0.0"}
	if _, err := c.Initialize(ctx, hello); err != nil {
		return fmt.Errorf("initialize: %w", err)
	}
	// Claude Desktop lists the tools right after start-up; aim-mcp learns
	// their annotations (readOnlyHint, destructiveHint) from this answer.
	if _, err := c.ListTools(ctx, mcp.ListToolsRequest{}); err != nil {
		return fmt.Errorf("tools/list: %w", err)
	}
	cancel()

	for _, k := range calls {
		res, err := callTool(c, k, timeout)
		if err != nil {
			return fmt.Errorf("%s: %w", k.tool, err)
		}
		state := "ok"
		if res.IsError {
			state = "refused"
		}
		fmt.Fprintf(stdout, "%s: %s: %s\n", k.tool, state, oneLine(res))
	}
	return nil
}

func callTool(c *client.Client, k call, timeout time.Duration) (*mcp.CallToolResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req := mcp.CallToolRequest{}
	req.Params.Name = k.tool
	req.Params.Arguments = k.args
	res, err := c.CallTool(ctx, req)
	if errors.Is(err, context.DeadlineExceeded) {
		return nil, fmt.Errorf("no answer within %s", timeout)
	}
	return res, err
}

// oneLine is the text of a result on one line.
func oneLine(res *mcp.CallToolResult) string {
	var parts []string
	for _, c := range res.Content {
		switch c := c.(type) {
		case mcp.TextContent:
			parts = append(parts, c.Text)
		default:
			b, _ := json.Marshal(c)
			parts = append(parts, string(b))
		}
	}
	if len(parts) == 0 && res.StructuredContent != nil {
		b, _ := json.Marshal(res.StructuredContent)
		parts = append(parts, string(b))
	}
	s := strings.ReplaceAll(strings.Join(parts, " "), "\n", " | ")
	return strings.Join(strings.Fields(s), " ")
}

// defaultConfigPath is where Claude Desktop keeps its config on this OS.
func defaultConfigPath() string {
	const file = "claude_desktop_config.json"
	home, _ := os.UserHomeDir()
	switch runtime.GOOS {
	case "darwin":
		return filepath.Join(home, "Library", "Application Support", "Claude", file)
	case "windows":
		if d := os.Getenv("APPDATA"); d != "" {
			return filepath.Join(d, "Claude", file)
		}
		return filepath.Join(home, "AppData", "Roaming", "Claude", file)
	}
	if d := os.Getenv("XDG_CONFIG_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "Claude", file)
	}
	return filepath.Join(home, ".config", "Claude", file)
}
