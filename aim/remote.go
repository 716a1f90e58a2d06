package aim

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/opena2a-org/aim-mcp/audit"
	"github.com/opena2a-org/aim-mcp/config"
	"github.com/opena2a-org/aim-mcp/mcpproxy"
	"github.com/opena2a-org/aim-mcp/policy"
	aimhook "github.com/opena2a-org/aim-mcp/policy/aim"
	"github.com/opena2a-org/aim-mcp/registry/remote"
)

// WithAIM asks the AIM server at url, with apiKey, about every action, as
// a home set up with "aim-mcp install --aim-url" does for its proxies: the
// guide's aim_url and api_key. Without it, Secure uses the AIM the home
// was set up with, else aim_url and api_key of config.yaml, else AIM_URL
// and AIM_API_KEY, else none (the embedded registry alone decides).
func WithAIM(url, apiKey string) Option {
	return func(s *settings) { s.aimURL, s.aimKey = url, apiKey }
}

// aimSettings is the AIM the agent uses: WithAIM, else the home's, else
// the config's and the environment's. An agent's environment is its own,
// so AIM_URL counts here (for a proxy it does not: there it is the MCP
// server's).
func aimSettings(s settings, dir string, cfg config.Config) (aimhook.Settings, error) {
	if s.aimURL != "" {
		return aimhook.Settings{URL: s.aimURL, APIKey: s.aimKey}, nil
	}
	return aimhook.Resolve(dir, cfg, true, os.Getenv, func(msg string) { s.log.Warn("aim: " + msg) })
}

// connect checks, before anything is registered, that url is an AIM that
// answers: an unreachable one is a *ConnectionError and leaves the
// registry as it was.
func connect(ctx context.Context, as aimhook.Settings, cfg config.Config) error {
	c, err := remote.New(as.URL, &remote.Options{APIKey: as.APIKey, Timeout: cfg.Timeout, RetryAttempts: cfg.RetryAttempts})
	if err != nil {
		return &ConnectionError{URL: as.URL, Err: err}
	}
	if err := c.Identify(ctx); err != nil {
		return &ConnectionError{URL: as.URL, Err: err}
	}
	return nil
}

// attach puts the AIM in front of the agent's policy and registers the
// agent there (or finds its registration) now, as the guide's secure()
// does, so a failure shows at Secure and not at the first action.
func (a *Agent) attach(ctx context.Context, as aimhook.Settings) error {
	host, _ := os.Hostname()
	h, err := aimhook.Attach(aimhook.AttachOptions{Dir: a.home, Settings: as, Config: a.cfg, DB: a.db, Server: a.srv,
		Host: aimhook.MachineName(host), UserAgent: "aim-mcp-go", Local: a.localDecision})
	if err != nil {
		return &ConnectionError{URL: as.URL, Err: err}
	}
	id, err := h.Enroll(ctx)
	if err != nil {
		h.Close(0)
		if remote.Unavailable(err) {
			return &ConnectionError{URL: as.URL, Err: err}
		}
		return fmt.Errorf("aim: register %q with AIM at %s: %w", a.srv.Name, as.URL, err)
	}
	a.hook, a.aimURL, a.aimAgent = h, as.URL, id.AgentID
	return nil
}

// localDecision is the local policy's decision of a call, which the fail
// mode goes by when AIM cannot answer: the one decideAll made for it, with
// the risk the caller declared and the tool's annotations.
func (a *Agent) localDecision(ctx context.Context, mc *mcpproxy.Call) policy.Decision {
	if d, ok := a.asking.Load(mc); ok {
		return d.(policy.Decision)
	}
	d, _ := a.decide(ctx, &call{action: mc.Tool, raw: mc.Args})
	return d
}

// decideAll decides an action: the local policy, and first a remote AIM's
// say when there is one. refused is AIM's verdict when it decides (AIM
// refused, or it is down and the fail mode refuses); a reason AIM gives
// for a person's approval turns the policy's allow into approve. err is
// the registry's, as decide says it.
func (a *Agent) decideAll(ctx context.Context, c *call) (d policy.Decision, refused *mcpproxy.Verdict, err error) {
	d, err = a.decide(ctx, c)
	if a.hook == nil {
		return d, nil, err
	}
	c.mc = &mcpproxy.Call{ID: c.id, Tool: c.action, Args: c.raw, ArgsDigest: c.digest}
	a.asking.Store(c.mc, d)
	require, hv := a.hook.Before(ctx, c.mc)
	a.asking.Delete(c.mc)
	if hv != nil && !hv.Allow {
		return d, hv, err
	}
	if require != "" && err == nil && d.Action == audit.ActionAllow {
		d.Action, d.ActionSource = audit.ActionApprove, require
	}
	return d, nil, err
}

// tellAIM sends an action's outcome to AIM when config.yaml's
// aim_log_outcomes says so; the local chain has it either way.
func (a *Agent) tellAIM(ctx context.Context, c *call, took time.Duration, result error) {
	if a.hook == nil || c.mc == nil {
		return
	}
	o := mcpproxy.Outcome{Status: audit.Success, Duration: took}
	if result != nil {
		o.Status, o.ErrorText = audit.ToolError, result.Error()
	}
	a.hook.Outcome(ctx, c.mc, o)
}

// AIM is the remote AIM the agent asks, and its agent id there; empty when
// the embedded registry alone decides.
func (a *Agent) AIM() (url, agentID string) { return a.aimURL, a.aimAgent }

// closeAIM sends what is still queued for AIM, waiting at most a while.
func (a *Agent) closeAIM() {
	if a.hook != nil {
		a.hook.Close(2 * time.Second)
	}
}

// aimReason is a refusal's reason with what to do next, when AIM's hook
// says.
func aimReason(v *mcpproxy.Verdict) string {
	if v.Next == "" {
		return v.Reason
	}
	return v.Reason + ". " + v.Next
}
