package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/opena2a-org/aim-mcp/config"
	"github.com/opena2a-org/aim-mcp/internal/remoteurl"
	"github.com/opena2a-org/aim-mcp/policy"
	"github.com/opena2a-org/aim-mcp/policy/aim"
	"github.com/opena2a-org/aim-mcp/registry"
	"github.com/opena2a-org/aim-mcp/registry/remote"
)

func aimKeyFile(dir string) string { return aim.KeyFile(dir) }

// aimSettings is which AIM to use, and with what key.
type aimSettings = aim.Settings

// storedAIM reads what install stored in the home.
func storedAIM(dir string, warn io.Writer) (url, key string, err error) {
	s, err := aim.Stored(dir, func(msg string) {
		if warn != nil {
			fmt.Fprintf(warn, "aim-mcp: warning: %s\n", msg)
		}
	})
	return s.URL, s.APIKey, err
}

// saveAIM stores the URL and key for the proxies, each in a 0600 file.
func saveAIM(dir string, s aimSettings) error { return aim.Save(dir, s) }

// proxyAIM is the AIM the proxies of a home use: what install stored, else
// aim_url and api_key of config.yaml. AIM_URL and AIM_API_KEY do not count:
// a proxy's environment is its MCP server's, and an AIM_URL there is meant
// for the server. An empty URL means none.
func proxyAIM(dir string, cfg config.Config, warn io.Writer) (aimSettings, error) {
	return aim.Resolve(dir, cfg, false, getenv, func(msg string) { fmt.Fprintf(warn, "aim-mcp: warning: %s\n", msg) })
}

// testOnlyAIMBackoff shortens the waits between retries in tests.
var testOnlyAIMBackoff time.Duration

// aimOptions are the client options of the config: AIM_TIMEOUT per
// attempt, AIM_RETRY_ATTEMPTS, debug logging.
func aimOptions(s aimSettings, cfg config.Config, log *slog.Logger) *remote.Options {
	return &remote.Options{APIKey: s.APIKey, Timeout: cfg.Timeout, RetryAttempts: cfg.RetryAttempts,
		Backoff: testOnlyAIMBackoff, Logger: log, UserAgent: "aim-mcp/" + version()}
}

// aimClient builds the client for s with the config's timeout, retries
// and debug logging.
func aimClient(s aimSettings, cfg config.Config, log *slog.Logger) (*remote.Client, error) {
	c, err := remote.New(s.URL, aimOptions(s, cfg, log))
	if err != nil {
		return nil, errorf("%v", err).hint("pass --aim-url http(s)://host[:port], the address of the AIM server")
	}
	return c, nil
}

