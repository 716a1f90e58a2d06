package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/opena2a-org/aim-mcp/claudeconfig"
	"github.com/opena2a-org/aim-mcp/config"
	"github.com/opena2a-org/aim-mcp/internal/home"
	"github.com/opena2a-org/aim-mcp/oauth"
	"github.com/opena2a-org/aim-mcp/registry"
	"github.com/opena2a-org/aim-mcp/registry/remote"
	"github.com/opena2a-org/aim-mcp/telemetry"
)

const statusUsage = `
Usage: aim-mcp status [--home DIR] [--json]

Shows which registry aim-mcp uses: the embedded one alone, or a remote AIM
server as well (with --aim-url at install, or aim_url in config.yaml).
For a remote AIM it checks that AIM answers and accepts the API key and
the servers' agent keys, and lists each server's AIM agent id, status and
trust score. It exits 1 when AIM does not answer or refuses a key.

It also shows where the OpenTelemetry export goes (the otel: block of
config.yaml, or OTEL_EXPORTER_OTLP_ENDPOINT), and for each server how many
spans and log records its last session sent and dropped.

Flags:
  --home DIR  aim-mcp's data directory
  --json      print JSON
`

// statusReport is what status prints.
type statusReport struct {
	Registry string         `json:"registry"` // "embedded" or "remote"
	DB       string         `json:"db"`
	AIM      *aimStatus     `json:"aim,omitempty"`
	OTel     otelStatus     `json:"otel"`
	Servers  []serverStatus `json:"servers"`
}

type aimStatus struct {
	URL       string `json:"url"`
	URLFrom   string `json:"url_from"`
	Answers   bool   `json:"answers"`
	LatencyMS int64  `json:"latency_ms,omitempty"`
	APIKey    string `json:"api_key"` // "accepted", "refused", "not checked" or "none"; never the key
	KeyFrom   string `json:"api_key_from,omitempty"`
	Error     string `json:"error,omitempty"`
}

// otelStatus is the OpenTelemetry export: where it goes, and what each
// server's last session sent and dropped.
type otelStatus struct {
	On       bool                     `json:"on"`
	Protocol string                   `json:"protocol,omitempty"`
	Endpoint string                   `json:"endpoint,omitempty"`
	From     string                   `json:"from,omitempty"`
	Error    string                   `json:"error,omitempty"`
	Sessions []telemetry.SessionStats `json:"last_sessions,omitempty"`
}

type serverStatus struct {
	Client    string   `json:"client"`
	Name      string   `json:"name"`
	ID        string   `json:"id"`
	State     string   `json:"state"`
	URL       string   `json:"url,omitempty"`       // a remote server's
	Transport string   `json:"transport,omitempty"` // a remote server's, as install wrote it
	Login     string   `json:"login,omitempty"`     // a remote server's: logged in, expired or none
	AgentID   string   `json:"aim_agent_id,omitempty"`
	AgentName string   `json:"aim_agent_name,omitempty"`
	AIMStatus string   `json:"aim_status,omitempty"`
	AIMTrust  *float64 `json:"aim_trust,omitempty"`
	Error     string   `json:"error,omitempty"`
}

