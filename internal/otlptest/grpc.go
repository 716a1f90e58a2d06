package otlptest

import (
	"context"
	"net"

	collogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// NewGRPC starts an OTLP/gRPC receiver on a loopback port, in plain text;
// its URL is http://127.0.0.1:PORT.
func NewGRPC() (*Receiver, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := newReceiver()
	r.grpc = grpc.NewServer()
	coltrace.RegisterTraceServiceServer(r.grpc, traceService{r: r})
	collogs.RegisterLogsServiceServer(r.grpc, logsService{r: r})
	colmetrics.RegisterMetricsServiceServer(r.grpc, metricsService{r: r})
	r.url = "http://" + l.Addr().String()
	go r.grpc.Serve(l)
	return r, nil
}

func (r *Receiver) grpcHeaders(ctx context.Context) {
	md, _ := metadata.FromIncomingContext(ctx)
	r.header(func(k string) string {
		if v := md.Get(k); len(v) > 0 {
			return v[0]
		}
		return ""
	})
}

type traceService struct {
	coltrace.UnimplementedTraceServiceServer
	r *Receiver
}

func (s traceService) Export(ctx context.Context, m *coltrace.ExportTraceServiceRequest) (*coltrace.ExportTraceServiceResponse, error) {
	s.r.grpcHeaders(ctx)
	s.r.addSpans(m)
	return &coltrace.ExportTraceServiceResponse{}, nil
}

type logsService struct {
	collogs.UnimplementedLogsServiceServer
	r *Receiver
}

func (s logsService) Export(ctx context.Context, m *collogs.ExportLogsServiceRequest) (*collogs.ExportLogsServiceResponse, error) {
	s.r.grpcHeaders(ctx)
	s.r.addLogs(m)
	return &collogs.ExportLogsServiceResponse{}, nil
}

type metricsService struct {
	colmetrics.UnimplementedMetricsServiceServer
	r *Receiver
}

func (s metricsService) Export(ctx context.Context, m *colmetrics.ExportMetricsServiceRequest) (*colmetrics.ExportMetricsServiceResponse, error) {
	s.r.grpcHeaders(ctx)
	s.r.addMetrics(m)
	return &colmetrics.ExportMetricsServiceResponse{}, nil
}