// debugLogger logs AIM's requests to stderr when AIM_DEBUG (or debug in
// config.yaml) says so; otherwise nothing.
func debugLogger(e env, cfg config.Config) *slog.Logger {
	if !cfg.Debug && !isTrue(getenv("AIM_DEBUG")) {
		return nil
	}
	return slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// withServer names the MCP server in a key mismatch, for its hint.
func withServer(err error, server string) error {
	var km *remote.KeyMismatchError
	if errors.As(err, &km) && km.Server == "" {
		km.Server = server
	}
	return err
}

// aimError turns the remote package's errors into a person's error: what
// was being done (may be empty), the error, and its hint.
func aimError(what string, err error) error {
	ce := errorf("%v", err)
	if what != "" {
		ce = errorf("%s: %v", what, err)
	}
	var h remote.Hinter
	if errors.As(err, &h) {
		ce.hint("%s", h.Hint())
	}
	return ce
}

// testOnlyHostname stands for os.Hostname in tests of several machines.
var testOnlyHostname string

// machineName is the machine's short host name, as it appears in agent
// names: "laptop" for laptop.example.com.
func machineName() string {
	h := testOnlyHostname
	if h == "" {
		h, _ = os.Hostname()
	}
	return aim.MachineName(h)
}

// enrollment is what AIM is told about a server.
func enrollment(srv registry.Server) remote.Enrollment { return aim.Enrollment(srv, machineName()) }

// aimInstall registers a home's servers with a remote AIM during install.
type aimInstall struct {
	client   *remote.Client
	settings aimSettings
	dir      string
	saved    bool
	dryRun   bool
	// identified: the server answered as AIM does.
	identified bool
}

// newAIMInstall prepares registration with the AIM that --aim-url, then
// AIM_URL or aim_url in config.yaml, then the AIM of an earlier install; nil when
// none does. It makes no request yet.
func newAIMInstall(e env, dir, flagURL, flagKey string, dryRun bool) (*aimInstall, error) {
	cfg, err := config.Load()
	if err != nil {
		fmt.Fprintf(e.stderr, "aim-mcp: warning: %v; only the flags, AIM_URL and AIM_API_KEY say which AIM to use\n", err)
		cfg = config.Defaults()
		cfg.AIMURL, cfg.APIKey = getenv("AIM_URL"), getenv("AIM_API_KEY")
	}
	url, key, err := storedAIM(dir, e.stderr)
	if err != nil {
		return nil, errorf("%v", err)
	}
	s := aimSettings{URL: url, APIKey: key}
	if cfg.AIMURL != "" {
		s.URL = cfg.AIMURL
	}
	if cfg.APIKey != "" {
		s.APIKey = cfg.APIKey
	}
	if flagURL != "" {
		s.URL = flagURL
	}
	if flagKey == "-" {
		b, err := io.ReadAll(io.LimitReader(e.stdin, 4096))
		if err != nil {
			return nil, errorf("read the API key from stdin: %v", err)
		}
		flagKey = strings.TrimSpace(string(b))
	}
	if flagKey != "" {
		s.APIKey = flagKey
	}
	if s.URL == "" {
		if flagKey != "" {
			return nil, errorf("--api-key given without an AIM URL").hint("pass --aim-url URL too, or set AIM_URL")
		}
		return nil, nil
	}
	u, err := remote.ParseURL(s.URL)
	if err != nil {
		return nil, errorf("%v", err).hint("pass --aim-url http(s)://host[:port], the address of the AIM server")
	}
	s.URL = u.String()
	if s.APIKey == "" {
		return nil, errorf("registering with AIM at %s needs an API key", s.URL).
			hint("pass --api-key KEY (or --api-key - to read it from stdin), or set AIM_API_KEY or api_key in config.yaml").
			hint("an AIM user creates one with POST /api/v1/api-keys, or in AIM's web UI")
	}
	if len(s.APIKey) < 10 {
		// AIM answers a key this short with a 500 (it slices the key).
		return nil, errorf("the API key is %d characters long: AIM's keys are much longer (aim_live_ and 43 more)", len(s.APIKey)).
			hint("copy the whole key from AIM (it is shown once, when created), and pass it with --api-key - on stdin")
	}
	if u.Scheme == "http" && !remoteurl.Loopback(u.Hostname()) {
		fmt.Fprintf(e.stderr, "aim-mcp: warning: %s is plain http: the API key and every check travel unencrypted\n", s.URL)
	}
	c, err := aimClient(s, cfg, debugLogger(e, cfg))
	if err != nil {
		return nil, err
	}
	if dryRun {
		fmt.Fprintf(e.stdout, "AIM at %s: dry run, no server is registered there\n", s.URL)
	}
	return &aimInstall{client: c, settings: s, dir: dir, dryRun: dryRun}, nil
}

// enroll makes sure srv is an AIM agent whose key this home holds, and
// links the two. The server keeps its own key for the local chain.
func (a *aimInstall) enroll(ctx context.Context, e env, db *registry.DB, srv registry.Server) error {
	if a == nil || a.dryRun {
		return nil
	}
	if !a.identified {
		// A URL that is not AIM (a web server's 404) must fail here, not
		// halfway through a registration.
		if err := a.client.Identify(ctx); err != nil {
			return aimError(fmt.Sprintf("register %q with AIM at %s", srv.Name, a.client.URL()), err)
		}
		a.identified = true
	}
	en, err := a.client.Enroll(ctx, db.Keys(), enrollment(srv))
	if err != nil {
		return aimError(fmt.Sprintf("register %q with AIM at %s", srv.Name, a.client.URL()), withServer(err, srv.Name))
	}
	if !a.saved {
		if err := saveAIM(a.dir, a.settings); err != nil {
			return errorf("%v", err)
		}
		a.saved = true
	}
	if en.AgentID != srv.RemoteID {
		// The public key stays the server's own: it verifies the local chain.
		if err := db.SetRemoteID(ctx, srv.ID, en.AgentID, srv.PublicKey); err != nil {
			return errorf("%v", err)
		}
	}
	switch {
	case en.Created:
		fmt.Fprintf(e.stderr, "aim-mcp: registered %q with AIM as agent %s (%s, %s)\n", srv.Name, en.AgentID, en.Name, en.Status)
	case en.AgentID != srv.RemoteID:
		fmt.Fprintf(e.stderr, "aim-mcp: %q is AIM agent %s (%s, %s)\n", srv.Name, en.AgentID, en.Name, en.Status)
	}
	return nil
}

// attachAIM puts the remote AIM in front of a proxy's policy when the home
// uses one. It makes no request: the hook asks AIM when the first call
// comes, and registers the server then if install did not. The returned
// func sends what is still queued; call it when the session ends.
func attachAIM(e env, dir string, cfg config.Config, db *registry.DB, srv registry.Server, guard *policy.Guard, log *slog.Logger) (func(), error) {
	s, err := proxyAIM(dir, cfg, e.stderr)
	if err != nil || s.URL == "" {
		return nil, err
	}
	h, err := aim.Attach(aim.AttachOptions{Dir: dir, Settings: s, Config: cfg, DB: db, Server: srv, Host: machineName(),
		Local: guard.Local, UserAgent: "aim-mcp/" + version(), Logger: log, Backoff: testOnlyAIMBackoff,
		Enrolled: func(id string) { fmt.Fprintf(e.stderr, "aim-mcp: note: server %q is AIM agent %s\n", srv.Name, id) }})
	if err != nil {
		return nil, err
	}
	guard.AddHook(h)
	return func() { h.Close(2 * time.Second) }, nil
}

// aimTrust is AIM's trust score (0–1) for a server, for "aim-mcp trust" to
// show beside the local score. ok is false when the home uses no remote
// AIM or the server has no agent there; err says why AIM did not answer.
func aimTrust(ctx context.Context, e env, dir string, db *registry.DB, srv registry.Server) (t *remote.Trust, ok bool, err error) {
	cfg, cerr := config.Load()
	if cerr != nil {
		cfg = config.Defaults()
	}
	s, err := proxyAIM(dir, cfg, e.stderr)
	if err != nil || s.URL == "" || srv.RemoteID == "" {
		return nil, false, err
	}
	c, err := aimClient(s, cfg, debugLogger(e, cfg))
	if err != nil {
		return nil, true, err
	}
	// A side line of another command: AIM gets the proxy's budget, not
	// the CLI's, so that a down AIM does not hold the local score up.
	ctx, cancel := context.WithTimeout(ctx, cfg.CallTimeout)
	defer cancel()
	k, err := db.Keys().LoadFile(remote.KeyName(srv.RemoteID))
	if err != nil {
		return nil, true, fmt.Errorf("the key of AIM agent %s: %v", srv.RemoteID, err)
	}
	t, err = c.TrustScore(ctx, remote.Identity{AgentID: srv.RemoteID, Key: k})
	return t, true, err
}

// aimTrustView is AIM's score of a server, as trust and list show it.
type aimTrustView struct {
	AgentID string             `json:"agent_id"`
	Score   *float64           `json:"score,omitempty"`   // 0–1
	Factors map[string]float64 `json:"factors,omitempty"` // empty when only the agent record answered
	Source  string             `json:"source,omitempty"`  // "trust-score" or "agent"
	Error   string             `json:"error,omitempty"`   // why AIM did not answer
}

// aimTrustOf is AIM's score of srv; nil when the home uses no remote AIM
// or srv has no agent there.
func aimTrustOf(ctx context.Context, e env, dir string, db *registry.DB, srv registry.Server) *aimTrustView {
	t, ok, err := aimTrust(ctx, e, dir, db, srv)
	if !ok {
		return nil
	}
	v := &aimTrustView{AgentID: srv.RemoteID}
	if err != nil {
		v.Error = err.Error()
		return v
	}
	v.Score, v.Factors, v.Source = &t.Score, t.Factors, t.Source
	return v
}

// line is what trust prints for AIM's score.
func (v *aimTrustView) line() string {
	if v.Score == nil {
		return fmt.Sprintf("AIM trust: unavailable (%s)", v.Error)
	}
	return fmt.Sprintf("AIM trust: %.2f (AIM agent %s)", *v.Score, v.AgentID)
}

// aimListView is a server's agent in AIM, as list shows it.
type aimListView struct {
	AgentID string   `json:"agent_id"`
	Name    string   `json:"agent_name,omitempty"`
	Status  string   `json:"status,omitempty"`
	Trust   *float64 `json:"trust,omitempty"` // 0–1, AIM's
	Error   string   `json:"error,omitempty"`
}

// aimAgentsOf looks up the AIM agent of each server (by local id) that
// has one, when the home uses a remote AIM with an API key: nil
// otherwise. A side line of list, so AIM gets one attempt per agent and
// the proxy's budget for all of them; the agents it could not look up say
// why.
func aimAgentsOf(ctx context.Context, e env, dir string, db *registry.DB) map[string]*aimListView {
	if db == nil {
		return nil
	}
	cfg, cerr := config.Load()
	if cerr != nil {
		cfg = config.Defaults()
	}
	s, err := proxyAIM(dir, cfg, e.stderr)
	if err != nil || s.URL == "" || s.APIKey == "" {
		return nil
	}
	servers, err := db.Servers(ctx)
	if err != nil {
		return nil
	}
	cfg.RetryAttempts = 0
	c, err := aimClient(s, cfg, debugLogger(e, cfg))
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.CallTimeout)
	defer cancel()
	out := map[string]*aimListView{}
	seen := map[string]*aimListView{}
	var down error
	for _, srv := range servers {
		if srv.RemoteID == "" || srv.Status == registry.StatusPurged {
			continue
		}
		if v, ok := seen[srv.RemoteID]; ok {
			out[srv.ID] = v
			continue
		}
		v := &aimListView{AgentID: srv.RemoteID}
		seen[srv.RemoteID], out[srv.ID] = v, v
		if down != nil {
			v.Error = down.Error()
			continue
		}
		a, err := c.Agent(ctx, srv.RemoteID)
		if err != nil {
			v.Error = err.Error()
			if remote.Unavailable(err) || ctx.Err() != nil {
				down = err
			}
			continue
		}
		trust := a.Trust
		v.Name, v.Status, v.Trust = a.Name, a.Status, &trust
	}
	return out
}
