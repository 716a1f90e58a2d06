package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/opena2a-org/aim-mcp/registry/remote/aimtest"
)

// TestMain lets testscript run this test binary as the aim-mcp command.
func TestMain(m *testing.M) {
	// A proxy run in this process re-executes this binary as its
	// supervisor, under the test binary's own name: package supervisor's
	// init runs it.
	runFakeServer()
	// Every process these tests start is this binary, built with -race:
	// ThreadSanitizer would make each sleep a second before it exits, and a
	// supervised server (two of them) would outlast the proxy's stop grace.
	os.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	testscript.Main(m, map[string]func(){
		"aim-mcp": func() {
			os.Exit(run(context.Background(), os.Args[1:], env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}))
		},
		// The fake server, for scripts: fake-mcp-server TOOLS.json.
		"fake-mcp-server": func() { os.Exit(fakeServer(os.Args[1], os.Stdin, os.Stdout)) },
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
			// The chain witness writes to the system log only where a
			// script points it (syslog listen).
			e.Setenv("AIM_MCP_SYSLOG", "off")
			e.Values[syslogKey{}] = &syslogBox{}
			// install scans the servers it wraps by starting them: the
			// configs' npx and uvx servers must not be fetched from the
			// network by a test.
			e.Setenv("npm_config_offline", "true")
			e.Setenv("UV_OFFLINE", "1")
			// And an AIM of its own (the test double), which the script
			// drives as an admin would with the aim command.
			aim := aimtest.New()
			e.Defer(aim.Close)
			e.Values[aimKey{}] = aim
			e.Setenv("AIM_TEST_URL", aim.URL)
			e.Setenv("AIM_TEST_API_KEY", aim.APIKey)
			e.Setenv("AIM_TEST_TOKEN", aim.AdminToken)
			return os.MkdirAll(home+"/.config/Claude", 0o700)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"aim": aimCmd, "idfrom": idfromCmd, "perm": permCmd, "syslog": syslogCmd,
		},
	})
}

// idfromCmd keeps what a command printed for the commands after it:
//
//	idfrom NAME REGEXP
//
// sets $NAME to the first group of REGEXP in the last command's stdout (an
// approval id, say).
func idfromCmd(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: idfrom NAME REGEXP")
	}
	m := regexp.MustCompile(args[1]).FindStringSubmatch(ts.ReadFile("stdout"))
	if len(m) < 2 {
		ts.Fatalf("no match for %q in stdout", args[1])
	}
	ts.Setenv(args[0], m[1])
}

// permCmd checks a file's permission bits, where the system has them:
//
//	perm FILE MODE   (octal, such as 0600; nothing is checked on Windows)
func permCmd(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: perm FILE MODE")
	}
	if runtime.GOOS == "windows" {
		return
	}
	want, err := strconv.ParseUint(args[1], 8, 32)
	ts.Check(err)
	fi, err := os.Stat(ts.MkAbs(args[0]))
	ts.Check(err)
	if got := fi.Mode().Perm(); (got == os.FileMode(want)) == neg {
		ts.Fatalf("%s has mode %04o, want %s%04o", args[0], got, map[bool]string{true: "not ", false: ""}[neg], want)
	}
}

type aimKey struct{}

// aimCmd is what an AIM admin does in AIM's web UI, in a script:
//
//	aim grant AGENT CAPABILITY
//	aim rotate AGENT      (a new key in AIM, as its UI's rotation)
//	aim status AGENT STATUS
//	aim has AGENT         (fails when there is no such agent)
//
// AGENT is an agent's name, or the part before "@HOST" of it.
func aimCmd(ts *testscript.TestScript, neg bool, args []string) {
	aim := ts.Value(aimKey{}).(*aimtest.Server)
	if len(args) < 2 {
		ts.Fatalf("usage: aim grant|rotate|status|has AGENT [ARG]")
	}
	var agent *aimtest.Agent
	for _, a := range aim.Agents() {
		if a.Name == args[1] || strings.HasPrefix(a.Name, args[1]+"@") {
			agent = &a
			break
		}
	}
	if args[0] == "has" {
		if (agent != nil) == neg {
			ts.Fatalf("aim has %s: %v", args[1], agent != nil)
		}
		return
	}
	if agent == nil {
		ts.Fatalf("AIM has no agent %q", args[1])
	}
	switch {
	case args[0] == "grant" && len(args) == 3:
		ts.Check(aim.Grant(agent.ID, args[2]))
	case args[0] == "rotate":
		_, err := aim.RotateKey(agent.ID)
		ts.Check(err)
	case args[0] == "status" && len(args) == 3:
		aim.SetStatus(agent.ID, args[2])
	default:
		ts.Fatalf("aim %s: unknown or wrong arguments", args[0])
	}
}

type syslogKey struct{}

// syslogBox holds a script's syslog socket.
type syslogBox struct{ conn *net.UnixConn }

// syslogCmd is a system log of the script's own, as journald is one:
//
//	syslog listen SOCKET   (then env AIM_MCP_SYSLOG=SOCKET)
//	syslog drain FILE      (appends the messages received so far, one a line)
func syslogCmd(ts *testscript.TestScript, neg bool, args []string) {
	box := ts.Value(syslogKey{}).(*syslogBox)
	switch {
	case len(args) == 2 && args[0] == "listen":
		c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: ts.MkAbs(args[1]), Net: "unixgram"})
		ts.Check(err)
		box.conn = c
		ts.Defer(func() { c.Close() })
	case len(args) == 2 && args[0] == "drain" && box.conn != nil:
		f, err := os.OpenFile(ts.MkAbs(args[1]), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		ts.Check(err)
		defer f.Close()
		buf := make([]byte, 64<<10)
		for {
			box.conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			n, err := box.conn.Read(buf)
			if err != nil {
				return
			}
			fmt.Fprintf(f, "%s\n", buf[:n])
		}
	default:
		ts.Fatalf("usage: syslog listen SOCKET | syslog drain FILE (after listen)")
	}
}
