// Package aimtest is an AIM backend for tests: an httptest server that
// implements the routes aim-mcp uses the way AIM's backend (at commit
// 1c830fe) behaves, quirks included:
//
//   - Ed25519 request signing is checked over the exact bytes, against the
//     key stored for the agent, with the ±300 s timestamp window; every bad
//     signature is counted.
//   - A signed request with a non-empty body under 200 bytes, or an
//     X-Public-Key under 20 characters, gets HTTP 500 (the middleware panics).
//   - Registration answers trust on a 0–100 scale; everything else on 0–1.
//   - Denials are 403 with {"allowed":false,...}; auth failures are 401 or
//     403 with {"error":...}; router errors carry a boolean "error".
//   - A duplicate agent name within an organisation is a 500; an API key
//     shorter than 10 characters is a 500 too (AIM slices it).
//   - A capability is granted by an equal grant or a grant ending in '*'
//     whose prefix it starts with ("mcp_tool:*").
//   - Every route group (sdk-api, agents) allows 100 requests in a fixed
//     one-minute window per caller (the API key for sdk-api, the client
//     address for signed requests), then answers 429 with Retry-After set
//     to the seconds left in the window. SetRateLimit changes the numbers
//     (a short window keeps tests fast), never the behaviour.
//   - log-action answers 200 and stores nothing in AIM (the fake keeps the
//     bodies only so tests can look); verify-action decisions are listed by
//     GET /api/v1/verification-events with the admin token.
//   - A rotated key (RotateKey, or POST /agents/:id/rotate-credentials with
//     the admin token) makes signatures by the old key fail with 401
//     "Invalid signature"; a suspended agent is refused with "Agent not
//     verified - all actions denied".
//
// Faults can be injected: failing statuses (FailNext), delays, and a server
// that drops every connection (SetDown).
package aimtest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// DefaultOrg is the organisation of a fresh AIM database.
const DefaultOrg = "a0000000-0000-0000-0000-000000000001"

// Agent is an agent as the fake stores it.
type Agent struct {
	ID, Org, Name, DisplayName, Description, Type, Status, Version string
	PublicKey                                                      string // standard base64
	Trust                                                          float64
	Capabilities                                                   []string
	Compromised                                                    bool
}

// Request is one request the fake saw.
type Request struct {
	Method, Path string
	Status       int
	Signed       bool   // carried the four Ed25519 headers
	Auth         string // "ed25519", "bearer", "x-api-key", "x-aim-api-key" or ""
	AgentHeader  string // X-Agent-ID
	BodyLen      int
	Header       http.Header // as received (tests look for leaks)
	Body         []byte
}

// Logged is a log-action call.
type Logged struct {
	AgentID, AuditID string
	Body             map[string]any
}

// CapabilityRequest is a pending or approved request.
type CapabilityRequest struct {
	AgentID, Capability, Reason, Status string
}

type apiKey struct {
	org      string
	inactive bool
	expired  bool
}

type fault struct {
	status     int
	retryAfter string
}

// VerificationEvent is a verify-action decision, as AIM lists it.
type VerificationEvent struct {
	ID         string `json:"id"`
	AgentID    string `json:"agent_id"`
	AgentName  string `json:"agent_name"`
	ActionType string `json:"action_type"`
	Protocol   string `json:"protocol"`
	Status     string `json:"status"` // "success" (allowed) or "failed" (denied)
	Reason     string `json:"reason"`
	CreatedAt  string `json:"created_at"`
}

// Defaults of the rate limit: AIM's.
const (
	DefaultRateLimit  = 100
	DefaultRateWindow = time.Minute
)

// Server is the fake AIM.
type Server struct {
	*httptest.Server
	// APIKey is a valid key of DefaultOrg.
	APIKey string
	// AdminToken is the bearer token of DefaultOrg's admin (a JWT in AIM).
	AdminToken string
	// Now is the server's clock for the timestamp window.
	Now func() time.Time

	mu       sync.Mutex
	agents   map[string]*Agent // by id
	keys     map[string]*apiKey
	audits   map[string]string // audit id -> agent id
	logged   []Logged
	capReqs  []CapabilityRequest
	requests []Request
	faults   []fault
	delay    time.Duration
	down     bool
	limit    int
	span     time.Duration
	windows  map[string]*window // by route group and caller
	events   []VerificationEvent
	badSigs  int
}

