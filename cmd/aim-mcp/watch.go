package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/opena2a-org/aim-mcp/claudeconfig"
	"github.com/opena2a-org/aim-mcp/config"
	"github.com/opena2a-org/aim-mcp/discovery"
	"github.com/opena2a-org/aim-mcp/internal/home"
	"github.com/opena2a-org/aim-mcp/registry"
	"github.com/opena2a-org/aim-mcp/watch"
)

var watchUsage = `
Usage: aim-mcp watch [--client NAME|all] [--config PATH]... [--home DIR] [--once]
       aim-mcp watch --service install|uninstall|status [same flags]

Keeps MCP client configs wrapped. It reconciles each config once, then
watches them: a stdio server added to a config is registered and wrapped
within a second, one that was removed is marked removed in the registry, an
entry the client rewrote without its wrapping is wrapped again, and a
config (or its directory) that appears later is picked up. A config that
does not parse is reported and left alone until it does; a config that
"aim-mcp uninstall" gave back is left alone until "aim-mcp install" runs.
Progress goes to stderr; Ctrl-C (SIGINT) or SIGTERM stops it.

Flags:
` + clientFlag("watch this client's config:", "(the default: every client, including those whose config does not exist yet)") +
	wrapText("  --config PATH  ", "watch this file (repeatable); --client says whose it is, else its name does (default "+
		defaultDisplay()+"'s format)") + `  --home DIR     aim-mcp's data directory
  --once         reconcile once and exit
  --log FILE     append the log to FILE instead of stderr (each line with its time)
  --log-format F sentences (the default), or slog's text or json: one
                 key=value or JSON record a line, for a log collector
  --debounce D   wait for a file to be quiet this long (default 250ms)
  --service ACTION
                 install: run "aim-mcp watch" with these flags at login (a
                 systemd user unit on Linux, a launchd agent on macOS, a
                 scheduled task on Windows) and start it now; uninstall:
                 stop and remove it; status: show whether it is installed
                 and running
`

func runWatch(ctx context.Context, e env, args []string) error {
	fs := flags(e, "watch", watchUsage)
	var configs stringsFlag
	fs.Var(&configs, "config", "")
	client := fs.String("client", "", "")
	homeFlag := fs.String("home", "", "")
	once := fs.Bool("once", false, "")
	logFile := fs.String("log", "", "")
	logFormat := fs.String("log-format", "sentences", "")
	debounce := fs.Duration("debounce", watch.DefaultDebounce, "")
	service := fs.String("service", "", "")
	if err := parse(e, fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	switch *logFormat {
	case "sentences", "text", "json":
	default:
		return &usageError{cmd: "watch", msg: fmt.Sprintf("--log-format %q: want sentences, text or json", *logFormat)}
	}
	dir, err := home.Resolve(*homeFlag)
	if err != nil {
		return err
	}
	if *service != "" {
		return runService(ctx, e, *service, dir, serviceArgs(dir, *client, configs, *debounce))
	}
	locs, err := resolveLocations("watch", *client, configs, true)
	if err != nil {
		return err
	}
	exe, err := selfPath()
	if err != nil {
		return err
	}

	out := e.stderr
	if *logFile != "" {
		f, err := os.OpenFile(*logFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return errorf("open log: %v", err)
		}
		defer f.Close()
		out = f
		detachConsole()
	}
	level := slog.LevelInfo
	if isTrue(getenv("AIM_DEBUG")) {
		level = slog.LevelDebug
	}
	var handler slog.Handler
	switch *logFormat {
	case "text":
		handler = slog.NewTextHandler(out, &slog.HandlerOptions{Level: level})
	case "json":
		handler = slog.NewJSONHandler(out, &slog.HandlerOptions{Level: level})
	default:
		handler = newSentenceHandler(out, level, *logFile != "")
	}
	log := slog.New(handler)

	db, err := openRegistry(ctx, e, dir, true)
	if err != nil {
		return err
	}
	defer db.Close()
	rec := &watch.Reconciler{Registry: db, Exe: exe, Home: dir, Backups: home.Backups(dir), Writable: writable,
		Entries: home.Entries(dir)}
	// With a remote AIM configured for this home (install --aim-url), new
	// servers are enrolled there too.
	aim, err := newAIMInstall(env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: out}, dir, "", "", false)
	if err != nil {
		log.Warn("remote AIM not used", "err", err)
	} else if aim != nil {
		rec.OnRegister = func(ctx context.Context, srv registry.Server, created bool) error {
			if !created && srv.RemoteID != "" {
				return nil
			}
			return aim.enroll(ctx, env{stdout: io.Discard, stderr: out}, db, srv)
		}
	}
	w := &watch.Watcher{Targets: locs, Reconciler: rec, Log: log, Debounce: *debounce}
	if *once {
		if err := w.Once(ctx); err != nil {
			return errorf("%v", err).hint("the log above says which file and why")
		}
		return nil
	}
	// SIGINT and SIGTERM end it cleanly, whoever started it (a shell, a
	// service manager, a test).
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	serveDashboard(ctx, e, db, dir, log)
	for _, l := range locs {
		if running(l.Client) && l.Client.Name == claudeconfig.DefaultClient {
			log.Warn("Claude Desktop is running: it reads its config only at start; quit it completely and start it again to use wrapped servers")
			break
		}
	}
	return w.Run(ctx)
}

// stringsFlag is a flag that may be repeated.
type stringsFlag []string

func (s *stringsFlag) String() string     { return strings.Join(*s, ",") }
func (s *stringsFlag) Set(v string) error { *s = append(*s, v); return nil }

