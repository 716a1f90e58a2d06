package examples

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/opena2a-org/aim-mcp/registry"
)

// TestAgent builds examples/agent and runs it twice against a home of its
// own: first the high-risk action waits and gives up, then, approved from
// another registry handle as "aim-mcp approve" would, it runs.
func TestAgent(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "agent")
	if out, err := exec.Command("go", "build", "-o", exe, "./agent").CombinedOutput(); err != nil {
		t.Fatalf("go build ./agent: %v\n%s", err, out)
	}
	home := filepath.Join(dir, "home")
	run := func(wait string) string {
		t.Helper()
		cmd := exec.Command(exe, "-wait", wait)
		cmd.Env = append(os.Environ(), "AIM_MCP_HOME="+home, "AIM_MCP_SYSLOG=off",
			"AIM_MCP_CONFIG="+filepath.Join(dir, "none.yaml"), "AIM_PRIVATE_KEY=")
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("agent: %v\n%s%s", err, out.String(), errb.String())
		}
		return out.String()
	}
	out := run("300ms")
	m := regexp.MustCompile(`delete_report waits for approval (\w+)`).FindStringSubmatch(out)
	if !strings.Contains(out, "get_weather ran") || strings.Contains(out, "delete_report ran") || m == nil {
		t.Fatalf("first run: want get_weather to run and delete_report to wait:\n%s", out)
	}
	db, err := registry.Open(context.Background(), filepath.Join(home, "aim.db"), registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.DecideApproval(context.Background(), m[1], registry.ApprovalApproved, "tester", ""); err != nil {
		t.Fatal(err)
	}
	out = run("10s")
	if !strings.Contains(out, "delete_report ran") || strings.Contains(out, "waits for approval") {
		t.Fatalf("second run, approved: want delete_report to run:\n%s", out)
	}
	if !strings.Contains(out, "delete_report | call    | approved") {
		t.Errorf("the audit log does not show the approved call:\n%s", out)
	}
}
