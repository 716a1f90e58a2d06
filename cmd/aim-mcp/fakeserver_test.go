package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// envFakeServer makes the test binary a small MCP server on stdio: the
// server the proxy wraps in these tests. Its value names a JSON file of
// tools, read at every tools/list, so a test can change them between
// sessions (or within one). TestMain acts on it, after a supervisor has
// had its turn: a supervisor is this binary too and inherits it.
const envFakeServer = "AIM_MCP_TEST_SERVER"

// runFakeServer serves as the fake server, when this process was started
// as one: the variable is set and the binary is not called aim-mcp (the
// command, whether testscript's link or a test's own symlink, keeps its
// name).
func runFakeServer() {
	if f := os.Getenv(envFakeServer); f != "" && filepath.Base(os.Args[0]) != "aim-mcp" {
		os.Exit(fakeServer(f, os.Stdin, os.Stdout))
	}
}

// writeTools writes the fake server's tools, each a JSON object, to file.
func writeTools(t *testing.T, file string, tools ...string) {
	t.Helper()
	if err := os.WriteFile(file, []byte("["+strings.Join(tools, ",")+"]"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// fakeServer answers initialize (in the client's protocol version),
// tools/list (from the file), tools/call (with the text "ran TOOL", or the
// result in the file FILE.call when there is one) and any
// other request with the result in FILE.METHOD (slashes as underscores) or
// an empty one; FILE.instructions holds initialize's instructions; one JSON-RPC line each, and exits on
// stdin EOF.
func fakeServer(file string, in io.Reader, out io.Writer) int {
	r := bufio.NewReader(in)
	for {
		line, err := r.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			var m struct {
				ID     json.RawMessage `json:"id"`
				Method string          `json:"method"`
				Params struct {
					ProtocolVersion string `json:"protocolVersion"`
					Name            string `json:"name"`
				} `json:"params"`
			}
			if json.Unmarshal(line, &m) == nil && m.ID != nil {
				var result any
				switch m.Method {
				case "initialize":
					result = map[string]any{"protocolVersion": m.Params.ProtocolVersion,
						"capabilities": map[string]any{"tools": map[string]any{"listChanged": true}},
						"serverInfo":   map[string]any{"name": "fake-tools", "version": "1.0.0"}}
					if text, err := os.ReadFile(file + ".instructions"); err == nil {
						result.(map[string]any)["instructions"] = string(text)
					}
				case "tools/list":
					tools, err := os.ReadFile(file)
					if err != nil {
						fmt.Fprintln(os.Stderr, "fake server:", err)
						return 2
					}
					result = map[string]any{"tools": json.RawMessage(tools)}
				case "tools/call":
					result = map[string]any{"content": []any{map[string]any{"type": "text", "text": "ran " + m.Params.Name}}}
					if r, err := os.ReadFile(file + ".call"); err == nil { // a script's own result
						result = json.RawMessage(r)
					}
				default:
					result = map[string]any{}
					// A script's own answer: FILE.prompts_get for prompts/get.
					if r, err := os.ReadFile(file + "." + strings.ReplaceAll(m.Method, "/", "_")); err == nil {
						result = json.RawMessage(r)
					}
				}
				b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": m.ID, "result": result})
				out.Write(append(b, '\n'))
			}
		}
		if err != nil {
			return 0
		}
	}
}
