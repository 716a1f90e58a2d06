package remote

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opena2a-org/aim-mcp/identity"
	"github.com/opena2a-org/aim-mcp/registry/remote/aimtest"
)

// newClient returns a client of the fake with fast retries; waits lists
// the waits between attempts instead of sleeping them.
func newClient(t *testing.T, aim *aimtest.Server, opt *Options) (*Client, *[]time.Duration) {
	t.Helper()
	if opt == nil {
		opt = &Options{APIKey: aim.APIKey, RetryAttempts: 3}
	}
	if opt.Backoff == 0 {
		opt.Backoff = time.Millisecond
	}
	c, err := New(aim.URL, opt)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	waits := &[]time.Duration{}
	c.sleep = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		*waits = append(*waits, d)
		mu.Unlock()
		return ctx.Err()
	}
	return c, waits
}

func newAIM(t *testing.T) *aimtest.Server {
	aim := aimtest.New()
	t.Cleanup(func() {
		aim.Close()
		if n := aim.BadSignatures(); n != 0 {
			t.Errorf("the fake AIM saw %d bad signatures", n)
		}
	})
	return aim
}

func enroll(t *testing.T, c *Client, keys identity.Store, name, known string) Enrolled {
	t.Helper()
	e, err := c.Enroll(context.Background(), keys, Enrollment{Name: name, Description: "MCP server " + name, AgentID: known})
	if err != nil {
		t.Fatalf("Enroll(%q): %v", name, err)
	}
	return e
}

func TestEnrollIsIdempotent(t *testing.T) {
	aim := newAIM(t)
	c, _ := newClient(t, aim, nil)
	keys := identity.Store{Dir: t.TempDir()}

	first := enroll(t, c, keys, "filesystem", "")
	if !first.Created || first.Status != "verified" {
		t.Fatalf("first Enroll = %+v, want a new verified agent", first)
	}
	// The registration answer's trust is 0–100; the client's is 0–1.
	if first.Trust <= 0 || first.Trust > 1 {
		t.Errorf("Trust = %v, want it on the 0–1 scale", first.Trust)
	}
	st, err := os.Stat(keys.Path(KeyName(first.AgentID)))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode = %04o, want 0600", st.Mode().Perm())
	}
	a, _ := aim.FindAgent("filesystem")
	if first.Key.PublicString() != a.PublicKey || a.Type != "mcp_server" {
		t.Errorf("stored agent %+v does not match the saved key", a)
	}

	byID := enroll(t, c, keys, "filesystem", first.AgentID)
	byName := enroll(t, c, keys, "filesystem", "")
	for _, e := range []Enrolled{byID, byName} {
		if e.Created || e.AgentID != first.AgentID || e.Key.PublicString() != first.Key.PublicString() {
			t.Errorf("Enroll again = %+v, want the first agent, found", e)
		}
	}
	if n := len(aim.Agents()); n != 1 {
		t.Errorf("AIM has %d agents, want 1", n)
	}

	// An agent deleted in AIM (or a new AIM) is registered anew.
	again := enroll(t, c, keys, "memory", "11111111-2222-4333-8444-555555555555")
	if !again.Created {
		t.Errorf("Enroll with an unknown id = %+v, want a new agent", again)
	}
}

func TestEnrollNameTakenElsewhere(t *testing.T) {
	aim := newAIM(t)
	c, _ := newClient(t, aim, nil)
	other := aim.AddAgent(aimtest.DefaultOrg, "github")
	keys := identity.Store{Dir: t.TempDir()}
	_, err := c.Enroll(context.Background(), keys, Enrollment{Name: "github", Description: "x"})
	var ku *KeyUnknownError
	if !errors.As(err, &ku) || ku.AgentID != other.ID {
		t.Fatalf("Enroll = %v, want a KeyUnknownError for %s", err, other.ID)
	}
	if !strings.Contains(ku.Hint(), keys.Path(KeyName(other.ID))) {
		t.Errorf("hint %q does not say where the key goes", ku.Hint())
	}
}

