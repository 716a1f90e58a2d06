package mcpproxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/opena2a-org/aim-mcp/internal/syncbuf"
	"github.com/opena2a-org/aim-mcp/registry"
)

// binEnv is the environment of a real aim-mcp: its own HOME and XDG
// directories, so no config of the machine's user leaks in.
func binEnv(t testing.TB, extra ...string) []string {
	dir := t.TempDir()
	return append([]string{"HOME=" + dir, "XDG_CONFIG_HOME=" + dir + "/config", "XDG_DATA_HOME=" + dir + "/data",
		"AIM_MCP_HOME=", "AIM_PRIVATE_KEY=", "AIM_URL=", fastExit}, extra...)
}

// TestBinarySIGTERM: SIGTERM to the aim-mcp process reaches the server and
// the grandchild in its process group, and nothing is left behind.
func TestBinarySIGTERM(t *testing.T) {
	requireProc(t)
	bin := aimMCP(t)
	home := t.TempDir()
	log := filepath.Join(t.TempDir(), "server.log")
	cmd := exec.Command(bin, append([]string{"proxy", "--server", "fake", "--home", home, "--"}, withGrandchild()...)...)
	cmd.Env = append(os.Environ(), binEnv(t, envFake+"=mcp", envLog+"="+log)...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &syncbuf.Buffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	io.WriteString(stdin, rawInit)
	line, err := bufio.NewReader(stdout).ReadBytes('\n')
	if r := decodeRPC(t, line); err != nil || string(r.ID) != `"init"` {
		t.Fatalf("initialize: got %q, %v", line, err)
	}
	readLog := func() string { b, _ := os.ReadFile(log); return string(b) }
	sleeper := sleeperPid(t, readLog)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case err := <-waited:
		if err != nil {
			t.Errorf("aim-mcp: got %v, want exit 0 (the server's code); stderr:\n%s", err, stderr)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("aim-mcp did not exit after SIGTERM; stderr:\n%s", stderr)
	}
	for _, s := range []string{"#signal terminated", "#sleeper signal terminated"} {
		if !strings.Contains(readLog(), s) {
			t.Errorf("server log lacks %q:\n%s", s, readLog())
		}
	}
	waitGone(t, sleeper)
	db, err := registry.Open(context.Background(), filepath.Join(home, "aim.db"), registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	recs := (&testRegistry{db: db}).records(t)
	starts := only(recs, registry.KindSessionStart)
	if len(starts) != 1 {
		t.Fatalf("session_start records: got %d, want 1", len(starts))
	}
	pgid := int(data(t, starts[0])["pid"].(float64))
	if m := groupMembers(pgid); len(m) != 0 {
		t.Errorf("processes left in the server's group %d: %v", pgid, m)
	}
	if ends := only(recs, registry.KindSessionEnd); len(ends) != 1 || data(t, ends[0])["crashed"] != false {
		t.Errorf("session_end records: got %v, want one, not crashed", ends)
	}
}

// TestManyProxiesOneChain: four aim-mcp processes share one home, as the
// servers of one Claude Desktop do, and write one unbroken chain. Tampering
// with any row is then found, at that row.
func TestManyProxiesOneChain(t *testing.T) {
	bin := aimMCP(t)
	n := 1000
	if testing.Short() {
		n = 50
	}
	const proxies, workers = 4, 8
	ctx := context.Background()
	home := t.TempDir()
	dbPath := filepath.Join(home, "aim.db")
	db, err := registry.Open(ctx, dbPath, registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range proxies { // what aim-mcp install leaves
		if _, _, err := db.Register(ctx, registry.Registration{Client: "claude-desktop", Name: fmt.Sprint("s", i), Command: os.Args[0]}); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	env := binEnv(t, envFake+"=mcp")
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, proxies*workers)
	for i := range proxies {
		wg.Go(func() {
			c, err := client.NewStdioMCPClientWithOptions(bin, env,
				[]string{"proxy", "--server", fmt.Sprint("s", i), "--home", home, "--", os.Args[0]})
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			req := mcp.InitializeRequest{}
			req.Params.ProtocolVersion = mcp.LATEST_LEGACY_PROTOCOL_VERSION
			req.Params.ClientInfo = mcp.Implementation{Name: "claude-ai", Version: "1"}
			ictx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			if _, err := c.Initialize(ictx, req); err != nil {
				errs <- fmt.Errorf("proxy %d: Initialize: %v", i, err)
				return
			}
			var cw sync.WaitGroup
			for w := range workers {
				cw.Go(func() {
					for j := w; j < n; j += workers {
						req := mcp.CallToolRequest{}
						req.Params.Name = "echo"
						want := fmt.Sprintf("s%d-%d", i, j)
						req.Params.Arguments = map[string]any{"text": want}
						cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
						res, err := c.CallTool(cctx, req)
						cancel()
						if err != nil || resultText(res) != want {
							errs <- fmt.Errorf("proxy %d call %d: got %q, %v; want %q", i, j, resultText(res), err, want)
							return
						}
					}
				})
			}
			cw.Wait()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("%d proxies × %d calls in %v", proxies, n, time.Since(start).Round(time.Millisecond))

	db, err = registry.Open(ctx, dbPath, registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	v, err := db.Verify(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	recs, err := db.Records(ctx, registry.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if !v.OK() || v.Records != len(recs) || v.Servers != proxies {
		t.Errorf("Verify: got %+v; want OK over %d records of %d servers", v, len(recs), proxies)
	}
	byServer := map[string]map[string]int{}
	for _, r := range recs {
		if byServer[r.Server] == nil {
			byServer[r.Server] = map[string]int{}
		}
		byServer[r.Server][r.Kind+" "+r.Decision]++
	}
	want := map[string]map[string]int{}
	for i := range proxies {
		want[fmt.Sprint("s", i)] = map[string]int{"session_start ": 1, "initialize ": 1, "call allow": n,
			"outcome success": n, "session_end exited": 1}
	}
	if diff := cmp.Diff(want, byServer); diff != "" {
		t.Errorf("records by server (-want +got):\n%s", diff)
	}
	db.Close()

	// Tamper with copies of the file, one way each, at a call record early
	// in the chain: Verify stops at the first bad record, and under -race a
	// walk through all of them is slow.
	var mid int64
	for _, r := range recs[10:] {
		if r.Kind == registry.KindCall {
			mid = r.Seq
			break
		}
	}
	// Only the last record of each batch the mover commits is signed.
	var signed []int64
	for _, r := range recs[10:] {
		if r.Sig != "" {
			signed = append(signed, r.Seq)
		}
	}
	last := recs[len(recs)-1]
	if len(signed) < 2 || last.Sig == "" {
		t.Fatalf("signed records after the tenth: %v, last signed: %v; want batches that each end signed", signed, last.Sig != "")
	}
	// Without the last signature, the first record of its server after
	// that server's previous signed one is covered by none.
	uncovered := last.Seq
	for i := len(recs) - 2; i >= 0 && !(recs[i].ServerID == last.ServerID && recs[i].Sig != ""); i-- {
		if recs[i].ServerID == last.ServerID {
			uncovered = recs[i].Seq
		}
	}
	tests := []struct {
		name    string
		sql     []string
		badSeq  int64
		because string
	}{
		{"edit a body", []string{fmt.Sprintf(`UPDATE records SET body = replace(body, '"kind":"', '"kind":"x') WHERE seq = %d`, mid)}, mid, "hash does not match"},
		{"edit the decision column", []string{fmt.Sprintf(`UPDATE records SET decision = 'deny' WHERE seq = %d`, mid)}, mid, "indexed column"},
		{"delete a row", []string{fmt.Sprintf(`DELETE FROM records WHERE seq = %d`, mid)}, mid + 1, fmt.Sprintf("follows record %d", mid-1)},
		{"delete the first row", []string{`DELETE FROM records WHERE seq = 1`}, 2, "chain starts at record 2"},
		{"swap the seq of two rows", []string{
			fmt.Sprintf(`UPDATE records SET seq = -1 WHERE seq = %d`, mid),
			fmt.Sprintf(`UPDATE records SET seq = %d WHERE seq = %d`, mid, mid+1),
			fmt.Sprintf(`UPDATE records SET seq = %d WHERE seq = -1`, mid+1),
		}, mid, "reordered"},
		{"replace a signature", []string{fmt.Sprintf(`UPDATE records SET sig = (SELECT sig FROM records WHERE seq = %d) WHERE seq = %d`, signed[1], signed[0])}, signed[0], "signature does not verify"},
		{"delete the chain's last signature", []string{fmt.Sprintf(`UPDATE records SET sig = '' WHERE seq = %d`, last.Seq)}, uncovered, "no signature covers"},
	}
	orig, err := os.ReadFile(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	wal, _ := os.ReadFile(dbPath + "-wal") // normally checkpointed away on close
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "aim.db")
			if err := os.WriteFile(path, orig, 0o600); err != nil {
				t.Fatal(err)
			}
			if wal != nil {
				if err := os.WriteFile(path+"-wal", wal, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			db, err := registry.Open(ctx, path, registry.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			for _, q := range tc.sql {
				if _, err := db.SQL().ExecContext(ctx, q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			v, err := db.Verify(ctx, "")
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if v.OK() || v.BadSeq != tc.badSeq || !strings.Contains(v.Reason, tc.because) {
				t.Errorf("Verify: got bad seq %d (%s), want %d (%s)", v.BadSeq, v.Reason, tc.badSeq, tc.because)
			}
		})
	}
}

// TestClientClosedOutputFirst: a client that closes its end of the proxy's
// stdout and stderr before its stdin (a client quitting in a hurry) must not
// kill the proxy with SIGPIPE on its next write: the call is still
// recorded with its outcome, and the session's end too.
func TestClientClosedOutputFirst(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("SIGPIPE is a unix signal")
	}
	bin := aimMCP(t)
	home := t.TempDir()
	cmd := exec.Command(bin, "proxy", "--server", "fake", "--home", home, "--", os.Args[0])
	cmd.Env = append(os.Environ(), envFake+"=mcp", fastExit, "AIM_MCP_SYSLOG=off")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	out := bufio.NewReader(stdout)
	fmt.Fprintln(stdin, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`)
	if _, err := out.ReadBytes('\n'); err != nil {
		t.Fatalf("initialize: %v", err)
	}
	fmt.Fprintln(stdin, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	stdout.Close()
	stderr.Close()
	fmt.Fprintln(stdin, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"text":"bye"}}}`)
	time.Sleep(200 * time.Millisecond) // the answer meets the closed pipe
	stdin.Close()
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		t.Fatalf("the proxy was killed by %v (%v)", ws.Signal(), err)
	}
	db, err := registry.Open(context.Background(), filepath.Join(home, "aim.db"), registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	recs, err := db.Records(context.Background(), registry.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, r := range recs {
		got[r.Kind]++
	}
	if got[registry.KindCall] != 1 || got[registry.KindOutcome] != 1 || got[registry.KindSessionEnd] != 1 {
		t.Errorf("records by kind %v; want the call, its outcome and the session's end", got)
	}
}
