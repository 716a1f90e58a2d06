package mcpproxy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/opena2a-org/aim-mcp/registry"
)

// TestEveryMessageKind drives a real mcp-go server through the proxy with a
// real mcp-go client in Claude's role (the legacy handshake, as Claude
// Desktop speaks it): every kind of message must make the round trip.
func TestEveryMessageKind(t *testing.T) {
	g := &testGuard{}
	p := startProxy(t, proxyOpts{guard: g})
	c := p.connect(legacy)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	tools, err := c.ListTools(ctx, mcp.ListToolsRequest{})
	if err != nil {
		t.Fatalf("ListTools: %v", err)
	}
	var names []string
	for _, tl := range tools.Tools {
		names = append(names, tl.Name)
	}
	slices.Sort(names)
	want := []string{"addtool", "big", "crash", "echo", "elicit", "noise", "pingclient", "progress", "roots", "sample", "sleep"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("tools/list names (-want +got):\n%s", diff)
	}
	//lint:ignore SA1019 this connection is legacy: the ping is sent, and must pass through
	if err := c.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}

	var progress []float64
	var pmu = make(chan struct{}, 1)
	pmu <- struct{}{}
	c.OnNotification(func(n mcp.JSONRPCNotification) {
		if n.Method == "notifications/progress" {
			<-pmu
			if v, ok := n.Params.AdditionalFields["progress"].(float64); ok {
				progress = append(progress, v)
			}
			pmu <- struct{}{}
		}
	})
	preq := mcp.CallToolRequest{}
	preq.Params.Name = "progress"
	preq.Params.Arguments = map[string]any{"n": 5}
	preq.Params.Meta = &mcp.Meta{ProgressToken: "tok-1"}
	if res, err := c.CallTool(ctx, preq); err != nil || resultText(res) != "sent 5" {
		t.Errorf("progress: got %q, %v; want %q", resultText(res), err, "sent 5")
	}

	calls := []struct {
		tool string
		args map[string]any
		want string
	}{
		{"echo", map[string]any{"text": "héllo \u2028 \"quoted\""}, "héllo \u2028 \"quoted\""},
		{"sample", nil, "sampled: hi from the model"},
		{"elicit", nil, "elicited: accept map[colour:blue]"},
		{"roots", nil, "roots: file:///work"},
		{"pingclient", nil, "pong srv-ping-"},
		{"big", map[string]any{"n": 100000}, strings.Repeat("x", 100000)},
		{"addtool", nil, "ok"},
	}
	for _, tc := range calls {
		got, res := call(t, c, tc.tool, tc.args)
		if res.IsError || !strings.HasPrefix(got, tc.want) {
			t.Errorf("call %s: got %.80q (isError %v), want %.80q", tc.tool, got, res.IsError, tc.want)
		}
	}

	res, err := c.ListResources(ctx, mcp.ListResourcesRequest{})
	if err != nil || len(res.Resources) != 1 || res.Resources[0].URI != "test://hello" {
		t.Errorf("ListResources: got %+v, %v; want test://hello", res, err)
	}
	rreq := mcp.ReadResourceRequest{}
	rreq.Params.URI = "test://hello"
	if rr, err := c.ReadResource(ctx, rreq); err != nil || len(rr.Contents) != 1 {
		t.Errorf("ReadResource: got %+v, %v; want one content", rr, err)
	} else if tc, ok := rr.Contents[0].(mcp.TextResourceContents); !ok || tc.Text != "hello, resource" {
		t.Errorf("ReadResource: got %#v, want text %q", rr.Contents[0], "hello, resource")
	}
	if pl, err := c.ListPrompts(ctx, mcp.ListPromptsRequest{}); err != nil || len(pl.Prompts) != 1 {
		t.Errorf("ListPrompts: got %+v, %v; want one prompt", pl, err)
	}
	greq := mcp.GetPromptRequest{}
	greq.Params.Name = "greet"
	if gp, err := c.GetPrompt(ctx, greq); err != nil || len(gp.Messages) != 1 {
		t.Errorf("GetPrompt: got %+v, %v; want one message", gp, err)
	}
	if err := c.RootListChanges(ctx); err != nil {
		t.Errorf("RootListChanges: %v", err)
	}

	// Progress notifications may trail the result: count them on the wire.
	eventually(t, 5*time.Second, "5 progress notifications on the wire", func() bool {
		return bytes.Count(p.wire.Bytes(), []byte(`"method":"notifications/progress"`)) == 5
	})
	eventually(t, 5*time.Second, "the list_changed observation", func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return g.changed >= 1 && len(g.listed) >= 1
	})
	wire := p.wire.String()
	for _, s := range []string{`"method":"sampling/createMessage"`, `"method":"elicitation/create"`,
		`"method":"roots/list"`, `"method":"ping"`, `"method":"notifications/tools/list_changed"`, `"tok-1"`} {
		if !strings.Contains(wire, s) {
			t.Errorf("the client never received %s", s)
		}
	}

	c.Close()
	if code := p.wait(20 * time.Second); code != 0 {
		t.Errorf("exit code: got %d, want 0; stderr:\n%s", code, p.stderr)
	}

	// The server saw every kind of client message, including the answers
	// to its own requests and the notifications.
	seen := p.serverLog()
	for _, s := range []string{`"method":"initialize"`, `"method":"notifications/initialized"`, `"method":"tools/list"`,
		`"method":"ping"`, `"method":"resources/list"`, `"method":"resources/read"`, `"method":"prompts/list"`,
		`"method":"prompts/get"`, `"method":"notifications/roots/list_changed"`, `hi from the model`, `file:///work`,
		`"colour":"blue"`, `"srv-ping-`} {
		if !strings.Contains(seen, s) {
			t.Errorf("the server never received %s", s)
		}
	}

	recs := p.reg.records(t)
	k := kinds(recs)
	nCalls := len(calls) + 1
	for kind, n := range map[string]int{registry.KindCall: nCalls, registry.KindOutcome: nCalls,
		registry.KindSessionStart: 1, registry.KindSessionEnd: 1, registry.KindInitialize: 1, registry.KindToolsList: 1} {
		if k[kind] != n {
			t.Errorf("%s records: got %d, want %d (all: %v)", kind, k[kind], n, k)
		}
	}
	for _, r := range only(recs, registry.KindOutcome) {
		if r.Decision != "success" {
			t.Errorf("outcome of %s: got %q, want success", r.Tool, r.Decision)
		}
	}
	init := data(t, only(recs, registry.KindInitialize)[0])
	if diff := cmp.Diff(map[string]any{"name": "claude-test", "version": "9.9"}, init["client"]); diff != "" {
		t.Errorf("initialize record's client (-want +got):\n%s", diff)
	}
	if init["protocol"] != mcp.LATEST_LEGACY_PROTOCOL_VERSION {
		t.Errorf("initialize record's protocol: got %v, want %s", init["protocol"], mcp.LATEST_LEGACY_PROTOCOL_VERSION)
	}
	end := data(t, only(recs, registry.KindSessionEnd)[0])
	if end["crashed"] != false || end["exit_code"] != float64(0) {
		t.Errorf("session_end: got %v, want crashed false, exit_code 0", end)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.outcomes) != nCalls {
		t.Errorf("outcomes observed by the guard: got %d, want %d", len(g.outcomes), nCalls)
	}
	for _, c := range g.calls {
		if c.Client.Name != "claude-test" {
			t.Errorf("call %s: Client.Name got %q, want claude-test", c.Tool, c.Client.Name)
		}
		if c.Ask == nil {
			t.Errorf("call %s: Ask is nil though the client declared elicitation", c.Tool)
		}
	}
}