func TestVerifyAction(t *testing.T) {
	aim := newAIM(t)
	c, _ := newClient(t, aim, nil)
	keys := identity.Store{Dir: t.TempDir()}
	e := enroll(t, c, keys, "filesystem", "")
	ctx := context.Background()
	act := Action{Type: Capability("read_file"), Resource: "read_file", Metadata: map[string]any{"server": "filesystem"}}

	_, err := c.VerifyAction(ctx, e.Identity(), act)
	var ve *VerificationError
	if !errors.As(err, &ve) || !strings.Contains(ve.Reason, "no granted capabilities") || ve.AuditID == "" {
		t.Fatalf("VerifyAction before any grant = %v, want AIM's denial with its reason", err)
	}
	if Unavailable(err) {
		t.Errorf("Unavailable(%v) = true for a denial", err)
	}

	aim.Grant("filesystem", "mcp_tool:list_directory")
	_, err = c.VerifyAction(ctx, e.Identity(), act)
	if !errors.As(err, &ve) || !strings.Contains(ve.Reason, "Agent does not have permission for action 'mcp_tool:read_file'") {
		t.Fatalf("VerifyAction of an ungranted tool = %v, want a capability violation", err)
	}

	aim.Grant("filesystem", "mcp_tool:read_*")
	d, err := c.VerifyAction(ctx, e.Identity(), act)
	if err != nil || d.AuditID == "" {
		t.Fatalf("VerifyAction after the grant = %v, %v; want allowed with an audit id", d, err)
	}
	if err := c.LogAction(ctx, e.Identity(), d.AuditID, Result{Success: true, Detail: map[string]any{"status": "success"}}); err != nil {
		t.Fatalf("LogAction: %v", err)
	}
	logged := aim.Logged()
	if len(logged) != 1 || logged[0].AuditID != d.AuditID || logged[0].Body["success"] != true {
		t.Errorf("AIM logged %+v", logged)
	}
	// Every signed body reached AIM's 200-byte minimum, signed over its exact bytes.
	for _, r := range aim.Requests() {
		if r.Signed && r.BodyLen > 0 && r.BodyLen < minSignedBody {
			t.Errorf("%s %s: signed body of %d bytes", r.Method, r.Path, r.BodyLen)
		}
		if r.Signed && r.AgentHeader != e.AgentID {
			t.Errorf("%s %s: X-Agent-ID %q", r.Method, r.Path, r.AgentHeader)
		}
	}
}

func TestSignedBytes(t *testing.T) {
	got := string(SignedBytes("post", "/api/v1/agents/x/verify-action", "1700000000", []byte(`{"a":1}`)))
	want := "POST\n/api/v1/agents/x/verify-action\n1700000000\n{\"a\":1}"
	if got != want {
		t.Errorf("SignedBytes = %q, want %q", got, want)
	}
	if got := string(SignedBytes("GET", "/p", "1", nil)); got != "GET\n/p\n1" {
		t.Errorf("SignedBytes without body = %q", got)
	}
}

func TestWrongKeyIsRefused(t *testing.T) {
	aim := newAIM(t)
	c, waits := newClient(t, aim, nil)
	e := enroll(t, c, identity.Store{Dir: t.TempDir()}, "filesystem", "")
	other, _ := identity.Generate()
	_, err := c.VerifyAction(context.Background(), Identity{AgentID: e.AgentID, Key: other}, Action{Type: "mcp_tool:x", Resource: "x"})
	var ae *AuthenticationError
	if !errors.As(err, &ae) || ae.Status != 401 || ae.Message != "Invalid signature" || ae.Credential != credAgentKey {
		t.Fatalf("VerifyAction with another key = %v, want a 401 Invalid signature", err)
	}
	if len(*waits) != 0 {
		t.Errorf("a 401 was retried %d times", len(*waits))
	}
	if aim.BadSignatures() != 1 {
		t.Errorf("the fake saw %d bad signatures, want 1", aim.BadSignatures())
	}
	// The fake was right to refuse: clear its count for the cleanup check.
	aim.ResetBadSignatures()
}

func TestShortSignedBodyQuirk(t *testing.T) {
	aim := newAIM(t)
	c, waits := newClient(t, aim, nil)
	e := enroll(t, c, identity.Store{Dir: t.TempDir()}, "filesystem", "")
	// A signed request under 200 bytes, as a naive client would send it.
	err := c.do(context.Background(), request{method: "POST", path: "/api/v1/agents/" + e.AgentID + "/verify-action",
		body: []byte(`{"action_type":"mcp_tool:x"}`), auth: authSigned, id: e.Identity(), replayable: true}, nil)
	var se *StatusError
	if !errors.As(err, &se) || se.Status != 500 || !strings.Contains(se.Message, "slice bounds out of range") {
		t.Fatalf("short signed body = %v, want AIM's 500 with the router's message (a boolean \"error\")", err)
	}
	if len(*waits) != 3 {
		t.Errorf("a 500 was retried %d times, want 3", len(*waits))
	}
	// padded reaches the minimum whatever the payload.
	for _, md := range []map[string]any{nil, {"k": strings.Repeat("x", 150)}, {"k": strings.Repeat("x", 500)}} {
		b := padded(func(pad string) any {
			m := map[string]any{"a": md}
			if pad != "" {
				m["padding"] = pad
			}
			return m
		})
		if len(b) < minSignedBody {
			t.Errorf("padded body of %d bytes", len(b))
		}
	}
}

