package aimtest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// The routes aim-mcp uses, answered as AIM's backend answers them.

// ctx is one request being answered.
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