// TestModernEra: a client that speaks 2026-07-28 (server/discover, _meta on
// every request, multi round-trip calls) passes too, and each attempt of a
// retried call is checked and recorded.
func TestModernEra(t *testing.T) {
	g := &testGuard{}
	p := startProxy(t, proxyOpts{guard: g})
	c := p.connect() // mcp-go prefers the modern protocol
	if got, _ := call(t, c, "echo", map[string]any{"text": "now"}); got != "now" {
		t.Errorf("echo: got %q, want %q", got, "now")
	}
	if got, _ := call(t, c, "sample", nil); got != "sampled: hi from the model" {
		t.Errorf("sample: got %q, want %q", got, "sampled: hi from the model")
	}
	c.Close()
	if code := p.wait(20 * time.Second); code != 0 {
		t.Errorf("exit code: got %d, want 0", code)
	}
	if !strings.Contains(p.wire.String(), `"input_required"`) {
		t.Errorf("no input_required result reached the client; the call was not multi round-trip")
	}
	recs := p.reg.records(t)
	var got []string
	for _, r := range recs {
		switch r.Kind {
		case registry.KindCall, registry.KindOutcome:
			got = append(got, r.Kind+" "+r.Tool+" "+r.Decision)
			if r.Kind == registry.KindCall && data(t, r)["modern"] != true {
				t.Errorf("call record %d: modern is not true: %s", r.Seq, r.Data)
			}
		case registry.KindInitialize:
			if m := data(t, r)["method"]; m != "server/discover" {
				t.Errorf("initialize record: method got %v, want server/discover", m)
			}
		}
	}
	want := []string{
		"call echo allow", "outcome echo success",
		"call sample allow", "outcome sample input_required",
		"call sample allow", "outcome sample success",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("call and outcome records (-want +got):\n%s", diff)
	}
	for _, c := range g.calls {
		if !c.Modern {
			t.Errorf("call %s: Modern is false", c.Tool)
		}
	}
}