// clientFlags are the flags of the commands that work on client configs:
// install, uninstall and list.
type clientFlags struct {
	configs stringsFlag
	client  string
	home    string
}

func (c *clientFlags) register(fs *flag.FlagSet) {
	fs.Var(&c.configs, "config", "")
	fs.StringVar(&c.client, "client", "", "")
	fs.StringVar(&c.home, "home", "", "")
}

// load parses the command line, resolves the home and loads the configs
// it names. failed says some config could not be loaded (and was reported).
func (c *clientFlags) load(e env, fs *flag.FlagSet, args []string) (dir string, cfgs []*discovery.Config, failed bool, err error) {
	if err := parse(e, fs, args); err != nil {
		return "", nil, false, err
	}
	if err := noArgs(fs); err != nil {
		return "", nil, false, err
	}
	if dir, err = home.Resolve(c.home); err != nil {
		return "", nil, false, err
	}
	cfgs, failed, err = loadConfigs(e, strings.TrimPrefix(fs.Name(), "aim-mcp "), c.client, c.configs)
	return dir, cfgs, failed, err
}

// resolveLocations turns --client and --config into config files. missing
// keeps the user files that do not exist yet (for watch).
func resolveLocations(cmd, client string, configs []string, missing bool) ([]discovery.Location, error) {
	locs, err := discovery.Resolve(discovery.Selection{Client: client, Configs: configs, Missing: missing}, discovery.Host())
	var nc *discovery.ErrNoConfig
	switch {
	case errors.As(err, &nc) && nc.Unread != "":
		return nil, errorf("%v", err).hint("%s", unreadHint)
	case errors.As(err, &nc) && (client == "" || client == "all"):
		return nil, errorf("%v", err).hint("pass the file with --config PATH, or name its client with --client NAME")
	case errors.As(err, &nc):
		return nil, errorf("%v", err).hint("pass the file with --config PATH")
	case err != nil:
		return nil, &usageError{cmd: cmd, msg: err.Error()}
	}
	return locs, nil
}

// loadConfigs resolves and parses the configs a command works on. It
// reports each one that cannot be loaded on stderr and goes on with the
// others; failed says whether any could not.
func loadConfigs(e env, cmd, client string, configs []string) (cfgs []*discovery.Config, failed bool, err error) {
	locs, err := resolveLocations(cmd, client, configs, false)
	if err != nil {
		return nil, false, err
	}
	for _, l := range locs {
		cfg, err := l.Load()
		if err != nil {
			report(e.stderr, configError(err))
			failed = true
			continue
		}
		cfgs = append(cfgs, cfg)
	}
	return cfgs, failed, nil
}

// configError turns a failure to load a config into an error a person can
// act on.
func configError(err error) error {
	var pe *claudeconfig.ParseError
	var le *claudeconfig.LimitError
	switch {
	case errors.As(err, &pe):
		return errorf("%v", err).hint("fix the file (nothing was changed), then run the command again")
	case errors.Is(err, fs.ErrNotExist):
		return errorf("%v", err).hint("pass an existing file with --config PATH")
	case errors.As(err, &le) && le.What == "servers":
		return errorf("%v", err).hint("nothing was changed; split the servers over several config files (--config PATH)")
	case errors.As(err, &le):
		return errorf("%v", err).hint("nothing was changed; see what made the file this big before wrapping its servers")
	}
	return errorf("%v", err)
}

// reconcileError explains a failed reconcile.
func reconcileError(err error) error {
	var se *watch.SaveError
	var ce *cliError
	switch {
	case errors.As(err, &ce):
		return err
	case errors.As(err, &se) && se.Backup == "":
		return errorf("%v", err).hint("nothing was changed")
	case errors.As(err, &se):
		return errorf("%v", err).hint("the file is unchanged; the backup is %q", se.Backup)
	}
	return configError(err)
}

// wrappedCount counts the servers a reconcile wrapped or re-pointed.
func wrappedCount(res watch.Result) int {
	n := 0
	for _, o := range res.Outcomes {
		if o.Action == watch.Wrapped || o.Action == watch.Rewrapped {
			n++
		}
	}
	return n
}

// serviceArgs are the arguments of "aim-mcp watch" that the login service
// runs: the same selection, with the home pinned (the service's
// environment may differ from this shell's).
func serviceArgs(dir, client string, configs []string, debounce time.Duration) []string {
	args := []string{"watch", "--home", dir}
	if client != "" {
		args = append(args, "--client", client)
	}
	for _, c := range configs {
		args = append(args, "--config", absPath(c))
	}
	if debounce != watch.DefaultDebounce {
		args = append(args, "--debounce", debounce.String())
	}
	return args
}

// serveDashboard serves the dashboard at config.yaml's dashboard_addr while
// watch runs, so the link in a notification works whenever the user is
// logged in. A port taken (by another dashboard of this home, say) is only
// a warning: watch goes on.
func serveDashboard(ctx context.Context, e env, db *registry.DB, dir string, log *slog.Logger) {
	cfg, err := config.Load()
	if err != nil {
		log.Warn("dashboard not served: config.yaml", "err", err)
		return
	}
	srv, ln, err := startDashboard(e, db, cfg, dir, cfg.DashboardAddr, false, 0, log)
	if err != nil {
		log.Warn("dashboard not served", "addr", cfg.DashboardAddr, "err", err)
		return
	}
	log.Info("dashboard", "addr", cfg.DashboardAddr, "link", "run `aim-mcp dashboard` for the link")
	go func() {
		if err := srv.Serve(ctx, ln); err != nil {
			log.Warn("dashboard stopped", "err", err)
		}
	}()
}
