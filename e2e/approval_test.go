//go:build linux

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// approvalConfig is the config.yaml of TestApproval: the defaults, except
// that a held call waits 20 s for a person instead of 50 s, so that a run
// that goes wrong ends sooner.
const approvalConfig = `# aim-mcp e2e: the default policy; only the wait for a person is shorter.
approval_wait: 20s
`

// approvalSeenWithin is how soon after the client sent a held call its
// approval request must be listed by `aim-mcp approvals`.
const approvalSeenWithin = time.Second

// TestApproval checks human approval end to end, against the real server-everything
// and the official client, through the command line `aim-mcp install` wrote,
// with the default config and one rule: get-sum needs a person's approval.
// The driver (suite "approval") sends get-sum A and, while A waits, a ping and
// an echo call; this side answers A with `aim-mcp approve` and a second
// get-sum B with `aim-mcp deny --reason`, as a person in a terminal would.
func TestApproval(t *testing.T) {
	if relayMode() {
		t.Skip("AIM_E2E_WRAPPER=relay: no aim-mcp, no approvals")
	}
	h := setup(t)
	dir := runDir(t)
	user := userHome(dir)
	writeConfig(t, user, approvalConfig+"dashboard_addr: "+freeAddr(t)+"\n")
	aimHome := filepath.Join(dir, "aim-home")
	cli := cliAs(t, user)
	cmdline, _ := installOne(t, user, aimHome, "everything", entry{Command: "node", Args: []string{h.everything, "stdio"}})
	out := cli("policy", "add", "--server", "*", "--tool", "get-sum", "--action", "approve", "--home", aimHome)
	t.Logf("aim-mcp policy add: %s", strings.TrimSpace(out))
	if t.Failed() {
		t.FailNow()
	}

	const reason = "not during the demo"
	hs := filepath.Join(dir, "handshake")
	if err := os.Mkdir(hs, 0o755); err != nil {
		t.Fatal(err)
	}
	d := h.startDriver(t, "approval", "approval", dir, []string{"--handshake", hs, "--deny-reason", reason},
		cmdline)
	// The person at the terminal. Whatever goes wrong here, the driver is
	// waited for (and its leftovers checked) by finish: no t.Fatal before it.
	a, b := func() (a, b approval) {
		pollStart := time.Now()
		a, seenA, polls, err := waitApproval(t, user, aimHome, "", map[string]any{"a": 1.0, "b": 2.0}, d.done)
		if err != nil {
			t.Errorf("get-sum A: %v", err)
			return
		}
		sentA, err := waitEvent(hs, "A-sent", d.done)
		if err != nil {
			t.Errorf("get-sum A: %v", err)
			return
		}
		sent := time.UnixMilli(int64(sentA["t"].(float64)))
		t.Logf("get-sum A: approval %s listed %v after the client sent the call (the proxy created it %v after; polling started %v before the call, %d polls)",
			a.ID, seenA.Sub(sent).Round(time.Millisecond), a.CreatedAt.Sub(sent).Round(time.Millisecond),
			sent.Sub(pollStart).Round(time.Millisecond), polls)
		if seenA.Sub(sent) > approvalSeenWithin {
			t.Errorf("get-sum A: its approval was listed %v after the call was sent, want within %v", seenA.Sub(sent), approvalSeenWithin)
		}
		if a.Server != "everything" || a.Risk == "" || !strings.Contains(a.Reason, "rule 1") {
			t.Errorf("get-sum A: approval %+v: want server everything, a risk, and rule 1 as the reason", a)
		}
		// A waits: let the driver send its ping and echo, then answer
		if err := os.WriteFile(filepath.Join(hs, "go-A-pending"), nil, 0o644); err != nil {
			t.Error(err)
			return
		}
		held, err := waitEvent(hs, "held-checks-done", d.done)
		if err != nil {
			t.Errorf("get-sum A: %v", err)
			return
		}
		t.Logf("while get-sum A waited: ping answered in %v ms, echo in %v ms; order %v", held["pingMs"], held["echoMs"], held["order"])
		out, _, err := aim(t, user, "approve", a.ID, "--home", aimHome)
		if err != nil {
			t.Error(err)
			return
		}
		t.Logf("aim-mcp approve: %s", strings.TrimSpace(string(out)))

		b, seenB, _, err := waitApproval(t, user, aimHome, a.ID, map[string]any{"a": 40.0, "b": 2.0}, d.done)
		if err != nil {
			t.Errorf("get-sum B: %v", err)
			return
		}
		if sentB, err := waitEvent(hs, "B-sent", d.done); err == nil {
			t.Logf("get-sum B: approval %s listed %v after the client sent the call", b.ID,
				seenB.Sub(time.UnixMilli(int64(sentB["t"].(float64)))).Round(time.Millisecond))
		}
		out, _, err = aim(t, user, "deny", b.ID, "--reason", reason, "--home", aimHome)
		if err != nil {
			t.Error(err)
			return
		}
		t.Logf("aim-mcp deny: %s", strings.TrimSpace(string(out)))
		return a, b
	}()
	r := d.finish(t)
	checkDetachedDashboard(t, aimHome)
	if t.Failed() {
		t.FailNow()
	}
	res := r.doc["results"].(map[string]any)
	t.Logf("order of the answers: %v; get-sum A waited %v ms in all", res["held"].(map[string]any)["order"], r.meta.Timings["heldAMs"])
	t.Logf("get-sum B, denied: %v", res["denied"])

	// the approvals were spent and answered
	var all []approval
	if err := json.Unmarshal([]byte(cli("approvals", "--all", "--json", "--home", aimHome)), &all); err != nil {
		t.Fatalf("aim-mcp approvals --all --json: %v", err)
	}
	status := map[string]string{}
	for _, x := range all {
		status[x.ID] = x.Status
	}
	if status[a.ID] != "used" || status[b.ID] != "denied" || len(all) != 2 {
		t.Errorf("approvals after the run: %v; want %s used, %s denied and no other", status, a.ID, b.ID)
	}

	// the audit trail tells the story
	var recs []struct {
		Kind      string          `json:"kind"`
		Tool      string          `json:"tool"`
		Decision  string          `json:"decision"`
		RequestID json.RawMessage `json:"request_id"`
		Data      struct {
			Args       map[string]any `json:"args"`
			ApprovalID string         `json:"approval_id"`
			Approver   string         `json:"approver"`
			Reason     string         `json:"reason"`
		} `json:"data"`
	}
	logs := cli("logs", "--home", aimHome, "--json")
	if err := json.Unmarshal([]byte(logs), &recs); err != nil {
		t.Fatalf("aim-mcp logs --json: %v\n%s", err, tail(logs, 2000))
	}
	var callA, outcomeA, deniedB, kinds []string
	var reqA json.RawMessage
	for _, rec := range recs {
		kinds = append(kinds, rec.Kind+"/"+rec.Tool+"/"+rec.Decision)
		switch {
		case rec.Kind == "call" && rec.Tool == "get-sum":
			if rec.Decision == "approved" && rec.Data.Approver != "" && rec.Data.ApprovalID == a.ID && cmp.Equal(rec.Data.Args, map[string]any{"a": 1.0, "b": 2.0}) {
				reqA = rec.RequestID
			}
			callA = append(callA, fmt.Sprintf("%s by %q", rec.Decision, rec.Data.Approver))
		case rec.Kind == "outcome" && rec.Tool == "get-sum":
			if bytes.Equal(rec.RequestID, reqA) {
				outcomeA = append(outcomeA, rec.Decision)
			}
		case rec.Kind == "denied":
			if rec.Tool == "get-sum" && rec.Decision == "denied" && rec.Data.ApprovalID == b.ID &&
				strings.Contains(rec.Data.Reason, reason) && cmp.Equal(rec.Data.Args, map[string]any{"a": 40.0, "b": 2.0}) {
				deniedB = append(deniedB, rec.Data.Reason)
			} else {
				t.Errorf("unexpected denied record: %+v", rec)
			}
		}
	}
	if reqA == nil || len(callA) != 1 {
		t.Errorf("get-sum call records %v: want one, approved with approver set for approval %s", callA, a.ID)
	}
	if len(outcomeA) != 1 {
		t.Errorf("get-sum A: outcome records %v, want one", outcomeA)
	}
	if len(deniedB) != 1 {
		t.Errorf("get-sum B: want one denied record with the reason %q for approval %s", reason, b.ID)
	}
	if t.Failed() {
		t.Logf("records: %v", kinds)
	} else {
		t.Logf("audit trail: call A %v, outcome %v; B denied: %q", callA, outcomeA, deniedB)
	}
	t.Logf("aim-mcp audit verify: %s", strings.TrimSpace(cli("audit", "verify", "--home", aimHome)))

	check := cli("policy", "check", "--server", "everything", "--tool", "get-sum", "--home", aimHome)
	if !strings.Contains(check, "approval") || !strings.Contains(check, "from rule 1") {
		t.Errorf("aim-mcp policy check --server everything --tool get-sum does not explain the approval by rule 1:\n%s", check)
	}
	t.Logf("aim-mcp policy check --server everything --tool get-sum:\n%s", check)
}

