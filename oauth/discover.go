package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
	"github.com/opena2a-org/aim-mcp/internal/remoteurl"
)

// challenge is what a 401 or 403 said in its Bearer WWW-Authenticate.
type challenge struct {
	metadata string // resource_metadata
	scopes   []string
	err      string // error, such as insufficient_scope
	bearer   bool   // the server asked for a Bearer token at all
}

func parseChallenge(h http.Header) challenge {
	cs, err := oauthex.ParseWWWAuthenticate(h.Values("WWW-Authenticate"))
	if err != nil {
		return challenge{}
	}
	var c challenge
	for _, x := range cs {
		if x.Scheme != "bearer" {
			continue
		}
		c.bearer = true
		if v := x.Params["resource_metadata"]; v != "" && c.metadata == "" {
			c.metadata = v
		}
		if v := x.Params["scope"]; v != "" && c.scopes == nil {
			c.scopes = strings.Fields(v)
		}
		if v := x.Params["error"]; v != "" && c.err == "" {
			c.err = v
		}
	}
	return c
}

// resourceMeta is the protected resource metadata (RFC 9728) that matters.
type resourceMeta struct {
	Resource             string   `json:"resource"`
	AuthorizationServers []string `json:"authorization_servers"`
	ScopesSupported      []string `json:"scopes_supported"`

	assumed bool // none found: the 2025-03-26 rule, the server's origin is its authorization server
}

// errMismatch is metadata that names another resource: the server is
// trying to get a token meant for someone else, so nothing more is asked.
var errMismatch = errors.New("the protected resource metadata names another resource")

// discoverResource finds the server's protected resource metadata: at the
// URL its challenge named, else at the well-known path for its endpoint,
// else at the root. Found nowhere, the server is of the 2025-03-26 kind
// and its own origin is the authorization server.
func discoverResource(ctx context.Context, c *http.Client, resource string, ch challenge) (*resourceMeta, error) {
	ru, err := url.Parse(resource)
	if err != nil {
		return nil, err
	}
	type try struct{ url, want string }
	var tries []try
	if ch.metadata != "" {
		tries = append(tries, try{ch.metadata, ""})
	}
	wk := *ru
	wk.RawQuery, wk.Fragment = "", ""
	if p := strings.Trim(ru.Path, "/"); p != "" {
		wk.Path = "/.well-known/oauth-protected-resource/" + p
		tries = append(tries, try{wk.String(), ""})
	}
	wk.Path = "/.well-known/oauth-protected-resource"
	tries = append(tries, try{wk.String(), ""})
	for _, t := range tries {
		if err := httpsOrLoopback(t.url); err != nil {
			return nil, fmt.Errorf("resource metadata: %w", err)
		}
		var m resourceMeta
		found, err := getJSON(ctx, c, t.url, &m)
		if err != nil {
			return nil, fmt.Errorf("resource metadata at %s: %w", t.url, err)
		}
		if !found {
			continue
		}
		if !sameResource(m.Resource, resource) {
			return nil, fmt.Errorf("%w: %s names %q, not %q", errMismatch, t.url, m.Resource, resource)
		}
		if len(m.AuthorizationServers) == 0 {
			return nil, fmt.Errorf("resource metadata at %s names no authorization server", t.url)
		}
		for _, as := range m.AuthorizationServers {
			if err := httpsOrLoopback(as); err != nil {
				return nil, fmt.Errorf("resource metadata at %s: authorization server: %w", t.url, err)
			}
		}
		return &m, nil
	}
	origin := *ru
	origin.Path, origin.RawQuery, origin.Fragment = "", "", ""
	return &resourceMeta{Resource: resource, AuthorizationServers: []string{origin.String()}, assumed: true}, nil
}

// sameResource: the metadata's resource is the server's URL, or its
// origin (metadata at the root speaks for the whole host).
func sameResource(got, want string) bool {
	if got == "" {
		return false
	}
	norm := func(s string) string { return strings.TrimSuffix(s, "/") }
	if norm(got) == norm(want) {
		return true
	}
	u, err := url.Parse(want)
	if err != nil {
		return false
	}
	return norm(got) == u.Scheme+"://"+u.Host
}

