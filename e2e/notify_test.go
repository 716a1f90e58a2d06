//go:build linux

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opena2a-org/aim-mcp/internal/dbustest"
)

// TestHeldCallNotification: a call held for a person, from a client that
// cannot ask by elicitation (the official client declares none), raises one
// desktop notification on the session bus, "approval needed: server · tool
// · risk", with the dashboard's link to that approval. The bus is private
// and the notification service on it is the test's.
func TestHeldCallNotification(t *testing.T) {
	if relayMode() {
		t.Skip("AIM_E2E_WRAPPER=relay: no aim-mcp, no approvals")
	}
	bus := dbustest.SessionBus(t)
	svc := dbustest.NotificationService(t, bus)
	h := setup(t)
	dir := runDir(t)
	user := userHome(dir)
	addr := freeAddr(t)
	writeConfig(t, user, approvalConfig+"notify: desktop\ndashboard_addr: "+addr+"\n")
	aimHome := filepath.Join(dir, "aim-home")
	cli := cliAs(t, user)
	cmdline, _ := installOne(t, user, aimHome, "everything", entry{Command: "node", Args: []string{h.everything, "stdio"}})
	cli("policy", "add", "--tool", "get-sum", "--action", "approve", "--home", aimHome)
	// The dashboard runs already (as watch serves it), so the proxy links
	// to it rather than starting one that would outlive the test's driver.
	startDashboardAt(t, user, aimHome, addr)
	tok, err := os.ReadFile(filepath.Join(aimHome, "dashboard.token"))
	if err != nil {
		t.Fatal(err)
	}

	const reason = "not during the demo"
	hs := filepath.Join(dir, "handshake")
	if err := os.Mkdir(hs, 0o755); err != nil {
		t.Fatal(err)
	}
	d := h.startDriver(t, "notify", "dashboard", dir,
		[]string{"--handshake", hs, "--deny-reason", reason, "--env", "DBUS_SESSION_BUS_ADDRESS=" + bus},
		cmdline)
	answer := func(event, verb string, args map[string]any, extra ...string) {
		if _, err := waitEvent(hs, event, d.done); err != nil {
			t.Error(err)
			return
		}
		a, _, _, err := waitApproval(t, user, aimHome, "", args, d.done)
		if err != nil {
			t.Error(err)
			return
		}
		link := fmt.Sprintf("http://%s/approvals?id=%s&token=%s", addr, a.ID, strings.TrimSpace(string(tok)))
		deadline := time.Now().Add(30 * time.Second)
		for {
			n := 0
			for _, x := range svc.Received() {
				if strings.Contains(x.Body, link) {
					n++
					if want := "approval needed: everything · get-sum · " + a.Risk; x.Summary != want || x.App != "aim-mcp" {
						t.Errorf("notification %+v, want the summary %q from aim-mcp", x, want)
					}
				}
			}
			if n == 1 {
				break
			}
			if n > 1 || time.Now().After(deadline) {
				t.Errorf("%d notifications with the link %s, want 1; received %+v", n, link, svc.Received())
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if _, _, err := aim(t, user, append([]string{verb, a.ID, "--home", aimHome}, extra...)...); err != nil {
			t.Error(err)
		}
	}
	answer("A-sent", "approve", map[string]any{"a": 1.0, "b": 2.0})
	answer("B-sent", "deny", map[string]any{"a": 40.0, "b": 2.0}, "--reason", reason)
	d.finish(t)
	if got := svc.Received(); len(got) != 2 {
		t.Errorf("%d notifications for two held calls, want 2: %+v", len(got), got)
	}
}
