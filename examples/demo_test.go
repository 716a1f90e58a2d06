package examples

import (
	"bytes"
	"context"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDemo runs demo.sh end to end: it builds aim-mcp and the example
// binaries, so it is skipped under -short.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("the demo builds aim-mcp and runs it end to end; skipped with -short")
	}
	if runtime.GOOS != "linux" && runtime.GOOS != "darwin" {
		t.Skipf("demo.sh runs on Linux and macOS, not %s", runtime.GOOS)
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash not found")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bash, "demo.sh")
	// On timeout, SIGTERM lets demo.sh stop its client and remove its
	// temp dir; it is killed if it has not exited 40s later.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 40 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err = cmd.Run()
	t.Logf("demo.sh ran in %s", time.Since(start).Round(time.Millisecond))
	if err != nil {
		t.Fatalf("bash demo.sh: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "demo: all steps passed") {
		t.Fatalf("bash demo.sh exited 0 without \"demo: all steps passed\":\n%s", out.String())
	}
}