// approval is what `aim-mcp approvals --json` lists.
type approval struct {
	ID        string         `json:"id"`
	Server    string         `json:"server"`
	Tool      string         `json:"tool"`
	Args      map[string]any `json:"args"`
	Risk      string         `json:"risk"`
	Reason    string         `json:"reason"`
	Status    string         `json:"status"`
	CreatedAt time.Time      `json:"created_at"`
}

// waitApproval polls `aim-mcp approvals --json` until a pending approval of
// get-sum with args, other than the one called not, is listed; seen is when
// the listing that showed it returned. It gives up when the driver exits or
// after a minute.
func waitApproval(t *testing.T, user, aimHome, not string, args map[string]any, done <-chan struct{}) (a approval, seen time.Time, polls int, err error) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		out, _, err := aim(t, user, "approvals", "--json", "--home", aimHome)
		polls++
		if err != nil {
			return a, seen, polls, err
		}
		seen = time.Now()
		var list []approval
		if err := json.Unmarshal(out, &list); err != nil {
			return a, seen, polls, fmt.Errorf("aim-mcp approvals --json: %v\n%s", err, out)
		}
		for _, x := range list {
			if x.ID != not && x.Tool == "get-sum" && x.Status == "pending" && cmp.Equal(x.Args, args) {
				return x, seen, polls, nil
			}
		}
		select {
		case <-done:
			return a, seen, polls, fmt.Errorf("the driver exited before an approval of get-sum %v was listed (listed: %+v)", args, list)
		default:
		}
		if time.Now().After(deadline) {
			return a, seen, polls, fmt.Errorf("no approval of get-sum %v listed within a minute (listed: %+v)", args, list)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitEvent waits for the driver's event name in dir/events.jsonl (see
// --handshake in node/client.mjs).
func waitEvent(dir, name string, done <-chan struct{}) (map[string]any, error) {
	deadline := time.Now().Add(time.Minute)
	for {
		b, _ := os.ReadFile(filepath.Join(dir, "events.jsonl"))
		for len(b) > 0 {
			line, rest, ok := bytes.Cut(b, []byte("\n"))
			if !ok {
				break // being written
			}
			b = rest
			var ev map[string]any
			if json.Unmarshal(line, &ev) == nil && ev["event"] == name {
				return ev, nil
			}
		}
		select {
		case <-done:
			return nil, fmt.Errorf("the driver exited without the event %q", name)
		default:
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("no event %q from the driver within a minute", name)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
