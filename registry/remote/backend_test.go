package remote

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/opena2a-org/aim-mcp/identity"
)

// The behaviours of a real AIM backend that the client meets, as the test
// double reproduces them.

func TestCapabilityMatch(t *testing.T) {
	for _, tt := range []struct {
		grant, action string
		allowed       bool
	}{
		{"mcp_tool:read_file", "mcp_tool:read_file", true},
		{"mcp_tool:*", "mcp_tool:read_file", true},
		{"mcp_tool:read_*", "mcp_tool:read_file", true},
		{"read_file", "mcp_tool:read_file", false},
		{"mcp_tool:read", "mcp_tool:read_file", false},
		{"mcp_tool:read_file*x", "mcp_tool:read_file", false},
	} {
		t.Run(tt.grant+" "+tt.action, func(t *testing.T) {
			aim := newAIM(t)
			c, _ := newClient(t, aim, nil)
			e := enroll(t, c, identity.Store{Dir: t.TempDir()}, "filesystem", "")
			aim.Grant("filesystem", tt.grant)
			_, err := c.VerifyAction(context.Background(), e.Identity(), Action{Type: tt.action, Resource: "read_file"})
			if (err == nil) != tt.allowed {
				t.Errorf("grant %q, VerifyAction(%q) = %v, want allowed %v", tt.grant, tt.action, err, tt.allowed)
			}
		})
	}
}

func TestRateLimitFixedWindow(t *testing.T) {
	aim := newAIM(t)
	aim.SetRateLimit(5, time.Hour)
	c, _ := newClient(t, aim, &Options{APIKey: aim.APIKey, RetryAttempts: 0})
	e := enroll(t, c, identity.Store{Dir: t.TempDir()}, "filesystem", "")
	aim.Grant("filesystem", "mcp_tool:*")
	ctx := context.Background()
	for i := range 5 {
		if _, err := c.VerifyAction(ctx, e.Identity(), Action{Type: "mcp_tool:x", Resource: "x"}); err != nil {
			t.Fatalf("call %d: %v", i+1, err)
		}
	}
	_, err := c.VerifyAction(ctx, e.Identity(), Action{Type: "mcp_tool:x", Resource: "x"})
	var rl *RateLimitError
	if !errors.As(err, &rl) || rl.RetryAfter < 59*time.Minute || rl.RetryAfter > time.Hour {
		t.Fatalf("6th call = %v, want a 429 asking to wait the rest of the window", err)
	}
	// The sdk-api group has a window of its own: the lookup (one made by
	// enroll) still answers.
	if _, err := c.Agent(ctx, e.AgentID); err != nil {
		t.Errorf("Agent after the agents group is spent = %v", err)
	}
	// A new window lets calls through again.
	aim.SetRateLimit(5, time.Hour)
	if _, err := c.VerifyAction(ctx, e.Identity(), Action{Type: "mcp_tool:x", Resource: "x"}); err != nil {
		t.Errorf("in a new window: %v", err)
	}
}

func TestLogActionStoresNothingEventsListDecisions(t *testing.T) {
	aim := newAIM(t)
	c, _ := newClient(t, aim, nil)
	e := enroll(t, c, identity.Store{Dir: t.TempDir()}, "filesystem", "")
	aim.Grant("filesystem", "mcp_tool:read_file")
	ctx := context.Background()
	d, err := c.VerifyAction(ctx, e.Identity(), Action{Type: "mcp_tool:read_file", Resource: "read_file"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.LogAction(ctx, e.Identity(), d.AuditID, Result{Success: true}); err != nil {
		t.Fatal(err)
	}
	c.VerifyAction(ctx, e.Identity(), Action{Type: "mcp_tool:write_file", Resource: "write_file"})

	get := func(token string) (int, []byte) {
		req, _ := http.NewRequest("GET", aim.URL+"/api/v1/verification-events", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b json.RawMessage
		json.NewDecoder(resp.Body).Decode(&b)
		return resp.StatusCode, b
	}
	if st, _ := get(aim.APIKey); st != 401 {
		t.Errorf("verification-events with an API key: HTTP %d, want 401 (admin only)", st)
	}
	st, body := get(aim.AdminToken)
	var out struct {
		Events []struct{ ActionType, Status string } `json:"events"`
	}
	json.Unmarshal(body, &out)
	if st != 200 || len(out.Events) != 2 || out.Events[0].Status != "success" || out.Events[1].Status != "failed" {
		t.Errorf("verification-events = %d %s, want the two decisions and nothing of log-action", st, body)
	}
}

func TestRotatedAndSuspendedAgents(t *testing.T) {
	aim := newAIM(t)
	c, _ := newClient(t, aim, &Options{APIKey: aim.APIKey, RetryAttempts: 0})
	keys := identity.Store{Dir: t.TempDir()}
	e := enroll(t, c, keys, "filesystem", "")
	aim.Grant("filesystem", "mcp_tool:*")
	ctx := context.Background()
	aim.SetStatus("filesystem", "suspended")
	_, err := c.VerifyAction(ctx, e.Identity(), Action{Type: "mcp_tool:x", Resource: "x"})
	var ve *VerificationError
	if !errors.As(err, &ve) || ve.Reason != "Agent not verified - all actions denied" {
		t.Errorf("a suspended agent's call = %v", err)
	}
	aim.SetStatus("filesystem", "verified")
	if _, err := aim.RotateKey("filesystem"); err != nil {
		t.Fatal(err)
	}
	_, err = c.VerifyAction(ctx, e.Identity(), Action{Type: "mcp_tool:x", Resource: "x"})
	var ae *AuthenticationError
	if !errors.As(err, &ae) || ae.Status != 401 || ae.Message != "Invalid signature" {
		t.Errorf("after a rotation in AIM, the old key's call = %v, want 401 Invalid signature", err)
	}
	// Enrolling again names the mismatch instead of registering anew.
	_, err = c.Enroll(ctx, keys, Enrollment{Name: "filesystem", Description: "x", AgentID: e.AgentID, Alternates: true})
	var km *KeyMismatchError
	if !errors.As(err, &km) || km.AgentID != e.AgentID || !strings.Contains(km.Hint(), "aim-mcp keys rotate") {
		t.Errorf("Enroll after a rotation in AIM = %v, want a KeyMismatchError", err)
	}
	aim.ResetBadSignatures()
}

func TestShortAPIKey(t *testing.T) {
	aim := newAIM(t)
	c, _ := newClient(t, aim, &Options{APIKey: "short", RetryAttempts: 0})
	_, err := c.Agent(context.Background(), "filesystem")
	var se *StatusError
	if !errors.As(err, &se) || se.Status != 500 || !strings.Contains(se.Message, "slice bounds") {
		t.Errorf("an API key under 10 characters = %v, want AIM's 500", err)
	}
}

func TestIdentify(t *testing.T) {
	aim := newAIM(t)
	c, _ := newClient(t, aim, nil)
	if err := c.Identify(context.Background()); err != nil {
		t.Errorf("Identify(AIM) = %v", err)
	}
	for _, h := range []http.Handler{
		http.NotFoundHandler(),
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<html>ok</html>")) }),
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"status":"ok"}`))
		}),
	} {
		srv := httptest.NewServer(h)
		c, _ := newClient(t, aim, nil)
		c.base, _ = ParseURL(srv.URL)
		var na *NotAIMError
		if err := c.Identify(context.Background()); !errors.As(err, &na) || !strings.Contains(err.Error(), "does not look like an AIM server") {
			t.Errorf("Identify(not AIM) = %v, want a NotAIMError", err)
		}
		srv.Close()
	}
}