// TestUnpolicedBytes writes exact lines both ways through a raw server and
// checks each side received exactly the bytes the other sent.
func TestUnpolicedBytes(t *testing.T) {
	huge := `{"jsonrpc":"2.0","method":"notifications/message","params":{"data":"` + strings.Repeat("é", 8<<20) + `"}}` + "\n" // 16 MiB
	fromClient := strings.Join([]string{
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}` + "\n",
		`{"jsonrpc":"2.0","method":"notifications/initialized"}` + "\r\n",
		`   {"method" : "ping", "id" : "a\u0062c" ,"jsonrpc":"2.0"}   ` + "\n",
		`{"jsonrpc":"2.0","id":9007199254740993,"method":"tools/list","params":{"_meta":{"b":1,"a":2}}}` + "\n",
		`{"jsonrpc":"2.0","id":1,"result":{"model":"m","role":"assistant","content":{"type":"text","text":"tools/call \ud83d\ude00"}}}` + "\n",
		`[{"jsonrpc":"2.0","id":4,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":1}}]` + "\n",
		`{"jsonrpc":"2.0","id":5,"method":"x/unknown","params":{"a":[1,2.50,{"b":null}],"A":true}}` + "\n",
		`[1, {"jsonrpc":"2.0","id":8,"method":"ping"} ]` + "\r\n",
		`[]` + "\n",
		`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":77,"reason":"gone"}}` + "\n",
		"not json at all\n",
		"\n",
		"\t \r\n",
		`{"jsonrpc":"2.0", "broken": }` + "\r\n",
		` {"jsonrpc":"2.0","method":"notifications/message","params":{"data":"` + "\xff\xfe" + `"}} ` + "\n",
		huge,
		`{"jsonrpc":"2.0","id":6,"method":"resources/read","params":{"uri":"file:///a b"}}` + "\n",
	}, "")
	fromServer := strings.Join([]string{
		`{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-11-25","capabilities":{},"serverInfo":{"name":"raw","version":"0"}}}` + "\n",
		`{"jsonrpc":"2.0","id":1,"method":"sampling/createMessage","params":{"messages":[],"maxTokens":1}}` + "\r\n",
		`{"jsonrpc":"2.0","id":"srv","method":"ping"}` + "\n",
		`{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"t","progress":0.5}}` + "\n",
		`  {"id":9007199254740993,"jsonrpc":"2.0","result":{"tools":[]}}` + "\n",
		`[{"jsonrpc":"2.0","id":4,"result":{}}]` + "\n",
		"a log line on stdout\n",
		"\n",
		`{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}` + "\n",
		huge,
		`{"jsonrpc":"2.0","id":5,"error":{"code":-32601,"message":"Method not found"}}` + "\n",
	}, "")
	p := startProxy(t, proxyOpts{mode: "raw", rawOut: []byte(fromServer)})
	lr := p.lines()
	go p.send(fromClient)
	var got bytes.Buffer
	for got.Len() < len(fromServer) {
		got.Write(lr.next(60 * time.Second))
	}
	if got.String() != fromServer {
		t.Errorf("the client got other bytes than the server sent:\n%s", lineDiff(fromServer, got.String()))
	}
	if code := p.close(); code != 0 {
		t.Fatalf("exit code: got %d, want 0; stderr:\n%s", code, p.stderr)
	}
	if log := p.serverLog(); log != fromClient {
		t.Errorf("the server got other bytes than the client sent:\n%s", lineDiff(fromClient, log))
	}
	recs := p.reg.records(t)
	noise := only(recs, registry.KindNoise)
	if len(noise) != 1 || data(t, noise[0])["line"] != "a log line on stdout" {
		t.Errorf("noise records: got %v, want one for %q", noise, "a log line on stdout")
	}
	if k := kinds(recs); k[registry.KindBypass] != 0 || k[registry.KindCall] != 0 {
		t.Errorf("records: got %v, want no bypass and no call", k)
	}
}

// lineDiff shows where two texts of lines first differ, shortened.
func lineDiff(want, got string) string {
	wl, gl := strings.SplitAfter(want, "\n"), strings.SplitAfter(got, "\n")
	short := func(s string) string {
		if len(s) > 200 {
			return fmt.Sprintf("%q…[%d bytes]", s[:200], len(s))
		}
		return fmt.Sprintf("%q", s)
	}
	for i := 0; i < max(len(wl), len(gl)); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return fmt.Sprintf("line %d: got %s, want %s", i+1, short(g), short(w))
		}
	}
	return "(same lines)"
}

