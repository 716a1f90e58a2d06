package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/opena2a-org/aim-mcp/config"
	"github.com/opena2a-org/aim-mcp/dashboard"
	"github.com/opena2a-org/aim-mcp/discovery"
	"github.com/opena2a-org/aim-mcp/registry"
)

const dashboardUsage = `
Usage: aim-mcp dashboard [--addr HOST:PORT] [--no-open] [--home DIR]

Serves aim-mcp's dashboard on this computer and opens it in the browser:
the calls waiting for a person (approve once, approve and remember, deny
with a reason), the audit trail and its verification, the servers and
their trust, tool drift, the policy rules and compliance reports. Pages
update by themselves as things happen.

The link carries a key (kept in the home's dashboard.token, mode 0600); the
browser swaps it for a cookie at once. The dashboard listens on loopback
only. "aim-mcp watch" serves it too, at config.yaml's dashboard_addr.

Flags:
  --addr HOST:PORT  where to listen (default config.yaml's dashboard_addr,
                    127.0.0.1:47321); port 0 picks a free one
  --no-open         print the link, do not open a browser
  --any-address     allow an address other than loopback (anyone who can
                    reach it and has the link can release tool calls)
  --idle-exit D     exit after D with no page open (default: never)
  --home DIR        aim-mcp's data directory
`

func runDashboard(ctx context.Context, e env, args []string) error {
	fs := flags(e, "dashboard", dashboardUsage)
	addr := fs.String("addr", "", "")
	noOpen := fs.Bool("no-open", false, "")
	anyAddr := fs.Bool("any-address", false, "")
	idle := fs.Duration("idle-exit", 0, "")
	homeFlag := fs.String("home", "", "")
	detached := fs.Bool("detach", false, hiddenUsage) // how a proxy starts one
	if err := parse(e, fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *detached {
		return startDetached(e, args)
	}
	cfg, err := config.Load()
	if err != nil {
		return errorf("%v", err).hint("fix config.yaml; nothing was changed")
	}
	if *addr == "" {
		*addr = cfg.DashboardAddr
	}
	dir, db, err := openHome(ctx, e, *homeFlag, false)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	// One dashboard per home and address: when it already runs there
	// (watch serves one), its link is all that is needed.
	if tok, err := dashboard.LoadToken(dir); err == nil && dashboardAnswers(ctx, "http://"+*addr, tok) {
		link := dashboard.LinkTo("http://"+*addr, tok, "/")
		fmt.Fprintf(e.stdout, "aim-mcp dashboard: %s\n", link)
		fmt.Fprintln(e.stderr, "aim-mcp: the dashboard already runs there")
		if !*noOpen {
			if err := openBrowser(link); err != nil {
				fmt.Fprintf(e.stderr, "aim-mcp: cannot open a browser (%v): open the link above\n", err)
			}
		}
		return nil
	}
	srv, ln, err := startDashboard(e, db, cfg, dir, *addr, *anyAddr, *idle, slog.New(slog.NewTextHandler(e.stderr, nil)))
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "aim-mcp dashboard: %s\n", srv.URL())
	if !*noOpen {
		if err := openBrowser(srv.URL()); err != nil {
			fmt.Fprintf(e.stderr, "aim-mcp: cannot open a browser (%v): open the link above\n", err)
		}
	}
	fmt.Fprintln(e.stderr, "aim-mcp: Ctrl-C stops the dashboard")
	return srv.Serve(ctx, ln)
}

// startDetached starts the dashboard that args describe (without --detach)
// in a session of its own and returns at once. A proxy that holds a call
// runs "dashboard --detach" and waits for it: the dashboard it leaves
// behind is then nobody's child, so it is not part of the process tree the
// client ends when it closes the server, and it outlives the proxy until
// it has been idle a while.
func startDetached(e env, args []string) error {
	exe, err := selfPath()
	if err != nil {
		return err
	}
	rest := make([]string, 0, len(args))
	for _, a := range args {
		if a != "--detach" && a != "-detach" {
			rest = append(rest, a)
		}
	}
	cmd := exec.Command(exe, append([]string{"dashboard"}, rest...)...)
	cmd.Stdout, cmd.Stderr = e.stdout, e.stderr
	detach(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start a dashboard: %w", err)
	}
	return cmd.Process.Release()
}

// startDashboard listens and prepares the dashboard of a home; watch uses it
// too. Errors are the CLI's, with hints.
func startDashboard(e env, db *registry.DB, cfg config.Config, dir, addr string, anyAddr bool, idle time.Duration,
	log *slog.Logger) (*dashboard.Server, net.Listener, error) {
	ln, err := dashboard.Listen(addr, anyAddr)
	switch {
	case errors.Is(err, dashboard.ErrNotLoopback):
		return nil, nil, errorf("%v: the dashboard can release any tool call", err).
			hint("use 127.0.0.1:PORT, or pass --any-address if you really mean it")
	case errors.Is(err, syscall.EADDRINUSE):
		return nil, nil, errorf("%s is in use", addr).
			hint("is a dashboard already running there (\"aim-mcp watch\" serves one)? open it with its link, or pass --addr 127.0.0.1:0 for a free port")
	case err != nil:
		return nil, nil, errorf("%v", err).hint("pass --addr 127.0.0.1:PORT")
	}
	tok, err := dashboard.LoadToken(dir)
	if err != nil {
		ln.Close()
		return nil, nil, errorf("%v", err)
	}
	srv, err := dashboard.New(dashboard.Options{DB: db, Config: cfg, Token: tok, Who: whoami(), IdleExit: idle, Log: log,
		Configs: func() []*discovery.Config { return clientConfigs() }}, ln)
	if err != nil {
		ln.Close()
		return nil, nil, err
	}
	return srv, ln, nil
}

// clientConfigs loads every client config found on this computer, leaving
// out those that cannot be read (list says why).
func clientConfigs() []*discovery.Config {
	cfgs, _, _ := loadConfigs(env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard}, "dashboard", "", nil)
	return cfgs
}

// openBrowser opens url in the user's browser by the platform's own means.
func openBrowser(url string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.Command("open", url)
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", url)
	default:
		if getenv("DISPLAY") == "" && getenv("WAYLAND_DISPLAY") == "" {
			return errors.New("no display")
		}
		cmd = exec.Command("xdg-open", url)
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	go cmd.Wait()
	return nil
}
