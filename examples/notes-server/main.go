// Command notes-server is a small MCP server on stdio for the aim-mcp demo.
// It keeps notes, one per line, in notes.txt inside a directory given by
// -dir or $NOTES_DIR, and offers three tools:
//
//   - read_notes   returns the notes (annotated readOnlyHint: low risk)
//   - add_note     appends one note (neither read-only nor destructive)
//   - delete_notes deletes every note (annotated destructiveHint: high risk)
//
// In the demo it knows nothing about aim-mcp: the demo wraps it with
// "aim-mcp install" exactly as it would wrap any other server in Claude
// Desktop's config. With -secure NAME it protects itself in-process
// instead, with aim's middleware for mcp-go and an identity of its own, for
// when something other than a wrapped client config starts it; under
// "aim-mcp proxy" the middleware leaves deciding and recording to the proxy.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/opena2a-org/aim-mcp/aim"
)

// notesFile is the file inside the notes directory that holds the notes.
const notesFile = "notes.txt"

func main() {
	dir := flag.String("dir", os.Getenv("NOTES_DIR"), "directory that holds notes.txt (default $NOTES_DIR)")
	secure := flag.String("secure", "", "protect the tools in-process as the aim identity `NAME`")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "notes-server: no notes directory: pass -dir DIR or set NOTES_DIR")
		os.Exit(2)
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		fmt.Fprintf(os.Stderr, "notes-server: %v\n", err)
		os.Exit(1)
	}
	n := notes{path: filepath.Join(*dir, notesFile)}
	var opts []server.ServerOption
	if *secure != "" {
		agent, err := aim.Secure(context.Background(), *secure, aim.WithAgentType(aim.MCPServer))
		if err != nil {
			fmt.Fprintf(os.Stderr, "notes-server: %v\n", err)
			os.Exit(1)
		}
		defer agent.Close()
		opts = append(opts, server.WithToolHandlerMiddleware(aim.ToolMiddleware(agent)))
	}
	if err := server.ServeStdio(newServer(n, opts...)); err != nil {
		fmt.Fprintf(os.Stderr, "notes-server: %v\n", err)
		os.Exit(1)
	}
}

func newServer(n notes, opts ...server.ServerOption) *server.MCPServer {
	s := server.NewMCPServer("notes-server", "1.0.0", append([]server.ServerOption{
		server.WithToolCapabilities(false),
		server.WithInstructions("A tiny note book: read, add and delete notes.")}, opts...)...)

	// mcp.NewTool starts from destructiveHint and openWorldHint true, so
	// every hint is set explicitly.
	s.AddTool(mcp.NewTool("read_notes",
		mcp.WithDescription("Return every note, one per line."),
		mcp.WithReadOnlyHintAnnotation(true),
		mcp.WithDestructiveHintAnnotation(false),
		mcp.WithIdempotentHintAnnotation(true),
		mcp.WithOpenWorldHintAnnotation(false),
	), n.read)
	s.AddTool(mcp.NewTool("add_note",
		mcp.WithDescription("Append one note."),
		mcp.WithString("text", mcp.Required(), mcp.Description("the note, one line")),
		mcp.WithReadOnlyHintAnnotation(false),
		mcp.WithDestructiveHintAnnotation(false),
		mcp.WithIdempotentHintAnnotation(false),
		mcp.WithOpenWorldHintAnnotation(false),
	), n.add)
	s.AddTool(mcp.NewTool("delete_notes",
		mcp.WithDescription("Delete every note."),
		mcp.WithReadOnlyHintAnnotation(false),
		mcp.WithDestructiveHintAnnotation(true),
		mcp.WithIdempotentHintAnnotation(true),
		mcp.WithOpenWorldHintAnnotation(false),
	), n.deleteAll)
	return s
}

// notes is the note book: a text file, one note per line.
type notes struct{ path string }

func (n notes) lines() ([]string, error) {
	data, err := os.ReadFile(n.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return strings.FieldsFunc(string(data), func(r rune) bool { return r == '\n' }), nil
}

func (n notes) read(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	lines, err := n.lines()
	if err != nil {
		return mcp.NewToolResultError(err.Error()), nil
	}
	if len(lines) == 0 {
		return mcp.NewToolResultText("no notes"), nil
	}
	return mcp.NewToolResultText(fmt.Sprintf("%d note(s): %s", len(lines), strings.Join(lines, "; "))), nil
}

func (n notes) add(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	text, err := req.RequireString("text")
	if err != nil {
		return mcp.NewToolResultError(err.Error()), nil
	}
	text = strings.TrimSpace(text)
	if text == "" || strings.ContainsAny(text, "\r\n") {
		return mcp.NewToolResultError("a note is one non-empty line"), nil
	}
	f, err := os.OpenFile(n.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return mcp.NewToolResultError(err.Error()), nil
	}
	_, werr := fmt.Fprintln(f, text)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return mcp.NewToolResultError(werr.Error()), nil
	}
	return mcp.NewToolResultText(fmt.Sprintf("added %q to %s", text, n.path)), nil
}

func (n notes) deleteAll(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	lines, err := n.lines()
	if err != nil {
		return mcp.NewToolResultError(err.Error()), nil
	}
	if err := os.Remove(n.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return mcp.NewToolResultError(err.Error()), nil
	}
	return mcp.NewToolResultText(fmt.Sprintf("deleted %d note(s)", len(lines))), nil
}
