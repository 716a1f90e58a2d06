// Package oauth makes aim-mcp the OAuth 2.1 client of a remote MCP server:
// discovery, registration, the authorization code flow with PKCE and the
// resource indicator, tokens kept in the keychain (or a 0600 file), and
// refresh, one process at a time. It plugs into the HTTP bridge as an
// http.RoundTripper, so the bridge knows nothing of it, and no token of
// the client's ever passes through.
package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/opena2a-org/aim-mcp/internal/filelock"
	"github.com/opena2a-org/aim-mcp/internal/httpnote"
	"github.com/opena2a-org/aim-mcp/internal/private"
	"github.com/zalando/go-keyring"
	"golang.org/x/oauth2"
)

// Config says which server to log in to, and how.
type Config struct {
	Home   string // aim-mcp's home: the state, the lock and the file store live under it
	Server string // the server's name, as aim-mcp login NAME says it
	URL    string // the server's canonical URL: the resource the tokens are for

	ClientID     string   // a client registered beforehand; empty to register dynamically
	ClientSecret string   // its secret, read from the environment by the caller
	Scopes       []string // scopes to ask for, instead of those the server names
	CallbackPort int      // the loopback port of the redirect; 0 keeps the one used before
	ASMetadata   string   // the authorization server's metadata URL, instead of discovery

	// Client makes the OAuth requests (metadata, registration, tokens).
	Client *http.Client
	// Store keeps the tokens; nil opens the one StoreKind names (keyring
	// or file), else the one the last login used, else the keychain when
	// it answers, else the file.
	Store     Store
	StoreKind string
	// Open shows the authorization URL; nil is OpenBrowser.
	Open func(url string) error
	// Notify, when set, is told the authorization URL before the browser
	// opens, for a person to open it by hand if it does not.
	Notify func(url string)
	// Event receives what happened, for the audit log.
	Event func(Event)
}

func (c *Config) httpClient() *http.Client {
	if c.Client != nil {
		return c.Client
	}
	return &http.Client{Timeout: 30 * time.Second}
}

// Event is something the audit log should say about a login. It never
// holds a token: Fingerprint names one.
type Event struct {
	Kind        string // registered, login, login_failed, step_up, refresh, refresh_failed, logout
	Issuer      string
	ClientID    string
	Scopes      []string
	Fingerprint string
	Err         string
}

// ErrNoLoginAsked: the server answers without a login and publishes no
// protected resource metadata; there is nothing to log in to.
var ErrNoLoginAsked = errors.New("the server answers without a login and names no authorization server")

// LoginNeededError is a request that cannot go on until a person logs in.
type LoginNeededError struct {
	Server string
	Cause  error
}

func (e *LoginNeededError) Error() string {
	return fmt.Sprintf("server %q needs a login (%v); run: aim-mcp login %s", e.Server, e.Cause, e.Server)
}

func (e *LoginNeededError) Unwrap() error { return e.Cause }

// flow is one server's login as this process sees it.
type flow struct {
	cfg   Config
	store Store
	key   string           // the grant's name in the store: the server's
	now   func() time.Time // the clock; tests move it

	mu sync.Mutex // guards st and store: a login and a refresh may overlap in one process
	st state
}

func newFlow(cfg Config) (*flow, error) {
	if cfg.Home == "" || cfg.Server == "" || cfg.URL == "" {
		return nil, errors.New("oauth: home, server and URL are required")
	}
	st, err := loadState(cfg.Home, cfg.Server)
	if err != nil {
		return nil, fmt.Errorf("login state of %s: %w", cfg.Server, err)
	}
	return &flow{cfg: cfg, store: cfg.Store, key: cfg.Server, st: st, now: time.Now}, nil
}

// openStore opens the store on first use. A server that never needed a
// login never asks the keychain.
func (f *flow) openStore() (Store, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.store != nil {
		return f.store, nil
	}
	kind := f.cfg.StoreKind
	if kind == "" {
		kind = f.st.Store
	}
	s, err := OpenStore(f.cfg.Home, kind)
	if err != nil {
		return nil, err
	}
	f.store = s
	return s, nil
}