// window is one caller's fixed rate-limit window.
type window struct {
	start time.Time
	n     int
}

// New starts a fake AIM; Close stops it.
func New() *Server {
	s := &Server{Now: time.Now, agents: map[string]*Agent{}, keys: map[string]*apiKey{},
		audits: map[string]string{}, limit: DefaultRateLimit, span: DefaultRateWindow, windows: map[string]*window{}}
	s.APIKey = s.NewAPIKey(DefaultOrg)
	s.AdminToken = "admin." + uuid.NewString()
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// NewAPIKey makes a valid key of an organisation.
func (s *Server) NewAPIKey(org string) string {
	b := make([]byte, 32)
	rand.Read(b)
	k := "aim_live_" + base64.RawURLEncoding.EncodeToString(b)
	s.mu.Lock()
	s.keys[k] = &apiKey{org: org}
	s.mu.Unlock()
	return k
}

// ExpireAPIKey makes a key expired.
func (s *Server) ExpireAPIKey(k string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.keys[k]; a != nil {
		a.expired = true
	}
}

// FailNext makes the next n requests answer status (with Retry-After when
// retryAfter is not empty) before any other processing.
func (s *Server) FailNext(n, status int, retryAfter string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults = append(s.faults, fault{status: status, retryAfter: retryAfter})
	}
}

// SetDelay delays every answer.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	s.delay = d
	s.mu.Unlock()
}

// SetDown makes the server drop every connection without an answer.
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	s.down = down
	s.mu.Unlock()
}

// SetRateLimit allows n requests per route group and caller in each fixed
// window of length span (AIM: 100 a minute; n = 0: no limit), and starts
// every window afresh.
func (s *Server) SetRateLimit(n int, span time.Duration) {
	s.mu.Lock()
	s.limit, s.span = n, span
	s.windows = map[string]*window{}
	s.mu.Unlock()
}

// RateLimited counts the 429 answers of the rate limit.
func (s *Server) RateLimited() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.requests {
		if r.Status == http.StatusTooManyRequests {
			n++
		}
	}
	return n
}

// RotateKey gives an agent a new key pair, as rotating it in AIM's UI
// does, and returns the new private key (standard base64, seed and public
// key): requests signed with the old key fail from now on.
func (s *Server) RotateKey(idOrName string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.find(idOrName, "")
	if a == nil {
		return "", fmt.Errorf("no agent %q", idOrName)
	}
	return s.rotate(a), nil
}

func (s *Server) rotate(a *Agent) string {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	a.PublicKey = base64.StdEncoding.EncodeToString(pub)
	return base64.StdEncoding.EncodeToString(priv)
}

// DeleteAgent removes an agent, as an admin does.
func (s *Server) DeleteAgent(idOrName string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.find(idOrName, ""); a != nil {
		delete(s.agents, a.ID)
	}
}

// VerificationEvents returns the verify-action decisions, oldest first.
func (s *Server) VerificationEvents() []VerificationEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.events)
}

// AddAgent stores an agent made elsewhere (another machine, a JWT user):
// its private key is not known to the caller.
func (s *Server) AddAgent(org, name string) *Agent {
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	a := &Agent{ID: uuid.NewString(), Org: org, Name: name, DisplayName: name, Description: name, Type: "mcp_server",
		Status: "verified", PublicKey: base64.StdEncoding.EncodeToString(pub), Trust: 0.91}
	s.mu.Lock()
	s.agents[a.ID] = a
	s.mu.Unlock()
	c := *a
	return &c
}

