package config

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// TestOTel: the otel: block's settings, and a malformed block as an
// OTelError that names what is wrong.
func TestOTel(t *testing.T) {
	tests := []struct {
		name, yaml string
		err        string // "" for none
		host, path string
		plain      bool
	}{
		{name: "none", yaml: "fail_mode: closed\n"},
		{name: "http", yaml: "otel:\n  endpoint: http://localhost:4318\n", host: "localhost:4318", plain: true},
		{name: "https with a path", yaml: "otel:\n  endpoint: https://otlp.example.com/otlp/\n  headers:\n    api-key: k\n", host: "otlp.example.com", path: "/otlp"},
		{name: "bare grpc insecure", yaml: "otel:\n  endpoint: collector:4317\n  protocol: grpc\n  insecure: true\n", host: "collector:4317", plain: true},
		{name: "bare is TLS", yaml: "otel:\n  endpoint: collector:4317\n  protocol: grpc\n", host: "collector:4317"},
		{name: "bad protocol", yaml: "otel:\n  endpoint: http://x:4318\n  protocol: udp\n", err: `otel: protocol "udp": want http or grpc`},
		{name: "no endpoint", yaml: "otel:\n  protocol: http\n", err: "otel: endpoint is missing"},
		{name: "bad endpoint", yaml: "otel:\n  endpoint: ftp://x\n", err: `otel: endpoint "ftp://x": want a URL`},
		{name: "unknown key", yaml: "otel:\n  endpont: http://x:4318\n", err: `otel: line 2: unknown key "endpont"`},
		{name: "not a block", yaml: "otel: 5\n", err: "otel: line 1: cannot unmarshal"},
		{name: "bad header", yaml: "otel:\n  endpoint: http://x:4318\n  headers:\n    \"a b\": c\n", err: `otel: headers: "a b" is not a header name`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(tc.yaml))
			if tc.err != "" {
				var oe *OTelError
				if err == nil || !strings.HasPrefix(err.Error(), tc.err) || !errors.As(err, &oe) {
					t.Fatalf("got error %v (%T), want an OTelError starting %q", err, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.host == "" {
				if c.OTel != nil {
					t.Fatalf("otel is on without a block: %+v", c.OTel)
				}
				return
			}
			host, path, plain, err := c.OTel.Target()
			if err != nil || host != tc.host || path != tc.path || plain != tc.plain {
				t.Errorf("Target() = %q, %q, %v, %v; want %q, %q, %v", host, path, plain, err, tc.host, tc.path, tc.plain)
			}
		})
	}
}

// TestLoadOTelError: an error in the otel: block alone leaves the rest of
// the config in force, with export off; one elsewhere is a plain error.
func TestLoadOTelError(t *testing.T) {
	for _, tc := range []struct {
		yaml string
		otel bool
	}{
		{"fail_mode: open\notel:\n  endpoint: http://x:4318\n  protocol: udp\n", true},
		{"fail_mode: open\notel:\n  endpont: http://x:4318\n", true},
		{"fail_mode: open\nfail_mood: x\notel:\n  endpont: http://x:4318\n", false},
		{"fail_mode: ajar\notel:\n  endpoint: http://x:4318\n  protocol: udp\n", false},
	} {
		p := t.TempDir() + "/config.yaml"
		if err := os.WriteFile(p, []byte(tc.yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv("AIM_MCP_CONFIG", p)
		c, err := Load()
		isOTel := errors.As(err, new(*OTelError))
		if err == nil || isOTel != tc.otel {
			t.Errorf("%q: error %v (otel %v), want otel %v", tc.yaml, err, isOTel, tc.otel)
			continue
		}
		if tc.otel && (c.FailMode != "open" || c.OTel != nil) {
			t.Errorf("%q: fail_mode %q, otel %+v: want the rest in force and export off", tc.yaml, c.FailMode, c.OTel)
		}
	}
}
