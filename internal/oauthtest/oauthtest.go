// Package oauthtest is an authorization server and an MCP resource server
// in one httptest server, strict the way the specification asks (PKCE S256,
// the resource indicator on every token request, tokens bound to their
// audience, rotated refresh tokens), for the tests of aim-mcp's OAuth client.
// It counts what reaches it, so a test can say "exactly one refresh".
package oauthtest

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Options shape the server.
type Options struct {
	TokenTTL      time.Duration // access token lifetime (default an hour)
	Scopes        []string      // scopes_supported in the resource metadata
	CallScope     string        // a scope tools/call needs beyond the login's (step-up)
	IssInRedirect bool          // send iss in the authorization answer (RFC 9207)
	WrongIss      bool          // and make it the wrong one
	PRMResource   string        // a resource metadata that names another resource
}

// Server is both servers. Its counters are safe to read at any time.
type Server struct {
	*httptest.Server
	opt Options

	mu            sync.Mutex
	clients       map[string]string // client_id -> redirect_uri
	codes         map[string]codeGrant
	access        map[string]token
	refresh       map[string]token
	Registrations int
	Authorizes    int
	CodeTokens    int
	Refreshes     int // refresh requests, good or bad
	BadRefreshes  int
	Calls         int
	Resources     []string // the resource of every authorize and token request
}

type codeGrant struct {
	client, redirect, challenge, resource, scope string
}

type token struct {
	resource, scope, client string
	expiry                  time.Time
}

// New starts the server.
func New(opt Options) *Server {
	if opt.TokenTTL == 0 {
		opt.TokenTTL = time.Hour
	}
	s := &Server{opt: opt, clients: map[string]string{}, codes: map[string]codeGrant{},
		access: map[string]token{}, refresh: map[string]token{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/oauth-authorization-server", s.asMeta)
	mux.HandleFunc("/.well-known/oauth-protected-resource/mcp", s.prm)
	mux.HandleFunc("/register", s.register)
	mux.HandleFunc("/authorize", s.authorize)
	mux.HandleFunc("/token", s.token)
	mux.HandleFunc("/mcp", s.mcp)
	// Started only once s.Server is set: the handlers read its URL.
	s.Server = httptest.NewUnstartedServer(mux)
	s.Start()
	return s
}

// Resource is the MCP endpoint: the resource tokens are for.
func (s *Server) Resource() string { return s.URL + "/mcp" }

// RevokeRefresh forgets every refresh token: the next refresh is invalid_grant.
func (s *Server) RevokeRefresh() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refresh = map[string]token{}
}

// Snapshot returns the counters.
func (s *Server) Snapshot() (registrations, authorizes, codeTokens, refreshes, badRefreshes, calls int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.Registrations, s.Authorizes, s.CodeTokens, s.Refreshes, s.BadRefreshes, s.Calls
}

// SeenResources is the resource of every authorize and token request so far.
func (s *Server) SeenResources() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.Resources...)
}

// AccessTokens lists the access tokens issued, for tests that look for
// their bytes where they must not be.
func (s *Server) AccessTokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k := range s.access {
		out = append(out, k)
	}
	return out
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func (s *Server) asMeta(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, 200, map[string]any{
		"issuer": s.URL, "authorization_endpoint": s.URL + "/authorize", "token_endpoint": s.URL + "/token",
		"registration_endpoint": s.URL + "/register", "code_challenge_methods_supported": []string{"S256"},
		"response_types_supported": []string{"code"}, "token_endpoint_auth_methods_supported": []string{"none"},
		"scopes_supported": append([]string{"offline_access"}, s.opt.Scopes...),
		"authorization_response_iss_parameter_supported": s.opt.IssInRedirect,
	})
}

func (s *Server) prm(w http.ResponseWriter, r *http.Request) {
	res := s.Resource()
	if s.opt.PRMResource != "" {
		res = s.opt.PRMResource
	}
	writeJSON(w, 200, map[string]any{"resource": res, "authorization_servers": []string{s.URL},
		"scopes_supported": s.opt.Scopes})
}

func (s *Server) register(w http.ResponseWriter, r *http.Request) {
	var m struct {
		RedirectURIs    []string `json:"redirect_uris"`
		ApplicationType string   `json:"application_type"`
	}
	if json.NewDecoder(r.Body).Decode(&m) != nil || len(m.RedirectURIs) != 1 || m.ApplicationType != "native" {
		writeJSON(w, 400, map[string]string{"error": "invalid_client_metadata"})
		return
	}
	id := rand.Text()
	s.mu.Lock()
	s.clients[id] = m.RedirectURIs[0]
	s.Registrations++
	s.mu.Unlock()
	writeJSON(w, 201, map[string]any{"client_id": id, "redirect_uris": m.RedirectURIs, "token_endpoint_auth_method": "none"})
}

