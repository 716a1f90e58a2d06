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
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
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