// authServer is the authorization server metadata that matters.
type authServer struct {
	Issuer                string
	AuthorizationEndpoint string
	TokenEndpoint         string
	RegistrationEndpoint  string
	ScopesSupported       []string
	AuthMethods           []string
	IssParameter          bool
}

// discoverAuthServer reads the authorization server's metadata: from the
// URL the user gave, else by RFC 8414 and OpenID discovery for issuer
// (with a path, as the specification orders them). It checks the issuer
// and PKCE S256. A server with no metadata at all gets the 2025-03-26
// default endpoints on its origin.
func discoverAuthServer(ctx context.Context, c *http.Client, issuer, metadataURL string) (*authServer, error) {
	var m *oauthex.AuthServerMeta
	var err error
	if metadataURL != "" {
		if err := httpsOrLoopback(metadataURL); err != nil {
			return nil, fmt.Errorf("authorization server metadata: %w", err)
		}
		var mm oauthex.AuthServerMeta
		found, err := getJSON(ctx, c, metadataURL, &mm)
		if err != nil || !found {
			return nil, fmt.Errorf("authorization server metadata at %s: %v", metadataURL, orNotFound(err))
		}
		m = &mm
	} else if m, err = auth.GetAuthServerMetadata(ctx, issuer, c); err != nil {
		return nil, fmt.Errorf("authorization server %s: %w", issuer, err)
	}
	if m == nil {
		base := strings.TrimSuffix(issuer, "/")
		return &authServer{Issuer: issuer, AuthorizationEndpoint: base + "/authorize",
			TokenEndpoint: base + "/token", RegistrationEndpoint: base + "/register"}, nil
	}
	if metadataURL == "" && strings.TrimSuffix(m.Issuer, "/") != strings.TrimSuffix(issuer, "/") {
		return nil, fmt.Errorf("authorization server metadata names issuer %q, not %q", m.Issuer, issuer)
	}
	if !contains(m.CodeChallengeMethodsSupported, "S256") {
		return nil, fmt.Errorf("authorization server %s does not offer PKCE with S256", m.Issuer)
	}
	if m.AuthorizationEndpoint == "" || m.TokenEndpoint == "" {
		return nil, fmt.Errorf("authorization server %s names no authorization or token endpoint", m.Issuer)
	}
	for _, e := range []string{m.AuthorizationEndpoint, m.TokenEndpoint, m.RegistrationEndpoint} {
		if e != "" {
			if err := httpsOrLoopback(e); err != nil {
				return nil, fmt.Errorf("authorization server %s: %w", m.Issuer, err)
			}
		}
	}
	return &authServer{Issuer: m.Issuer, AuthorizationEndpoint: m.AuthorizationEndpoint, TokenEndpoint: m.TokenEndpoint,
		RegistrationEndpoint: m.RegistrationEndpoint, ScopesSupported: m.ScopesSupported,
		AuthMethods: m.TokenEndpointAuthMethodsSupported, IssParameter: m.AuthorizationResponseIssParameterSupported}, nil
}

func orNotFound(err error) error {
	if err == nil {
		return errors.New("not found")
	}
	return err
}

// getJSON fetches a JSON document: found false on a 4xx, an error on
// anything else that is not a JSON 200.
func getJSON(ctx context.Context, c *http.Client, u string, v any) (found bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 && resp.StatusCode < 500 {
		return false, nil
	}
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/json" {
		return false, fmt.Errorf("the answer is %q, not JSON", resp.Header.Get("Content-Type"))
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v); err != nil {
		return false, fmt.Errorf("the answer is not valid JSON: %w", err)
	}
	return true, nil
}

// httpsOrLoopback: tokens and codes go only over TLS, or to this machine.
func httpsOrLoopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%q is not a URL", raw)
	}
	if u.Scheme == "https" || (u.Scheme == "http" && remoteurl.Loopback(u.Hostname())) {
		return nil
	}
	return fmt.Errorf("%q is neither https nor http to this machine", raw)
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}
