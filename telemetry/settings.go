// Package telemetry exports what aim-mcp sees to OpenTelemetry: a span and
// metrics per tools/call, following the semantic conventions for MCP, and
// each audit record as a log record (the SIEM path). It is off unless the
// otel: block of config.yaml or the standard OTEL_EXPORTER_OTLP_*
// variables turn it on.
//
// The relay never waits for it. The proxy hands each finished call, and
// the journal each committed record, to a bounded queue with one
// non-blocking send; a goroutine of the exporter's own turns them into
// spans, metrics and logs, and the SDK's batch processors (bounded too)
// send them. What cannot be queued is dropped and counted. Export failures
// are counted and passed to a warning function at most once a minute.
//
// The package sits beside the record writer: mcpproxy knows only its
// [mcpproxy.Observer] interface and never imports the SDK.
package telemetry

import (
	"fmt"
	"strings"

	"github.com/opena2a-org/aim-mcp/config"
)

// Settings say where the export goes.
type Settings struct {
	Protocol string // config.OTelHTTP or config.OTelGRPC
	// Endpoint is the receiver as a person reads it: the URL from
	// config.yaml, or the value of the variable that turned export on.
	Endpoint string
	From     string // "config.yaml" or the variable's name
	// otel is the block from config.yaml; nil leaves every option to the
	// SDK, which reads the OTEL_EXPORTER_OTLP_* variables itself.
	otel *config.OTel
}

// envEndpoints turn export on when set, the general one first.
var envEndpoints = []string{
	"OTEL_EXPORTER_OTLP_ENDPOINT",
	"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
	"OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
	"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
}

// Resolve says whether export is on and where it goes: the otel: block of
// config.yaml when there is one, else the standard variables. OTEL_SDK_DISABLED
// turns it off either way.
func Resolve(o *config.OTel, getenv func(string) string) (Settings, bool, error) {
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return Settings{}, false, nil
	}
	if o != nil {
		s := Settings{Protocol: config.OTelHTTP, Endpoint: o.Endpoint, From: "config.yaml", otel: o}
		if o.Protocol == config.OTelGRPC {
			s.Protocol = config.OTelGRPC
		}
		return s, true, nil
	}
	for _, name := range envEndpoints {
		if v := getenv(name); v != "" {
			s := Settings{Protocol: config.OTelHTTP, Endpoint: v, From: name}
			switch p := getenv("OTEL_EXPORTER_OTLP_PROTOCOL"); p {
			case "", "http/protobuf":
			case "grpc":
				s.Protocol = config.OTelGRPC
			default:
				return s, false, fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL %q: want http/protobuf or grpc", p)
			}
			return s, true, nil
		}
	}
	return Settings{}, false, nil
}

// String is the exporter in a few words, for status: "OTLP/HTTP to URL
// (from config.yaml)".
func (s Settings) String() string {
	p := "OTLP/HTTP"
	if s.Protocol == config.OTelGRPC {
		p = "OTLP/gRPC"
	}
	return fmt.Sprintf("%s to %s (from %s)", p, s.Endpoint, s.From)
}
