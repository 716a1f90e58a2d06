package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/adrg/xdg"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/opena2a-org/aim-mcp/internal/otlptest"
	"github.com/opena2a-org/aim-mcp/internal/syncbuf"
	"github.com/opena2a-org/aim-mcp/witness"
)

// otelWorld is a home, a config.yaml whose otel: block names a real OTLP
// receiver, and the fake server's tools.
type otelWorld struct {
	t     *testing.T
	root  string
	home  string
	tools string
	rcv   *otlptest.Receiver
}

func newOTelWorld(t *testing.T) *otelWorld {
	root := t.TempDir()
	w := &otelWorld{t: t, root: root, home: filepath.Join(root, "aim-home"), tools: filepath.Join(root, "tools.json"), rcv: otlptest.New()}
	t.Cleanup(w.rcv.Close)
	writeTools(t, w.tools,
		`{"name":"echo","inputSchema":{"type":"object"},"annotations":{"readOnlyHint":true}}`,
		`{"name":"drop_table","inputSchema":{"type":"object"}}`)
	t.Setenv("HOME", root)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(root, ".config"))
	t.Setenv("XDG_DATA_HOME", filepath.Join(root, ".local/share"))
	xdg.Reload()
	t.Cleanup(xdg.Reload)
	for _, k := range []string{"AIM_MCP_HOME", "AIM_URL", "AIM_API_KEY", "AIM_DEBUG", "OTEL_SDK_DISABLED",
		"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
		"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_HEADERS"} {
		t.Setenv(k, "")
	}
	cfg := filepath.Join(root, "config.yaml")
	t.Setenv("AIM_MCP_CONFIG", cfg)
	w.writeConfig(fmt.Sprintf("otel:\n  endpoint: %s\n  protocol: http\n  headers:\n    x-team: blue\npolicy:\n  - tool: \"drop_*\"\n    action: deny\n", w.rcv.URL()))
	t.Setenv(envFakeServer, w.tools)
	return w
}

func (w *otelWorld) writeConfig(text string) {
	if err := os.WriteFile(os.Getenv("AIM_MCP_CONFIG"), []byte(text), 0o600); err != nil {
		w.t.Fatal(err)
	}
}

