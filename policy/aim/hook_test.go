package aim

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opena2a-org/aim-mcp/audit"
	"github.com/opena2a-org/aim-mcp/config"
	"github.com/opena2a-org/aim-mcp/identity"
	"github.com/opena2a-org/aim-mcp/mcpproxy"
	"github.com/opena2a-org/aim-mcp/policy"
	"github.com/opena2a-org/aim-mcp/registry"
	"github.com/opena2a-org/aim-mcp/registry/remote"
	"github.com/opena2a-org/aim-mcp/registry/remote/aimtest"
)

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

func newClient(t *testing.T, aim *aimtest.Server, opt *remote.Options) *remote.Client {
	t.Helper()
	opt.Backoff = time.Millisecond
	c, err := remote.New(aim.URL, opt)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func enroll(t *testing.T, c *remote.Client, keys identity.Store, name string) remote.Enrolled {
	t.Helper()
	e, err := c.Enroll(context.Background(), keys, remote.Enrollment{Name: name, Description: "MCP server " + name})
	if err != nil {
		t.Fatalf("Enroll(%q): %v", name, err)
	}
	return e
}

type hookEnv struct {
	aim   *aimtest.Server
	c     *remote.Client
	agent remote.Enrolled
	reqs  *RequestLog
}

func newHookEnv(t *testing.T) *hookEnv {
	aim := newAIM(t)
	c := newClient(t, aim, &remote.Options{APIKey: aim.APIKey, RetryAttempts: 1})
	dir := t.TempDir()
	e := enroll(t, c, identity.Store{Dir: dir}, "filesystem")
	return &hookEnv{aim: aim, c: c, agent: e, reqs: &RequestLog{Path: filepath.Join(dir, "aim-requested.json")}}
}

func (he *hookEnv) hook(t *testing.T, cfg config.Config) *Hook {
	h := NewHook(HookOptions{
		Client: he.c, Server: registry.Server{ID: "local-id", Client: "claude-desktop", Name: "filesystem"},
		Agent:  func(context.Context) (remote.Identity, error) { return he.agent.Identity(), nil },
		Config: cfg, CallTimeout: time.Second, Requests: he.reqs,
	})
	t.Cleanup(func() { h.Close(time.Second) })
	return h
}

func call(tool string) *mcpproxy.Call {
	return &mcpproxy.Call{ID: json.RawMessage(`1`), Tool: tool, Args: json.RawMessage(`{"path":"/tmp/x"}`), ArgsDigest: "d1"}
}

func TestHookDenialCarriesAIMReason(t *testing.T) {
	he := newHookEnv(t)
	h := he.hook(t, config.Defaults())
	req, v := h.Before(context.Background(), call("write_file"))
	if req != "" || v == nil || v.Allow {
		t.Fatalf("Before = %q, %+v; want a denial", req, v)
	}
	if v.Decision != "deny" || v.Source != "AIM" || !strings.Contains(v.Reason, `AIM denied it: the capability "mcp_tool:write_file" is not granted (Agent has no granted capabilities`) ||
		!strings.Contains(v.Next, `"mcp_tool:write_file", or "mcp_tool:*" for every tool`) || v.Data["aim_audit_id"] == "" {
		t.Errorf("verdict = %+v", v)
	}
	h.Close(time.Second)
	reqs := he.aim.CapabilityRequests()
	if len(reqs) != 1 || reqs[0].Capability != "mcp_tool:write_file" || reqs[0].AgentID != he.agent.AgentID {
		t.Errorf("capability requests = %+v, want mcp_tool:write_file", reqs)
	}
}

func TestHookAllowLetsLocalPolicyDecideAndLogsOutcome(t *testing.T) {
	he := newHookEnv(t)
	he.aim.Grant("filesystem", "mcp_tool:*")
	cfg := config.Defaults()
	cfg.AIMLogOutcomes = true
	h := he.hook(t, cfg)
	c := call("read_file")
	req, v := h.Before(context.Background(), c)
	if req != "" || v != nil {
		t.Fatalf("Before = %q, %+v; want no say (AIM allows, the local policy decides)", req, v)
	}
	h.Outcome(context.Background(), c, mcpproxy.Outcome{Status: "success", Duration: 3 * time.Millisecond, Size: 42, Digest: "abc"})
	h.Outcome(context.Background(), c, mcpproxy.Outcome{Status: "success"}) // a second outcome has no audit id left
	h.Close(time.Second)
	logged := he.aim.Logged()
	if len(logged) != 1 {
		t.Fatalf("AIM logged %d outcomes, want 1", len(logged))
	}
	res, _ := logged[0].Body["result"].(map[string]any)
	if logged[0].Body["success"] != true || res["status"] != "success" || res["tool"] != "read_file" {
		t.Errorf("logged %+v", logged[0].Body)
	}
	var verifies []aimtest.Request
	for _, r := range he.aim.Requests() {
		if strings.HasSuffix(r.Path, "/verify-action") {
			verifies = append(verifies, r)
		}
	}
	if len(verifies) != 1 || strings.Contains(string(verifies[0].Body), "/tmp/x") {
		t.Errorf("verify-action requests %d; arguments must not be sent, only their digest", len(verifies))
	}
}

func TestHookFailMode(t *testing.T) {
	open := config.Defaults()
	open.FailMode = "open"
	for _, tt := range []struct {
		name     string
		cfg      config.Config
		tool     string
		decision string // "" means no say: the local policy decides
	}{
		{"closed low", config.Defaults(), "read_file", "fail_closed"},
		{"open low", open, "read_file", ""},
		{"open high", open, "delete_file", "fail_closed"},
		{"open medium that needs approval", func() config.Config {
			c := open
			c.Actions = map[string]audit.Action{"low": "allow", "medium": "approve", "high": "approve", "critical": "approve"}
			return c
		}(), "frobnicate", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			he := newHookEnv(t)
			h := he.hook(t, tt.cfg)
			he.aim.SetDown(true)
			_, v := h.Before(context.Background(), call(tt.tool))
			switch {
			case tt.decision == "" && v != nil:
				t.Fatalf("Before = %+v, want no say", v)
			case tt.decision == "":
				return
			case v == nil || string(v.Decision) != tt.decision:
				t.Fatalf("Before = %+v, want %s", v, tt.decision)
			}
			if !v.Allow && (!strings.Contains(v.Reason, "AIM is down or unreachable (cannot connect to AIM at "+he.aim.URL) || !strings.Contains(v.Next, "aim-mcp status")) {
				t.Errorf("reason %q, next %q", v.Reason, v.Next)
			}
		})
	}
}

