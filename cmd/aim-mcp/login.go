package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/opena2a-org/aim-mcp/internal/home"
	"github.com/opena2a-org/aim-mcp/mcpproxy"
	"github.com/opena2a-org/aim-mcp/oauth"
	"github.com/opena2a-org/aim-mcp/registry"
)

var loginUsage = `
Usage: aim-mcp login NAME [--url URL] [--home DIR] [--client NAME]
             [--oauth-client-id ID] [--oauth-scopes "A B"]
             [--oauth-callback-port N] [--oauth-as-metadata URL]

Logs aim-mcp in to the remote MCP server NAME: it finds the server's
authorization server, registers aim-mcp with it (or uses --oauth-client-id),
opens your browser to sign in, and keeps the token in the system keychain
(or, where there is none, a file of mode 0600 under the home). Every
"aim-mcp proxy --url" session of NAME then uses it, refreshing it when it
expires. A session that finds no login opens the browser itself and waits
up to 45 seconds.

aim-mcp is the server's OAuth client: the token is for the server's own URL
and never leaves aim-mcp. The browser's redirect comes back to
http://127.0.0.1:PORT/callback; the port is kept for the next login.
AIM_MCP_TOKEN_STORE=file keeps the tokens in the file even where a
keychain runs (keyring: in the keychain only).

Flags:
  --url URL      the server's URL (default: the one NAME was logged in to,
                 or registered with)
  --home DIR     aim-mcp's data directory (default $AIM_MCP_HOME)
  --client NAME  the client NAME belongs to, when several have one
  --oauth-client-id ID
                 a client id registered with the authorization server; its
                 secret, if any, is read from $AIM_MCP_OAUTH_CLIENT_SECRET
  --oauth-scopes "A B"
                 the scopes to ask for (default: those the server names)
  --oauth-callback-port N
                 the loopback port of the redirect (default: the one kept)
  --oauth-as-metadata URL
                 the authorization server's metadata, instead of discovery
`

var logoutUsage = `
Usage: aim-mcp logout NAME [--home DIR] [--client NAME]

Forgets aim-mcp's tokens for the remote server NAME. The next session (or
"aim-mcp login NAME") signs in again.

Flags:
  --home DIR     aim-mcp's data directory (default $AIM_MCP_HOME)
  --client NAME  the client NAME belongs to, when several have one
`

// oauthFlags are the flags proxy and login share, as install writes them.
type oauthFlags struct {
	clientID, scopes, asMetadata *string
	port                         *int
}

func addOAuthFlags(fs *flag.FlagSet) oauthFlags {
	return oauthFlags{
		clientID:   fs.String("oauth-client-id", "", ""),
		scopes:     fs.String("oauth-scopes", "", ""),
		port:       fs.Int("oauth-callback-port", 0, ""),
		asMetadata: fs.String("oauth-as-metadata", "", ""),
	}
}

func (o oauthFlags) set() bool {
	return *o.clientID != "" || *o.scopes != "" || *o.port != 0 || *o.asMetadata != ""
}

// config checks the flags and makes the OAuth configuration of server at
// URL u.
func (o oauthFlags) config(dir, server, u string) (oauth.Config, error) {
	return oauthConfig(dir, server, u, *o.clientID, *o.scopes, *o.port, *o.asMetadata)
}

// oauthConfig checks what an entry or the flags say of a server's OAuth
// client and makes its configuration: the proxy's, login's and install's.
// The client secret comes from the environment only.
func oauthConfig(dir, server, u, clientID, scopes string, port int, asMetadata string) (oauth.Config, error) {
	if port < 0 || port > 65535 {
		return oauth.Config{}, errorf("--oauth-callback-port %d is not a port", port).hint("give a number from 1 to 65535, or leave it out").exit(2)
	}
	if asMetadata != "" {
		if _, err := remoteURL(asMetadata); err != nil {
			return oauth.Config{}, errorf("--oauth-as-metadata %q is not an https URL", asMetadata).hint("give the authorization server's metadata URL, such as https://auth.example.com/.well-known/oauth-authorization-server").exit(2)
		}
	}
	return oauth.Config{Home: dir, Server: server, URL: u,
		ClientID: clientID, ClientSecret: getenv("AIM_MCP_OAUTH_CLIENT_SECRET"),
		Scopes: strings.Fields(scopes), CallbackPort: port, ASMetadata: asMetadata,
		StoreKind: getenv("AIM_MCP_TOKEN_STORE")}, nil
}