// proxy starts a proxy of the fake server, as a client would, and
// initializes the session.
func (w *otelWorld) proxy() *aimSession {
	w.t.Helper()
	test, err := os.Executable()
	if err != nil {
		w.t.Fatal(err)
	}
	s := startSession(w.t, []string{"proxy", "--server", "db", "--home", w.home, "--", test})
	s.send(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"test-client","version":"1"}}}`)
	s.wait(0)
	s.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	s.send(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
	s.wait(1)
	return s
}

// end closes the client's side and waits for the proxy to exit.
func (s *aimSession) end() {
	s.t.Helper()
	s.in.Close()
	select {
	case code := <-s.done:
		if code != 0 {
			s.t.Errorf("proxy exit code %d; stderr:\n%s", code, s.stderr.String())
		}
	case <-time.After(20 * time.Second):
		s.t.Fatalf("the proxy did not exit; stderr:\n%s", s.stderr.String())
	}
}

const (
	clientTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	clientSpan  = "00f067aa0ba902b7"
)

// TestOTelExport: a wrapped server's calls arrive at a real OTLP receiver
// as spans with the MCP conventions' names and attributes, the one with a
// traceparent as the client's child; the audit records arrive as log
// records, redacted; the duration histogram and the decision counter
// arrive; status shows the exporter and what the session sent.
func TestOTelExport(t *testing.T) {
	w := newOTelWorld(t)
	s := w.proxy()
	call := `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi","api_key":"sk-live-0123456789abcdef"},` +
		`"_meta":{"traceparent":"00-` + clientTrace + `-` + clientSpan + `-01","tracestate":"vendor=x"}}}`
	s.send(call)
	s.wait(2)
	if err := os.WriteFile(w.tools+".call", []byte(`{"content":[{"type":"text","text":"no such row"}],"isError":true}`), 0o600); err != nil {
		t.Fatal(err)
	}
	s.send(`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","arguments":{}}}`)
	s.wait(3)
	s.send(`{"jsonrpc":"2.0","id":"four","method":"tools/call","params":{"name":"drop_table","arguments":{"table":"users"}}}`)
	if text, isErr := s.result(s.waitID("four")); !isErr || !strings.Contains(text, "was not run") {
		t.Fatalf("drop_table: got %q (isError %v), want aim-mcp's refusal", text, isErr)
	}
	s.end()

	// The session's end flushed everything: no waiting on the interval.
	if bad := w.rcv.Bad(); len(bad) > 0 {
		t.Fatalf("requests the receiver could not decode: %v", bad)
	}
	var spans []*tracepb.Span
	others := map[string]map[string]string{}
	for _, sp := range w.rcv.Spans() {
		if strings.HasPrefix(sp.Name, "tools/call") {
			spans = append(spans, sp)
		} else {
			others[sp.Name] = otlptest.Attrs(sp.Attributes)
		}
	}
	if len(spans) != 3 || len(others) != 2 {
		t.Fatalf("got %d tools/call spans and others %v, want 3 (one per call), initialize and tools/list", len(spans), others)
	}
	for name, id := range map[string]string{"initialize": "0", "tools/list": "1"} {
		if a := others[name]; a["mcp.method.name"] != name || a["jsonrpc.request.id"] != id || a["mcp.protocol.version"] != "2025-06-18" || a["mcp.session.id"] == "" {
			t.Errorf("%s span: %v", name, a)
		}
	}
	byID := map[string]map[string]string{}
	for _, sp := range spans {
		a := otlptest.Attrs(sp.Attributes)
		byID[a["jsonrpc.request.id"]] = a
		if want := "tools/call " + a["gen_ai.tool.name"]; sp.Name != want {
			t.Errorf("span name %q, want %q", sp.Name, want)
		}
		if a["jsonrpc.request.id"] == "2" {
			if got := hex.EncodeToString(sp.TraceId); got != clientTrace {
				t.Errorf("call 2's trace id %s, want the client's %s", got, clientTrace)
			}
			if got := hex.EncodeToString(sp.ParentSpanId); got != clientSpan {
				t.Errorf("call 2's parent span %s, want the client's %s", got, clientSpan)
			}
			if sp.TraceState != "vendor=x" {
				t.Errorf("call 2's trace state %q, want the client's", sp.TraceState)
			}
		} else if hex.EncodeToString(sp.TraceId) == clientTrace || len(sp.ParentSpanId) != 0 {
			t.Errorf("call %s has a parent, but its client sent no traceparent", a["jsonrpc.request.id"])
		}
		if sp.EndTimeUnixNano < sp.StartTimeUnixNano || sp.StartTimeUnixNano == 0 {
			t.Errorf("span %s: start %d, end %d", sp.Name, sp.StartTimeUnixNano, sp.EndTimeUnixNano)
		}
	}
	want := map[string]map[string]string{
		"2": {"mcp.method.name": "tools/call", "gen_ai.tool.name": "echo", "mcp.protocol.version": "2025-06-18",
			"aim_mcp.server": "db", "aim_mcp.client": "claude-desktop", "aim_mcp.decision": "allow", "aim_mcp.risk": "low",
			"aim_mcp.outcome": "success", "aim_mcp.mcp_client.name": "test-client", "error.type": ""},
		"3":    {"gen_ai.tool.name": "echo", "aim_mcp.outcome": "tool_error", "error.type": "tool_error"},
		"four": {"gen_ai.tool.name": "drop_table", "aim_mcp.decision": "deny", "error.type": "tool_error", "aim_mcp.outcome": ""},
	}
	for id, attrs := range want {
		got, ok := byID[id]
		if !ok {
			t.Errorf("no span for request %s", id)
			continue
		}
		for k, v := range attrs {
			if got[k] != v {
				t.Errorf("request %s: %s = %q, want %q", id, k, got[k], v)
			}
		}
		if got["mcp.session.id"] == "" || got["mcp.session.id"] != byID["2"]["mcp.session.id"] {
			t.Errorf("request %s: mcp.session.id %q, want the session's", id, got["mcp.session.id"])
		}
	}
	t.Logf("call 2's span: %v", byID["2"])
	if byID["four"]["aim_mcp.rule"] == "" {
		t.Errorf("the refused call's span names no rule: %v", byID["four"])
	}

	// Every audit record of the session, redacted.
	if !w.rcv.Wait(5*time.Second, func() bool { return len(w.rcv.Logs()) >= 5 }) {
		t.Fatalf("got %d log records, want the session's records", len(w.rcv.Logs()))
	}
	kinds := map[string]int{}
	for _, l := range w.rcv.Logs() {
		kinds[l.EventName]++
		body := otlptest.String(l.Body)
		if strings.Contains(body, "sk-live-0123456789abcdef") {
			t.Errorf("a log record carries the secret argument: %s", body)
		}
		a := otlptest.Attrs(l.Attributes)
		if l.EventName == "aim_mcp.audit.call" && a["jsonrpc.request.id"] == "2" && !strings.Contains(body, "text:hi") {
			t.Errorf("call 2's record lacks its (redacted) arguments: %s", body)
		}
	}
	// The chain's head, witnessed at the receiver as in the system log: a
	// line "aim-mcp audit verify --witness" reads.
	if !w.rcv.Wait(5*time.Second, func() bool {
		for _, l := range w.rcv.Logs() {
			if l.EventName == "aim_mcp.chain.head" {
				return true
			}
		}
		return false
	}) {
		t.Errorf("no aim_mcp.chain.head log record arrived")
	}
	for _, l := range w.rcv.Logs() {
		if l.EventName == "aim_mcp.chain.head" {
			if _, err := witness.Parse(otlptest.String(l.Body)); err != nil {
				t.Errorf("the witnessed head %q does not parse: %v", otlptest.String(l.Body), err)
			}
		}
	}
	for k, n := range map[string]int{"aim_mcp.audit.call": 2, "aim_mcp.audit.outcome": 2, "aim_mcp.audit.denied": 1, "aim_mcp.audit.initialize": 1} {
		if kinds[k] != n {
			t.Errorf("%d log records %s, want %d (all: %v)", kinds[k], k, n, kinds)
		}
	}

	metrics := map[string]bool{}
	for _, m := range w.rcv.Metrics() {
		metrics[m.Name] = true
		if m.Name == "mcp.client.operation.duration" && (m.GetHistogram() == nil || m.Unit != "s") {
			t.Errorf("mcp.client.operation.duration is not a histogram in seconds: %v", m)
		}
	}
	for _, name := range []string{"mcp.client.operation.duration", "aim_mcp.decisions"} {
		if !metrics[name] {
			t.Errorf("metric %s did not arrive (got %v)", name, metrics)
		}
	}

	var out bytes.Buffer
	var errb syncbuf.Buffer
	if code := run(context.Background(), []string{"status", "--home", w.home}, env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb}); code != 0 {
		t.Fatalf("status: exit %d: %s", code, errb.String())
	}
	for _, line := range []string{
		"OpenTelemetry: OTLP/HTTP to " + w.rcv.URL() + " (from config.yaml)",
		"db (claude-desktop), session ended ",
		": 5 spans sent, 0 dropped; ",
	} {
		if !strings.Contains(out.String(), line) {
			t.Errorf("status lacks %q:\n%s", line, out.String())
		}
	}
}