func TestHookProbesAfterAIMReturns(t *testing.T) {
	he := newHookEnv(t)
	he.aim.Grant("filesystem", "mcp_tool:*")
	cfg := config.Defaults()
	cfg.AIMVerifyTTL = 0 // every call asks AIM
	h := he.hook(t, cfg)
	he.aim.SetDown(true)
	if _, v := h.Before(context.Background(), call("read_file")); v == nil || v.Decision != "fail_closed" ||
		!strings.Contains(v.Reason, "AIM is down or unreachable") || strings.Contains(v.Reason, "registry") {
		t.Fatalf("Before with AIM down = %+v", v)
	}
	he.aim.SetDown(false)
	// No cooldown to wait out: the next call finds AIM back.
	if _, v := h.Before(context.Background(), call("read_file")); v != nil {
		t.Fatalf("Before after AIM came back = %+v, want AIM's allowance", v)
	}
}

func TestHookTimeout(t *testing.T) {
	he := newHookEnv(t)
	h := NewHook(HookOptions{Client: he.c, Server: registry.Server{Name: "filesystem"},
		Agent:  func(context.Context) (remote.Identity, error) { return he.agent.Identity(), nil },
		Config: config.Defaults(), CallTimeout: 50 * time.Millisecond})
	defer h.Close(time.Second)
	he.aim.SetDelay(time.Second)
	defer he.aim.SetDelay(0)
	start := time.Now()
	_, v := h.Before(context.Background(), call("read_file"))
	if time.Since(start) > 500*time.Millisecond {
		t.Errorf("Before took %s with a 50ms budget", time.Since(start))
	}
	if v == nil || v.Decision != "fail_closed" || !strings.Contains(v.Reason, "did not answer within 50ms") {
		t.Errorf("Before = %+v", v)
	}
}

