package telemetry_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/opena2a-org/aim-mcp/config"
	"github.com/opena2a-org/aim-mcp/internal/otlptest"
	"github.com/opena2a-org/aim-mcp/mcpproxy"
	"github.com/opena2a-org/aim-mcp/registry"
	"github.com/opena2a-org/aim-mcp/telemetry"
)

// envEcho makes the test binary an MCP server that answers every request
// with a one-line tool result: the server the benchmark's proxy wraps.
const envEcho = "AIM_MCP_TELEMETRY_TEST_ECHO"

// envReceiver makes the test binary an OTLP receiver that prints its URL
// and serves until stdin closes: a process of its own, as a collector is.
const envReceiver = "AIM_MCP_TELEMETRY_TEST_RECEIVER"

func TestMain(m *testing.M) {
	if os.Getenv(envEcho) != "" {
		echo(os.Stdin, os.Stdout)
		os.Exit(0)
	}
	if os.Getenv(envReceiver) != "" {
		rcv := otlptest.New()
		fmt.Println(rcv.URL())
		io.Copy(io.Discard, os.Stdin)
		rcv.Close()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// startReceiver runs a receiver in a child process and returns its URL.
func startReceiver(b *testing.B) string {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), envReceiver+"=1")
	in, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { in.Close(); cmd.Wait() })
	url, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		b.Fatal(err)
	}
	return strings.TrimSpace(url)
}