// TestHugeCall sends a 16 MiB tools/call (policed: scanned, digested,
// recorded) and gets a 16 MiB result back, on raw pipes to the echo server
// (an mcp-go client and server on both ends cost half a minute under -race).
func TestHugeCall(t *testing.T) {
	p := startProxy(t, proxyOpts{mode: "echo"})
	lr := p.lines()
	text := strings.Repeat("0123456789abcdef", 1<<20) // 16 MiB
	p.send(toolCall(`"huge"`, "echo", `{"text":"`+text+`"}`))
	want := `{"jsonrpc":"2.0","id":"huge","result":{"content":[{"type":"text","text":"` + text + `"}]}}` + "\n"
	if got := lr.next(60 * time.Second); string(got) != want {
		t.Errorf("answer: got %d bytes (%.80q…), want %d bytes", len(got), got, len(want))
	}
	if code := p.close(); code != 0 {
		t.Errorf("exit code: got %d, want 0", code)
	}
	recs := p.reg.records(t)
	calls := only(recs, registry.KindCall)
	if len(calls) != 1 {
		t.Fatalf("call records: got %d, want 1", len(calls))
	}
	d := data(t, calls[0])
	args, _ := json.Marshal(d["args"])
	if len(args) > 2048 || !strings.Contains(string(args), fmt.Sprintf("[%d bytes]", len(text))) {
		t.Errorf("the logged arguments of a 16 MiB call: got %d bytes (%.100s), want them cut with the size", len(args), args)
	}
	if want := canonDigest(t, `{"text":"`+text+`"}`); d["args_digest"] != want {
		t.Errorf("args_digest: got %v, want %s (of the whole arguments)", d["args_digest"], want)
	}
	outs := only(recs, registry.KindOutcome)
	if len(outs) != 1 || outs[0].Decision != "success" || data(t, outs[0])["size"].(float64) < 16<<20 {
		t.Errorf("outcomes: got %v, want one success of 16 MiB", outs)
	}
}

