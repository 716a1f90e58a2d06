package telemetry

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploggrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/metric"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/opena2a-org/aim-mcp/config"
	"github.com/opena2a-org/aim-mcp/mcpproxy"
	"github.com/opena2a-org/aim-mcp/registry"
)

// Identity is who exports: it goes on every span and log record.
type Identity struct {
	Server  string // the server's name in the client's config
	Client  string // the client whose config launched it
	Version string // aim-mcp's version
}

// Options tune an exporter; the zero value is the defaults.
type Options struct {
	// Warn receives export failures, at most one a minute; nil discards.
	Warn func(error)
	// Interval is how often spans, logs and metrics are sent (default 2s).
	Interval time.Duration
	// Queue bounds each queue (default 8192: 50 ms of a busy session's
	// calls and records).
	Queue int
}

// Exporter sends one session's calls and records. It implements
// [mcpproxy.Observer]; [Exporter.Journal] wraps the session's journal.
type Exporter struct {
	set     Settings
	id      Identity
	session string // mcp.session.id: one stdio session is one proxy

	tp     *sdktrace.TracerProvider
	mp     *sdkmetric.MeterProvider
	lp     *sdklog.LoggerProvider
	tracer trace.Tracer
	logger log.Logger
	dur    metric.Float64Histogram
	dec    metric.Int64Counter

	queue    chan item
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once

	warnMu   sync.Mutex
	warnNext time.Time
	warn     func(error)

	spansMade, spansSent, spansFailed atomic.Int64
	logsMade, logsSent, logsFailed    atomic.Int64
	callsDropped, recsDropped         atomic.Int64 // by the exporter's own queue (calls: any request)
}

// item is one piece of work for the exporter's goroutine.
type item struct {
	call *mcpproxy.Observed
	req  *mcpproxy.ObservedRequest
	rec  *registry.Event
	head string // a chain head line, from the witness
}

// Start builds the exporters and starts the goroutine that feeds them. It
// does not connect: an unreachable receiver shows only as failed exports.
func Start(s Settings, id Identity, opt Options) (*Exporter, error) {
	if opt.Interval <= 0 {
		opt.Interval = 2 * time.Second
	}
	if opt.Queue <= 0 {
		opt.Queue = 8192
	}
	x := &Exporter{set: s, id: id, session: uuid.NewString(), warn: opt.Warn,
		queue: make(chan item, opt.Queue), stop: make(chan struct{}), done: make(chan struct{})}
	res := resource.NewSchemaless(
		attribute.String("service.name", "aim-mcp"),
		attribute.String("service.version", id.Version),
		attribute.String("service.instance.id", x.session),
		attribute.String("aim_mcp.server", id.Server),
		attribute.String("aim_mcp.client", id.Client),
	)
	ctx := context.Background()
	te, le, me, err := exporters(ctx, s)
	if err != nil {
		return nil, err
	}
	x.tp = sdktrace.NewTracerProvider(sdktrace.WithResource(res),
		sdktrace.WithBatcher(&spanCounter{SpanExporter: te, x: x},
			sdktrace.WithBatchTimeout(opt.Interval), sdktrace.WithMaxQueueSize(opt.Queue)))
	x.lp = sdklog.NewLoggerProvider(sdklog.WithResource(res),
		sdklog.WithProcessor(sdklog.NewBatchProcessor(&logCounter{Exporter: le, x: x},
			sdklog.WithExportInterval(opt.Interval), sdklog.WithMaxQueueSize(opt.Queue))))
	x.mp = sdkmetric.NewMeterProvider(sdkmetric.WithResource(res),
		sdkmetric.WithReader(sdkmetric.NewPeriodicReader(&metricCounter{Exporter: me, x: x},
			sdkmetric.WithInterval(opt.Interval))))
	const scope = "github.com/opena2a-org/aim-mcp/telemetry"
	x.tracer = x.tp.Tracer(scope, trace.WithInstrumentationVersion(id.Version))
	x.logger = x.lp.Logger(scope, log.WithInstrumentationVersion(id.Version))
	meter := x.mp.Meter(scope, metric.WithInstrumentationVersion(id.Version))
	// The histogram and its buckets as the MCP conventions give them.
	if x.dur, err = meter.Float64Histogram("mcp.client.operation.duration", metric.WithUnit("s"),
		metric.WithDescription("The duration of the MCP request as observed on the sender from the time it was sent until the response is received."),
		metric.WithExplicitBucketBoundaries(0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300)); err != nil {
		return nil, err
	}
	if x.dec, err = meter.Int64Counter("aim_mcp.decisions", metric.WithUnit("{call}"),
		metric.WithDescription("Tool calls decided by aim-mcp, by decision.")); err != nil {
		return nil, err
	}
	go x.run()
	return x, nil
}