// lock takes the server's lock, shared by every aim-mcp process on the
// home, waiting until ctx ends. Whoever holds it is the only one that
// logs in or refreshes; the others then read what it stored.
func (f *flow) lock(ctx context.Context) (unlock func(), err error) {
	if err := private.MkdirAll(dir(f.cfg.Home)); err != nil {
		return nil, err
	}
	file, err := os.OpenFile(filepath.Join(dir(f.cfg.Home), fileName(f.cfg.Server)+".lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		ok, err := filelock.Lock(file, false)
		if err != nil {
			file.Close()
			return nil, fmt.Errorf("lock the login of %s: %w", f.cfg.Server, err)
		}
		if ok {
			return func() { file.Close() }, nil
		}
		select {
		case <-ctx.Done():
			file.Close()
			return nil, fmt.Errorf("another aim-mcp is logging in to %s: %w", f.cfg.Server, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// load reads the grant for this server's URL; nil when there is none, or
// when it was made for another URL.
func (f *flow) load() (*grant, error) {
	f.mu.Lock()
	if st, err := loadState(f.cfg.Home, f.cfg.Server); err == nil {
		port := f.st.CallbackPort
		f.st = st // another process may have logged in
		if st.CallbackPort == 0 {
			f.st.CallbackPort = port
		}
	}
	never := f.store == nil && f.st.Store == ""
	f.mu.Unlock()
	if never {
		return nil, nil // nothing was ever stored
	}
	store, err := f.openStore()
	if err != nil {
		return nil, err
	}
	g, err := loadGrant(store, f.key)
	if errors.Is(err, ErrNoGrant) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if g.Resource != "" && !sameResource(g.Resource, f.cfg.URL) {
		return nil, nil
	}
	return g, nil
}

// save stores the grant and says so in the state file. Only the holder of
// the lock calls it.
func (f *flow) save(g *grant, lost string) error {
	store, err := f.openStore()
	if err != nil {
		return err
	}
	err = saveGrant(store, f.key, g)
	if errors.Is(err, keyring.ErrSetDataTooBig) {
		// Windows keeps 2560 bytes a secret, macOS's tool 4 KiB: a grant of
		// long JWTs goes to the file instead.
		store.Delete(f.key)
		store = fileStore{dir: filepath.Join(dir(f.cfg.Home), "tokens")}
		f.mu.Lock()
		f.store = store
		f.mu.Unlock()
		err = saveGrant(store, f.key, g)
	}
	if err != nil {
		return fmt.Errorf("store the token: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.st.URL, f.st.Store = f.cfg.URL, store.Kind()
	f.st.Issuer, f.st.ClientID, f.st.Scopes = g.Issuer, g.ClientID, g.Scopes
	f.st.Fingerprint, f.st.Expiry, f.st.Refreshable = httpnote.Fingerprint(g.AccessToken), g.Expiry, g.RefreshToken != ""
	f.st.LoggedIn, f.st.Lost = g.AccessToken != "", lost
	if err := saveState(f.cfg.Home, f.cfg.Server, f.st); err != nil {
		return fmt.Errorf("save the login state: %w", err)
	}
	return nil
}

func (f *flow) event(kind string, g *grant, err error) {
	if f.cfg.Event == nil {
		return
	}
	ev := Event{Kind: kind}
	if g != nil {
		ev.Issuer, ev.ClientID, ev.Scopes, ev.Fingerprint = g.Issuer, g.ClientID, g.Scopes, httpnote.Fingerprint(g.AccessToken)
	}
	if err != nil {
		ev.Err = err.Error()
	}
	f.cfg.Event(ev)
}

func (g *grant) oauth2Config() *oauth2.Config {
	style := oauth2.AuthStyleInParams
	if g.AuthMethod == "client_secret_basic" {
		style = oauth2.AuthStyleInHeader
	}
	return &oauth2.Config{ClientID: g.ClientID, ClientSecret: g.ClientSecret, RedirectURL: g.RedirectURI,
		Scopes: g.Scopes, Endpoint: oauth2.Endpoint{AuthURL: g.authURL, TokenURL: g.TokenURL, AuthStyle: style}}
}

func (g *grant) setToken(access, typ, refresh string, issued, expiry time.Time, scopes []string) {
	g.AccessToken, g.TokenType, g.Issued, g.Expiry = access, typ, issued, expiry
	if refresh != "" { // a server that does not rotate keeps the old one valid
		g.RefreshToken = refresh
	}
	if len(scopes) > 0 {
		g.Scopes = scopes
	}
}

// valid: the access token is there and is not about to expire: not within
// 30 seconds of its end, or a quarter of its life for a short-lived one.
func (g *grant) valid(now time.Time) bool {
	if g == nil || g.AccessToken == "" {
		return false
	}
	if g.Expiry.IsZero() {
		return true
	}
	margin := 30 * time.Second
	if life := g.Expiry.Sub(g.Issued); !g.Issued.IsZero() && life/4 < margin {
		margin = life / 4
	}
	return now.Add(margin).Before(g.Expiry)
}

// Login runs the whole flow for aim-mcp login: ask the server what it
// wants, discover, register, open the browser, store the token.
func Login(ctx context.Context, cfg Config) (Status, error) {
	f, err := newFlow(cfg)
	if err != nil {
		return Status{}, err
	}
	unlock, err := f.lock(ctx)
	if err != nil {
		return Status{}, err
	}
	defer unlock()
	old, err := f.load()
	if err != nil {
		return Status{}, err
	}
	ch, status, err := probe(ctx, cfg.httpClient(), cfg.URL)
	if err != nil {
		return Status{}, err
	}
	if status/100 == 2 && !ch.bearer && cfg.ASMetadata == "" {
		// A server that let an anonymous initialize in may still want a
		// login for its tools; its resource metadata says so.
		if prm, err := discoverResource(ctx, cfg.httpClient(), cfg.URL, ch); err == nil && prm.assumed {
			return Status{}, ErrNoLoginAsked
		}
	}
	g, err := f.authorize(ctx, ch, old)
	if err != nil {
		f.event("login_failed", old, err)
		return Status{}, err
	}
	if err := f.save(g, ""); err != nil {
		return Status{}, err
	}
	f.event("login", g, nil)
	return LoginStatus(cfg.Home, cfg.Server, time.Now()), nil
}

// Logout forgets the server's tokens. The client registration stays, so
// the next login does not register again.
func Logout(ctx context.Context, cfg Config) (had bool, err error) {
	f, err := newFlow(cfg)
	if err != nil {
		return false, err
	}
	unlock, err := f.lock(ctx)
	if err != nil {
		return false, err
	}
	defer unlock()
	g, err := f.load()
	if g == nil && err == nil {
		f.mu.Lock()
		defer f.mu.Unlock()
		had = f.st.LoggedIn
		f.st.LoggedIn, f.st.Lost, f.st.Fingerprint = false, "", ""
		return had, saveState(cfg.Home, cfg.Server, f.st)
	}
	if err != nil {
		return false, err
	}
	had = g.AccessToken != "" || g.RefreshToken != ""
	dropped := *g
	g.AccessToken, g.RefreshToken, g.TokenType, g.Expiry = "", "", "", time.Time{}
	if err := f.save(g, ""); err != nil {
		return false, err
	}
	f.event("logout", &dropped, nil)
	return had, nil
}