func echo(in io.Reader, out io.Writer) {
	r := bufio.NewReader(in)
	w := bufio.NewWriter(out)
	for {
		line, err := r.ReadBytes('\n')
		var m struct{ ID json.RawMessage }
		if len(line) > 0 && json.Unmarshal(line, &m) == nil && m.ID != nil {
			fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"result":{"content":[{"type":"text","text":"ok"}]}}`+"\n", m.ID)
			w.Flush()
		}
		if err != nil {
			return
		}
	}
}

// TestResolve: which settings turn export on, and from where.
func TestResolve(t *testing.T) {
	block := &config.OTel{Endpoint: "http://c:4318"}
	tests := []struct {
		name  string
		otel  *config.OTel
		env   map[string]string
		on    bool
		proto string
		from  string
		err   bool
	}{
		{name: "nothing", on: false},
		{name: "config", otel: block, on: true, proto: "http", from: "config.yaml"},
		{name: "config grpc", otel: &config.OTel{Endpoint: "c:4317", Protocol: "grpc"}, on: true, proto: "grpc", from: "config.yaml"},
		{name: "config over env", otel: block, env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://e:4318"}, on: true, proto: "http", from: "config.yaml"},
		{name: "env", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://e:4318"}, on: true, proto: "http", from: "OTEL_EXPORTER_OTLP_ENDPOINT"},
		{name: "env traces only", env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://e:4318/v1/traces"}, on: true, proto: "http", from: "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"},
		{name: "env grpc", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://e:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, on: true, proto: "grpc", from: "OTEL_EXPORTER_OTLP_ENDPOINT"},
		{name: "env json", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://e:4318", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, err: true},
		{name: "disabled", otel: block, env: map[string]string{"OTEL_SDK_DISABLED": "true"}, on: false},
		{name: "protocol alone", env: map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, on: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, on, err := telemetry.Resolve(tc.otel, func(k string) string { return tc.env[k] })
			if (err != nil) != tc.err {
				t.Fatalf("error %v, want error %v", err, tc.err)
			}
			if on != tc.on || (on && (s.Protocol != tc.proto || s.From != tc.from)) {
				t.Errorf("got on %v, %+v; want on %v, protocol %q from %q", on, s, tc.on, tc.proto, tc.from)
			}
		})
	}
}

// memJournal keeps records in memory: the benchmark measures the export,
// not SQLite.
type memJournal struct{ n int }

func (j *memJournal) Append(_ context.Context, evs ...registry.Event) error {
	j.n += len(evs)
	return nil
}
func (j *memJournal) TryAppend(ctx context.Context, evs ...registry.Event) error {
	return j.Append(ctx, evs...)
}

// BenchmarkCallExport measures a tools/call round trip through the proxy,
// client to a child server and back, with export off and on (to a real
// OTLP/HTTP receiver in a process of its own), and reports the median round trip as p50-µs. The
// relay's part of the export is one channel send per call and record.
func BenchmarkCallExport(b *testing.B) {
	for _, on := range []bool{false, true} {
		name := "off"
		if on {
			name = "on"
		}
		b.Run(name, func(b *testing.B) {
			var j mcpproxy.Journal = &memJournal{}
			var obs mcpproxy.Observer
			if on {
				s, _, err := telemetry.Resolve(&config.OTel{Endpoint: startReceiver(b)}, func(string) string { return "" })
				if err != nil {
					b.Fatal(err)
				}
				x, err := telemetry.Start(s, telemetry.Identity{Server: "bench", Client: "test"}, telemetry.Options{})
				if err != nil {
					b.Fatal(err)
				}
				defer x.Shutdown(context.Background())
				j, obs = x.Journal(j), x
			}
			inR, inW, _ := os.Pipe()
			outR, outW, _ := os.Pipe()
			done := make(chan error, 1)
			go func() {
				done <- mcpproxy.Run(context.Background(), mcpproxy.Options{
					Command: []string{os.Args[0]}, Env: append(os.Environ(), envEcho+"=1"),
					Stdin: inR, Stdout: outW, Stderr: os.Stderr, Observer: obs,
					Setup: func(context.Context) (mcpproxy.Decider, mcpproxy.Journal, error) { return nil, j, nil },
				})
			}()
			lines := bufio.NewReader(outR)
			trip := func(i int) {
				fmt.Fprintf(inW, `{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"},"_meta":{"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}}}`+"\n", i)
				line, err := lines.ReadBytes('\n')
				if err != nil || !bytes.Contains(line, fmt.Appendf(nil, `"id":%d,`, i)) {
					b.Fatalf("answer %q, %v", line, err)
				}
			}
			trip(-1)
			times := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				start := time.Now()
				trip(i)
				times = append(times, time.Since(start))
			}
			b.StopTimer()
			sort.Slice(times, func(i, k int) bool { return times[i] < times[k] })
			b.ReportMetric(float64(times[len(times)/2].Nanoseconds())/1e3, "p50-µs")
			inW.Close()
			if err := <-done; err != nil {
				b.Errorf("Run: %v", err)
			}
			outW.Close()
			outR.Close()
			inR.Close()
		})
	}
}

// TestProtocols: both OTLP protocols reach a real receiver with the
// configured headers, a call as its span and a record as its log record,
// and the exporter counts them sent.
func TestProtocols(t *testing.T) {
	for _, proto := range []string{config.OTelHTTP, config.OTelGRPC} {
		t.Run(proto, func(t *testing.T) {
			var rcv *otlptest.Receiver
			if proto == config.OTelGRPC {
				var err error
				if rcv, err = otlptest.NewGRPC(); err != nil {
					t.Fatal(err)
				}
			} else {
				rcv = otlptest.New()
			}
			defer rcv.Close()
			rcv.Watch("x-team")
			s, on, err := telemetry.Resolve(&config.OTel{Endpoint: rcv.URL(), Protocol: proto, Headers: map[string]string{"x-team": "blue"}},
				func(string) string { return "" })
			if err != nil || !on {
				t.Fatalf("Resolve: %v, on %v", err, on)
			}
			x, err := telemetry.Start(s, telemetry.Identity{Server: "notes", Client: "cursor", Version: "v1.2.3"}, telemetry.Options{})
			if err != nil {
				t.Fatal(err)
			}
			j := x.Journal(&memJournal{})
			start := time.Now()
			c := &mcpproxy.Call{ID: json.RawMessage(`"a-1"`), Tool: "get-sum", Received: start,
				Client: mcpproxy.ClientInfo{Name: "cursor", Protocol: "2025-11-25"}}
			if err := j.Append(context.Background(), registry.Event{Kind: registry.KindCall, Tool: "get-sum", Decision: "allow", RequestID: c.ID,
				Data: map[string]any{"args": json.RawMessage(`{"a":1,"b":2}`), "risk": "low"}}); err != nil {
				t.Fatal(err)
			}
			x.CallDone(&mcpproxy.Observed{Call: c, Verdict: mcpproxy.Verdict{Allow: true, Decision: "allow", Risk: "low"},
				Outcome:   mcpproxy.Outcome{Status: "rpc_error", ErrorCode: -32602, ErrorText: "bad params"},
				Forwarded: start.Add(time.Millisecond), End: start.Add(3 * time.Millisecond)})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := x.Shutdown(ctx); err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
			spans, logs := rcv.Spans(), rcv.Logs()
			if len(spans) != 1 || spans[0].Name != "tools/call get-sum" {
				t.Fatalf("spans %v, want one tools/call get-sum", spans)
			}
			a := otlptest.Attrs(spans[0].Attributes)
			for k, v := range map[string]string{"jsonrpc.request.id": "a-1", "error.type": "-32602", "rpc.response.status_code": "-32602",
				"mcp.protocol.version": "2025-11-25", "aim_mcp.outcome": "rpc_error", "aim_mcp.decision.duration": "0.001"} {
				if a[k] != v {
					t.Errorf("%s = %q, want %q", k, a[k], v)
				}
			}
			if d := spans[0].EndTimeUnixNano - spans[0].StartTimeUnixNano; d != uint64(3*time.Millisecond) {
				t.Errorf("span lasts %dns, want the call's 3ms", d)
			}
			if len(logs) != 1 || logs[0].EventName != "aim_mcp.audit.call" || otlptest.String(logs[0].Body) != "{args:{a:1,b:2},risk:low}" {
				t.Fatalf("logs %v, want the call record", logs)
			}
			if h := rcv.Header("x-team"); h != "blue" {
				t.Errorf("header x-team %q, want the configured blue", h)
			}
			if st := x.Stats(); st != (telemetry.Stats{SpansSent: 1, LogsSent: 1}) {
				t.Errorf("stats %+v, want one span and one log record sent", st)
			}
		})
	}
}
