//go:build linux

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/opena2a-org/aim-mcp/registry"
)

// chromiumPath finds Debian's Chromium (scripts/test.sh installs it).
func chromiumPath() string {
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// artifactDir is where the browser test saves its screenshots:
// $AIM_E2E_ARTIFACTS, else the test's temp dir.
func artifactDir(t *testing.T) string {
	if d := os.Getenv("AIM_E2E_ARTIFACTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// freeAddr is a loopback address no one listens on, for a dashboard_addr:
// the default port may be taken by another test's dashboard (a proxy that
// holds a call starts one there, detached, and it outlives the test).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startDashboardAt runs `aim-mcp dashboard --no-open` at addr.
func startDashboardAt(t *testing.T, user, aimHome, addr string) (link, base string) {
	t.Helper()
	// The home goes in the environment: the driver's check for processes
	// left behind looks for the run dir in command lines, and the
	// dashboard outlives the driver.
	cmd := exec.Command(aimBin, "dashboard", "--no-open", "--addr", addr)
	cmd.Env = testEnv(user, "AIM_MCP_HOME="+aimHome)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		if t.Failed() {
			t.Logf("aim-mcp dashboard stderr:\n%s", tail(stderr.String(), 4000))
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("aim-mcp dashboard printed no link: %v\n%s", err, stderr.String())
	}
	link = strings.TrimSpace(strings.TrimPrefix(line, "aim-mcp dashboard: "))
	base, _, _ = strings.Cut(link, "/?")
	if !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("aim-mcp dashboard printed %q, want a loopback link", line)
	}
	return link, base
}

// TestDashboardBrowser is issue 10's "done when", in Debian's Chromium:
// server-everything wrapped by install, a rule that makes get-sum wait for a
// person, the official client calling it. The held call shows in the page
// without a reload; Approve returns the real sum to the client; a second call
// is denied with a reason typed in the page, which the client sees; a
// changed tool description shows in Drift and Accept releases the call held
// for it; Activity shows the calls and Verify says intact. A screenshot of
// each page is saved (see artifactDir).
func TestDashboardBrowser(t *testing.T) {
	if relayMode() {
		t.Skip("AIM_E2E_WRAPPER=relay: no aim-mcp, no dashboard")
	}
	chromium := chromiumPath()
	if chromium == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("no chromium found; scripts/test.sh installs Debian's chromium package")
		}
		t.Skip("no chromium found (apt-get install chromium, or run scripts/test.sh, which installs it)")
	}
	h := setup(t)
	dir := runDir(t)
	user := userHome(dir)
	// The proxies find the test's own dashboard at dashboard_addr, and
	// start none.
	addr := freeAddr(t)
	writeConfig(t, user, approvalConfig+"notify: none\ndashboard_addr: "+addr+"\n")
	aimHome := filepath.Join(dir, "aim-home")
	cli := cliAs(t, user)
	cmdline, _ := installOne(t, user, aimHome, "everything", entry{Command: "node", Args: []string{h.everything, "stdio"}})
	cli("policy", "add", "--server", "*", "--tool", "get-sum", "--action", "approve", "--home", aimHome)
	// A remote server in Claude Code's config, rewritten by install: the
	// Servers page shows its URL and that nobody logged in to it.
	remote := `{"mcpServers": {"linear": {"type": "http", "url": "https://mcp.linear.app/mcp"}}}`
	if err := os.WriteFile(filepath.Join(user, ".claude.json"), []byte(remote), 0o600); err != nil {
		t.Fatal(err)
	}
	cli("install", "--client", "claude-code", "--scan-timeout", "0", "--home", aimHome)
	if t.Failed() {
		t.FailNow()
	}
	link, base := startDashboardAt(t, user, aimHome, addr)
	shots := artifactDir(t)

	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900))
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(alloc)
	defer cancelBrowser()
	// The first action starts the browser, which lives as long as the
	// context it ran on: this one, not a step's own timeout.
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("start %s: %v", chromium, err)
	}
	run := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		ctx, cancel := context.WithTimeout(browser, 90*time.Second)
		defer cancel()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("browser: %s: %v", what, err)
		}
	}
	get := func(what string, a chromedp.Action[string]) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(browser, 30*time.Second)
		defer cancel()
		v, err := chromedp.Run(ctx, a)
		if err != nil {
			t.Fatalf("browser: %s: %v", what, err)
		}
		return v
	}
	shot := func(name string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(browser, 30*time.Second)
		defer cancel()
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatalf("browser: screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The pages redraw themselves whenever something happens, so a node
	// found by id may be gone by the time it is read or clicked; the test
	// reads and clicks by selector, inside the page, as a person would.
	textOf := func(sel string) string {
		t.Helper()
		q, _ := json.Marshal(sel)
		return get("read "+sel, chromedp.Evaluate[string](`(document.querySelector(`+string(q)+`) || {innerText: ""}).innerText`))
	}
	poll := func(expr string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(30*time.Second))(ctx, tg)
			return err
		})
	}
	// clickUntil clicks the first element sel matches until done (a JS
	// expression) holds. For a row that opens, sel leaves out open rows: a
	// redraw keeps a row open, and a second click would close it.
	clickUntil := func(sel, done string) chromedp.Action[chromedp.Void] {
		q, _ := json.Marshal(sel)
		return poll(`(() => { if (` + done + `) return true; const e = document.querySelector(` + string(q) + `);
			if (e) e.click(); return false; })()`)
	}

	// The link swaps its token for a cookie and drops it from the address.
	run("open the link", chromedp.Navigate(link), chromedp.WaitVisible(css(`#pending`)))
	url := get("location", chromedp.Location())
	if strings.Contains(url, "token") {
		t.Errorf("the address still carries the token after the redirect: %s", url)
	}
	get("mark the page", chromedp.Evaluate[string](`window.aimMarker = "same page"`))

	const reason = "not during the demo"
	hs := filepath.Join(dir, "handshake")
	if err := os.Mkdir(hs, 0o755); err != nil {
		t.Fatal(err)
	}
	d := h.startDriver(t, "dashboard", "dashboard", dir, []string{"--handshake", hs, "--deny-reason", reason}, cmdline)
	func() {
		evA, err := waitEvent(hs, "A-sent", d.done)
		if err != nil {
			t.Error(err)
			return
		}
		run("the held call appears", chromedp.WaitVisible(css(`section[data-approval]`)))
		shown := time.Now()
		if sent, ok := evA["t"].(float64); ok {
			t.Logf("get-sum A: shown in the page %v after the client sent it", shown.Sub(time.UnixMilli(int64(sent))).Round(time.Millisecond))
		}
		marker := get("no reload", chromedp.Evaluate[string](`window.aimMarker || ""`))
		if marker != "same page" {
			t.Error("the page was reloaded to show the held call; it must arrive live")
		}
		card := textOf(`section[data-approval]`)
		for _, want := range []string{"get-sum", "everything", "claude-desktop", "rule 1", `"a": 1`, "expires in"} {
			if !strings.Contains(card, want) {
				t.Errorf("the approval card does not show %q:\n%s", want, card)
			}
		}
		shot("approvals")
		idA := get("read A's id", chromedp.Evaluate[string](`document.querySelector("section[data-approval]").dataset.approval`))
		run("approve A", chromedp.Click(css(`section[data-approval] button[data-action=approve]`)),
			chromedp.WaitNotPresent(css(`#approval-`+idA)))
		if _, err := waitEvent(hs, "B-sent", d.done); err != nil {
			t.Error(err)
			return
		}
		run("the second call appears, is denied with a reason",
			chromedp.WaitVisible(css(`section[data-approval]`)),
			chromedp.SendKeys(css(`section[data-approval] input.reason`), reason),
			chromedp.Click(css(`section[data-approval] button[data-action=deny]`)),
			chromedp.WaitNotPresent(css(`section[data-approval]`)))
	}()
	r := d.finish(t)
	res, _ := r.doc["results"].(map[string]any)
	t.Logf("the client got: approved %v; denied %v", res["approved"], res["denied"])
	if t.Failed() {
		t.FailNow()
	}

	// The server's echo no longer matches its pin: as if the server changed
	// its description since it was pinned.
	db, err := registry.Open(context.Background(), filepath.Join(aimHome, "aim.db"), registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	res2, err := db.SQL().Exec(`UPDATE tools SET pinned_def = json_set(pinned_def, '$.description', 'Echoes back the input, as pinned'),
		pinned_hash = 'an older definition' WHERE name = 'echo'`)
	db.Close()
	if n, _ := res2.RowsAffected(); err != nil || n != 1 {
		t.Fatalf("change the pin of echo: %v (%d rows)", err, n)
	}
	d2 := h.startDriver(t, "dashboard-drift", "dashboard-drift", dir, []string{"--handshake", hs}, cmdline)
	func() {
		if _, err := waitEvent(hs, "C-sent", d2.done); err != nil {
			t.Error(err)
			return
		}
		// The page redraws the card when the live stream catches up, so a
		// node read by id can vanish between finding and reading it; the
		// card is read by selector, in the page, until it says what changed.
		card := `(document.querySelector('[data-drift="everything/echo"]') || {textContent: ""}).textContent`
		run("drift shows", chromedp.Navigate(base+"/drift"), poll(card+`.includes("as pinned")`))
		diff := get("read the drift card", chromedp.Evaluate[string](card))
		if !strings.Contains(diff, "as pinned") || !strings.Contains(diff, "description") {
			t.Errorf("the drift card does not show the description's change:\n%s", diff)
		}
		shot("drift")
		run("accept", chromedp.Click(css(`button[data-accept="echo"]`)),
			chromedp.WaitNotPresent(css(`[data-drift="everything/echo"]`)))
	}()
	r2 := d2.finish(t)
	res, _ = r2.doc["results"].(map[string]any)
	t.Logf("after Accept the client got: %v", res["drifted"])

	run("activity", chromedp.Navigate(base+"/activity"), chromedp.WaitVisible(css(`tr[data-seq]`)))
	records := textOf(`#records`)
	for _, want := range []string{"get-sum", "echo", "approved", "denied"} {
		if !strings.Contains(records, want) {
			t.Errorf("the Activity page does not show %q", want)
		}
	}
	run("verify", chromedp.Click(css(`#verify`)),
		poll(`document.getElementById("verify-result").textContent.includes("intact")`))
	if v := textOf(`#verify-result`); !strings.HasPrefix(v, "audit trail intact") {
		t.Errorf("Verify says %q, want intact", v)
	}
	run("open a record", clickUntil(`tr[data-seq]:not(.open)`, `document.querySelector("td.detail dl") !== null`),
		// The page is drawn again when the registry changes (an open
		// record stays open, its detail read again): the detail may be
		// missing for a moment.
		poll(`(document.querySelector("td.detail:has(dl)")?.textContent ?? "").includes("verifies up to here")`))
	shot("activity")

	run("servers", chromedp.Navigate(base+"/servers"), chromedp.WaitVisible(css(`tr.clickable`)),
		clickUntil(`tr.clickable:not(.open)`, `document.querySelector("main").innerText.includes("verification_status")`))
	if s := textOf(`main`); !strings.Contains(s, "verification_status") || !strings.Contains(s, "wrapped") ||
		!strings.Contains(s, "What the scanner says") {
		t.Errorf("the Servers page does not show the server's state, trust factors and scan:\n%s", tail(s, 2000))
	}
	if r := textOf(`[data-remote]`); r != "remote https://mcp.linear.app/mcp (http), login: none" {
		t.Errorf("the Servers page shows the remote server as %q", r)
	}
	shot("servers")
	run("policy", chromedp.Navigate(base+"/policy"), chromedp.WaitVisible(css(`#rules table`)),
		chromedp.SendKeys(css(`#check input[name=server]`), "everything"),
		chromedp.SendKeys(css(`#check input[name=tool]`), "get-sum"),
		chromedp.Click(css(`#check button`)), chromedp.WaitVisible(css(`.verdict`)))
	if v := textOf(`#check-result`); !strings.Contains(v, "waits for a person") || !strings.Contains(v, "rule 1") {
		t.Errorf("the policy check says %q, want the approval by rule 1", v)
	}
	shot("policy")
	run("reports", chromedp.Navigate(base+"/reports"), chromedp.WaitVisible(css(`form`)))
	shot("reports")
	t.Logf("screenshots in %s", shots)
}

// css is a CSS selector for chromedp.
func css(sel string) chromedp.CSS { return chromedp.CSS(sel) }
