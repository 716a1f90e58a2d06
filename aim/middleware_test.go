package aim

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opena2a-org/aim-mcp/registry"
)

func toolCallLine(id int, tool, args string) string {
	return `{"jsonrpc":"2.0","id":` + itoa(id) + `,"method":"tools/call","params":{"name":"` + tool + `","arguments":` + args + `}}`
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// result reads a tools/call answer: its text and isError.
func result(t *testing.T, msg []byte) (string, bool) {
	t.Helper()
	var r struct {
		Result struct {
			Content []struct {
				Text string `json:"text"`
			} `json:"content"`
			IsError bool `json:"isError"`
		} `json:"result"`
		Error json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal(msg, &r); err != nil || r.Error != nil || len(r.Result.Content) == 0 {
		t.Fatalf("not a tool result: %s (%v)", msg, err)
	}
	return r.Result.Content[0].Text, r.Result.IsError
}

// TestMiddlewareAndProxyShareOneChain runs the same mcp-go server twice:
// in-process, where the middleware decides and records each call with the
// server's identity, and under the real aim-mcp proxy, where the proxy
// does and the middleware steps aside. With an agent's Track records,
// the chain holds all three, and it verifies as one.
func TestMiddlewareAndProxyShareOneChain(t *testing.T) {
	h := newHome(t)
	ctx := t.Context()

	// An agent's action.
	agent := h.secure(t, "reporter")
	if err := agent.Track(ctx, "read_report", Low, func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}

	// In process.
	inproc := h.secure(t, "notes-inproc")
	var ran int
	var mu sync.Mutex
	s := notesServer(ToolMiddleware(inproc), &ran, &mu)
	send := func(ctx context.Context, line string) []byte {
		b, err := json.Marshal(s.HandleMessage(ctx, json.RawMessage(line)))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	send(ctx, `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"test","version":"1"}}}`)
	if text, isErr := result(t, send(ctx, toolCallLine(1, "add_note", `{"text":"milk"}`))); isErr || text != "ok: milk" {
		t.Errorf("add_note = %q (isError %v)", text, isErr)
	}
	// destructiveHint: high risk, waits for a person until the request's deadline.
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	text, isErr := result(t, send(short, toolCallLine(2, "wipe_notes", `{}`)))
	if !isErr || !strings.Contains(text, "aim-mcp approve ") {
		t.Errorf("wipe_notes = %q (isError %v), want an isError result naming the approval", text, isErr)
	}
	if ran != 1 {
		t.Errorf("the tools ran %d times, want 1 (wipe_notes must not run)", ran)
	}
	recs, _ := inproc.AuditLogs(ctx, LogFilter{})
	var kinds []string
	for _, r := range recs {
		kinds = append(kinds, r.Kind+"/"+r.Tool+"/"+r.Decision)
		if !strings.Contains(string(r.Data), `"via":"middleware"`) {
			t.Errorf("record %d does not say the middleware made it: %s", r.Seq, r.Data)
		}
	}
	if got := strings.Join(kinds, " "); got != "call/add_note/allow outcome/add_note/success denied/wipe_notes/approval_required" {
		t.Errorf("middleware records: %s", got)
	}

	// Under the proxy.
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, cli, "proxy", "--server", "notes-proxied", "--home", h.dir, "--", os.Args[0])
	cmd.Env = append(h.env, serverEnv+"=1")
	cmd.Stderr = &stderr
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	out := bufio.NewReader(stdout)
	ask := func(line string) []byte {
		t.Helper()
		if _, err := stdin.Write([]byte(line + "\n")); err != nil {
			t.Fatal(err)
		}
		for {
			resp, err := out.ReadBytes('\n')
			if err != nil {
				t.Fatalf("reading the proxy: %v\nstderr: %s", err, stderr.String())
			}
			if bytes.Contains(resp, []byte(`"id"`)) {
				return resp
			}
		}
	}
	ask(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"test","version":"1"}}}`)
	stdin.Write([]byte(`{"jsonrpc":"2.0","method":"notifications/initialized"}` + "\n"))
	if text, isErr := result(t, ask(toolCallLine(1, "add_note", `{"text":"eggs"}`))); isErr || text != "ok: eggs" {
		t.Errorf("add_note through the proxy = %q (isError %v)", text, isErr)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("proxy: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "runs under aim-mcp proxy") {
		t.Errorf("the middleware under the proxy did not say which layer records:\n%s", stderr.String())
	}
	proxied, err := agent.db.Records(ctx, registry.Filter{Server: "notes-proxied", Tool: "add_note"})
	if err != nil || len(proxied) != 2 || proxied[0].Kind != registry.KindCall || proxied[1].Kind != registry.KindOutcome {
		t.Errorf("the proxy's records of add_note: %+v, %v; want a call and an outcome", proxied, err)
	}
	child, err := agent.db.Records(ctx, registry.Filter{Server: "notes-child"})
	if err != nil || len(child) != 0 {
		t.Errorf("the middleware under the proxy recorded %d records too, want none: %+v", len(child), child)
	}

	v, err := agent.db.Verify(ctx, "")
	if err != nil || !v.OK() || v.Servers < 3 {
		t.Errorf("Verify = %+v, %v; want the agent's, the middleware's and the proxy's records in one intact chain", v, err)
	}
	// The CLI agrees: run fails the test unless it exits 0.
	t.Logf("aim-mcp audit verify: %s", h.run(t, "audit", "verify", "--witness", "none"))
}