func TestHookRequestsOnlyTheRefusedTool(t *testing.T) {
	he := newHookEnv(t)
	he.aim.Grant("filesystem", "mcp_tool:read_file")
	list := json.RawMessage(`{"tools":[{"name":"read_file"},{"name":"write_file","annotations":{"destructiveHint":true}},{"name":"list_directory"}]}`)
	h := he.hook(t, config.Defaults())
	h.Before(context.Background(), call("write_file"))
	h.Before(context.Background(), call("write_file"))
	h.Before(context.Background(), call("read_file"))
	h.Close(time.Second)
	// A later session (the client restarted) does not ask again.
	h2 := he.hook(t, config.Defaults())
	h2.Before(context.Background(), call("write_file"))
	h2.Close(time.Second)
	var got []string
	for _, r := range he.aim.CapabilityRequests() {
		got = append(got, r.Capability)
	}
	if want := []string{"mcp_tool:write_file"}; !slices.Equal(got, want) {
		t.Errorf("requested %v, want %v (only the refused tool)", got, want)
	}
	// The annotations the proxy's guard keeps set the fail mode's risk:
	// destructive is high.
	he.aim.SetDown(true)
	open := config.Defaults()
	open.FailMode = "open"
	open.AIMVerifyTTL = 0
	db, err := registry.Open(context.Background(), filepath.Join(t.TempDir(), "aim.db"), registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	guard, err := policy.NewGuard(context.Background(), db, registry.Server{Name: "filesystem"}, open)
	if err != nil {
		t.Fatal(err)
	}
	guard.ToolsListed(context.Background(), list)
	h3 := NewHook(HookOptions{Client: he.c, Server: registry.Server{Name: "filesystem"},
		Agent:  func(context.Context) (remote.Identity, error) { return he.agent.Identity(), nil },
		Config: open, CallTimeout: time.Second, Requests: he.reqs, Local: guard.Local})
	defer h3.Close(time.Second)
	if _, v := h3.Before(context.Background(), call("write_file")); v == nil || v.Allow || v.Risk != "high" || !strings.Contains(v.Source, "destructiveHint") {
		t.Errorf("write_file with AIM down = %+v, want denied as high risk", v)
	}
}

func TestOutcomeNeverBlocks(t *testing.T) {
	he := newHookEnv(t)
	he.aim.Grant("filesystem", "mcp_tool:*")
	cfg := config.Defaults()
	cfg.AIMLogOutcomes = true
	cfg.AIMVerifyTTL = 0
	h := NewHook(HookOptions{Client: he.c, Server: registry.Server{Name: "filesystem"},
		Agent:  func(context.Context) (remote.Identity, error) { return he.agent.Identity(), nil },
		Config: cfg, QueueSize: 1})
	var calls []*mcpproxy.Call
	for range 5 {
		c := call("read_file")
		h.Before(context.Background(), c)
		calls = append(calls, c)
	}
	he.aim.SetDelay(time.Hour) // the worker is stuck on the first log-action
	start := time.Now()
	for _, c := range calls {
		h.Outcome(context.Background(), c, mcpproxy.Outcome{Status: "success"})
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("Outcome took %s: it must never wait", d)
	}
	start = time.Now()
	h.Close(50 * time.Millisecond)
	if d := time.Since(start); d > time.Second {
		t.Errorf("Close took %s, want about its wait", d)
	}
	he.aim.SetDelay(0)
}