// Agents returns a copy of every agent.
func (s *Server) Agents() []Agent {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Agent
	for _, a := range s.agents {
		c := *a
		c.Capabilities = slices.Clone(a.Capabilities)
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b Agent) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// FindAgent returns a copy of the agent with that id or name.
func (s *Server) FindAgent(idOrName string) (Agent, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.find(idOrName, ""); a != nil {
		c := *a
		c.Capabilities = slices.Clone(a.Capabilities)
		return c, true
	}
	return Agent{}, false
}

func (s *Server) find(idOrName, org string) *Agent {
	if a, ok := s.agents[idOrName]; ok {
		return a
	}
	for _, a := range s.agents {
		if a.Name == idOrName && (org == "" || a.Org == org) {
			return a
		}
	}
	return nil
}

// Grant grants a capability, as an admin does.
func (s *Server) Grant(idOrName, capability string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.find(idOrName, "")
	if a == nil {
		return fmt.Errorf("no agent %q", idOrName)
	}
	if !slices.Contains(a.Capabilities, capability) {
		a.Capabilities = append(a.Capabilities, capability)
	}
	return nil
}

// Approve approves an agent's pending capability requests, as an admin
// does, and returns the capabilities granted.
func (s *Server) Approve(idOrName string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.find(idOrName, "")
	if a == nil {
		return nil
	}
	var out []string
	for i, r := range s.capReqs {
		if r.AgentID == a.ID && r.Status == "pending" {
			s.capReqs[i].Status = "approved"
			if !slices.Contains(a.Capabilities, r.Capability) {
				a.Capabilities = append(a.Capabilities, r.Capability)
			}
			out = append(out, r.Capability)
		}
	}
	return out
}

// SetStatus changes an agent's status (verified, pending, suspended...).
func (s *Server) SetStatus(idOrName, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.find(idOrName, ""); a != nil {
		a.Status = status
	}
}

// Requests returns what the fake saw, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// Logged returns the log-action calls.
func (s *Server) Logged() []Logged {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.logged)
}

// CapabilityRequests returns the capability requests.
func (s *Server) CapabilityRequests() []CapabilityRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.capReqs)
}

// BadSignatures counts the signed requests whose signature did not verify.
func (s *Server) BadSignatures() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.badSigs
}

// ResetBadSignatures clears the count, after a test that sent a bad
// signature on purpose.
func (s *Server) ResetBadSignatures() {
	s.mu.Lock()
	s.badSigs = 0
	s.mu.Unlock()
}

// --- HTTP ---

type ctx struct {
	w     http.ResponseWriter
	r     *http.Request
	body  []byte
	agent *Agent // the Ed25519-authenticated agent
	org   string // the API key's organisation
	key   string // the API key
	rec   *Request
}

func (c *ctx) json(status int, v any) {
	c.rec.Status = status
	c.w.Header().Set("Content-Type", "application/json")
	c.w.WriteHeader(status)
	json.NewEncoder(c.w).Encode(v)
}

func (c *ctx) err(status int, msg string) { c.json(status, map[string]any{"error": msg}) }

// routerErr is the shape of fiber's own errors: "error" is a boolean.
func (c *ctx) routerErr(status int, msg string) {
	c.json(status, map[string]any{"error": true, "message": msg, "timestamp": time.Now().UTC().Format(time.RFC3339)})
}

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rec := &Request{Method: r.Method, Path: r.URL.Path, BodyLen: len(body), Header: r.Header.Clone(),
		Body: body, AgentHeader: r.Header.Get("X-Agent-ID")}
	c := &ctx{w: w, r: r, body: body, rec: rec}
	s.mu.Lock()
	down, delay := s.down, s.delay
	var f *fault
	if len(s.faults) > 0 {
		f = &s.faults[0]
		s.faults = s.faults[1:]
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.requests = append(s.requests, *rec)
		s.mu.Unlock()
	}()
	if down {
		rec.Status = -1
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			rec.Status = -2
			return
		}
	}
	if f != nil {
		if f.retryAfter != "" {
			w.Header().Set("Retry-After", f.retryAfter)
		}
		switch f.status {
		case http.StatusTooManyRequests:
			c.err(f.status, "Rate limit exceeded. Please try again later.")
		default:
			c.err(f.status, http.StatusText(f.status))
		}
		return
	}
	s.route(c)
}

