package aim

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/opena2a-org/aim-mcp/config"
	"github.com/opena2a-org/aim-mcp/mcpproxy"
	"github.com/opena2a-org/aim-mcp/policy"
	"github.com/opena2a-org/aim-mcp/registry"
	"github.com/opena2a-org/aim-mcp/registry/remote"
)

// MachineName is the short form of a host name that agent names carry:
// "laptop" for laptop.example.com, "localhost" when nothing is left.
func MachineName(hostname string) string {
	h, _, _ := strings.Cut(strings.ToLower(hostname), ".")
	if h = remote.AgentName(h); h == "mcp-server" {
		return "localhost"
	}
	return h
}

// Enrollment is what AIM is told about a server or agent of this machine:
// its name, never its arguments or environment (they may hold secrets).
// Agent names are unique within an AIM organisation, and a team has a
// "filesystem" on every laptop: the agent is NAME@HOST, and a second home
// on the same machine (or this one after uninstall --purge) gets
// NAME@HOST-2.
func Enrollment(srv registry.Server, host string) remote.Enrollment {
	what := fmt.Sprintf("MCP server %q of %s on %s (command %s), run through aim-mcp", srv.Name, srv.Client, host, filepath.Base(srv.Command))
	if srv.AgentType != "" && srv.AgentType != registry.MCPServer {
		what = fmt.Sprintf("%s %q on %s, secured with aim-mcp's Go package", srv.AgentType, srv.Name, host)
	}
	return remote.Enrollment{
		Name:        remote.AgentName(srv.Name) + "@" + host,
		DisplayName: srv.Name + " on " + host,
		Description: what,
		AgentID:     srv.RemoteID,
		Type:        srv.AgentType,
		Alternates:  true,
	}
}

// AttachOptions say which AIM a hook asks, for which server of which home.
type AttachOptions struct {
	Dir      string // the home
	Settings Settings
	Config   config.Config
	DB       *registry.DB
	Server   registry.Server
	Host     string // MachineName of this machine
	// Local is the local policy's decision, for the fail mode; see
	// HookOptions.Local.
	Local     func(ctx context.Context, c *mcpproxy.Call) policy.Decision
	UserAgent string
	Logger    *slog.Logger // AIM's requests, when debugging; nil for none
	// Backoff is the first wait between retries; 0 is the client's own.
	Backoff time.Duration
	// Enrolled is told the agent id when the first call registers the
	// server with AIM (install had not).
	Enrolled func(agentID string)
}

// Attach makes the hook that puts the remote AIM in front of a server's
// local policy. It makes no request: the hook asks AIM when the first
// call comes, and registers the server then if install did not.
func Attach(opt AttachOptions) (*Hook, error) {
	c, err := remote.New(opt.Settings.URL, &remote.Options{APIKey: opt.Settings.APIKey, Timeout: opt.Config.Timeout,
		RetryAttempts: opt.Config.RetryAttempts, Backoff: opt.Backoff, Logger: opt.Logger, UserAgent: opt.UserAgent})
	if err != nil {
		return nil, err
	}
	db, srv := opt.DB, opt.Server
	keys := db.Keys()
	agent := func(ctx context.Context) (remote.Identity, error) {
		if srv.RemoteID != "" {
			if k, err := keys.LoadFile(remote.KeyName(srv.RemoteID)); err == nil {
				return remote.Identity{AgentID: srv.RemoteID, Key: k}, nil
			}
		}
		en, err := c.Enroll(ctx, keys, Enrollment(srv, opt.Host))
		if err != nil {
			return remote.Identity{}, err
		}
		if err := db.SetRemoteID(context.WithoutCancel(ctx), srv.ID, en.AgentID, srv.PublicKey); err != nil {
			return remote.Identity{}, err
		}
		if opt.Enrolled != nil {
			opt.Enrolled(en.AgentID)
		}
		return en.Identity(), nil
	}
	return NewHook(HookOptions{
		Client: c, Server: srv, Agent: agent, DB: db, Config: opt.Config, Local: opt.Local,
		Requests: &RequestLog{Path: RequestsFile(opt.Dir)}, Logger: opt.Logger,
	}), nil
}

// Enroll resolves the server's agent in AIM now, registering it when it
// has none, instead of at the first call.
func (h *Hook) Enroll(ctx context.Context) (remote.Identity, error) { return h.identity(ctx) }