// exporters builds the three OTLP exporters for s. With settings from the
// environment no option is given, so the SDK reads the standard variables
// (per-signal endpoints, headers, certificates) itself.
func exporters(ctx context.Context, s Settings) (sdktrace.SpanExporter, sdklog.Exporter, sdkmetric.Exporter, error) {
	var host, path string
	var plain bool
	var headers map[string]string
	if s.otel != nil {
		var err error
		if host, path, plain, err = s.otel.Target(); err != nil {
			return nil, nil, nil, err
		}
		headers = s.otel.Headers
	}
	var (
		te  sdktrace.SpanExporter
		le  sdklog.Exporter
		me  sdkmetric.Exporter
		err error
	)
	if s.Protocol == config.OTelGRPC {
		var to []otlptracegrpc.Option
		var lo []otlploggrpc.Option
		var mo []otlpmetricgrpc.Option
		if s.otel != nil {
			to = append(to, otlptracegrpc.WithEndpoint(host), otlptracegrpc.WithHeaders(headers))
			lo = append(lo, otlploggrpc.WithEndpoint(host), otlploggrpc.WithHeaders(headers))
			mo = append(mo, otlpmetricgrpc.WithEndpoint(host), otlpmetricgrpc.WithHeaders(headers))
			if plain {
				to = append(to, otlptracegrpc.WithInsecure())
				lo = append(lo, otlploggrpc.WithInsecure())
				mo = append(mo, otlpmetricgrpc.WithInsecure())
			}
		}
		if te, err = otlptracegrpc.New(ctx, to...); err == nil {
			if le, err = otlploggrpc.New(ctx, lo...); err == nil {
				me, err = otlpmetricgrpc.New(ctx, mo...)
			}
		}
	} else {
		var to []otlptracehttp.Option
		var lo []otlploghttp.Option
		var mo []otlpmetrichttp.Option
		if s.otel != nil {
			to = append(to, otlptracehttp.WithEndpoint(host), otlptracehttp.WithURLPath(path+"/v1/traces"), otlptracehttp.WithHeaders(headers))
			lo = append(lo, otlploghttp.WithEndpoint(host), otlploghttp.WithURLPath(path+"/v1/logs"), otlploghttp.WithHeaders(headers))
			mo = append(mo, otlpmetrichttp.WithEndpoint(host), otlpmetrichttp.WithURLPath(path+"/v1/metrics"), otlpmetrichttp.WithHeaders(headers))
			if plain {
				to = append(to, otlptracehttp.WithInsecure())
				lo = append(lo, otlploghttp.WithInsecure())
				mo = append(mo, otlpmetrichttp.WithInsecure())
			}
		}
		if te, err = otlptracehttp.New(ctx, to...); err == nil {
			if le, err = otlploghttp.New(ctx, lo...); err == nil {
				me, err = otlpmetrichttp.New(ctx, mo...)
			}
		}
	}
	if err != nil {
		return nil, nil, nil, err
	}
	return te, le, me, nil
}

// Settings is where the export goes.
func (x *Exporter) Settings() Settings { return x.set }

// CallDone implements mcpproxy.Observer: one non-blocking send.
func (x *Exporter) CallDone(o *mcpproxy.Observed) { x.put(item{call: o}) }