func (s *Server) route(c *ctx) {
	p := strings.Split(strings.Trim(c.r.URL.Path, "/"), "/")
	m := c.r.Method
	switch {
	case m == "GET" && c.r.URL.Path == "/health":
		c.json(200, map[string]any{"service": "agent-identity-management", "status": "healthy", "time": time.Now().UTC()})
		return
	case m == "GET" && c.r.URL.Path == "/api/v1/status":
		c.json(200, map[string]any{"status": "operational", "version": "1.0.0",
			"services": map[string]any{"database": "healthy"}, "features": map[string]any{"trust_scoring": true}})
		return
	case len(p) < 3 || p[0] != "api" || p[1] != "v1":
		c.routerErr(404, "Cannot "+m+" "+c.r.URL.Path)
		return
	}
	p = p[2:]
	switch {
	case m == "POST" && len(p) == 3 && p[0] == "public" && p[1] == "agents" && p[2] == "register":
		s.register(c)
	case m == "GET" && len(p) == 1 && p[0] == "verification-events":
		if s.adminAuth(c) {
			s.mu.Lock()
			ev := slices.Clone(s.events)
			s.mu.Unlock()
			if ev == nil {
				ev = []VerificationEvent{}
			}
			c.json(200, map[string]any{"events": ev, "total": len(ev)})
		}
	case m == "POST" && p[0] == "agents" && len(p) == 3 && p[2] == "rotate-credentials":
		if !s.adminAuth(c) || !s.rateLimit(c, "agents", "admin") {
			return
		}
		s.rotateRoute(c, p[1])
	case p[0] == "sdk-api":
		if !s.apiKeyAuth(c) || !s.rateLimit(c, "sdk-api", c.key) {
			return
		}
		switch {
		case m == "GET" && len(p) == 3 && p[1] == "agents":
			s.lookup(c, p[2])
		case m == "POST" && len(p) == 4 && p[1] == "agents" && p[3] == "capability-requests":
			s.capabilityRequest(c, p[2])
		case m == "POST" && len(p) == 4 && p[1] == "agents" && p[3] == "capabilities":
			s.grantRoute(c, p[2])
		default:
			c.routerErr(404, "Cannot "+m+" "+c.r.URL.Path)
		}
	case p[0] == "agents":
		if !s.signedAuth(c) || !s.rateLimit(c, "agents", c.r.RemoteAddr) {
			return
		}
		switch {
		case m == "POST" && len(p) == 3 && p[2] == "verify-action":
			s.verifyAction(c, p[1])
		case m == "POST" && len(p) == 4 && p[2] == "log-action":
			s.logAction(c, p[1], p[3])
		case m == "GET" && len(p) == 3 && p[2] == "trust-score":
			s.trustScore(c, p[1])
		default:
			c.routerErr(404, "Cannot "+m+" "+c.r.URL.Path)
		}
	default:
		c.routerErr(404, "Cannot "+m+" "+c.r.URL.Path)
	}
}

// rateLimit counts the request in its group's fixed window for the
// caller, and answers 429 when the window is full.
func (s *Server) rateLimit(c *ctx, group, who string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.limit <= 0 {
		return true
	}
	if h, _, err := net.SplitHostPort(who); err == nil {
		who = h
	}
	now := s.Now()
	w := s.windows[group+" "+who]
	if w == nil || now.Sub(w.start) >= s.span {
		w = &window{start: now}
		s.windows[group+" "+who] = w
	}
	if w.n >= s.limit {
		left := w.start.Add(s.span).Sub(now)
		c.w.Header().Set("Retry-After", strconv.Itoa(int((left+time.Second-1)/time.Second)))
		c.err(429, "Rate limit exceeded. Please try again later.")
		return false
	}
	w.n++
	return true
}

// adminAuth accepts the admin's bearer token, as AIM's JWT middleware does.
func (s *Server) adminAuth(c *ctx) bool {
	c.rec.Auth = "bearer"
	if c.r.Header.Get("Authorization") != "Bearer "+s.AdminToken {
		c.err(401, "Invalid or expired token")
		return false
	}
	return true
}

// rotateRoute is POST /agents/:id/rotate-credentials (JWT): a new key
// pair, the private key in the answer.
func (s *Server) rotateRoute(c *ctx, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.agents[id]
	if a == nil {
		c.err(404, "Agent not found")
		return
	}
	priv := s.rotate(a)
	// AIM reports no previous key and no rotation count: compare keys.
	c.json(200, map[string]any{"agent_id": a.ID, "public_key": a.PublicKey, "private_key": priv,
		"previous_public_key": nil, "rotation_count": 0})
}

