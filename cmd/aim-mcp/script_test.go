package main

import (
	"context"
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets testscript run this test binary as the aim-mcp command.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"aim-mcp": func() {
			os.Exit(run(context.Background(), os.Args[1:], env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}))
		},
		"replay-mcp-server": replayServer,
	})
}

// TestScript runs testdata/*.txtar: one script per behaviour of the CLI.
// Set AIM_MCP_UPDATE_SCRIPTS=1 to rewrite their golden sections.
func TestScript(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:           "testdata",
		UpdateScripts: os.Getenv("AIM_MCP_UPDATE_SCRIPTS") == "1",
		Setup: func(e *testscript.Env) error {
			// Each script gets its own home, config and data directories.
			home := e.WorkDir + "/home"
			e.Setenv("HOME", home)
			e.Setenv("XDG_CONFIG_HOME", home+"/.config")
			e.Setenv("XDG_DATA_HOME", home+"/.local/share")
			e.Setenv("AIM_MCP_HOME", "")
			e.Setenv("AIM_PRIVATE_KEY", "")
			return os.MkdirAll(home+"/.config/Claude", 0o700)
		},
	})
}
