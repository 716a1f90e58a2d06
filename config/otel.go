package config

import (
	"fmt"
	"net/url"
	"strings"
)

// OTel is the otel: part of config.yaml: where the OpenTelemetry export of
// tool calls and audit records goes. Without it (and without the standard
// OTEL_EXPORTER_OTLP_* variables) nothing is exported.
type OTel struct {
	// Endpoint is the OTLP receiver's base URL, such as
	// http://localhost:4318 (HTTP; /v1/traces and the rest are added) or
	// http://localhost:4317 (gRPC). A bare host:port means https, or plain
	// text with insecure.
	Endpoint string `yaml:"endpoint"`
	// Protocol is http (OTLP/HTTP with protobuf, the default) or grpc.
	Protocol string `yaml:"protocol"`
	// Headers go with every export (an API key of a hosted backend).
	Headers map[string]string `yaml:"headers"`
	// Insecure sends in plain text, without TLS.
	Insecure bool `yaml:"insecure"`
}

// OTel protocols.
const (
	OTelHTTP = "http"
	OTelGRPC = "grpc"
)

// OTelError is a malformed otel: block, so the CLI can say what the block
// takes.
type OTelError struct{ Msg string }

func (e *OTelError) Error() string { return "otel: " + e.Msg }

// validate checks the block; a nil block is export off.
func (o *OTel) validate() error {
	if o == nil {
		return nil
	}
	switch o.Protocol {
	case "", OTelHTTP, "http/protobuf", OTelGRPC:
	default:
		return &OTelError{fmt.Sprintf("protocol %q: want http or grpc", o.Protocol)}
	}
	if o.Endpoint == "" {
		return &OTelError{"endpoint is missing: want a URL such as http://localhost:4318"}
	}
	if _, _, _, err := o.Target(); err != nil {
		return &OTelError{err.Error()}
	}
	for k := range o.Headers {
		if k == "" || strings.ContainsAny(k, " \t\r\n:") {
			return &OTelError{fmt.Sprintf("headers: %q is not a header name", k)}
		}
	}
	return nil
}

// Target splits Endpoint into the host:port and the base path an exporter
// needs, and says whether the connection is plain text.
func (o *OTel) Target() (hostport, path string, plain bool, err error) {
	e := o.Endpoint
	if !strings.Contains(e, "://") {
		e = "https://" + e
		if o.Insecure {
			e = "http://" + o.Endpoint
		}
	}
	u, perr := url.Parse(e)
	if perr != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || u.User != nil || u.RawQuery != "" {
		return "", "", false, fmt.Errorf("endpoint %q: want a URL such as http://localhost:4318", o.Endpoint)
	}
	return u.Host, strings.TrimSuffix(u.Path, "/"), u.Scheme == "http" || o.Insecure, nil
}
