package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/opena2a-org/aim-mcp/claudeconfig"
	"github.com/opena2a-org/aim-mcp/config"
	"github.com/opena2a-org/aim-mcp/identity"
	"github.com/opena2a-org/aim-mcp/internal/home"
	"github.com/opena2a-org/aim-mcp/mcpproxy"
	"github.com/opena2a-org/aim-mcp/pins"
	"github.com/opena2a-org/aim-mcp/policy"
	"github.com/opena2a-org/aim-mcp/registry"
)

var proxyUsage = `
Usage: aim-mcp proxy [--client NAME] --server NAME [--home DIR] -- CMD [ARGS...]

Runs the MCP server CMD and relays its stdio. Every tools/call is checked,
signed and recorded in the audit log before it reaches the server.
"aim-mcp install" writes this command into the client's config; you do
not normally run it yourself.

Flags:
  --client NAME  the client whose config launched it (default ` + claudeconfig.DefaultClient + `)
  --server NAME  the server's name in that config
  --home DIR     aim-mcp's data directory (default $AIM_MCP_HOME)
`

func runProxy(ctx context.Context, e env, args []string) error {
	fs := flags(e, "proxy", proxyUsage)
	client := fs.String("client", claudeconfig.DefaultClient, "")
	server := fs.String("server", "", "")
	homeFlag := fs.String("home", "", "")
	if err := parse(e, fs, args); err != nil {
		return err
	}
	argv := fs.Args()
	if *server == "" {
		return &usageError{cmd: "proxy", msg: "--server is required"}
	}
	if len(argv) == 0 {
		return &usageError{cmd: "proxy", msg: "no server command after --"}
	}
	dir, err := home.Resolve(*homeFlag)
	if err != nil {
		return err
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
	cfg, cfgErr := config.Load()
	if cfgErr != nil {
		fmt.Fprintf(e.stderr, "aim-mcp: error: %v; every tool call needs approval until it is fixed\n", cfgErr)
		cfg = config.Defaults()
		for level := range cfg.Actions {
			cfg.Actions[level] = policy.Approve
		}
	}

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)

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
	setup := func(ctx context.Context) (mcpproxy.Guard, mcpproxy.Journal, error) {
		if err := home.Ensure(dir); err != nil {
			return nil, nil, err
		}
		var err error
		keys := identity.Store{Dir: home.Keys(dir), Warn: func(m string) { fmt.Fprintf(e.stderr, "aim-mcp: warning: %s\n", m) }}
		db, err = registry.Open(ctx, home.DB(dir), registry.Options{Keys: keys})
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
		// Pins first: a local check that may refuse the call before AIM is
		// asked about it.
		journal := &mcpproxy.RegistryJournal{DB: db, Key: key, Server: srv}
		guard.AddHook(&pins.Hook{DB: db, Server: srv, Action: cfg.DriftAction,
			Record: func(ctx context.Context, ev registry.Event) error { return journal.Append(ctx, ev) },
			Alert:  func(m string) { fmt.Fprintf(e.stderr, "aim-mcp: %s\n", m) }})
		if aimDone, err = attachAIM(e, dir, cfg, db, srv, guard, log); err != nil {
			return nil, nil, err
		}
		return guard, journal, nil
	}
	code := mcpproxy.Run(ctx, mcpproxy.Options{
		Command: argv, Stdin: e.stdin, Stdout: e.stdout, Stderr: e.stderr,
		Log: log, Setup: setup, Signals: sigs,
		Fallback: policy.Offline{Config: cfg, Cause: errors.New("registry unavailable")},
	})
	if code != 0 {
		return &cliError{code: code}
	}
	return nil
}

func isTrue(s string) bool {
	switch s {
	case "1", "true", "TRUE", "True", "yes", "on":
		return true
	}
	return false
}
