// Package otlptest is a real OTLP/HTTP receiver for tests: it decodes the
// protobuf requests an exporter sends to /v1/traces, /v1/logs and
// /v1/metrics with the protocol's own generated types, and keeps what
// arrived. It is the wire protocol the Collector speaks, without building
// the Collector.
package otlptest

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"

	collogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

// Receiver is an OTLP/HTTP receiver on a loopback port.
type Receiver struct {
	srv  *httptest.Server
	grpc *grpc.Server
	url  string

	mu      sync.Mutex
	spans   []*tracepb.Span
	logs    []*logspb.LogRecord
	metrics []*metricspb.Metric
	bad     []string // requests that did not decode
	headers map[string]string
	changed chan struct{}
}

func newReceiver() *Receiver {
	return &Receiver{changed: make(chan struct{}, 1), headers: map[string]string{}}
}

// New starts a receiver; its URL is the endpoint to give an exporter.
func New() *Receiver {
	r := newReceiver()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", func(w http.ResponseWriter, req *http.Request) {
		var m coltrace.ExportTraceServiceRequest
		if r.decode(w, req, &m) {
			r.addSpans(&m)
			r.reply(w, &coltrace.ExportTraceServiceResponse{})
		}
	})
	mux.HandleFunc("POST /v1/logs", func(w http.ResponseWriter, req *http.Request) {
		var m collogs.ExportLogsServiceRequest
		if r.decode(w, req, &m) {
			r.addLogs(&m)
			r.reply(w, &collogs.ExportLogsServiceResponse{})
		}
	})
	mux.HandleFunc("POST /v1/metrics", func(w http.ResponseWriter, req *http.Request) {
		var m colmetrics.ExportMetricsServiceRequest
		if r.decode(w, req, &m) {
			r.addMetrics(&m)
			r.reply(w, &colmetrics.ExportMetricsServiceResponse{})
		}
	})
	r.srv = httptest.NewServer(mux)
	r.url = r.srv.URL
	return r
}

// URL is the receiver's base URL.
func (r *Receiver) URL() string { return r.url }

// Close stops the receiver: from then on exports to it fail.
func (r *Receiver) Close() {
	if r.grpc != nil {
		r.grpc.Stop()
		return
	}
	r.srv.CloseClientConnections()
	r.srv.Close()
}

func (r *Receiver) addSpans(m *coltrace.ExportTraceServiceRequest) {
	r.mu.Lock()
	for _, rs := range m.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			r.spans = append(r.spans, ss.Spans...)
		}
	}
	r.mu.Unlock()
	r.notify()
}

func (r *Receiver) addLogs(m *collogs.ExportLogsServiceRequest) {
	r.mu.Lock()
	for _, rl := range m.ResourceLogs {
		for _, sl := range rl.ScopeLogs {
			r.logs = append(r.logs, sl.LogRecords...)
		}
	}
	r.mu.Unlock()
	r.notify()
}

func (r *Receiver) addMetrics(m *colmetrics.ExportMetricsServiceRequest) {
	r.mu.Lock()
	for _, rm := range m.ResourceMetrics {
		for _, sm := range rm.ScopeMetrics {
			r.metrics = append(r.metrics, sm.Metrics...)
		}
	}
	r.mu.Unlock()
	r.notify()
}

func (r *Receiver) notify() {
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

// header keeps the value of the header a test asked about.
func (r *Receiver) header(get func(string) string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k := range r.headers {
		if v := get(k); v != "" {
			r.headers[k] = v
		}
	}
}

// Header is the last value of an export request's header; Watch must
// have named it before.
func (r *Receiver) Header(name string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.headers[strings.ToLower(name)]
}

// Watch names headers for Header to report.
func (r *Receiver) Watch(names ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range names {
		r.headers[strings.ToLower(n)] = ""
	}
}

func (r *Receiver) decode(w http.ResponseWriter, req *http.Request, m proto.Message) bool {
	r.header(req.Header.Get)
	body, err := io.ReadAll(req.Body)
	if err == nil && req.Header.Get("Content-Type") != "application/x-protobuf" {
		err = errContentType
	}
	if err == nil {
		err = proto.Unmarshal(body, m)
	}
	if err != nil {
		r.mu.Lock()
		r.bad = append(r.bad, req.URL.Path+": "+err.Error())
		r.mu.Unlock()
		http.Error(w, err.Error(), http.StatusBadRequest)
		return false
	}
	return true
}

var errContentType = errors.New("content type is not application/x-protobuf")

func (r *Receiver) reply(w http.ResponseWriter, m proto.Message) {
	b, _ := proto.Marshal(m)
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(b)
}

// Spans is every span received so far.
func (r *Receiver) Spans() []*tracepb.Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*tracepb.Span(nil), r.spans...)
}

// Logs is every log record received so far.
func (r *Receiver) Logs() []*logspb.LogRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*logspb.LogRecord(nil), r.logs...)
}

// Metrics is every metric received so far (one per export and name).
func (r *Receiver) Metrics() []*metricspb.Metric {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*metricspb.Metric(nil), r.metrics...)
}

// Bad is the requests that did not decode.
func (r *Receiver) Bad() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.bad...)
}

// Wait waits until ok holds or the timeout passes, and says whether it
// holds.
func (r *Receiver) Wait(timeout time.Duration, ok func() bool) bool {
	deadline := time.After(timeout)
	for !ok() {
		select {
		case <-r.changed:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			return ok()
		}
	}
	return true
}

// Attrs flattens attributes to strings (numbers and bools as written),
// for comparison.
func Attrs(kvs []*commonpb.KeyValue) map[string]string {
	out := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		out[kv.Key] = String(kv.Value)
	}
	return out
}

// String is a value as text; maps and lists in a compact form.
func String(v *commonpb.AnyValue) string {
	switch t := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return t.StringValue
	case *commonpb.AnyValue_BoolValue:
		if t.BoolValue {
			return "true"
		}
		return "false"
	case *commonpb.AnyValue_IntValue:
		return itoa(t.IntValue)
	case *commonpb.AnyValue_DoubleValue:
		return ftoa(t.DoubleValue)
	case *commonpb.AnyValue_KvlistValue:
		s := "{"
		for i, kv := range t.KvlistValue.Values {
			if i > 0 {
				s += ","
			}
			s += kv.Key + ":" + String(kv.Value)
		}
		return s + "}"
	case *commonpb.AnyValue_ArrayValue:
		s := "["
		for i, e := range t.ArrayValue.Values {
			if i > 0 {
				s += ","
			}
			s += String(e)
		}
		return s + "]"
	}
	return ""
}

func itoa(i int64) string   { return strconv.FormatInt(i, 10) }
func ftoa(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
