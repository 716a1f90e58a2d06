package aimtest

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// The checks every route runs first: the rate limit, and the admin token,
// API key or agent signature it asks of its caller.

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