// result is a tools/call answer's first text and isError.
func (s *aimSession) result(m map[string]any) (string, bool) {
	res, _ := m["result"].(map[string]any)
	content, _ := res["content"].([]any)
	text := ""
	if len(content) > 0 {
		c, _ := content[0].(map[string]any)
		text, _ = c["text"].(string)
	}
	isErr, _ := res["isError"].(bool)
	return text, isErr
}

// TestOTelReceiverDown: the receiver stopped mid-session changes nothing
// for the client: every call answers at once, the session ends within the
// export's shutdown bound, stderr has one warning at most, and status
// counts what was dropped.
func TestOTelReceiverDown(t *testing.T) {
	w := newOTelWorld(t)
	s := w.proxy()
	s.send(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{}}}`)
	s.wait(2)
	w.rcv.Close()
	for id := 3; id <= 12; id++ {
		start := time.Now()
		s.send(fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"echo","arguments":{}}}`, id))
		if text, isErr := s.result(s.wait(float64(id))); isErr || text != "ran echo" {
			t.Fatalf("call %d with the receiver down: %q (isError %v)", id, text, isErr)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("call %d took %v with the receiver down", id, d)
		}
	}
	start := time.Now()
	s.end()
	if d := time.Since(start); d > otelShutdownWait+5*time.Second {
		t.Errorf("the session took %v to end with the receiver down", d)
	}
	if n := strings.Count(s.stderr.String(), "OpenTelemetry export"); n > 1 {
		t.Errorf("%d export warnings, want one at most:\n%s", n, s.stderr.String())
	}
	if strings.Contains(s.stderr.String(), "aim-mcp: error") {
		t.Errorf("the proxy reported an error:\n%s", s.stderr.String())
	}

	var out bytes.Buffer
	var errb syncbuf.Buffer
	if code := run(context.Background(), []string{"status", "--home", w.home, "--json"}, env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb}); code != 0 {
		t.Fatalf("status: exit %d: %s", code, errb.String())
	}
	var rep statusReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.OTel.Sessions) != 1 {
		t.Fatalf("status has %d sessions' counts, want 1: %s", len(rep.OTel.Sessions), out.String())
	}
	st := rep.OTel.Sessions[0]
	if st.SpansSent+st.SpansDropped != 13 || st.SpansDropped < 10 || st.LogsDropped == 0 {
		t.Errorf("counts %+v: want 13 spans (2 requests, 11 calls), at least 10 dropped, and dropped log records", st.Stats)
	}
}

