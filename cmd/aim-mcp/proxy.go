package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"

	"github.com/opena2a-org/aim-mcp/audit"
	"github.com/opena2a-org/aim-mcp/claudeconfig"
	"github.com/opena2a-org/aim-mcp/config"
	"github.com/opena2a-org/aim-mcp/identity"
	"github.com/opena2a-org/aim-mcp/internal/home"
	"github.com/opena2a-org/aim-mcp/mcpproxy"
	"github.com/opena2a-org/aim-mcp/oauth"
	"github.com/opena2a-org/aim-mcp/pins"
	"github.com/opena2a-org/aim-mcp/poison"
	"github.com/opena2a-org/aim-mcp/policy"
	"github.com/opena2a-org/aim-mcp/registry"
	"github.com/opena2a-org/aim-mcp/witness"
)

var proxyUsage = `
Usage: aim-mcp proxy [--client NAME] --server NAME [--home DIR] -- CMD [ARGS...]
       aim-mcp proxy [--client NAME] --server NAME [--home DIR] --url URL
             [--transport auto|http|sse] [--header-env NAME=ENVVAR ...]
             [--oauth-client-id ID] [--oauth-scopes "A B"]
             [--oauth-callback-port N] [--oauth-as-metadata URL]

Runs the MCP server CMD and relays its stdio. Every tools/call is checked,
signed and recorded in the audit log before it reaches the server.

With --url the server is remote: the proxy speaks stdio to the client and
streamable HTTP to URL, as the server's client. A refused call never
reaches the network. URL must be https, or http to localhost. When the
server loses the session (it restarted), the proxy initializes again and
retries, once. When the server asks for a login (OAuth), the proxy is its
OAuth client: it uses the token "aim-mcp login NAME" stored, refreshes it,
and with none opens the browser and waits up to 45 seconds for you.
"aim-mcp install" writes this command into the client's config; you do
not normally run it yourself.

After each commit the chain's head goes to the system log, for "aim-mcp
audit verify" to compare with (AIM_MCP_SYSLOG names another syslog
socket, or off).

The server runs with AIM_MCP_PROXIED=1 in its environment: a Go server
that protects itself with the aim package's middleware then leaves
deciding and recording to the proxy, so no call is recorded twice.

With an otel: block in config.yaml (or OTEL_EXPORTER_OTLP_ENDPOINT set),
each tools/call is also a span and metrics, and each audit record a log
record, sent over OTLP without ever holding a call up.

Flags:
  --client NAME  the client whose config launched it (default ` + claudeconfig.DefaultClient + `)
  --server NAME  the server's name in that config
  --home DIR     aim-mcp's data directory (default $AIM_MCP_HOME)
  --url URL      a remote server's MCP endpoint (its /sse URL for sse), instead of CMD
  --transport T  http (streamable HTTP), sse (the older HTTP+SSE transport)
                 or auto: http, then sse if the server refuses it (default)
  --header-env NAME=ENVVAR
                 send header NAME with the value of $ENVVAR (repeatable);
                 values never appear in argv, logs or the audit log
  --entry ID     the id under which install kept the entry's original
                 bytes, for uninstall; the proxy does not use it
  --oauth-client-id ID
                 a client id registered with the server's authorization
                 server; its secret is read from $AIM_MCP_OAUTH_CLIENT_SECRET
  --oauth-scopes "A B"
                 the scopes to ask for (default: those the server names)
  --oauth-callback-port N
                 the loopback port of the login's redirect (default: kept)
  --oauth-as-metadata URL
                 the authorization server's metadata, instead of discovery
`

