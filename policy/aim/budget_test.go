package aim

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opena2a-org/aim-mcp/config"
	"github.com/opena2a-org/aim-mcp/identity"
	"github.com/opena2a-org/aim-mcp/registry"
	"github.com/opena2a-org/aim-mcp/registry/remote"
)

// TestRefusalKinds: each way AIM keeps a call from running reads
// differently and says what to do.
func TestRefusalKinds(t *testing.T) {
	for _, tt := range []struct {
		name     string
		setup    func(he *hookEnv)
		kind     Refusal
		decision string
		reason   string // in the reason
		next     string // in what to do next
	}{
		{"not granted", func(he *hookEnv) { he.aim.Grant("filesystem", "mcp_tool:read_file") }, NotGranted, "deny",
			`the capability "mcp_tool:write_file" is not granted`, `"mcp_tool:*" for every tool`},
		{"suspended", func(he *hookEnv) { he.aim.SetStatus("filesystem", "suspended") }, NotVerified, "deny",
			"Agent not verified - all actions denied", "suspended or not verified"},
		{"unreachable", func(he *hookEnv) { he.aim.SetDown(true) }, Unreachable, "fail_closed",
			"AIM is down or unreachable", "aim-mcp status"},
		{"rate limited", func(he *hookEnv) { he.aim.FailNext(1, 429, "30") }, RateLimited, "fail_closed",
			"AIM's rate limit was hit", "aim_verify_ttl"},
		{"rotated key", func(he *hookEnv) { he.aim.RotateKey("filesystem") }, Credentials, "fail_closed",
			"Invalid signature", "To fix it"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			he := newHookEnv(t)
			tt.setup(he)
			h := he.hook(t, config.Defaults())
			_, v := h.Before(context.Background(), call("write_file"))
			if v == nil || v.Allow {
				t.Fatalf("Before = %+v, want a refusal", v)
			}
			if Refusal(fmt.Sprint(v.Data["aim_refusal"])) != tt.kind || string(v.Decision) != tt.decision ||
				!strings.Contains(v.Reason, tt.reason) || !strings.Contains(v.Next, tt.next) {
				t.Errorf("Before = %s %q / %q (%v), want %s %q / %q (%s)", v.Decision, v.Reason, v.Next, v.Data["aim_refusal"],
					tt.decision, tt.reason, tt.next, tt.kind)
			}
			he.aim.ResetBadSignatures()
		})
	}
}

// TestBudget is a busy machine against AIM's real limit (100 requests per
// window and client address on the agent routes): 4 proxies, two of each
// of two servers (two sessions of a client), sharing the home's registry, make 600 calls each over
// several windows. The window is short to keep the test fast; the TTL is
// one window, as 60 s is one minute. No call may be refused for the rate
// limit, and AIM is asked at most once per proxy, tool and TTL.
func TestBudget(t *testing.T) {
	const (
		proxies = 4
		calls   = 600
		window  = time.Second
	)
	tools := []string{"read_file", "write_file", "list_directory"}
	aim := newAIM(t)
	aim.SetRateLimit(100, window)
	ctx := context.Background()
	db, err := registry.Open(ctx, filepath.Join(t.TempDir(), "aim.db"), registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cfg := config.Defaults()
	cfg.AIMVerifyTTL = window

	var wg sync.WaitGroup
	refused := make([]string, proxies)
	start := time.Now()
	agents := map[string]remote.Enrolled{}
	keys := identity.Store{Dir: t.TempDir()}
	for p := range proxies {
		name := fmt.Sprintf("server-%d", p%2)
		c := newClient(t, aim, &remote.Options{APIKey: aim.APIKey, RetryAttempts: 1})
		agent, ok := agents[name]
		if !ok {
			agent = enroll(t, c, keys, name)
			agents[name] = agent
			aim.Grant(name, "mcp_tool:*")
		}
		h := NewHook(HookOptions{Client: c, Server: registry.Server{Name: name}, DB: db, Config: cfg,
			Agent: func(context.Context) (remote.Identity, error) { return agent.Identity(), nil }})
		defer h.Close(time.Second)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range calls {
				if _, v := h.Before(ctx, call(tools[i%len(tools)])); v != nil {
					refused[p] = fmt.Sprintf("call %d: %s: %s", i, v.Decision, v.Reason)
					return
				}
				time.Sleep(window / 200) // the 600 calls span three windows or more
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	for p, r := range refused {
		if r != "" {
			t.Errorf("proxy %d: %s", p, r)
		}
	}
	if n := aim.RateLimited(); n != 0 {
		t.Errorf("AIM answered 429 %d times", n)
	}
	verifies := 0
	for _, r := range aim.Requests() {
		if strings.HasSuffix(r.Path, "/verify-action") {
			verifies++
		}
	}
	windows := int(elapsed/window) + 1
	if budget := proxies * len(tools) * (windows + 1); verifies > budget {
		t.Errorf("%d verify-action requests over %d windows for %d calls; the budget is %d", verifies, windows, proxies*calls, budget)
	}
	t.Logf("%d calls, %d verify-action requests, %d windows of %s", proxies*calls, verifies, windows, window)
}
