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
// Nothing a test starts sees the real user's home or settings: the driver,
// the servers and proxies it launches, and the aim-mcp CLI run with HOME (and
// the XDG directories) inside the test's temp dir, where the test writes the
// config.yaml it means (see testEnv).
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
// the marker that finds processes left behind (see leftovers). Its user/ is
// the HOME of everything the test runs (userHome).
func runDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "aim-e2e-run-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	if err := os.Mkdir(userHome(d), 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

// userHome is the HOME of the driver, the servers and proxies it starts and
// the aim-mcp CLI in the test whose run dir is dir.
func userHome(dir string) string { return filepath.Join(dir, "user") }

// testEnv is the environment of every process a test starts: this one's,
// without what would let the real user's settings in (HOME, the XDG
// directories, AIM_* but the harness's own), with HOME and the XDG
// directories in user. The driver passes the SDK's default environment (HOME,
// PATH, ...) to the server command, so a proxy finds its config.yaml under
// user: $HOME/.config/aim-mcp/config.yaml.
func testEnv(user string, extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case k == "HOME", strings.HasPrefix(k, "XDG_"):
			continue
		case strings.HasPrefix(k, "AIM_") && k != "AIM_DEBUG" && !strings.HasPrefix(k, "AIM_E2E_"):
			continue // AIM_URL, AIM_MCP_HOME, AIM_MCP_CONFIG, AIM_PRIVATE_KEY, ...
		}
		env = append(env, kv)
	}
	env = append(env, "HOME="+user,
		"XDG_CONFIG_HOME="+filepath.Join(user, ".config"),
		"XDG_DATA_HOME="+filepath.Join(user, ".local", "share"),
		"XDG_STATE_HOME="+filepath.Join(user, ".local", "state"),
		"XDG_CACHE_HOME="+filepath.Join(user, ".cache"))
	return append(env, extra...)
}

// transparentConfig is the config.yaml of the transparency suites. They test
// that the relay is transparent (a client gets through the proxy what it gets
// straight from the server), not the policy, so every call must reach the
// server: the default policy would hold destructiveHint tools (write_file,
// edit_file) for a person's approval, and tool pinning would hold a call to a
// tool the server never listed (no-such-tool). TestApproval tests the policy.
const transparentConfig = `# aim-mcp e2e: the transparency suites test that the relay is transparent,
# not the policy: every call is allowed, whatever its risk, and calls to
# tools the server never listed are not held by tool pinning.
actions: {low: allow, medium: allow, high: allow, critical: allow}
drift_action: allow
`

// writeConfig writes aim-mcp's config.yaml where a proxy and the CLI started
// with testEnv(user) look first.
func writeConfig(t *testing.T, user, body string) {
	t.Helper()
	d := filepath.Join(user, ".config", "aim-mcp")
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d, "config.yaml"), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
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
// The driver's HOME is userHome(marker).
func (h *harness) drive(t *testing.T, label, suite, marker string, extra []string, cmdline []string) driverRun {
	t.Helper()
	return h.startDriver(t, label, suite, marker, extra, cmdline).finish(t)
}

// driverProc is a driver running in the background.
type driverProc struct {
	label, suite, marker string
	cmdline              []string
	metaFile             string
	cmd                  *exec.Cmd
	cancel               context.CancelFunc
	stdout, stderr       bytes.Buffer
	start                time.Time
	done                 chan struct{} // closed when the driver has exited
	err                  error         // of cmd.Wait, once done
}

// startDriver starts the driver; finish waits for it and checks its run.
func (h *harness) startDriver(t *testing.T, label, suite, marker string, extra []string, cmdline []string) *driverProc {
	t.Helper()
	p := &driverProc{label: label, suite: suite, marker: marker, cmdline: cmdline, done: make(chan struct{}),
		metaFile: filepath.Join(marker, label+"-"+suite+".meta.json")}
	args := append([]string{h.client, "--scenario", suite, "--meta", p.metaFile}, extra...)
	args = append(args, "--")
	args = append(args, cmdline...)
	ctx, cancel := context.WithTimeout(context.Background(), driverTimeout)
	p.cancel = cancel
	p.cmd = exec.CommandContext(ctx, "node", args...)
	p.cmd.Dir = h.nodeDir
	p.cmd.Env = testEnv(userHome(marker), "AIM_E2E_MARKER="+marker)
	p.cmd.WaitDelay = 5 * time.Second
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	p.start = time.Now()
	if err := p.cmd.Start(); err != nil {
		cancel()
		t.Fatalf("%s: node client.mjs: %v", label, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	// A test that stops before finish must not leave the driver and what it
	// started running.
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			cancel()
			<-p.done
			leftovers(t, marker)
		}
	})
	return p
}