func runProxy(ctx context.Context, e env, args []string) error {
	fs := flags(e, "proxy", proxyUsage)
	client := fs.String("client", claudeconfig.DefaultClient, "")
	server := fs.String("server", "", "")
	homeFlag := fs.String("home", "", "")
	rawURL := fs.String("url", "", "")
	transport := fs.String("transport", "auto", "")
	var hdrs headerEnvs
	fs.Var(&hdrs, "header-env", "")
	fs.String("entry", "", "") // install's, for uninstall
	of := addOAuthFlags(fs)
	if err := parse(e, fs, args); err != nil {
		return err
	}
	argv := fs.Args()
	if *server == "" {
		return &usageError{cmd: "proxy", msg: "--server is required"}
	}
	var remote *mcpproxy.Remote
	auth := &authLog{}
	var oauthCfg *oauth.Config
	switch {
	case *rawURL != "" && len(argv) > 0:
		return &usageError{cmd: "proxy", msg: "give either --url or a server command after --, not both"}
	case *rawURL != "":
		if *transport != "auto" && *transport != "http" && *transport != "sse" {
			return errorf("--transport %q is not supported", *transport).
				hint("use auto (the default), http (streamable HTTP) or sse (the older HTTP+SSE transport)").exit(2)
		}
		u, err := remoteURL(*rawURL)
		if err != nil {
			return err
		}
		h, err := remoteHeaders(hdrs)
		if err != nil {
			return err
		}
		remote = &mcpproxy.Remote{URL: u.String(), Transport: *transport, Headers: h}
		cfg, err := of.config("", *server, u.String())
		if err != nil {
			return err
		}
		oauthCfg = &cfg
		// The registration's command is the URL: the server's identity.
		argv = []string{u.String()}
	case len(hdrs) > 0 || *transport != "auto" || of.set():
		return &usageError{cmd: "proxy", msg: "--header-env, --transport and --oauth-* need --url"}
	case len(argv) == 0:
		return &usageError{cmd: "proxy", msg: "no server command after -- (or --url for a remote server)"}
	}
	dir, err := home.Resolve(*homeFlag)
	if err != nil {
		return err
	}
	if oauthCfg != nil {
		oauthCfg.Home = dir
		if remote.Client, remote.Describe, err = remoteOAuth(e, *oauthCfg, auth); err != nil {
			return err
		}
	}
	// One proxy runs per server, often a dozen at once: keep each small.
	// The soft limit makes the GC work harder while a multi-megabyte
	// message passes, instead of letting the heap double behind it.
	debug.SetMemoryLimit(16 << 20)
	level := slog.LevelWarn
	if isTrue(getenv("AIM_DEBUG")) {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level})).With("aim-mcp", *server)

	// A broken config must not stop the server (the client would only see
	// it die) nor loosen a policy it can no longer read: every call then
	// needs a person's approval. The client's server log shows why.
	// An error in the otel: block alone turns export off and nothing else.
	cfg, cfgErr := config.Load()
	if isOTelError(cfgErr) {
		fmt.Fprintf(e.stderr, "aim-mcp: error: %v; OpenTelemetry export is off until it is fixed\n", cfgErr)
		fmt.Fprintf(e.stderr, "aim-mcp: hint: %s\n", otelHint)
	} else if cfgErr != nil {
		fmt.Fprintf(e.stderr, "aim-mcp: error: %v; every tool call needs approval until it is fixed\n", cfgErr)
		cfg = config.Defaults()
		for level := range cfg.Actions {
			cfg.Actions[level] = audit.ActionApprove
		}
	}

	// Off unless config.yaml or OTEL_EXPORTER_OTLP_* turn it on; the
	// relay then only hands each call and record to its queue.
	tel := startOTel(e.stderr, cfg, *client, *server)
	defer stopOTel(e.stderr, tel, dir)
	var observer mcpproxy.Observer // a nil interface when off, not a nil *Exporter
	if tel != nil {
		observer = tel
	}

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	// A client that closes its end of stdout or stderr first must not kill
	// the proxy (Go exits on SIGPIPE from a write to fd 1 or 2) before it
	// has recorded how the session ended: caught, the write fails with
	// EPIPE instead. Caught, not ignored, so the server does not inherit it.
	pipes := make(chan os.Signal, 1)
	signal.Notify(pipes, syscall.SIGPIPE)
	defer signal.Stop(pipes)

	var db *registry.DB
	defer func() {
		if db != nil {
			db.Close()
		}
	}()
	var aimDone func() // sends what is still queued for a remote AIM
	defer func() {
		if aimDone != nil {
			aimDone()
		}
	}()
	setup := func(ctx context.Context) (mcpproxy.Decider, mcpproxy.Journal, error) {
		if err := home.Ensure(dir); err != nil {
			return nil, nil, err
		}
		var err error
		keys := identity.Store{Dir: home.Keys(dir), Warn: func(m string) { fmt.Fprintf(e.stderr, "aim-mcp: warning: %s\n", m) }}
		var extra []witness.Sink
		if tel != nil {
			extra = append(extra, tel) // the chain's head goes to the receiver too
		}
		db, err = registry.Open(ctx, home.DB(dir), registry.Options{Keys: keys, Witness: newWitness(proxyWitnessWarning(e.stderr), extra...)})
		if err != nil {
			return nil, nil, err
		}
		srv, err := db.Server(ctx, *client, *server)
		if errors.Is(err, registry.ErrNotFound) {
			srv, _, err = db.Register(ctx, registry.Registration{Client: *client, Name: *server, Command: argv[0], Args: argv[1:]})
			if err == nil {
				fmt.Fprintf(e.stderr, "aim-mcp: note: server %q was not registered; registered it as %s\n", *server, srv.ID)
			}
		}
		if err != nil {
			return nil, nil, err
		}
		key, err := db.Key(srv)
		if err != nil {
			return nil, nil, err
		}
		guard, err := policy.NewGuard(ctx, db, srv, cfg)
		if err != nil {
			return nil, nil, err
		}
		guard.Held = heldNotice(e, dir, cfg)
		// Pins first: a local check that may refuse the call before AIM is
		// asked about it.
		var journal mcpproxy.Journal = &mcpproxy.RegistryJournal{DB: db, Key: key, Server: srv}
		if tel != nil {
			journal = tel.Journal(journal)
		}
		auth.attach(journal)
		guard.AddHook(&pins.Hook{DB: db, Server: srv, Action: cfg.DriftAction, Scan: poison.New(nil),
			Record: func(ctx context.Context, ev registry.Event) error { return journal.Append(ctx, ev) },
			Alert:  func(m string) { fmt.Fprintf(e.stderr, "aim-mcp: %s\n", m) }})
		if remote != nil {
			guard.AddHook(remotePins(e, db, srv, cfg, remote, journal))
		}
		if aimDone, err = attachAIM(e, dir, cfg, db, srv, guard, log); err != nil {
			return nil, nil, err
		}
		return guard, journal, nil
	}
	command := argv
	if remote != nil {
		command = nil
	}
	err = mcpproxy.Run(ctx, mcpproxy.Options{
		Command: command, Remote: remote, Stdin: e.stdin, Stdout: e.stdout, Stderr: e.stderr,
		Log: log, Setup: setup, Signals: sigs, Report: proxyReporter(e.stderr),
		// On Linux the server runs under a supervisor (this binary again,
		// see main) that takes down everything it started, even when the
		// proxy is SIGKILLed.
		Supervise:   true,
		Fallback:    policy.Offline{Config: cfg, Cause: errors.New("registry unavailable")},
		ScanResults: cfg.Scan.Results, BlockResults: cfg.Scan.ResultAction == config.ResultBlock,
		StdinGrace: cfg.StopGrace,
		Observer:   observer,
	})
	return proxyExit(*server, err)
}