func TestRetries(t *testing.T) {
	aim := newAIM(t)
	ctx := context.Background()

	t.Run("5xx then success", func(t *testing.T) {
		c, waits := newClient(t, aim, nil)
		aim.FailNext(2, http.StatusBadGateway, "")
		if err := c.Health(ctx); err != nil {
			t.Fatalf("Health after two 502s = %v", err)
		}
		if len(*waits) != 2 {
			t.Errorf("waited %d times, want 2", len(*waits))
		}
	})
	t.Run("5xx exhausts the attempts", func(t *testing.T) {
		c, waits := newClient(t, aim, &Options{APIKey: aim.APIKey, RetryAttempts: 2})
		aim.FailNext(5, http.StatusServiceUnavailable, "")
		err := c.Health(ctx)
		var se *StatusError
		if !errors.As(err, &se) || se.Status != 503 || !Unavailable(err) {
			t.Fatalf("Health = %v, want a 503 StatusError", err)
		}
		if len(*waits) != 2 {
			t.Errorf("waited %d times, want 2", len(*waits))
		}
		aim.FailNext(0, 0, "")
		for c.Health(ctx) != nil { // drain the faults left
		}
	})
	t.Run("429 honours Retry-After", func(t *testing.T) {
		c, waits := newClient(t, aim, nil)
		aim.FailNext(1, http.StatusTooManyRequests, "7")
		if err := c.Health(ctx); err != nil {
			t.Fatalf("Health after a 429 = %v", err)
		}
		if len(*waits) != 1 || (*waits)[0] != 7*time.Second {
			t.Errorf("waits = %v, want [7s]", *waits)
		}
	})
	t.Run("429 beyond the budget", func(t *testing.T) {
		c, waits := newClient(t, aim, nil)
		aim.FailNext(1, http.StatusTooManyRequests, "120")
		bctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		err := c.Health(bctx)
		var rl *RateLimitError
		if !errors.As(err, &rl) || rl.RetryAfter != 2*time.Minute {
			t.Fatalf("Health = %v, want a RateLimitError of 2m", err)
		}
		if len(*waits) != 0 {
			t.Errorf("waited %v past the budget", *waits)
		}
	})
	t.Run("4xx is not retried", func(t *testing.T) {
		c, waits := newClient(t, aim, &Options{APIKey: "aim_live_wrong", RetryAttempts: 3})
		_, err := c.Agent(ctx, "filesystem")
		var ae *AuthenticationError
		if !errors.As(err, &ae) || ae.Status != 401 || ae.Message != "Invalid API key" {
			t.Fatalf("Agent with a bad key = %v, want a 401", err)
		}
		if !strings.Contains(ae.Hint(), "API key") || strings.Contains(err.Error(), "aim_live_wrong") {
			t.Errorf("error %q / hint %q", err, ae.Hint())
		}
		if len(*waits) != 0 {
			t.Errorf("a 401 was retried")
		}
	})
	t.Run("registration is not replayed after a 500", func(t *testing.T) {
		c, waits := newClient(t, aim, nil)
		aim.FailNext(1, http.StatusInternalServerError, "")
		_, err := c.Register(ctx, Registration{Name: "x", DisplayName: "x", Description: "x"})
		if err == nil || len(*waits) != 0 {
			t.Errorf("Register after a 500 = %v with %d retries, want the error and none", err, len(*waits))
		}
	})
}

func TestTimeout(t *testing.T) {
	aim := newAIM(t)
	c, waits := newClient(t, aim, &Options{Timeout: 30 * time.Millisecond, RetryAttempts: 1})
	aim.SetDelay(time.Second)
	defer aim.SetDelay(0)
	err := c.Health(context.Background())
	var te *TimeoutError
	if !errors.As(err, &te) || te.Timeout != 30*time.Millisecond || !Unavailable(err) {
		t.Fatalf("Health = %v, want a TimeoutError of 30ms", err)
	}
	if len(*waits) != 1 {
		t.Errorf("waited %d times, want 1", len(*waits))
	}
	// A caller's budget that runs out is a timeout too.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	c2, _ := newClient(t, aim, &Options{RetryAttempts: 0})
	if err := c2.Health(ctx); !errors.As(err, &te) {
		t.Errorf("Health past the budget = %v, want a TimeoutError", err)
	}
}

