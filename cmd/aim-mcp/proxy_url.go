package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/opena2a-org/aim-mcp/config"
	"github.com/opena2a-org/aim-mcp/internal/remoteurl"
	"github.com/opena2a-org/aim-mcp/mcpproxy"
	"github.com/opena2a-org/aim-mcp/pins"
	"github.com/opena2a-org/aim-mcp/registry"
)

// headerEnv is one --header-env NAME=ENVVAR: a header whose value is read
// from the environment, so it is never in argv, logs or records.
type headerEnv struct{ name, envVar string }

type headerEnvs []headerEnv

func (h *headerEnvs) String() string { return "" }

func (h *headerEnvs) Set(s string) error {
	name, envVar, ok := strings.Cut(s, "=")
	if !ok || name == "" || envVar == "" {
		return fmt.Errorf("--header-env %q: want NAME=ENVVAR, the header's name and the environment variable that holds its value", s)
	}
	if !remoteurl.HeaderName(name) {
		return fmt.Errorf("--header-env %q: %q is not a valid header name", s, name)
	}
	*h = append(*h, headerEnv{name, envVar})
	return nil
}

// remoteURL checks the --url of a remote server: https, or http to this
// machine only (a token or a tool's arguments must not cross a network in
// the clear), and no credentials in the URL itself (argv is readable by
// every local user).
func remoteURL(raw string) (*url.URL, error) {
	u, problem := remoteurl.Check(raw)
	switch problem {
	case remoteurl.NotHTTP:
		return nil, errorf("--url %q is not an http(s) URL", raw).
			hint("give the server's full URL, such as https://example.com/mcp").exit(2)
	case remoteurl.Credentials:
		return nil, errorf("--url %q holds credentials", u.Redacted()).
			hint("pass them as a header: --header-env Authorization=ENVVAR, with the value in the entry's env").exit(2)
	case remoteurl.PlainHTTP:
		return nil, errorf("--url %q is plain http to another machine", raw).
			hint("use the server's https URL; plain http is allowed for localhost only").exit(2)
	}
	return u, nil
}

// remoteHeaders reads the headers' values from the environment.
func remoteHeaders(hs headerEnvs) (http.Header, error) {
	out := http.Header{}
	for _, h := range hs {
		v, ok := os.LookupEnv(h.envVar)
		if !ok {
			return nil, errorf("--header-env %s=%s: %s is not set", h.name, h.envVar, h.envVar).
				hint("set %s in the server entry's env; the value is read from there, never from the command line", h.envVar).exit(2)
		}
		out.Add(h.name, v)
	}
	return out, nil
}

// remoteHint says what to do about a remote server's failure; the session
// reports each kind once, however many calls it failed.
func remoteHint(k mcpproxy.RemoteFailure) string {
	switch k {
	case mcpproxy.RemoteTLS:
		return "the server's certificate is not trusted for this host; check the URL, or add its CA to the system's trust store"
	case mcpproxy.RemoteNotMCP:
		return "the URL answers, but not as an MCP server; check the path (often /mcp, or /sse with --transport sse)"
	case mcpproxy.RemoteSessionLost:
		return "the server dropped the session mid-call; the call may or may not have run there, so check before you retry"
	case mcpproxy.RemoteStatus:
		return "the server refused the request; see its message above"
	}
	return "check that the server is running and that the URL is right; calls fail until it answers"
}

// remotePins pins a remote server's TLS key and authorization server: a
// change is drift, and its calls are refused until `aim-mcp pins accept`.
func remotePins(e env, db *registry.DB, srv registry.Server, cfg config.Config, remote *mcpproxy.Remote, journal mcpproxy.Journal) *pins.Peer {
	p := &pins.Peer{DB: db, Server: srv, Action: cfg.DriftAction, TLS: remote.TLSKey,
		Record: func(ctx context.Context, ev registry.Event) error { return journal.Append(ctx, ev) },
		Alert:  func(m string) { fmt.Fprintf(e.stderr, "aim-mcp: %s\n", m) }}
	if describe := remote.Describe; describe != nil {
		p.Issuer = func() string {
			iss, _ := describe()["oauth_issuer"].(string)
			return iss
		}
	}
	return p
}
