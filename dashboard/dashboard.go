// Package dashboard is aim-mcp's local web page: the calls waiting for a
// person (approve once, approve and remember, deny with a reason), the audit
// trail and its verification, the servers and their trust, tool drift, the
// policy rules and the compliance reports. It is served by the binary
// itself on a loopback address, every asset embedded, and pushes changes to
// the page with server-sent events as soon as the registry changes.
//
// It can release any held tool call, so it is guarded like a credential
// (see guard.go): loopback only, a random token that becomes an HttpOnly
// SameSite=Strict cookie, the Host and Origin checked, a CSRF token on every
// change, and a strict Content-Security-Policy.
package dashboard

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/opena2a-org/aim-mcp/config"
	"github.com/opena2a-org/aim-mcp/discovery"
	"github.com/opena2a-org/aim-mcp/internal/remoteurl"
	"github.com/opena2a-org/aim-mcp/registry"
)

//go:embed assets
var assets embed.FS

// Options is what a dashboard serves.
type Options struct {
	DB     *registry.DB
	Config config.Config
	// Token is the secret of the link (see LoadToken).
	Token string
	// Who names the person at the page, recorded as "WHO via dashboard"
	// on what they approve, deny or accept.
	Who string
	// Configs returns the client configs whose servers the Servers page
	// lists; nil lists the registered servers only.
	Configs func() []*discovery.Config
	// IdleExit ends Serve after this long with no page open and no request;
	// zero serves until the context ends.
	IdleExit time.Duration
	// Log receives what goes wrong inside a request; nil discards.
	Log *slog.Logger
}

// Server is one dashboard.
type Server struct {
	opt   Options
	csrf  string
	hosts map[string]bool // the Host headers this listener answers to
	base  string          // http://host:port
	feed  *feed
	log   *slog.Logger

	mu   sync.Mutex
	last time.Time // the last request, for IdleExit
}

// ErrNotLoopback is returned by Listen for an address a browser on another
// machine could reach.
var ErrNotLoopback = errors.New("not a loopback address")

// Listen opens the dashboard's listener. addr must be a loopback address
// (127.0.0.1, ::1 or localhost) unless anyAddr says otherwise explicitly.
func Listen(addr string, anyAddr bool) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("dashboard address %q: %w", addr, err)
	}
	if !anyAddr && !remoteurl.Loopback(host) {
		return nil, fmt.Errorf("dashboard address %q: %w", addr, ErrNotLoopback)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dashboard: %w", err)
	}
	return ln, nil
}

// New prepares a dashboard for the listener ln.
func New(opt Options, ln net.Listener) (*Server, error) {
	if opt.DB == nil || opt.Token == "" {
		return nil, errors.New("dashboard: a registry and a token are required")
	}
	tcp, ok := ln.Addr().(*net.TCPAddr)
	if !ok {
		return nil, fmt.Errorf("dashboard: listener %v is not TCP", ln.Addr())
	}
	s := &Server{opt: opt, csrf: csrfToken(opt.Token), hosts: map[string]bool{}, log: opt.Log, last: time.Now()}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	hostport := ln.Addr().String()
	s.hosts[hostport] = true
	if tcp.IP.IsLoopback() {
		s.hosts[net.JoinHostPort("localhost", fmt.Sprint(tcp.Port))] = true
	}
	if tcp.IP.IsUnspecified() {
		hostport = net.JoinHostPort("127.0.0.1", fmt.Sprint(tcp.Port))
		s.hosts[hostport] = true
	}
	s.base = "http://" + hostport
	s.feed = newFeed(opt.DB)
	return s, nil
}

// URL is the page's address with its token: the link to open.
func (s *Server) URL() string { return s.Link("/") }

// Link is the address of a path of the dashboard, with the token, so it
// works in a browser that has no cookie yet.
func (s *Server) Link(path string) string {
	return LinkTo(s.base, s.opt.Token, path)
}

// LinkTo is the address of path on the dashboard at base (http://host:port)
// with its token.
func LinkTo(base, token, path string) string {
	u, err := url.Parse(base + path)
	if err != nil {
		return base
	}
	q := u.Query()
	q.Set("token", token)
	u.RawQuery = q.Encode()
	return u.String()
}

// Serve answers on ln until ctx ends (or the dashboard was idle for
// Options.IdleExit).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	hs := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return ctx }}
	go s.feed.run(ctx)
	if s.opt.IdleExit > 0 {
		go s.idle(ctx, cancel)
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, scancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer scancel()
	hs.Shutdown(sctx)
	return nil
}

// idle ends the dashboard once nobody has used it for IdleExit, or at once
// when its home is gone.
func (s *Server) idle(ctx context.Context, stop func()) {
	t := time.NewTicker(min(s.opt.IdleExit/4, time.Second))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// A home that is gone (deleted, or a test's temporary one) has
		// nothing left to answer; its token file says so (SQLite may make
		// the database file again).
		if _, err := os.Stat(filepath.Join(filepath.Dir(s.opt.DB.Path()), TokenFile)); errors.Is(err, fs.ErrNotExist) {
			s.log.Info("dashboard: its home is gone: exiting")
			stop()
			return
		}
		s.mu.Lock()
		quiet := time.Since(s.last)
		s.mu.Unlock()
		if s.feed.watchers() == 0 && quiet > s.opt.IdleExit {
			s.log.Info("dashboard idle: exiting", "idle", quiet.Round(time.Second))
			stop()
			return
		}
	}
}

func (s *Server) touch() {
	s.mu.Lock()
	s.last = time.Now()
	s.mu.Unlock()
}

// Handler is the dashboard's HTTP handler, every route behind the guard.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, p := range []string{"/{$}", "/approvals", "/activity", "/servers", "/drift", "/policy", "/reports"} {
		mux.HandleFunc("GET "+p, s.page)
	}
	mux.HandleFunc("GET /static/{file}", s.static)
	mux.HandleFunc("GET /events", s.events)
	mux.HandleFunc("GET /api/approvals", s.apiApprovals)
	mux.HandleFunc("POST /api/approvals/{id}/approve", s.apiApprove)
	mux.HandleFunc("POST /api/approvals/{id}/deny", s.apiDeny)
	mux.HandleFunc("POST /api/approvals/{id}/reveal", s.apiReveal)
	mux.HandleFunc("GET /api/records", s.apiRecords)
	mux.HandleFunc("GET /api/records/{seq}", s.apiRecord)
	mux.HandleFunc("POST /api/verify", s.apiVerify)
	mux.HandleFunc("GET /api/servers", s.apiServers)
	mux.HandleFunc("GET /api/servers/{id}/trust", s.apiTrust)
	mux.HandleFunc("GET /api/drift", s.apiDrift)
	mux.HandleFunc("POST /api/drift/accept", s.apiAccept)
	mux.HandleFunc("GET /api/policy", s.apiPolicy)
	mux.HandleFunc("POST /api/policy/rules", s.apiAddRule)
	mux.HandleFunc("POST /api/policy/rules/{id}/remove", s.apiRemoveRule)
	mux.HandleFunc("GET /api/policy/check", s.apiCheck)
	mux.HandleFunc("GET /api/report", s.apiReport)
	mux.HandleFunc("GET /api/report/types", s.apiReportTypes)
	return s.guard(mux)
}
