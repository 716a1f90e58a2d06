package oauth

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/oauthex"
	"golang.org/x/oauth2"
)

// ErrNoRegistration: the authorization server offers no way to register
// and no client id was given.
var ErrNoRegistration = errors.New("the authorization server offers no client registration; give a client id (--oauth-client-id)")

// authorize runs the authorization code flow with PKCE for the server:
// discovery, registration, the browser, the code on the loopback callback,
// the token. ch is what the server said when it refused a request (empty
// for aim-mcp login); old is the grant held so far, whose registration and
// scopes are reused.
func (f *flow) authorize(ctx context.Context, ch challenge, old *grant) (*grant, error) {
	c := f.cfg.httpClient()
	prm, err := discoverResource(ctx, c, f.cfg.URL, ch)
	if err != nil {
		return nil, err
	}
	as, err := discoverAuthServer(ctx, c, prm.AuthorizationServers[0], f.cfg.ASMetadata)
	if err != nil {
		return nil, err
	}
	ln, err := f.listen()
	if err != nil {
		return nil, err
	}
	defer ln.Close()
	redirect := fmt.Sprintf("http://127.0.0.1:%d/callback", ln.Addr().(*net.TCPAddr).Port)
	g, err := f.register(ctx, c, as, redirect, old)
	if err != nil {
		return nil, err
	}
	g.Resource = prm.Resource
	g.Scopes = f.scopes(ch, prm, as, old)

	verifier := oauth2.GenerateVerifier()
	st := rand.Text()
	oc := g.oauth2Config()
	authURL := oc.AuthCodeURL(st, oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("resource", g.Resource))
	if err := checkBrowserURL(authURL); err != nil {
		return nil, err
	}
	got := make(chan callbackResult, 1)
	srv := &http.Server{Handler: callbackHandler(st, got), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln) // listening before the browser opens: a fast redirect finds it
	defer srv.Close()
	if f.cfg.Notify != nil {
		f.cfg.Notify(authURL)
	}
	open := f.cfg.Open
	if open == nil {
		open = OpenBrowser
	}
	if err := open(authURL); err != nil && f.cfg.Notify == nil {
		return nil, err
	}
	var res callbackResult
	select {
	case res = <-got:
	case <-ctx.Done():
		return nil, fmt.Errorf("no answer from the browser: %w", ctx.Err())
	}
	if res.err != nil {
		return nil, res.err
	}
	// RFC 9207: an issuer in the answer must be the one asked.
	if res.iss != "" && strings.TrimSuffix(res.iss, "/") != strings.TrimSuffix(as.Issuer, "/") {
		return nil, fmt.Errorf("the authorization answer came from issuer %q, not %q", res.iss, as.Issuer)
	}
	if res.iss == "" && as.IssParameter {
		return nil, fmt.Errorf("authorization server %s promised an iss in its answer and sent none", as.Issuer)
	}
	tok, err := oc.Exchange(context.WithValue(ctx, oauth2.HTTPClient, c), res.code,
		oauth2.VerifierOption(verifier), oauth2.SetAuthURLParam("resource", g.Resource))
	if err != nil {
		return nil, fmt.Errorf("token request: %w", err)
	}
	g.setToken(tok.AccessToken, tok.TokenType, tok.RefreshToken, f.now(), tok.Expiry, scopeExtra(tok.Extra("scope")))
	return g, nil
}