// RequestDone implements mcpproxy.RequestObserver: one non-blocking send.
func (x *Exporter) RequestDone(r *mcpproxy.ObservedRequest) { x.put(item{req: r}) }

// Send implements witness.Sink: the chain's head goes out as a log record
// too (event aim_mcp.chain.head), to a receiver the user of this machine
// does not control. It never waits: a full queue is an error the witness
// counts.
func (x *Exporter) Send(line string) error {
	select {
	case x.queue <- item{head: line}:
		return nil
	default:
		return errors.New("the OpenTelemetry export queue is full")
	}
}

func (x *Exporter) put(it item) {
	select {
	case x.queue <- it:
	default:
		if it.rec == nil {
			x.callsDropped.Add(1)
		} else {
			x.recsDropped.Add(1)
		}
	}
}

// drainEvery is how often the exporter's goroutine takes what is queued.
// Waking it per call would put a context switch beside every call on the
// relay's cores; taking the queue in batches keeps the relay's round trip
// as it is for all but the calls that meet a batch.
const drainEvery = 50 * time.Millisecond

// run turns queued calls and records into spans, metrics and logs. It
// sleeps while the session is idle; the first item after a pause starts a
// batch, taken drainEvery later.
func (x *Exporter) run() {
	defer close(x.done)
	for {
		select {
		case it := <-x.queue:
			x.handle(it)
		case <-x.stop:
			x.drain()
			return
		}
		t := time.NewTimer(drainEvery)
		select {
		case <-t.C:
		case <-x.stop:
			t.Stop()
		}
		x.drain()
	}
}

func (x *Exporter) handle(it item) {
	switch {
	case it.call != nil:
		x.span(it.call)
	case it.req != nil:
		x.requestSpan(it.req)
	case it.rec != nil:
		x.log(it.rec)
	case it.head != "":
		x.headLog(it.head)
	}
}

// drain takes everything queued now.
func (x *Exporter) drain() {
	for {
		select {
		case it := <-x.queue:
			x.handle(it)
		default:
			return
		}
	}
}

// Shutdown sends what is queued, within ctx, and stops. The proxy calls it
// when the session ends; a receiver that does not answer costs at most
// ctx's deadline. What is handed over after it is dropped.
func (x *Exporter) Shutdown(ctx context.Context) error {
	x.stopOnce.Do(func() { close(x.stop) })
	select {
	case <-x.done:
	case <-ctx.Done():
	}
	return errors.Join(x.tp.Shutdown(ctx), x.lp.Shutdown(ctx), x.mp.Shutdown(ctx))
}

// Stats counts what was exported.
type Stats struct {
	SpansSent    int64 `json:"spans_sent"`
	SpansDropped int64 `json:"spans_dropped"`
	LogsSent     int64 `json:"logs_sent"`
	LogsDropped  int64 `json:"logs_dropped"`
}

// Stats says how many spans and log records were sent, and how many were
// dropped: queues full, or the receiver failed. After Shutdown it counts
// every one that was made and not sent.
func (x *Exporter) Stats() Stats {
	s := Stats{SpansSent: x.spansSent.Load(), LogsSent: x.logsSent.Load()}
	s.SpansDropped = x.spansFailed.Load()
	s.LogsDropped = x.logsFailed.Load()
	select {
	case <-x.done:
		// Everything made was sent, failed or dropped by the SDK's queue.
		s.SpansDropped = x.spansMade.Load() - s.SpansSent
		s.LogsDropped = x.logsMade.Load() - s.LogsSent
	default:
	}
	s.SpansDropped += x.callsDropped.Load()
	s.LogsDropped += x.recsDropped.Load()
	return s
}

// failed counts an export that failed and passes it on, once a minute.
func (x *Exporter) failed(err error) {
	if x.warn == nil {
		return
	}
	x.warnMu.Lock()
	now := time.Now()
	if now.Before(x.warnNext) {
		x.warnMu.Unlock()
		return
	}
	x.warnNext = now.Add(time.Minute)
	x.warnMu.Unlock()
	x.warn(err)
}