// TestOTelConfigError: a malformed otel: block is an error with a hint,
// in status and in the proxy, where export is off and the calls go on
// under the policy as configured.
func TestOTelConfigError(t *testing.T) {
	w := newOTelWorld(t)
	w.writeConfig("otel:\n  endpoint: http://localhost:4318\n  protocol: udp\n")
	var out bytes.Buffer
	var errb syncbuf.Buffer
	run(context.Background(), []string{"status", "--home", w.home}, env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb})
	for _, want := range []string{`aim-mcp: warning: otel: protocol "udp": want http or grpc`,
		"aim-mcp: hint: the otel: block takes endpoint"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("status stderr lacks %q:\n%s", want, errb.String())
		}
	}
	if !strings.Contains(out.String(), "OpenTelemetry: off, the settings are wrong") {
		t.Errorf("status does not say export is off:\n%s", out.String())
	}
	s := w.proxy()
	s.send(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{}}}`)
	if text, isErr := s.result(s.wait(2)); isErr || text != "ran echo" {
		t.Errorf("a call with a broken otel: block: %q (isError %v), want it run", text, isErr)
	}
	s.end()
	if !strings.Contains(s.stderr.String(), "OpenTelemetry export is off until it is fixed") ||
		!strings.Contains(s.stderr.String(), "aim-mcp: hint: the otel: block takes endpoint") {
		t.Errorf("the proxy's stderr lacks the hint:\n%s", s.stderr.String())
	}
	if n := len(w.rcv.Spans()); n != 0 {
		t.Errorf("%d spans exported with a broken otel: block", n)
	}
}
