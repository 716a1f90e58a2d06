package aim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/opena2a-org/aim-mcp/config"
	"github.com/opena2a-org/aim-mcp/identity"
	"github.com/opena2a-org/aim-mcp/internal/home"
	aimhook "github.com/opena2a-org/aim-mcp/policy/aim"
	"github.com/opena2a-org/aim-mcp/registry"
	"github.com/opena2a-org/aim-mcp/witness"
)

// DefaultClient is the registry's client column for identities made by
// Secure: the proxies' servers are listed under the desktop client that
// launches them, agents under this.
const DefaultClient = "go-sdk"

// MaxNameLen is the longest name Secure accepts, in bytes.
const MaxNameLen = 128

// Agent is a secured identity: a registered server or agent with its own
// Ed25519 key, deciding and recording its actions in the home's registry.
// It is safe for concurrent use. Close it when done.
type Agent struct {
	db   *registry.DB
	srv  registry.Server
	key  *identity.Key
	cfg  config.Config
	home string
	log  *slog.Logger
	poll time.Duration

	hook             *aimhook.Hook // the remote AIM, when one is used
	aimURL, aimAgent string
	asking           sync.Map // *mcpproxy.Call -> its local policy.Decision, while AIM is asked
}

// Option configures Secure.
type Option func(*settings)

type settings struct {
	home           string
	client         string
	agentType      string
	key            *identity.Key
	keyErr         error
	aimURL, aimKey string
	cfg            *config.Config
	log            *slog.Logger
	poll           time.Duration
}

// Agent types: the SDK guide's agent_type. Secure registers an AIAgent
// unless told otherwise; a Go MCP server passes WithAgentType(MCPServer).
const (
	AIAgent        = registry.AIAgent
	MCPServer      = registry.MCPServer
	MultiAgentTeam = registry.MultiAgentTeam
)

// WithAgentType registers a new identity as t (AIAgent, MCPServer or
// MultiAgentTeam); the guide's agent_type. An identity keeps the type it
// was first registered with.
func WithAgentType(t string) Option { return func(s *settings) { s.agentType = t } }

// WithPrivateKey makes key (base64 of a 32-byte seed or a 64-byte Ed25519
// private key, as AIM hands them out) the identity of a new registration
// instead of a new key, as AIM_PRIVATE_KEY does; the guide's private_key.
// Like that variable's, the key is not copied into a key file: give it
// every time. For an identity already registered it must be that key.
func WithPrivateKey(key string) Option {
	return func(s *settings) { s.key, s.keyErr = identity.ParsePrivateKey(key) }
}

// WithHome uses dir as aim-mcp's home instead of $AIM_MCP_HOME or the
// default (the XDG data directory's aim-mcp), as --home does for the CLI.
func WithHome(dir string) Option { return func(s *settings) { s.home = dir } }

// WithClient files the identity under another client than DefaultClient.
// A Go MCP server that a desktop client also launches through the proxy
// passes that client's name (claude-desktop, say) to share one identity
// with its proxy.
func WithClient(name string) Option { return func(s *settings) { s.client = name } }

// WithConfig uses cfg instead of the config.yaml that the proxy reads
// ($AIM_MCP_CONFIG, the XDG config directory, ~/.aim/config.yaml).
func WithConfig(cfg config.Config) Option { return func(s *settings) { s.cfg = &cfg } }

// WithLogger sends the agent's notes (an action waiting for approval,
// which layer records a middleware's calls) to l instead of stderr.
func WithLogger(l *slog.Logger) Option { return func(s *settings) { s.log = l } }

// WithPoll sets how often a waiting action looks for a person's answer
// (default 200ms, as the proxy).
func WithPoll(d time.Duration) Option { return func(s *settings) { s.poll = d } }