func TestConnectionErrors(t *testing.T) {
	aim := newAIM(t)
	c, waits := newClient(t, aim, nil)
	aim.SetDown(true)
	err := c.Health(context.Background())
	var ce *ConnectionError
	if !errors.As(err, &ce) || !Unavailable(err) {
		t.Fatalf("Health of a server that drops connections = %v, want a ConnectionError", err)
	}
	if len(*waits) != 3 {
		t.Errorf("waited %d times, want 3", len(*waits))
	}
	if !strings.Contains(ce.Hint(), aim.URL+"/health") {
		t.Errorf("hint %q", ce.Hint())
	}

	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c2, err := New(url, &Options{RetryAttempts: 0})
	if err != nil {
		t.Fatal(err)
	}
	if err := c2.Health(context.Background()); !errors.As(err, &ce) || !strings.Contains(err.Error(), "refused") {
		t.Errorf("Health of a closed port = %v, want connection refused", err)
	}
}

func TestAnswerShapes(t *testing.T) {
	aim := newAIM(t)
	c, _ := newClient(t, aim, nil)
	ctx := context.Background()
	// The router's 404 has a boolean "error".
	err := c.do(ctx, request{method: "GET", path: "/api/v1/nowhere", replayable: true}, &struct{}{})
	var se *StatusError
	if !errors.As(err, &se) || se.Status != 404 || se.Message != "Cannot GET /api/v1/nowhere" || !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown route = %v", err)
	}
	// An agent of another organisation is a 403 that is no denial.
	other := aim.AddAgent("b0000000-0000-0000-0000-000000000002", "theirs")
	_, err = c.Agent(ctx, other.ID)
	var ae *AuthenticationError
	if !errors.As(err, &ae) || ae.Status != 403 || !strings.Contains(ae.Hint(), "organisation") {
		t.Errorf("another organisation's agent = %v, want a 403 AuthenticationError", err)
	}
	// A 2xx that is not JSON is not AIM.
	html := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte("<html>"))
	}))
	defer html.Close()
	hc, _ := New(html.URL, &Options{APIKey: "k"})
	if _, err := hc.Agent(ctx, "x"); !errors.As(err, &se) || !strings.Contains(se.Message, "not JSON") {
		t.Errorf("HTML answer = %v", err)
	}
}

func TestTrustScore(t *testing.T) {
	aim := newAIM(t)
	c, _ := newClient(t, aim, nil)
	e := enroll(t, c, identity.Store{Dir: t.TempDir()}, "filesystem", "")
	tr, err := c.TrustScore(context.Background(), e.Identity())
	if err != nil || tr.Score != 0.907 || tr.Source != "trust-score" || tr.Factors["uptime"] != 0.98 {
		t.Fatalf("TrustScore = %+v, %v", tr, err)
	}
}

func TestDebugLogHasNoSecrets(t *testing.T) {
	aim := newAIM(t)
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, _ := newClient(t, aim, &Options{APIKey: aim.APIKey, RetryAttempts: 1, Logger: log})
	keys := identity.Store{Dir: t.TempDir()}
	e := enroll(t, c, keys, "filesystem", "")
	aim.FailNext(1, 503, "")
	c.VerifyAction(context.Background(), e.Identity(), Action{Type: "mcp_tool:x", Resource: "x"})
	out := buf.String()
	if !strings.Contains(out, "path=/api/v1/public/agents/register status=201") || !strings.Contains(out, "status=503") {
		t.Errorf("debug log lacks requests and statuses:\n%s", out)
	}
	seed, _ := os.ReadFile(keys.Path(KeyName(e.AgentID)))
	sigs := []string{}
	for _, r := range aim.Requests() {
		if s := r.Header.Get("X-Signature"); s != "" {
			sigs = append(sigs, s)
		}
	}
	for _, secret := range append(sigs, aim.APIKey, strings.TrimSpace(string(seed))) {
		if strings.Contains(out, secret) {
			t.Errorf("debug log contains a secret")
		}
	}
}

func TestParseURLAndAgentName(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"http://localhost:8080", "http://localhost:8080"},
		{"https://aim.example.com/", "https://aim.example.com"},
		{"https://example.com/aim/", "https://example.com/aim"},
		{"localhost:8080", ""},
		{"ftp://x", ""},
		{"http://u:p@x", ""},
		{"http://x?y=1", ""},
	} {
		u, err := ParseURL(tt.in)
		got := ""
		if err == nil {
			got = u.String()
		}
		if got != tt.want {
			t.Errorf("ParseURL(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, tt := range []struct{ in, want string }{
		{"filesystem", "filesystem"},
		{"my server/Łódź", "my-server-d"},
		{"a  b", "a-b"},
		{"ąę", "mcp-server"},
		{"x.y_z-1", "x.y_z-1"},
	} {
		if got := AgentName(tt.in); got != tt.want {
			t.Errorf("AgentName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
