package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/opena2a-org/aim-mcp/internal/syncbuf"
)

// TestProxyExit: the proxy's own words and exit codes for a server that
// cannot start or that crashes, and silence for one that exits cleanly.
func TestProxyExit(t *testing.T) {
	tests := []struct {
		name   string
		argv   []string
		code   int
		stderr []string
	}{
		{
			name: "not found",
			argv: []string{"aim-mcp-no-such-server"},
			code: 127,
			stderr: []string{
				`aim-mcp: error: start server: "aim-mcp-no-such-server": command not found`,
				`aim-mcp: hint: the client starts servers with a reduced PATH; use an absolute path for "aim-mcp-no-such-server" in the config`,
			},
		},
		{
			name:   "crash",
			argv:   []string{"sh", "-c", "exit 3"},
			code:   3,
			stderr: []string{`aim-mcp: error: server "s" (sh) exited with status 3`},
		},
		{
			name: "clean exit",
			argv: []string{"true"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("XDG_CONFIG_HOME", t.TempDir())
			var out bytes.Buffer
			var errb syncbuf.Buffer    // the server's stderr is copied while the proxy writes
			stdin, client := io.Pipe() // the client stays: the server's exit is its own
			defer client.Close()
			args := append([]string{"proxy", "--server", "s", "--home", t.TempDir(), "--"}, tc.argv...)
			code := run(context.Background(), args, env{stdin: stdin, stdout: &out, stderr: &errb})
			if code != tc.code {
				t.Errorf("exit code: got %d, want %d", code, tc.code)
			}
			var got []string
			for _, l := range strings.Split(strings.TrimSpace(errb.String()), "\n") {
				if strings.HasPrefix(l, "aim-mcp: error:") || strings.HasPrefix(l, "aim-mcp: hint:") {
					got = append(got, l)
				}
			}
			if strings.Join(got, "\n") != strings.Join(tc.stderr, "\n") {
				t.Errorf("stderr:\ngot  %q\nwant %q", got, tc.stderr)
			}
		})
	}
}
