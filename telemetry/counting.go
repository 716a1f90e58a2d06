package telemetry

import (
	"context"
	"fmt"

	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// The exporters are wrapped to count what was sent, and to take their
// failures: the SDK would hand them to its global error handler, which
// prints every one, and the relay's stderr is the client's log.

type spanCounter struct {
	sdktrace.SpanExporter
	x *Exporter
}

func (c *spanCounter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if err := c.SpanExporter.ExportSpans(ctx, spans); err != nil {
		c.x.spansFailed.Add(int64(len(spans)))
		c.x.failed(fmt.Errorf("export %d spans: %w", len(spans), err))
		return nil
	}
	c.x.spansSent.Add(int64(len(spans)))
	return nil
}

type logCounter struct {
	sdklog.Exporter
	x *Exporter
}

func (c *logCounter) Export(ctx context.Context, records []sdklog.Record) error {
	if err := c.Exporter.Export(ctx, records); err != nil {
		c.x.logsFailed.Add(int64(len(records)))
		c.x.failed(fmt.Errorf("export %d log records: %w", len(records), err))
		return nil
	}
	c.x.logsSent.Add(int64(len(records)))
	return nil
}

type metricCounter struct {
	sdkmetric.Exporter
	x *Exporter
}

func (c *metricCounter) Export(ctx context.Context, rm *metricdata.ResourceMetrics) error {
	if err := c.Exporter.Export(ctx, rm); err != nil {
		c.x.failed(fmt.Errorf("export metrics: %w", err))
	}
	return nil
}