// proxyReporter prints what goes wrong in a running session to the
// client's log of the server: a call that runs unrecorded is a warning,
// the rest (no registry, a record not written) are errors.
func proxyReporter(w io.Writer) func(error) {
	var mu sync.Mutex
	return func(err error) {
		mu.Lock()
		defer mu.Unlock()
		var ue *mcpproxy.UnrecordedError
		if errors.As(err, &ue) {
			fmt.Fprintf(w, "aim-mcp: warning: %v\n", err)
			return
		}
		fmt.Fprintf(w, "aim-mcp: error: %v\n", err)
		var re *mcpproxy.RemoteError
		if errors.As(err, &re) {
			fmt.Fprintf(w, "aim-mcp: hint: %s\n", remoteHint(re.Kind))
		}
	}
}

// proxyExit turns how a session ended into the proxy's exit: the server's
// own code, quietly when we asked it to stop; 127 when the command is not
// found, as a shell would, and 126 when it cannot be run.
func proxyExit(name string, err error) error {
	var ee *mcpproxy.ExitError
	var se *mcpproxy.StartError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ee) && !ee.Crashed:
		return &cliError{code: ee.Code}
	case errors.As(err, &ee):
		return &cliError{msg: fmt.Sprintf("server %q (%s) %s", name, ee.Command, ended(ee)), code: ee.Code}
	case errors.As(err, &se) && errors.Is(err, mcpproxy.ErrCommandNotFound):
		return errorf("%v", err).hint("the client starts servers with a reduced PATH; use an absolute path for %q in the config", se.Command).exit(127)
	case errors.As(err, &se):
		return errorf("%v", err).exit(126)
	}
	return err
}

func isTrue(s string) bool {
	switch s {
	case "1", "true", "TRUE", "True", "yes", "on":
		return true
	}
	return false
}

// ended says in words how a server that was not asked to stop ended.
func ended(ee *mcpproxy.ExitError) string {
	switch {
	case ee.How == "killed by aim-mcp":
		return "was stopped by aim-mcp"
	case strings.HasPrefix(ee.How, "killed by "):
		return fmt.Sprintf("was killed by a signal from outside (%s; exit code %d)", strings.TrimPrefix(ee.How, "killed by "), ee.Code)
	}
	return ee.How
}