// authorize approves at once, as a signed-in user who always says yes.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Authorizes++
	s.Resources = append(s.Resources, q.Get("resource"))
	redirect, ok := s.clients[q.Get("client_id")]
	if !ok || redirect != q.Get("redirect_uri") || q.Get("response_type") != "code" ||
		q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("resource") != s.Resource() {
		http.Error(w, "bad authorization request", 400)
		return
	}
	code := rand.Text()
	s.codes[code] = codeGrant{client: q.Get("client_id"), redirect: redirect, challenge: q.Get("code_challenge"),
		resource: q.Get("resource"), scope: q.Get("scope")}
	v := url.Values{"code": {code}, "state": {q.Get("state")}}
	if s.opt.IssInRedirect {
		iss := s.URL
		if s.opt.WrongIss {
			iss = "https://evil.example"
		}
		v.Set("iss", iss)
	}
	http.Redirect(w, r, redirect+"?"+v.Encode(), http.StatusFound)
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	f := r.PostForm
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Resources = append(s.Resources, f.Get("resource"))
	switch f.Get("grant_type") {
	case "authorization_code":
		g, ok := s.codes[f.Get("code")]
		delete(s.codes, f.Get("code"))
		sum := sha256.Sum256([]byte(f.Get("code_verifier")))
		if !ok || g.client != f.Get("client_id") || g.redirect != f.Get("redirect_uri") ||
			base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge || f.Get("resource") != g.resource {
			writeJSON(w, 400, map[string]string{"error": "invalid_grant"})
			return
		}
		s.CodeTokens++
		s.issue(w, token{resource: g.resource, scope: g.scope, client: g.client})
	case "refresh_token":
		s.Refreshes++
		old, ok := s.refresh[f.Get("refresh_token")]
		if !ok || old.client != f.Get("client_id") || f.Get("resource") != old.resource {
			s.BadRefreshes++
			writeJSON(w, 400, map[string]string{"error": "invalid_grant"})
			return
		}
		delete(s.refresh, f.Get("refresh_token")) // rotated: each is used once
		s.issue(w, old)
	default:
		writeJSON(w, 400, map[string]string{"error": "unsupported_grant_type"})
	}
}

// issue answers with a new access token and a new refresh token.
func (s *Server) issue(w http.ResponseWriter, t token) {
	t.expiry = time.Now().Add(s.opt.TokenTTL)
	at := "at-" + rand.Text()
	s.access[at] = t
	resp := map[string]any{"access_token": at, "token_type": "Bearer", "expires_in": int(s.opt.TokenTTL / time.Second), "scope": t.scope}
	rt := "rt-" + rand.Text()
	s.refresh[rt] = t
	resp["refresh_token"] = rt
	writeJSON(w, 200, resp)
}

// mcp is a tiny MCP server: initialize, tools/list and an echo tool, each
// only with a token issued for it that has not expired.
func (s *Server) mcp(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	var m struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
		Params json.RawMessage `json:"params"`
	}
	json.NewDecoder(r.Body).Decode(&m)
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	t, ok := s.access[tok]
	good := ok && t.resource == s.Resource() && time.Now().Before(t.expiry)
	needScope := m.Method == "tools/call" && s.opt.CallScope != "" && !strings.Contains(" "+t.scope+" ", " "+s.opt.CallScope+" ")
	if good && !needScope && m.Method == "tools/call" {
		s.Calls++
	}
	s.mu.Unlock()
	meta := s.URL + "/.well-known/oauth-protected-resource/mcp"
	if !good {
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer resource_metadata="%s", scope="%s"`, meta, strings.Join(s.opt.Scopes, " ")))
		writeJSON(w, 401, map[string]any{"jsonrpc": "2.0", "id": nil, "error": map[string]any{"code": -32001, "message": "unauthorized"}})
		return
	}
	if needScope {
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer error="insufficient_scope", scope="%s", resource_metadata="%s"`,
			strings.TrimSpace(t.scope+" "+s.opt.CallScope), meta))
		writeJSON(w, 403, map[string]any{"jsonrpc": "2.0", "id": nil, "error": map[string]any{"code": -32001, "message": "insufficient scope"}})
		return
	}
	if len(m.ID) == 0 {
		w.WriteHeader(http.StatusAccepted)
		return
	}
	var result any
	switch m.Method {
	case "initialize":
		result = map[string]any{"protocolVersion": "2025-06-18", "capabilities": map[string]any{"tools": map[string]any{}},
			"serverInfo": map[string]any{"name": "oauthtest", "version": "1"}}
	case "tools/list":
		result = map[string]any{"tools": []any{map[string]any{"name": "echo", "description": "Echoes its text.",
			"inputSchema": map[string]any{"type": "object", "properties": map[string]any{"text": map[string]any{"type": "string"}}}}}}
	case "tools/call":
		var p struct {
			Arguments struct {
				Text string `json:"text"`
			} `json:"arguments"`
		}
		json.Unmarshal(m.Params, &p)
		result = map[string]any{"content": []any{map[string]any{"type": "text", "text": "echo: " + p.Arguments.Text}}}
	default:
		result = map[string]any{}
	}
	writeJSON(w, 200, map[string]any{"jsonrpc": "2.0", "id": m.ID, "result": result})
}
