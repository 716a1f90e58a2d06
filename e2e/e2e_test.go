//go:build linux

// Package e2e runs aim-mcp against real, third-party MCP software: the
// reference servers @modelcontextprotocol/server-everything, -filesystem and
// -memory, driven by the official TypeScript SDK client (node/client.mjs).
// Each suite runs once straight against the server and once through
// `aim-mcp proxy`; the two normalised JSON documents must be equal, every run
// must leave no process behind, and the proxied runs must leave a complete,
// verifiable audit trail.
//
// The Node packages are pinned in node/package-lock.json; install them with
//
//	npm ci --prefix e2e/node
//
// Without node/node_modules the tests fail with that hint (with -short they
// are skipped instead).
//
// AIM_MCP_BIN=/path/aim-mcp tests that binary instead of building ./cmd/aim-mcp.
//
// AIM_E2E_WRAPPER=relay runs the "proxied" side through e2e/benchrelay, a
// bare line relay, instead of aim-mcp: a self-check of this harness that does
// not depend on the proxy (install is emulated, audit checks are skipped).
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const driverTimeout = 3 * time.Minute

var (
	buildOnce sync.Once
	buildErr  error
	binDir    string
	aimBin    string
	relayBin  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

func relayMode() bool { return os.Getenv("AIM_E2E_WRAPPER") == "relay" }

// harness holds what every test needs: the built binaries and the Node side.
type harness struct {
	moduleRoot string
	nodeDir    string
	client     string
	everything string // entry files of the servers
	filesystem string
	memory     string
}

func setup(t *testing.T) *harness {
	t.Helper()
	nodeDir, err := filepath.Abs("node")
	if err != nil {
		t.Fatal(err)
	}
	moduleRoot := filepath.Dir(filepath.Dir(nodeDir))
	h := &harness{
		moduleRoot: moduleRoot,
		nodeDir:    nodeDir,
		client:     filepath.Join(nodeDir, "client.mjs"),
		everything: filepath.Join(nodeDir, "node_modules/@modelcontextprotocol/server-everything/dist/index.js"),
		filesystem: filepath.Join(nodeDir, "node_modules/@modelcontextprotocol/server-filesystem/dist/index.js"),
		memory:     filepath.Join(nodeDir, "node_modules/@modelcontextprotocol/server-memory/dist/index.js"),
	}
	missing := ""
	if _, err := exec.LookPath("node"); err != nil {
		missing = "node is not on PATH"
	} else if _, err := os.Stat(filepath.Join(nodeDir, "node_modules")); err != nil {
		missing = "e2e/node/node_modules is missing"
	} else {
		for _, f := range []string{h.everything, h.filesystem, h.memory, filepath.Join(nodeDir, "node_modules/@modelcontextprotocol/sdk/package.json")} {
			if _, err := os.Stat(f); err != nil {
				missing = fmt.Sprintf("%s is missing", f)
				break
			}
		}
	}
	if missing != "" {
		if testing.Short() {
			t.Skipf("%s (install with: npm ci --prefix e2e/node)", missing)
		}
		t.Fatalf("%s\nhint: npm ci --prefix e2e/node", missing)
	}

	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "aim-e2e-bin-")
		if buildErr != nil {
			return
		}
		aimBin = filepath.Join(binDir, "aim-mcp")
		relayBin = filepath.Join(binDir, "benchrelay")
		if prebuilt := os.Getenv("AIM_MCP_BIN"); prebuilt != "" {
			aimBin, buildErr = filepath.Abs(prebuilt)
			if buildErr != nil {
				return
			}
		}
		for _, b := range [][2]string{{aimBin, "./cmd/aim-mcp"}, {relayBin, "./e2e/benchrelay"}} {
			if b[1] == "./cmd/aim-mcp" && (relayMode() || os.Getenv("AIM_MCP_BIN") != "") {
				continue
			}
			cmd := exec.Command("go", "build", "-o", b[0], b[1])
			cmd.Dir = moduleRoot
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("go build -o %s %s: %v\n%s", b[0], b[1], err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return h
}

// runDir is a fresh directory whose path is unique to one test; it doubles as
// the marker that finds processes left behind (see leftovers).
func runDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "aim-e2e-run-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// wrap returns the command line that runs serverCmd through the proxy (or,
// in relay mode, through the bare relay).
func wrap(name, home string, serverCmd []string) []string {
	if relayMode() {
		return append([]string{relayBin, "--"}, serverCmd...)
	}
	return append([]string{aimBin, "proxy", "--server", name, "--home", home, "--"}, serverCmd...)
}

// driverMeta is what client.mjs writes with --meta: facts that are not compared.
type driverMeta struct {
	Timings map[string]float64 `json:"timings"`
	Calls   []struct {
		Tool     string `json:"tool"`
		Answered bool   `json:"answered"`
	} `json:"calls"`
	ShutdownTree []struct {
		Pid int    `json:"pid"`
		Cmd string `json:"cmd"`
	} `json:"shutdownTree"`
	ClientErrors []string `json:"clientErrors"`
}

type driverRun struct {
	doc  map[string]any
	raw  []byte
	meta driverMeta
}

// drive runs the SDK client's suite against cmdline and checks that it ran
// clean: exit 0, no failed assertion in the driver, no process left behind.
func (h *harness) drive(t *testing.T, label, suite, marker string, extra []string, cmdline []string) driverRun {
	t.Helper()
	metaFile := filepath.Join(marker, label+"-"+suite+".meta.json")
	args := append([]string{h.client, "--scenario", suite, "--meta", metaFile}, extra...)
	args = append(args, "--")
	args = append(args, cmdline...)
	ctx, cancel := context.WithTimeout(context.Background(), driverTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", args...)
	cmd.Dir = h.nodeDir
	cmd.Env = append(os.Environ(), "AIM_E2E_MARKER="+marker)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	elapsed := time.Since(start)
	defer func() {
		if t.Failed() {
			t.Logf("%s: stderr of the driver and the server:\n%s", label, tail(stderr.String(), 8000))
		}
	}()
	if left := leftovers(t, marker); len(left) > 0 {
		t.Errorf("%s: processes left behind after the client closed: %v", label, left)
	}
	if errors.Is(err, exec.ErrWaitDelay) {
		// the driver exited, but something it started still holds its stdout or stderr
		t.Errorf("%s: a process left behind kept the driver's output open: %v", label, err)
	} else if err != nil {
		t.Fatalf("%s: node client.mjs --scenario %s -- %s: %v", label, suite, strings.Join(cmdline, " "), err)
	}
	var r driverRun
	r.raw = stdout.Bytes()
	if err := json.Unmarshal(r.raw, &r.doc); err != nil {
		t.Fatalf("%s: driver output is not JSON: %v\n%s", label, err, tail(stdout.String(), 2000))
	}
	if mb, err := os.ReadFile(metaFile); err != nil {
		t.Errorf("%s: driver meta: %v", label, err)
	} else if err := json.Unmarshal(mb, &r.meta); err != nil {
		t.Errorf("%s: driver meta: %v", label, err)
	}
	if f, _ := r.doc["failures"].([]any); len(f) > 0 {
		for _, x := range f {
			t.Errorf("%s: %v", label, x)
		}
	}
	if r.doc["scenario"] != suite {
		t.Errorf("%s: scenario = %v, want %s", label, r.doc["scenario"], suite)
	}
	res, _ := r.doc["results"].(map[string]any)
	if sd, _ := res["shutdown"].(map[string]any); sd["processTreeGone"] != true {
		t.Errorf("%s: shutdown: %v", label, res["shutdown"])
	}
	if len(r.meta.Calls) == 0 {
		t.Errorf("%s: the driver saw no tools/call on the wire", label)
	}
	t.Logf("%s: %s suite in %v; %d tools/call; shutdown took %v ms (close %v ms), tree %d process(es)",
		label, suite, elapsed.Round(time.Millisecond), len(r.meta.Calls),
		r.meta.Timings["shutdownTreeGoneMs"], r.meta.Timings["shutdownCloseMs"], len(r.meta.ShutdownTree))
	return r
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// leftovers lists the live processes whose command line or environment holds
// marker, waiting up to 3 s for them to go; those still there are killed (they
// are ours) and returned.
func leftovers(t *testing.T, marker string) []string {
	t.Helper()
	var found []string
	deadline := time.Now().Add(3 * time.Second)
	for {
		found = found[:0]
		var pids []int
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid == os.Getpid() {
				continue
			}
			st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
			if err != nil {
				continue
			}
			if i := bytes.LastIndexByte(st, ')'); i > 0 && len(st) > i+2 && st[i+2] == 'Z' {
				continue // a zombie has exited
			}
			cl, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			env, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
			if bytes.Contains(cl, []byte(marker)) || bytes.Contains(env, []byte("AIM_E2E_MARKER="+marker)) {
				pids = append(pids, pid)
				found = append(found, fmt.Sprintf("%d %s", pid, strings.ReplaceAll(strings.TrimRight(string(cl), "\x00"), "\x00", " ")))
			}
		}
		if len(found) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			for _, p := range pids {
				_ = syscall.Kill(p, syscall.SIGKILL)
			}
			return found
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// compare fails the test when the proxied document differs from the direct one.
func compare(t *testing.T, what string, direct, proxied driverRun) {
	t.Helper()
	if diff := cmp.Diff(direct.doc, proxied.doc); diff != "" {
		t.Errorf("%s: the proxied run differs from the direct run (-direct +proxied):\n%s", what, diff)
	}
}

// ---------------------------------------------------------------- audit trail

type record struct {
	Kind   string `json:"kind"`
	Tool   string `json:"tool"`
	Server string `json:"server"`
}

// aim runs the aim-mcp CLI. skip is true when the command does not exist yet.
func aim(t *testing.T, args ...string) (out []byte, skip bool, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, aimBin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	if err != nil && strings.Contains(stdout.String()+stderr.String(), "unknown command") {
		return nil, true, err
	}
	if err != nil {
		err = fmt.Errorf("aim-mcp %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, tail(stdout.String(), 2000), tail(stderr.String(), 2000))
	}
	return stdout.Bytes(), false, err
}

// checkAudit asserts that the proxy recorded a `call` and an `outcome` record
// for every tools/call the client sent to server (a cancelled call may lack its
// outcome: the server never answers it), nothing was denied, and the trail
// verifies. With exclusive, home must hold records of no other server.
func checkAudit(t *testing.T, home, server string, exclusive bool, runs ...driverRun) {
	t.Helper()
	t.Run("audit-"+server, func(t *testing.T) {
		if relayMode() {
			t.Skip("AIM_E2E_WRAPPER=relay: no aim-mcp, no audit trail")
		}
		out, skip, err := aim(t, "logs", "--home", home, "--json")
		if skip {
			t.Skip("aim-mcp logs: unknown command (not implemented yet)")
		}
		if err != nil {
			t.Fatal(err)
		}
		var recs []record
		if err := json.Unmarshal(out, &recs); err != nil {
			t.Fatalf("aim-mcp logs --json is not a JSON array of records: %v\n%s", err, tail(string(out), 2000))
		}
		sent, answered := map[string]int{}, map[string]int{}
		total := 0
		for _, r := range runs {
			for _, c := range r.meta.Calls {
				sent[c.Tool]++
				total++
				if c.Answered {
					answered[c.Tool]++
				}
			}
		}
		calls, outcomes := map[string]int{}, map[string]int{}
		nCalls := 0
		for _, r := range recs {
			if r.Server != server {
				if exclusive {
					t.Errorf("record for server %q in a home used only by %q: %+v", r.Server, server, r)
				}
				continue
			}
			switch r.Kind {
			case "call":
				calls[r.Tool]++
				nCalls++
			case "outcome":
				outcomes[r.Tool]++
			case "denied":
				t.Errorf("a call was denied: %+v", r)
			}
		}
		if nCalls != total {
			t.Errorf("%d call records, want %d (one per tools/call sent)", nCalls, total)
		}
		for tool, n := range sent {
			if calls[tool] != n {
				t.Errorf("tool %q: %d call records, want %d", tool, calls[tool], n)
			}
			if outcomes[tool] < answered[tool] || outcomes[tool] > n {
				t.Errorf("tool %q: %d outcome records, want %d..%d (%d sent, %d answered)", tool, outcomes[tool], answered[tool], n, n, answered[tool])
			}
		}
		t.Logf("%d records in the home; %s: %d call, outcomes %v", len(recs), server, nCalls, outcomes)

		out, skip, err = aim(t, "audit", "verify", "--home", home)
		if skip {
			t.Skip("aim-mcp audit: unknown command (not implemented yet)")
		}
		if err != nil {
			t.Errorf("audit verify of an untouched trail failed: %v", err)
		} else {
			t.Logf("aim-mcp audit verify: %s", strings.TrimSpace(string(out)))
		}
	})
}

// ---------------------------------------------------------------- suites

func TestEverything(t *testing.T) {
	h := setup(t)
	dir := runDir(t)
	home := filepath.Join(dir, "home")
	server := []string{"node", h.everything, "stdio"}
	direct := h.drive(t, "direct", "everything", dir, nil, server)
	proxied := h.drive(t, "proxied", "everything", dir, nil, wrap("everything", home, server))
	compare(t, "everything", direct, proxied)
	checkEverythingDoc(t, direct)
	checkAudit(t, home, "everything", true, proxied)
}

// checkEverythingDoc pins a few facts of the document, so that a driver that
// silently stopped exercising something would be noticed here too.
func checkEverythingDoc(t *testing.T, r driverRun) {
	t.Helper()
	get := func(path ...string) any {
		var v any = r.doc["results"]
		for _, p := range path {
			m, _ := v.(map[string]any)
			v = m[p]
		}
		return v
	}
	checks := []struct {
		path []string
		want any
	}{
		{[]string{"initialize", "serverInfo", "name"}, "mcp-servers/everything"},
		{[]string{"echo-large", "roundTripExact"}, true},
		{[]string{"echo-large", "sentBytes"}, float64(4 << 20)},
		{[]string{"progress", "onprogressDelivered"}, true},
		{[]string{"roots", "serverAskedRootsList"}, true},
		{[]string{"cancellation", "cancelledNotificationSent"}, true},
		{[]string{"cancellation", "cancelledRequestAnswered"}, false},
		{[]string{"shutdown", "processTreeGone"}, true},
	}
	for _, c := range checks {
		if got := get(c.path...); !cmp.Equal(got, c.want) {
			t.Errorf("results.%s = %v, want %v", strings.Join(c.path, "."), got, c.want)
		}
	}
	if n, _ := get("progress", "wireNotifications").([]any); len(n) != 5 {
		t.Errorf("progress: %d notifications on the wire, want 5", len(n))
	}
}

func TestFilesystem(t *testing.T) {
	h := setup(t)
	dir := runDir(t)
	home := filepath.Join(dir, "home")
	rootA, rootB := filepath.Join(dir, "root-direct"), filepath.Join(dir, "root-proxied")
	for _, d := range []string{rootA, rootB} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	direct := h.drive(t, "direct", "filesystem", dir, []string{"--fs-root", rootA}, []string{"node", h.filesystem, rootA})
	proxied := h.drive(t, "proxied", "filesystem", dir, []string{"--fs-root", rootB}, wrap("filesystem", home, []string{"node", h.filesystem, rootB}))
	compare(t, "filesystem", direct, proxied)
	// what the proxied server wrote really is on disk
	if b, err := os.ReadFile(filepath.Join(rootB, "e2e", "hello.txt")); err != nil || !strings.HasPrefix(string(b), "line one\n") {
		t.Errorf("proxied write_file: %q, %v", b, err)
	}
	checkAudit(t, home, "filesystem", true, proxied)
}

func TestMemory(t *testing.T) {
	h := setup(t)
	dir := runDir(t)
	home := filepath.Join(dir, "home")
	memA, memB := filepath.Join(dir, "memory-direct.jsonl"), filepath.Join(dir, "memory-proxied.jsonl")
	direct := h.drive(t, "direct", "memory", dir, []string{"--env", "MEMORY_FILE_PATH=" + memA}, []string{"node", h.memory})
	proxied := h.drive(t, "proxied", "memory", dir, []string{"--env", "MEMORY_FILE_PATH=" + memB}, wrap("memory", home, []string{"node", h.memory}))
	compare(t, "memory", direct, proxied)
	checkAudit(t, home, "memory", true, proxied)
}

// ---------------------------------------------------------------- Claude Desktop

type entry struct {
	Command string            `json:"command"`
	Args    []string          `json:"args"`
	Env     map[string]string `json:"env,omitempty"`
}

// TestClaudeDesktopInstall writes a Claude Desktop config with the reference
// servers as plain stdio entries, lets `aim-mcp install` wrap them, and runs
// each suite through exactly the command line written into the file, as
// Claude Desktop would.
func TestClaudeDesktopInstall(t *testing.T) {
	h := setup(t)
	dir := runDir(t)
	userHome := filepath.Join(dir, "user")
	aimHome := filepath.Join(dir, "aim-home")
	fsRoot := filepath.Join(dir, "desktop")
	memFile := filepath.Join(dir, "memory.jsonl")
	cfgDir := filepath.Join(userHome, ".config", "Claude")
	for _, d := range []string{cfgDir, fsRoot} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cfgPath := filepath.Join(cfgDir, "claude_desktop_config.json")
	orig := map[string]entry{
		"everything": {Command: "node", Args: []string{h.everything, "stdio"}},
		"filesystem": {Command: "node", Args: []string{h.filesystem, fsRoot}},
		"memory":     {Command: "node", Args: []string{h.memory}, Env: map[string]string{"MEMORY_FILE_PATH": memFile}},
	}
	cfg := map[string]any{
		"mcpServers":     orig,
		"globalShortcut": "Alt+Space",
		"preferences":    map[string]any{"quickEntryShortcut": "off", "menuBarEnabled": false},
	}
	body, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgPath, body, 0o600); err != nil {
		t.Fatal(err)
	}

	if relayMode() {
		emulateInstall(t, cfgPath)
	} else {
		install := func() []byte {
			cmd := exec.Command(aimBin, "install", "--config", cfgPath, "--home", aimHome)
			cmd.Env = append(os.Environ(), "HOME="+userHome, "XDG_CONFIG_HOME="+filepath.Join(userHome, ".config"))
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("aim-mcp install --config %s --home %s: %v\n%s", cfgPath, aimHome, err, out)
			}
			b, err := os.ReadFile(cfgPath)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		first := install()
		if second := install(); !bytes.Equal(first, second) {
			t.Errorf("aim-mcp install is not idempotent: a second run changed the file:\n%s", cmp.Diff(string(first), string(second)))
		}
	}

	var got struct {
		MCPServers     map[string]entry `json:"mcpServers"`
		GlobalShortcut any              `json:"globalShortcut"`
		Preferences    any              `json:"preferences"`
	}
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("config after install is not JSON: %v\n%s", err, b)
	}
	if diff := cmp.Diff(cfg["preferences"], got.Preferences); diff != "" || got.GlobalShortcut != "Alt+Space" {
		t.Errorf("install changed keys it does not own: globalShortcut=%v, preferences (-want +got):\n%s", got.GlobalShortcut, diff)
	}
	if len(got.MCPServers) != len(orig) {
		t.Fatalf("config after install has %d servers, want %d:\n%s", len(got.MCPServers), len(orig), b)
	}
	if !relayMode() {
		for name, e := range got.MCPServers {
			checkWrapped(t, name, e, orig[name], aimHome)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	for _, name := range []string{"everything", "filesystem", "memory"} {
		t.Run(name, func(t *testing.T) {
			o, w := orig[name], got.MCPServers[name]
			var extra []string
			for k, v := range w.Env {
				extra = append(extra, "--env", k+"="+v)
			}
			if name == "filesystem" {
				extra = append(extra, "--fs-root", fsRoot)
			}
			direct := h.drive(t, "direct", name, dir, extra, append([]string{o.Command}, o.Args...))
			proxied := h.drive(t, "claude-desktop", name, dir, extra, append([]string{w.Command}, w.Args...))
			compare(t, name, direct, proxied)
			if name == "everything" {
				checkEverythingDoc(t, proxied)
			}
			checkAudit(t, aimHome, name, false, proxied)
		})
	}
}

// checkWrapped asserts the install contract for one entry: the absolute path
// of this aim-mcp, "proxy", the server's name and the pinned home, and after
// the first "--" the original command line verbatim; env untouched.
func checkWrapped(t *testing.T, name string, got, orig entry, home string) {
	t.Helper()
	if !filepath.IsAbs(got.Command) {
		t.Errorf("%s: command %q is not absolute", name, got.Command)
	}
	if a, err1 := os.Stat(got.Command); err1 != nil {
		t.Errorf("%s: command %q: %v", name, got.Command, err1)
	} else if b, err2 := os.Stat(aimBin); err2 != nil || !os.SameFile(a, b) {
		t.Errorf("%s: command %q is not the aim-mcp under test (%s)", name, got.Command, aimBin)
	}
	sep := -1
	for i, a := range got.Args {
		if a == "--" {
			sep = i
			break
		}
	}
	if sep < 0 || len(got.Args) == 0 || got.Args[0] != "proxy" {
		t.Errorf("%s: args %q: want [proxy ... -- %s %q]", name, got.Args, orig.Command, orig.Args)
		return
	}
	flags := got.Args[1:sep]
	flag := func(f string) string {
		for i := 0; i+1 < len(flags); i++ {
			if flags[i] == f {
				return flags[i+1]
			}
		}
		return ""
	}
	if flag("--server") != name {
		t.Errorf("%s: args %q: --server = %q, want %q", name, got.Args, flag("--server"), name)
	}
	if flag("--home") != home {
		t.Errorf("%s: args %q: --home = %q, want %q", name, got.Args, flag("--home"), home)
	}
	if diff := cmp.Diff(append([]string{orig.Command}, orig.Args...), got.Args[sep+1:]); diff != "" {
		t.Errorf("%s: the original command line after -- changed (-want +got):\n%s", name, diff)
	}
	if diff := cmp.Diff(orig.Env, got.Env); diff != "" {
		t.Errorf("%s: env changed (-want +got):\n%s", name, diff)
	}
}

// emulateInstall wraps each entry with the bare relay (AIM_E2E_WRAPPER=relay).
func emulateInstall(t *testing.T, cfgPath string) {
	t.Helper()
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]json.RawMessage
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	var servers map[string]entry
	if err := json.Unmarshal(cfg["mcpServers"], &servers); err != nil {
		t.Fatal(err)
	}
	for name, e := range servers {
		servers[name] = entry{Command: relayBin, Args: append([]string{"--", e.Command}, e.Args...), Env: e.Env}
	}
	if cfg["mcpServers"], err = json.Marshal(servers); err != nil {
		t.Fatal(err)
	}
	if b, err = json.MarshalIndent(cfg, "", "  "); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgPath, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