// TestNoise: a non-JSON line on the server's stdout is forwarded unchanged
// and recorded.
func TestNoise(t *testing.T) {
	p := startProxy(t, proxyOpts{})
	c := p.connect(legacy)
	if got, _ := call(t, c, "noise", nil); got != "noisy" {
		t.Errorf("noise: got %q, want noisy", got)
	}
	c.Close()
	p.wait(20 * time.Second)
	if !strings.Contains(p.wire.String(), "\n"+noiseLine) {
		t.Errorf("the noise line did not reach the client as a line of its own: %q", noiseLine)
	}
	noise := only(p.reg.records(t), registry.KindNoise)
	if len(noise) != 1 {
		t.Fatalf("noise records: got %d, want 1", len(noise))
	}
	want := map[string]any{"line": strings.TrimSpace(noiseLine), "size": float64(len(noiseLine) - 1)}
	if diff := cmp.Diff(want, data(t, noise[0])); diff != "" {
		t.Errorf("noise record (-want +got):\n%s", diff)
	}
}

// TestRealBinary runs a whole session through the built aim-mcp binary,
// launched the way Claude Desktop launches a wrapped server.
func TestRealBinary(t *testing.T) {
	bin := aimMCP(t)
	home := t.TempDir()
	env := []string{envFake + "=mcp", fastExit}
	c, err := client.NewStdioMCPClientWithOptions(bin, env,
		[]string{"proxy", "--server", "fake", "--home", home, "--", os.Args[0]})
	if err != nil {
		t.Fatalf("start aim-mcp: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req := mcp.InitializeRequest{}
	req.Params.ClientInfo = mcp.Implementation{Name: "claude-ai", Version: "1"}
	req.Params.ProtocolVersion = mcp.LATEST_LEGACY_PROTOCOL_VERSION
	if _, err := c.Initialize(ctx, req); err != nil {
		t.Fatalf("Initialize: %v", err)
	}
	for i := range 3 {
		creq := mcp.CallToolRequest{}
		creq.Params.Name = "echo"
		creq.Params.Arguments = map[string]any{"text": fmt.Sprint(i)}
		res, err := c.CallTool(ctx, creq)
		if err != nil || resultText(res) != fmt.Sprint(i) {
			t.Errorf("echo %d: got %q, %v", i, resultText(res), err)
		}
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	db, err := registry.Open(ctx, home+"/aim.db", registry.Options{})
	if err != nil {
		t.Fatalf("open the proxy's registry: %v", err)
	}
	defer db.Close()
	reg := &testRegistry{db: db}
	k := kinds(reg.records(t))
	want := map[string]int{"session_start": 1, "initialize": 1, "call": 3, "outcome": 3, "session_end": 1}
	if diff := cmp.Diff(want, k); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

// TestRepeatedListsCounted: the same tools/list answer again is counted for
// session_end, not recorded each time (clients list often); a first list is
// a record.
func TestRepeatedListsCounted(t *testing.T) {
	p := startProxy(t, proxyOpts{})
	c := p.connect(legacy)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for range 3 {
		if _, err := c.ListTools(ctx, mcp.ListToolsRequest{}); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	if code := p.wait(20 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	recs := p.reg.records(t)
	if n := len(only(recs, registry.KindToolsList)); n != 1 {
		t.Errorf("%d tools_list records for one answer listed three times, want 1", n)
	}
	end := data(t, only(recs, registry.KindSessionEnd)[0])
	if end["tools_list_repeats"] != 2.0 {
		t.Errorf("session_end says %v repeated lists, want 2: %v", end["tools_list_repeats"], end)
	}
}
