package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/opena2a-org/aim-mcp/config"
	"github.com/opena2a-org/aim-mcp/telemetry"
)

// otelHint says what the otel: block takes, after an error in it.
const otelHint = "the otel: block takes endpoint (such as http://localhost:4318), protocol (http or grpc), headers and insecure; see \"OpenTelemetry and SIEM\" in the README"

// otelShutdownWait bounds how long a session's end waits for the last
// export: a receiver that does not answer must not hold the client up.
const otelShutdownWait = 2 * time.Second

// startOTel starts the session's OpenTelemetry export when config.yaml or
// the environment turns it on; nil when it is off or cannot start, which
// it says on stderr (the client's log) and never stops the server for.
func startOTel(w io.Writer, cfg config.Config, client, server string) *telemetry.Exporter {
	s, on, err := telemetry.Resolve(cfg.OTel, getenv)
	if err != nil {
		fmt.Fprintf(w, "aim-mcp: error: %v; OpenTelemetry export is off\n", err)
		return nil
	}
	if !on {
		return nil
	}
	x, err := telemetry.Start(s, telemetry.Identity{Server: server, Client: client, Version: version()},
		telemetry.Options{Warn: func(err error) {
			fmt.Fprintf(w, "aim-mcp: warning: OpenTelemetry export to %s failed: %v (the calls go on; the next failure is told in a minute at the soonest)\n", s.Endpoint, err)
		}})
	if err != nil {
		fmt.Fprintf(w, "aim-mcp: error: start OpenTelemetry export: %v; it is off\n", err)
		return nil
	}
	return x
}

// stopOTel sends what is left, within otelShutdownWait, and keeps the
// session's counts for status.
func stopOTel(w io.Writer, x *telemetry.Exporter, dir string) {
	if x == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), otelShutdownWait)
	defer cancel()
	x.Shutdown(ctx) // failures were told as they happened, and are counted
	if err := x.SaveStats(dir); err != nil {
		fmt.Fprintf(w, "aim-mcp: warning: %v\n", err)
	}
}

// isOTelError says whether a config error is in the otel: block.
func isOTelError(err error) bool {
	var oe *config.OTelError
	return errors.As(err, &oe)
}
