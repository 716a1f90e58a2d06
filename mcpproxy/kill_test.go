package mcpproxy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opena2a-org/aim-mcp/registry"
)

// TestKillLosesNothing kills aim-mcp with SIGKILL at random points while
// calls stream through it, again and again on one home. After the next
// aim-mcp command has run, every tools/call the server received has its
// call record, no record appears twice, and the chain verifies: a call's
// record is in the spool before the call is forwarded, and whoever opens
// the registry next moves what a dead session left.
func TestKillLosesNothing(t *testing.T) {
	requireProc(t)
	bin := aimMCP(t)
	kills := 100
	if testing.Short() {
		kills = 10
	}
	ctx := context.Background()
	home := t.TempDir()
	serverLog := filepath.Join(t.TempDir(), "server.log")
	env := append(os.Environ(), binEnv(t, envFake+"=echo", envLog+"="+serverLog)...)
	db, err := registry.Open(ctx, filepath.Join(home, "aim.db"), registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.Register(ctx, registry.Registration{Client: "claude-desktop", Name: "killed", Command: os.Args[0]}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	next := 0 // request ids are unique across the whole run
	for k := range kills {
		cmd := exec.Command(bin, "proxy", "--server", "killed", "--home", home, "--", os.Args[0])
		cmd.Env = env
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout = nil // answers are not read: the server's log says what it got
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		stop := make(chan struct{})
		sent := make(chan struct{})
		go func() {
			defer close(sent)
			for {
				select {
				case <-stop:
					return
				default:
				}
				next++
				line := fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"echo","arguments":{"text":"k%d"}}}`+"\n", next, k)
				if _, err := stdin.Write([]byte(line)); err != nil {
					return
				}
			}
		}()
		// One run in five dies at a random time from its start, often
		// before it has opened the registry; the others at a random time
		// after calls began to reach the server.
		if k%5 != 0 {
			before := fileSize(serverLog)
			for deadline := time.Now().Add(10 * time.Second); fileSize(serverLog) == before && time.Now().Before(deadline); {
				time.Sleep(time.Millisecond)
			}
		}
		time.Sleep(time.Duration(rng.IntN(20_000)) * time.Microsecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		close(stop)
		stdin.Close()
		<-sent
	}
	// The server (killed with its proxy: its parent-death signal) must be
	// gone before its log is read.
	time.Sleep(200 * time.Millisecond)

	// The next aim-mcp command moves what the dead sessions left.
	out, err := exec.Command(bin, "audit", "verify", "--home", home).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "audit trail intact") {
		t.Fatalf("aim-mcp audit verify: %v\n%s", err, out)
	}
	db, err = registry.Open(ctx, filepath.Join(home, "aim.db"), registry.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	recs, err := db.Records(ctx, registry.Filter{Kind: registry.KindCall})
	if err != nil {
		t.Fatal(err)
	}
	recorded := map[string]int{}
	for _, r := range recs {
		recorded[string(r.RequestID)]++
	}
	for id, n := range recorded {
		if n != 1 {
			t.Errorf("request %s has %d call records, want 1", id, n)
		}
	}
	logged, _ := os.ReadFile(serverLog)
	received := 0
	for line := range bytes.Lines(logged) {
		if !bytes.HasSuffix(line, []byte("\n")) {
			continue // cut by the kill: the server never read a whole call
		}
		var m struct {
			ID json.RawMessage `json:"id"`
		}
		if json.Unmarshal(line, &m) != nil {
			t.Fatalf("the server read a line that is not JSON: %q", line)
		}
		received++
		if recorded[string(m.ID)] == 0 {
			t.Errorf("the server got call %s, which has no call record", m.ID)
		}
	}
	if received == 0 {
		t.Fatalf("the server received no call in %d runs: the test tests nothing", kills)
	}
	issues, err := db.VerifySpools(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, is := range issues {
		if is.Broken {
			t.Errorf("spool %s: %s", is.Session, is.Reason)
		}
	}
	t.Logf("%d kills: the server received %d calls, %d call records", kills, received, len(recs))
}

func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}