// listen opens the loopback callback on the server's port: the one given,
// else the one it used before (authorization servers bind the redirect URI
// to the registration), else a free one, which is kept.
func (f *flow) listen() (net.Listener, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	port := f.cfg.CallbackPort
	if port == 0 {
		port = f.st.CallbackPort
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil && port != 0 && f.cfg.CallbackPort == 0 {
		ln, err = net.Listen("tcp", "127.0.0.1:0") // the old one is taken: a new one, registered anew
	}
	if err != nil {
		return nil, fmt.Errorf("the login callback cannot listen on 127.0.0.1:%d: %w", port, err)
	}
	f.st.CallbackPort = ln.Addr().(*net.TCPAddr).Port
	return ln, nil
}

// register finds the client's identity at the authorization server: the
// id given, the registration made before with this issuer and redirect,
// else a dynamic registration as a native application.
func (f *flow) register(ctx context.Context, c *http.Client, as *authServer, redirect string, old *grant) (*grant, error) {
	g := &grant{Issuer: as.Issuer, TokenURL: as.TokenEndpoint, RedirectURI: redirect}
	g.authURL = as.AuthorizationEndpoint
	switch {
	case f.cfg.ClientID != "":
		g.ClientID, g.ClientSecret = f.cfg.ClientID, f.cfg.ClientSecret
		g.AuthMethod = "none"
		if g.ClientSecret != "" {
			g.AuthMethod = "client_secret_basic"
			if contains(as.AuthMethods, "client_secret_post") {
				g.AuthMethod = "client_secret_post"
			}
		}
		return g, nil
	case old != nil && old.Registered && old.ClientID != "" && old.Issuer == as.Issuer && old.RedirectURI == redirect:
		g.ClientID, g.ClientSecret, g.AuthMethod, g.Registered = old.ClientID, old.ClientSecret, old.AuthMethod, true
		return g, nil
	case as.RegistrationEndpoint == "":
		return nil, ErrNoRegistration
	}
	method := "none"
	if len(as.AuthMethods) > 0 && !contains(as.AuthMethods, "none") {
		method = as.AuthMethods[0]
	}
	reg, err := oauthex.RegisterClient(ctx, as.RegistrationEndpoint, &oauthex.ClientRegistrationMetadata{
		RedirectURIs:            []string{redirect},
		TokenEndpointAuthMethod: method,
		GrantTypes:              []string{"authorization_code", "refresh_token"},
		ResponseTypes:           []string{"code"},
		ClientName:              "aim-mcp",
		ApplicationType:         "native",
	}, c)
	if err != nil {
		return nil, fmt.Errorf("client registration at %s: %w", as.RegistrationEndpoint, err)
	}
	g.ClientID, g.ClientSecret, g.Registered = reg.ClientID, reg.ClientSecret, true
	g.AuthMethod = reg.TokenEndpointAuthMethod
	if g.AuthMethod == "" {
		g.AuthMethod = method
	}
	if f.cfg.Event != nil {
		f.cfg.Event(Event{Kind: "registered", Issuer: as.Issuer, ClientID: reg.ClientID})
	}
	return g, nil
}

// scopes to ask for: those given, else those the server's challenge named,
// else those its metadata lists, else none (the server's default). A
// step-up keeps what was granted before. offline_access goes with them
// when the authorization server offers it, for a refresh token.
func (f *flow) scopes(ch challenge, prm *resourceMeta, as *authServer, old *grant) []string {
	var s []string
	switch {
	case len(f.cfg.Scopes) > 0:
		s = slices.Clone(f.cfg.Scopes)
	case len(ch.scopes) > 0:
		s = slices.Clone(ch.scopes)
	case len(prm.ScopesSupported) > 0:
		s = slices.Clone(prm.ScopesSupported)
	}
	if ch.err == "insufficient_scope" && old != nil {
		s = union(old.Scopes, s)
	}
	if len(s) > 0 && contains(as.ScopesSupported, "offline_access") && !contains(s, "offline_access") {
		s = append(s, "offline_access")
	}
	return s
}

func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, x := range b {
		if !contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

func scopeExtra(v any) []string {
	s, _ := v.(string)
	return strings.Fields(s)
}

type callbackResult struct {
	code, iss string
	err       error
}

// callbackHandler takes the browser's redirect: the first answer whose
// state matches ends the wait; anything else is refused and the wait goes on.
func callbackHandler(state string, got chan<- callbackResult) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/callback" {
			http.NotFound(w, r)
			return
		}
		q := r.URL.Query()
		if q.Get("state") != state {
			http.Error(w, "aim-mcp: this answer is not for the login in progress", http.StatusBadRequest)
			return
		}
		res := callbackResult{code: q.Get("code"), iss: q.Get("iss")}
		msg := "aim-mcp is logged in. You can close this window."
		if e := q.Get("error"); e != "" {
			res.err = fmt.Errorf("the authorization server refused: %s %s", e, q.Get("error_description"))
			msg = "aim-mcp: the login was refused: " + e
		} else if res.code == "" {
			res.err = errors.New("the authorization answer holds no code")
			msg = "aim-mcp: the login failed: no code"
		}
		select {
		case got <- res:
		default:
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		var b bytes.Buffer
		fmt.Fprintf(&b, "<!doctype html><title>aim-mcp</title><p>%s</p>\n", html.EscapeString(msg))
		w.Write(b.Bytes())
	})
}