func runLogin(ctx context.Context, e env, args []string) error {
	fs := flags(e, "login", loginUsage)
	rawURL := fs.String("url", "", "")
	homeFlag := fs.String("home", "", "")
	client := fs.String("client", "", "")
	of := addOAuthFlags(fs)
	pos, err := parseAnywhere(e, fs, args)
	if err != nil {
		return err
	}
	name, err := oneName("login", pos)
	if err != nil {
		return err
	}
	dir, err := home.Resolve(*homeFlag)
	if err != nil {
		return err
	}
	// The tokens go under the home: it must be private, and local.
	if err := ensureHome(dir); err != nil {
		return err
	}
	u, err := loginURL(ctx, e, dir, name, *client, *rawURL)
	if err != nil {
		return err
	}
	cfg, err := of.config(dir, name, u)
	if err != nil {
		return err
	}
	rec := authRecorder(ctx, e, dir, name, *client)
	defer rec.close()
	cfg.Event = rec.add
	cfg.Notify = func(authURL string) {
		fmt.Fprintf(e.stderr, "Opening your browser to sign in to %s.\nIf it does not open, visit:\n  %s\n", name, authURL)
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	st, err := oauth.Login(ctx, cfg)
	if errors.Is(err, oauth.ErrNoLoginAsked) {
		return errorf("%s (%s) answers without a login and names no authorization server", name, u).
			hint("nothing to log in to; a server that wants an API key takes it as a header: aim-mcp proxy --header-env NAME=ENVVAR")
	}
	if err != nil {
		return errorf("login to %s failed: %v", name, err).
			hint("check the URL (%s) and try again; pass --oauth-client-id when the server's authorization server does not register clients itself", u)
	}
	fmt.Fprintf(e.stdout, "Logged in to %s (%s) at %s as client %s; scopes: %s. The token is in the %s store.\n",
		name, u, st.Issuer, st.ClientID, orDash(strings.Join(st.Scopes, " ")), st.Store)
	return nil
}

func runLogout(ctx context.Context, e env, args []string) error {
	fs := flags(e, "logout", logoutUsage)
	homeFlag := fs.String("home", "", "")
	client := fs.String("client", "", "")
	pos, err := parseAnywhere(e, fs, args)
	if err != nil {
		return err
	}
	name, err := oneName("logout", pos)
	if err != nil {
		return err
	}
	dir, err := home.Resolve(*homeFlag)
	if err != nil {
		return err
	}
	st := oauth.LoginStatus(dir, name, time.Now())
	if st.URL == "" {
		fmt.Fprintf(e.stdout, "aim-mcp was not logged in to %s.\n", name)
		return nil
	}
	rec := authRecorder(ctx, e, dir, name, *client)
	defer rec.close()
	had, err := oauth.Logout(ctx, oauth.Config{Home: dir, Server: name, URL: st.URL, Event: rec.add, StoreKind: getenv("AIM_MCP_TOKEN_STORE")})
	if err != nil {
		return errorf("logout of %s: %v", name, err).hint("remove the server's entry from the keychain (service aim-mcp) or %s by hand", dir)
	}
	if !had {
		fmt.Fprintf(e.stdout, "aim-mcp was not logged in to %s.\n", name)
		return nil
	}
	fmt.Fprintf(e.stdout, "Logged out of %s; its tokens are gone.\n", name)
	return nil
}

func oneName(cmd string, pos []string) (string, error) {
	switch {
	case len(pos) == 0:
		return "", &usageError{cmd: cmd, msg: cmd + " needs the server's NAME"}
	case len(pos) > 1:
		return "", &usageError{cmd: cmd, msg: fmt.Sprintf("unexpected argument %q", pos[1])}
	}
	return pos[0], nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// loginURL is the server's URL: the one given, else the one logged in to
// before, else the one the server was registered with by its proxy.
func loginURL(ctx context.Context, e env, dir, name, client, given string) (string, error) {
	if given != "" {
		u, err := remoteURL(given)
		if err != nil {
			return "", err
		}
		return u.String(), nil
	}
	if st := oauth.LoginStatus(dir, name, time.Now()); st.URL != "" {
		return st.URL, nil
	}
	if db, err := openExisting(ctx, e, dir); err == nil && db != nil {
		defer db.Close()
		if srv, err := serverNamed(ctx, db, name, client); err == nil && isHTTPURL(srv.Command) {
			return srv.Command, nil
		}
	}
	return "", errorf("no URL known for server %q", name).
		hint("give it: aim-mcp login %s --url https://...", name).exit(2)
}

func isHTTPURL(s string) bool {
	return strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://")
}

// authLog turns the oauth package's events into auth records. A proxy's
// events may come before its journal exists (a login during start-up):
// they wait for it.
type authLog struct {
	mu      sync.Mutex
	journal mcpproxy.Journal
	pending []registry.Event
	closer  func()
}

func (a *authLog) add(ev oauth.Event) {
	data := map[string]any{"issuer": ev.Issuer, "client_id": ev.ClientID}
	if len(ev.Scopes) > 0 {
		data["scopes"] = ev.Scopes
	}
	if ev.Fingerprint != "" {
		data["token_fingerprint"] = ev.Fingerprint
	}
	if ev.Err != "" {
		data["error"] = ev.Err
	}
	rec := registry.Event{Time: time.Now(), Kind: registry.KindAuth, Decision: ev.Kind, Data: data}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.journal == nil {
		a.pending = append(a.pending, rec)
		return
	}
	a.journal.Append(context.Background(), rec)
}

// attach gives the log its journal and writes what waited for it.
func (a *authLog) attach(j mcpproxy.Journal) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.journal = j
	if len(a.pending) > 0 {
		j.Append(context.Background(), a.pending...)
		a.pending = nil
	}
}

func (a *authLog) close() {
	if a.closer != nil {
		a.closer()
	}
}

// authRecorder records login and logout in the audit trail of the server,
// when aim-mcp knows it (its proxy has run); otherwise there is no chain
// to sign them into, and the state file alone says what happened.
func authRecorder(ctx context.Context, e env, dir, name, client string) *authLog {
	a := &authLog{}
	db, err := openExisting(ctx, e, dir)
	if err != nil || db == nil {
		return a
	}
	srv, err := serverNamed(ctx, db, name, client)
	if err != nil {
		db.Close()
		return a
	}
	key, err := db.Key(srv)
	if err != nil {
		db.Close()
		return a
	}
	j := &mcpproxy.RegistryJournal{DB: db, Key: key, Server: srv}
	a.attach(j)
	a.closer = func() {
		j.Close(context.Background())
		db.Close()
	}
	return a
}

// remoteOAuth puts aim-mcp's OAuth client under the proxy's HTTP session:
// the token is added, refreshed and, when the server asks for a login the
// session does not have, got through the browser within 45 seconds.
func remoteOAuth(e env, cfg oauth.Config, rec *authLog) (*http.Client, func() map[string]any, error) {
	cfg.Event = rec.add
	cfg.Notify = func(authURL string) {
		fmt.Fprintf(e.stderr, "aim-mcp: server %q needs a login; opening the browser (or visit %s)\n", cfg.Server, authURL)
	}
	t, err := oauth.NewTransport(cfg, nil)
	if err != nil {
		return nil, nil, errorf("%v", err).hint("check %s/oauth, or run: aim-mcp login %s", cfg.Home, cfg.Server)
	}
	t.Interactive = true
	t.LoginNeeded = func(err *oauth.LoginNeededError) {
		fmt.Fprintf(e.stderr, "aim-mcp: error: %v\n", err.Cause)
		fmt.Fprintf(e.stderr, "aim-mcp: hint: run \"aim-mcp login %s\"; this session picks the login up\n", cfg.Server)
	}
	return &http.Client{Transport: t}, t.Describe, nil
}