// apiKeyAuth is the sdk-api middleware: Bearer, else X-API-Key.
func (s *Server) apiKeyAuth(c *ctx) bool {
	k := strings.TrimPrefix(c.r.Header.Get("Authorization"), "Bearer ")
	c.rec.Auth = "bearer"
	if k == "" {
		k = c.r.Header.Get("X-API-Key")
		c.rec.Auth = "x-api-key"
	}
	if k == "" {
		c.rec.Auth = ""
		c.err(401, "No API key provided")
		return false
	}
	if len(k) < 10 {
		c.routerErr(500, fmt.Sprintf("runtime error: slice bounds out of range [:10] with length %d", len(k)))
		return false
	}
	s.mu.Lock()
	a := s.keys[k]
	s.mu.Unlock()
	switch {
	case a == nil:
		c.err(401, "Invalid API key")
	case a.inactive:
		c.err(401, "API key is inactive")
	case a.expired:
		c.err(401, "API key has expired")
	default:
		c.org, c.key = a.org, k
		return true
	}
	return false
}

// signedAuth is the Ed25519 middleware of /agents/*. Without all four
// headers the request goes on to JWT auth, which this fake does not have.
func (s *Server) signedAuth(c *ctx) bool {
	h := c.r.Header
	id, ts, sig, pub := h.Get("X-Agent-ID"), h.Get("X-Timestamp"), h.Get("X-Signature"), h.Get("X-Public-Key")
	if id == "" || ts == "" || sig == "" || pub == "" {
		if h.Get("Authorization") == "" {
			c.err(401, "Missing authorization header")
		} else {
			c.err(401, "Invalid or expired token") // an API key is not a JWT
		}
		return false
	}
	c.rec.Signed, c.rec.Auth = true, "ed25519"
	// The middleware logs body[:200] and the key's first 20 characters.
	if len(c.body) > 0 && len(c.body) < 200 {
		c.routerErr(500, fmt.Sprintf("runtime error: slice bounds out of range [:200] with capacity %d", len(c.body)))
		return false
	}
	if len(pub) < 20 {
		c.routerErr(500, fmt.Sprintf("runtime error: slice bounds out of range [:20] with length %d", len(pub)))
		return false
	}
	if !uuidRE.MatchString(id) {
		c.err(401, "Invalid agent ID format")
		return false
	}
	n, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || s.Now().Sub(time.Unix(n, 0)).Abs() > 300*time.Second {
		c.err(401, "Request timestamp expired or invalid")
		return false
	}
	s.mu.Lock()
	a := s.agents[id]
	s.mu.Unlock()
	if a == nil {
		c.err(401, "Agent not found")
		return false
	}
	keyText := a.PublicKey
	if keyText == "" {
		keyText = pub
	}
	key, err1 := base64.StdEncoding.DecodeString(keyText)
	sigBytes, err2 := base64.StdEncoding.DecodeString(sig)
	msg := []byte(strings.ToUpper(c.r.Method) + "\n" + c.r.URL.Path + "\n" + ts)
	if len(c.body) > 0 {
		msg = append(append(msg, '\n'), c.body...)
	}
	if err1 != nil || err2 != nil || len(key) != ed25519.PublicKeySize || !ed25519.Verify(key, msg, sigBytes) {
		s.mu.Lock()
		s.badSigs++
		s.mu.Unlock()
		c.err(401, "Invalid signature")
		return false
	}
	c.agent = a
	return true
}