func runStatus(ctx context.Context, e env, args []string) error {
	fset := flags(e, "status", statusUsage)
	homeFlag := fset.String("home", "", "")
	asJSON := fset.Bool("json", false, "")
	if err := parse(e, fset, args); err != nil {
		return err
	}
	if err := noArgs(fset); err != nil {
		return err
	}
	dir, err := home.Resolve(*homeFlag)
	if err != nil {
		return err
	}
	cfg, cerr := config.Load()
	rep := statusReport{Registry: "embedded", DB: home.DB(dir)}
	if cerr != nil {
		fmt.Fprintf(e.stderr, "aim-mcp: warning: %v\n", cerr)
		if isOTelError(cerr) {
			fmt.Fprintf(e.stderr, "aim-mcp: hint: %s\n", otelHint)
			rep.OTel.Error = cerr.Error()
		} else {
			cfg = config.Defaults()
		}
	}
	if ots, on, err := telemetry.Resolve(cfg.OTel, getenv); err != nil {
		rep.OTel.Error = err.Error()
	} else if on {
		rep.OTel = otelStatus{On: true, Protocol: ots.Protocol, Endpoint: ots.Endpoint, From: ots.From}
	}
	if rep.OTel.Sessions, err = telemetry.LoadStats(dir); err != nil {
		fmt.Fprintf(e.stderr, "aim-mcp: warning: %v\n", err)
	}
	db, err := openExisting(ctx, e, dir)
	if err != nil {
		return err
	}
	if db != nil {
		defer db.Close()
	}
	var servers []registry.Server
	if db != nil {
		if servers, err = db.Servers(ctx); err != nil {
			return errorf("%v", err)
		}
	}
	// The remote servers install rewrote: their transport is in what it
	// kept of each entry.
	saved, _ := claudeconfig.SavedEntries(home.Entries(dir))
	type clientServer struct{ client, server string }
	remotes := make(map[clientServer]claudeconfig.SavedEntry, len(saved))
	for _, k := range saved {
		remotes[clientServer{k.Client, k.Server}] = k
	}
	now := time.Now()
	for _, s := range servers {
		if s.Status == registry.StatusPurged {
			continue
		}
		st := serverStatus{Client: s.Client, Name: s.Name, ID: s.ID, State: s.Status, AgentID: s.RemoteID}
		if k, ok := remotes[clientServer{s.Client, s.Name}]; ok {
			st.URL, st.Transport = k.URL, k.Transport
			st.Login = oauth.LoginStatus(dir, s.Name, now).State
		}
		rep.Servers = append(rep.Servers, st)
	}
	settings, err := proxyAIM(dir, cfg, e.stderr)
	if err != nil {
		return errorf("%v", err)
	}
	if u := getenv("AIM_URL"); u != "" && u != settings.URL {
		fmt.Fprintf(e.stderr, "aim-mcp: note: AIM_URL is set here, but proxies do not read the environment; run \"aim-mcp install\" to register with %s\n", u)
	}
	var failure error
	if settings.URL != "" {
		rep.Registry = "remote"
		failure = checkAIM(ctx, e, cfg, settings, db, servers, &rep)
	}
	if *asJSON {
		out, _ := json.MarshalIndent(rep, "", "  ")
		fmt.Fprintf(e.stdout, "%s\n", out)
	} else if err := printStatus(e, rep, db != nil); err != nil {
		return err
	}
	return failure
}

// checkAIM asks AIM whether it answers, whether it takes the API key, and
// about each server's agent. It returns the error status should exit with.
func checkAIM(ctx context.Context, e env, cfg config.Config, s aimSettings, db *registry.DB, servers []registry.Server, rep *statusReport) error {
	a := &aimStatus{URL: s.URL, URLFrom: s.URLFrom, APIKey: "none", KeyFrom: s.KeyFrom}
	rep.AIM = a
	if s.APIKey != "" {
		a.APIKey = "not checked"
	}
	// A person waits: one attempt per request, and AIM_TIMEOUT for all.
	cfg.RetryAttempts = 0
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	c, err := aimClient(s, cfg, debugLogger(e, cfg))
	if err != nil {
		a.Error = err.Error()
		return err
	}
	a.URL = c.URL()
	start := time.Now()
	if err := c.Health(ctx); err != nil {
		a.Error = err.Error()
		return aimError("", err)
	}
	a.Answers, a.LatencyMS = true, time.Since(start).Milliseconds()
	var failure error
	var problems []string // one per agent that will refuse calls
	hint := ""
	problem := func(st *serverStatus, what, h string) {
		st.Error = what
		problems = append(problems, fmt.Sprintf("%s (%s)", st.Name, what))
		if hint == "" {
			hint = h
		}
	}
	for _, srv := range servers {
		if srv.Status == registry.StatusPurged || srv.RemoteID == "" {
			continue
		}
		st := &rep.Servers[slices.IndexFunc(rep.Servers, func(s serverStatus) bool { return s.ID == srv.ID })]
		k, kerr := db.Keys().LoadFile(remote.KeyName(srv.RemoteID))
		if s.APIKey != "" && a.APIKey != "refused" {
			ag, err := c.Agent(ctx, srv.RemoteID)
			var ae *remote.AuthenticationError
			switch {
			case errors.As(err, &ae) && ae.Status == 401:
				a.APIKey, a.Error = "refused", err.Error()
				failure = aimError("AIM refused the API key", err)
			case errors.Is(err, remote.ErrNotFound):
				a.APIKey = "accepted"
				problem(st, "agent missing in AIM", "run \"aim-mcp install\" to register the missing agents again")
				continue
			case err != nil:
				st.Error = err.Error()
				if remote.Unavailable(err) {
					failure = aimError("", err)
					return failure
				}
				continue
			default:
				a.APIKey = "accepted"
				st.AgentName, st.AIMStatus = ag.Name, ag.Status
				trust := ag.Trust
				st.AIMTrust = &trust
				switch {
				case kerr != nil:
					problem(st, fmt.Sprintf("no key here for AIM agent %s", srv.RemoteID), remote.RotateHint(srv.Name))
				case k.PublicString() != ag.PublicKey:
					problem(st, "key rotated in AIM: AIM refuses this machine's key", remote.RotateHint(srv.Name))
				case ag.Status != "verified" || ag.Compromised:
					problem(st, "agent "+ag.Status+" in AIM: every call is refused", "an AIM admin must verify the agent again in AIM's web UI")
				}
				continue
			}
		}
		// Without a usable API key, the agent's own key reads its trust
		// score, which also proves AIM accepts that key.
		if kerr != nil {
			problem(st, fmt.Sprintf("no key here for AIM agent %s", srv.RemoteID), remote.RotateHint(srv.Name))
			continue
		}
		t, err := c.TrustScore(ctx, remote.Identity{AgentID: srv.RemoteID, Key: k})
		if err != nil {
			st.Error = err.Error()
			if failure == nil {
				failure = aimError(fmt.Sprintf("AIM refused the agent key of %q", srv.Name), err)
			}
			continue
		}
		st.AIMTrust = &t.Score
	}
	if failure == nil && len(problems) > 0 {
		failure = errorf("%d AIM agent(s) will refuse calls: %s", len(problems), strings.Join(problems, "; ")).hint("%s", hint)
	}
	if s.APIKey != "" && a.APIKey == "not checked" {
		// No agent to look up: ask for one that cannot exist, which a
		// valid key answers with a 404.
		_, err := c.Agent(ctx, "aim-mcp-status-check")
		var ae *remote.AuthenticationError
		switch {
		case err == nil || errors.Is(err, remote.ErrNotFound):
			a.APIKey = "accepted"
		case errors.As(err, &ae):
			a.APIKey, a.Error = "refused", err.Error()
			failure = aimError("AIM refused the API key", err)
		default:
			a.Error = err.Error()
		}
	}
	return failure
}