// Secure registers name in the home's registry, with a new key, or loads
// the identity already registered under that name; the SDK guide's
// secure(). AIM_PRIVATE_KEY, when set, is the key of a new registration,
// as for the proxy. A bad name is a *NameError and a home that cannot be
// written a *HomeError; neither leaves anything registered.
func Secure(ctx context.Context, name string, opts ...Option) (*Agent, error) {
	s := settings{client: DefaultClient, agentType: AIAgent, poll: 200 * time.Millisecond}
	for _, o := range opts {
		o(&s)
	}
	if err := checkName(name); err != nil {
		return nil, err
	}
	if s.keyErr != nil {
		return nil, fmt.Errorf("aim: private key: %w", s.keyErr)
	}
	if !registry.ValidAgentType(s.agentType) {
		return nil, fmt.Errorf("aim: agent type %q: want %s, %s or %s", s.agentType, AIAgent, MCPServer, MultiAgentTeam)
	}
	if err := checkName(s.client); err != nil {
		return nil, fmt.Errorf("aim: client: %w", err)
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	var cfg config.Config
	if s.cfg != nil {
		cfg = *s.cfg
	} else {
		var err error
		if cfg, err = config.Load(); err != nil {
			return nil, fmt.Errorf("aim: %w", err)
		}
	}
	dir, err := home.Resolve(s.home)
	if err != nil {
		return nil, &HomeError{Dir: s.home, Err: err}
	}
	if err := home.Ensure(dir); err != nil {
		return nil, &HomeError{Dir: dir, Err: err}
	}
	as, err := aimSettings(s, dir, cfg)
	if err != nil {
		return nil, fmt.Errorf("aim: %w", err)
	}
	if as.URL != "" {
		// An AIM that does not answer fails Secure before anything is
		// registered here.
		if err := connect(ctx, as, cfg); err != nil {
			return nil, err
		}
	}
	keys := identity.Store{Dir: home.Keys(dir), Warn: func(m string) { s.log.Warn(m) }}
	db, err := registry.Open(ctx, home.DB(dir), registry.Options{Keys: keys, Witness: newWitness(s.log)})
	if err != nil {
		return nil, fmt.Errorf("aim: %w", err)
	}
	a, err := load(ctx, db, s, name)
	if err != nil {
		db.Close()
		return nil, err
	}
	a.cfg, a.home, a.log, a.poll = cfg, dir, s.log, s.poll
	if as.URL != "" {
		if err := a.attach(ctx, as); err != nil {
			db.Close()
			return nil, err
		}
	}
	return a, nil
}

// load finds the identity, registering it when it is new. A registered
// one is left as it is: it may be a server the proxy also runs, whose
// command the registry keeps from the client's config.
func load(ctx context.Context, db *registry.DB, s settings, name string) (*Agent, error) {
	srv, err := db.Server(ctx, s.client, name)
	if errors.Is(err, registry.ErrNotFound) {
		exe, _ := os.Executable()
		srv, _, err = db.Register(ctx, registry.Registration{Client: s.client, Name: name, Command: exe,
			AgentType: s.agentType, Key: s.key})
	}
	if err != nil {
		return nil, fmt.Errorf("aim: %w", err)
	}
	if srv.Status == registry.StatusPurged {
		return nil, fmt.Errorf("aim: %q was purged (its key is deleted); its records stay, but it cannot act again under that name", name)
	}
	if s.key != nil {
		if s.key.PublicString() != srv.PublicKey {
			return nil, fmt.Errorf("aim: the private key given is not the identity registered as %q; the registered key stays (a key is never replaced): give that key, or another name", name)
		}
		return &Agent{db: db, srv: srv, key: s.key}, nil
	}
	key, err := db.Key(srv)
	if err != nil {
		return nil, fmt.Errorf("aim: %w", err)
	}
	return &Agent{db: db, srv: srv, key: key}, nil
}

// checkName refuses names that cannot be shown or typed back: empty, too
// long, not UTF-8, or holding control characters.
func checkName(name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return &NameError{Name: name, Reason: "is empty"}
	case len(name) > MaxNameLen:
		return &NameError{Name: name[:32] + "...", Reason: fmt.Sprintf("is %d bytes long; the limit is %d", len(name), MaxNameLen)}
	case !utf8.ValidString(name):
		return &NameError{Name: name, Reason: "is not valid UTF-8"}
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return &NameError{Name: name, Reason: "holds a control character"}
	}
	return nil
}

// newWitness sends the chain's head to the system log after each commit,
// as the CLI does; AIM_MCP_SYSLOG names another socket, or off.
func newWitness(log *slog.Logger) registry.Witness {
	path := os.Getenv("AIM_MCP_SYSLOG")
	if path == "off" {
		return nil
	}
	var once sync.Once // said once, as the proxy says it, not on every commit
	warn := func(err error) {
		once.Do(func() {
			log.Warn("aim: the chain's head could not be sent to the system log; \"aim-mcp audit verify\" cannot check these records against a witness", "err", err)
		})
	}
	sink, err := witness.SystemLog(path)
	if err != nil {
		warn(err)
		return nil
	}
	return witness.New(witness.Options{Sinks: []witness.Sink{sink}, OnError: warn})
}

// ID is the identity's id in the registry.
func (a *Agent) ID() string { return a.srv.ID }

// Name is the name given to Secure.
func (a *Agent) Name() string { return a.srv.Name }

// Client is the registry's client column for the identity.
func (a *Agent) Client() string { return a.srv.Client }

// PublicKey is the identity's Ed25519 public key, in the registry's text form.
func (a *Agent) PublicKey() string { return a.srv.PublicKey }

// Fingerprint is the short name of the public key, as "aim-mcp list" shows it.
func (a *Agent) Fingerprint() string { return a.srv.Fingerprint() }

// CreatedAt is when the identity was first registered.
func (a *Agent) CreatedAt() time.Time { return a.srv.RegisteredAt }

// Home is the aim-mcp home the agent uses.
func (a *Agent) Home() string { return a.home }

// Close closes the registry. Records already returned from Track are in
// the chain.
func (a *Agent) Close() error {
	a.closeAIM()
	return a.db.Close()
}

// AgentType is the identity's type: AIAgent, MCPServer or MultiAgentTeam.
func (a *Agent) AgentType() string { return a.srv.AgentType }

var _ io.Closer = (*Agent)(nil)