// finish waits for the driver to exit and checks that it ran clean (see drive).
func (p *driverProc) finish(t *testing.T) driverRun {
	t.Helper()
	defer p.cancel()
	<-p.done
	label, suite, err := p.label, p.suite, p.err
	elapsed := time.Since(p.start)
	defer func() {
		if t.Failed() {
			t.Logf("%s: stderr of the driver and the server:\n%s", label, tail(p.stderr.String(), 8000))
		}
	}()
	if left := leftovers(t, p.marker); len(left) > 0 {
		t.Errorf("%s: processes left behind after the client closed: %v", label, left)
	}
	if errors.Is(err, exec.ErrWaitDelay) {
		// the driver exited, but something it started still holds its stdout or stderr
		t.Errorf("%s: a process left behind kept the driver's output open: %v", label, err)
	} else if err != nil {
		t.Fatalf("%s: node client.mjs --scenario %s -- %s: %v", label, suite, strings.Join(p.cmdline, " "), err)
	}
	var r driverRun
	r.raw = p.stdout.Bytes()
	if err := json.Unmarshal(r.raw, &r.doc); err != nil {
		t.Fatalf("%s: driver output is not JSON: %v\n%s", label, err, tail(p.stdout.String(), 2000))
	}
	if mb, err := os.ReadFile(p.metaFile); err != nil {
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
			// A dashboard a proxy started for a held call outlives it by
			// design; it exits once the run dir (its home) is removed.
			if bytes.Contains(cl, []byte("\x00dashboard\x00--no-open\x00")) && bytes.Contains(cl, []byte("\x00--idle-exit\x00")) {
				continue
			}
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

// aim runs the aim-mcp CLI with HOME user. skip is true when the command
// does not exist yet.
func aim(t *testing.T, user string, args ...string) (out []byte, skip bool, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, aimBin, args...)
	cmd.Env = testEnv(user)
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
// verifies. With exclusive, home must hold records of no other server. The
// CLI runs with HOME user.
func checkAudit(t *testing.T, user, home, server string, exclusive bool, runs ...driverRun) {
	t.Helper()
	t.Run("audit-"+server, func(t *testing.T) {
		if relayMode() {
			t.Skip("AIM_E2E_WRAPPER=relay: no aim-mcp, no audit trail")
		}
		out, skip, err := aim(t, user, "logs", "--home", home, "--json")
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

		out, skip, err = aim(t, user, "audit", "verify", "--home", home)
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
	writeConfig(t, userHome(dir), transparentConfig)
	server := []string{"node", h.everything, "stdio"}
	direct := h.drive(t, "direct", "everything", dir, nil, server)
	proxied := h.drive(t, "proxied", "everything", dir, nil, wrap("everything", home, server))
	compare(t, "everything", direct, proxied)
	checkEverythingDoc(t, direct)
	checkAudit(t, userHome(dir), home, "everything", true, proxied)
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
	writeConfig(t, userHome(dir), transparentConfig)
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
	checkAudit(t, userHome(dir), home, "filesystem", true, proxied)
}

func TestMemory(t *testing.T) {
	h := setup(t)
	dir := runDir(t)
	home := filepath.Join(dir, "home")
	writeConfig(t, userHome(dir), transparentConfig)
	memA, memB := filepath.Join(dir, "memory-direct.jsonl"), filepath.Join(dir, "memory-proxied.jsonl")
	direct := h.drive(t, "direct", "memory", dir, []string{"--env", "MEMORY_FILE_PATH=" + memA}, []string{"node", h.memory})
	proxied := h.drive(t, "proxied", "memory", dir, []string{"--env", "MEMORY_FILE_PATH=" + memB}, wrap("memory", home, []string{"node", h.memory}))
	compare(t, "memory", direct, proxied)
	checkAudit(t, userHome(dir), home, "memory", true, proxied)
}