func (s *Server) register(c *ctx) {
	var in struct {
		Name          string `json:"name"`
		DisplayName   string `json:"display_name"`
		Description   string `json:"description"`
		AgentType     string `json:"agent_type"`
		Version       string `json:"version"`
		RepositoryURL string `json:"repository_url"`
		DocsURL       string `json:"documentation_url"`
	}
	if json.Unmarshal(c.body, &in) != nil {
		c.err(400, "Invalid request body")
		return
	}
	if in.Name == "" || in.DisplayName == "" || in.Description == "" {
		c.err(400, "name, display_name, and description are required")
		return
	}
	if in.AgentType != "ai_agent" && in.AgentType != "mcp_server" {
		c.err(400, "agent_type must be 'ai_agent' or 'mcp_server'")
		return
	}
	k := c.r.Header.Get("X-AIM-API-Key")
	c.rec.Auth = "x-aim-api-key"
	if k == "" {
		c.err(401, "X-AIM-API-Key header is required for agent registration")
		return
	}
	if len(k) < 10 {
		c.routerErr(500, fmt.Sprintf("runtime error: slice bounds out of range [:10] with length %d", len(k)))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key := s.keys[k]
	switch {
	case key == nil:
		c.err(401, "Invalid API key: invalid API key")
		return
	case key.expired:
		c.err(401, "Invalid API key: API key has expired")
		return
	}
	if s.find(in.Name, key.org) != nil {
		c.err(500, `Failed to create agent: ERROR: duplicate key value violates unique constraint "agents_organization_id_name_key" (SQLSTATE 23505)`)
		return
	}
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	score := 50
	if in.RepositoryURL != "" {
		score += 10
		if strings.Contains(in.RepositoryURL, "github.com") || strings.Contains(in.RepositoryURL, "gitlab.com") {
			score += 10
		}
	}
	if in.DocsURL != "" {
		score += 5
	}
	if in.Version != "" {
		score += 5
	}
	a := &Agent{ID: uuid.NewString(), Org: key.org, Name: in.Name, DisplayName: in.DisplayName, Description: in.Description,
		Type: in.AgentType, Status: "verified", Version: in.Version,
		PublicKey: base64.StdEncoding.EncodeToString(pub), Trust: 0.91}
	s.agents[a.ID] = a
	c.json(201, map[string]any{
		"agent_id": a.ID, "name": a.Name, "display_name": a.DisplayName,
		"public_key": a.PublicKey, "private_key": base64.StdEncoding.EncodeToString(priv),
		"aim_url": "http://" + c.r.Host, "status": a.Status, "trust_score": score,
		"message": "✅ Agent registered and auto-verified! Save the private key: it is shown once.",
	})
}

func (s *Server) agentJSON(a *Agent) map[string]any {
	caps := a.Capabilities
	if caps == nil {
		caps = []string{}
	}
	return map[string]any{
		"id": a.ID, "organization_id": a.Org, "name": a.Name, "display_name": a.DisplayName,
		"description": a.Description, "agent_type": a.Type, "status": a.Status, "version": a.Version,
		"public_key": a.PublicKey, "trust_score": a.Trust, "key_algorithm": "Ed25519",
		"talks_to": []string{}, "capabilities": caps, "capability_violation_count": 0, "is_compromised": a.Compromised,
	}
}

func (s *Server) lookup(c *ctx, ident string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var a *Agent
	if uuidRE.MatchString(ident) {
		a = s.agents[ident]
	} else {
		a = s.find(ident, c.org)
	}
	switch {
	case a == nil:
		c.err(404, "Agent not found")
	case a.Org != c.org:
		c.err(403, "Access denied: agent belongs to another organization")
	default:
		c.json(200, map[string]any{"success": true, "agent": s.agentJSON(a)})
	}
}

func (s *Server) capabilityRequest(c *ctx, id string) {
	var in struct {
		Type   string `json:"capability_type"`
		Reason string `json:"reason"`
	}
	if json.Unmarshal(c.body, &in) != nil {
		c.err(400, "Invalid request body")
		return
	}
	if in.Type == "" || len(in.Reason) < 10 {
		c.err(400, "capability_type and reason (at least 10 characters) are required")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.agents[id]
	if a == nil {
		c.err(404, "agent not found")
		return
	}
	s.capReqs = append(s.capReqs, CapabilityRequest{AgentID: id, Capability: in.Type, Reason: in.Reason, Status: "pending"})
	now := time.Now().UTC().Format(time.RFC3339)
	c.json(201, map[string]any{"id": uuid.NewString(), "agent_id": id, "capability_type": in.Type, "reason": in.Reason,
		"status": "pending", "requested_by": uuid.NewString(), "requested_at": now, "created_at": now, "updated_at": now})
}

func (s *Server) grantRoute(c *ctx, id string) {
	var in struct {
		Type string `json:"capabilityType"`
	}
	json.Unmarshal(c.body, &in)
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.agents[id]
	switch {
	case a == nil:
		c.err(404, "Agent not found")
	case slices.Contains(a.Capabilities, in.Type):
		c.err(500, "failed to grant capability: duplicate key value")
	default:
		a.Capabilities = append(a.Capabilities, in.Type)
		c.json(201, map[string]any{"id": uuid.NewString(), "agentId": id, "capabilityType": in.Type})
	}
}

// verifyAction is AIM's capability check.
func (s *Server) verifyAction(c *ctx, id string) {
	var in struct {
		ActionType string         `json:"action_type"`
		Resource   string         `json:"resource"`
		Metadata   map[string]any `json:"metadata"`
		Protocol   string         `json:"protocol"`
	}
	if json.Unmarshal(c.body, &in) != nil || in.ActionType == "" {
		c.err(400, "Invalid request body")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.agents[id] // quirk 9: not compared with X-Agent-ID
	if a == nil {
		c.err(404, "Agent not found")
		return
	}
	audit := uuid.NewString()
	s.audits[audit] = a.ID
	allowed := false
	var reason string
	switch {
	case a.Status != "verified":
		reason = "Agent not verified - all actions denied"
	case a.Compromised:
		reason = "Agent is marked as compromised - action denied"
	case len(a.Capabilities) == 0:
		reason = "Agent has no granted capabilities - action denied (admin must grant capabilities first)"
	default:
		for _, g := range a.Capabilities {
			if g == in.ActionType || strings.HasSuffix(g, "*") && strings.HasPrefix(in.ActionType, strings.TrimSuffix(g, "*")) {
				allowed = true
			}
		}
		reason = fmt.Sprintf("Capability violation blocked by security policy 'Capability Violation Detection': Agent does not have permission for action '%s' (allowed: %v)",
			in.ActionType, a.Capabilities)
	}
	ev := VerificationEvent{ID: audit, AgentID: a.ID, AgentName: a.Name, ActionType: in.ActionType, Protocol: "MCP",
		Status: "failed", Reason: reason, CreatedAt: s.Now().UTC().Format(time.RFC3339Nano)}
	if allowed {
		ev.Status, ev.Reason = "success", "Action matches registered capabilities"
		s.events = append(s.events, ev)
		c.json(200, map[string]any{"allowed": true, "audit_id": audit, "reason": ev.Reason})
		return
	}
	s.events = append(s.events, ev)
	c.json(403, map[string]any{"allowed": false, "audit_id": audit, "reason": reason})
}

func (s *Server) logAction(c *ctx, id, audit string) {
	if !uuidRE.MatchString(id) {
		c.err(400, "Invalid agent ID")
		return
	}
	if !uuidRE.MatchString(audit) {
		c.err(400, "Invalid audit ID")
		return
	}
	var body map[string]any
	d := json.NewDecoder(bytes.NewReader(c.body))
	d.UseNumber()
	d.Decode(&body)
	s.mu.Lock()
	s.logged = append(s.logged, Logged{AgentID: id, AuditID: audit, Body: body})
	s.mu.Unlock()
	c.json(200, map[string]any{"success": true})
}

func (s *Server) trustScore(c *ctx, id string) {
	s.mu.Lock()
	a := s.agents[id]
	s.mu.Unlock()
	switch {
	case !uuidRE.MatchString(id):
		c.err(400, "Invalid agent ID")
	case a == nil:
		c.err(404, "No trust score found")
	case a.Org != c.agent.Org:
		c.err(403, "Access denied")
	default:
		c.json(200, map[string]any{"agent_id": a.ID, "agent_name": a.Name, "score": 0.907,
			"factors": map[string]float64{"verification_status": 1, "uptime": 0.98, "success_rate": 0.95, "security_alerts": 1,
				"compliance": 1, "age": 0.3, "drift_detection": 1, "user_feedback": 0.75},
			"calculated_at": time.Now().UTC().Format(time.RFC3339Nano)})
	}
}