func printStatus(e env, rep statusReport, haveDB bool) error {
	w := e.stdout
	switch {
	case rep.AIM != nil:
		fmt.Fprintf(w, "registry: remote AIM at %s (from %s); the local audit chain is %s\n", rep.AIM.URL, rep.AIM.URLFrom, rep.DB)
		switch {
		case rep.AIM.Answers:
			fmt.Fprintf(w, "AIM:      answers (%d ms)\n", rep.AIM.LatencyMS)
		default:
			fmt.Fprintf(w, "AIM:      does not answer: %s\n", rep.AIM.Error)
		}
		key := rep.AIM.APIKey
		if rep.AIM.KeyFrom != "" {
			key += " (from " + rep.AIM.KeyFrom + ")"
		}
		fmt.Fprintf(w, "API key:  %s\n", key)
	case haveDB:
		fmt.Fprintf(w, "registry: embedded, %s (no remote AIM)\n", rep.DB)
	default:
		fmt.Fprintf(w, "registry: embedded, none yet at %s: run \"aim-mcp install\"\n", rep.DB)
	}
	printOTel(w, rep.OTel)
	if len(rep.Servers) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if rep.AIM == nil {
		fmt.Fprintln(tw, "SERVER\tCLIENT\tID\tSTATE")
		for _, s := range rep.Servers {
			state := s.State
			if s.URL != "" {
				state += ", remote " + s.URL + " (" + s.Transport + "), login: " + s.Login
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Name, s.Client, s.ID, state)
		}
		return tw.Flush()
	}
	fmt.Fprintln(tw, "SERVER\tCLIENT\tID\tAIM AGENT\tAIM STATUS\tAIM TRUST")
	for _, s := range rep.Servers {
		agent, status, trust := s.AgentID, s.AIMStatus, "-"
		if agent == "" {
			agent, status = "-", "not registered with AIM"
		}
		if s.AIMTrust != nil {
			trust = fmt.Sprintf("%.2f", *s.AIMTrust)
		}
		if s.Error != "" {
			status = "error: " + s.Error
		}
		if status == "" {
			status = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, s.Client, s.ID, agent, status, trust)
	}
	return tw.Flush()
}

// printOTel says where the OpenTelemetry export goes, and what each
// server's last session sent and dropped.
func printOTel(w io.Writer, o otelStatus) {
	switch {
	case o.Error != "":
		fmt.Fprintf(w, "OpenTelemetry: off, the settings are wrong: %s\n", o.Error)
	case !o.On:
		fmt.Fprintln(w, "OpenTelemetry: off (turn it on with an otel: block in config.yaml)")
	default:
		p := "OTLP/HTTP"
		if o.Protocol == config.OTelGRPC {
			p = "OTLP/gRPC"
		}
		fmt.Fprintf(w, "OpenTelemetry: %s to %s (from %s)\n", p, o.Endpoint, o.From)
		if o.From != "config.yaml" {
			fmt.Fprintf(w, "               proxies see %s only if their client's config passes it in env\n", o.From)
		}
	}
	for _, s := range o.Sessions {
		fmt.Fprintf(w, "  %s (%s), session ended %s: %s sent, %d dropped; %s sent, %d dropped\n",
			s.Server, s.Client, s.Ended.Local().Format("2006-01-02 15:04"),
			plural(int(s.SpansSent), "span"), s.SpansDropped, plural(int(s.LogsSent), "log record"), s.LogsDropped)
	}
}
