package main

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/opena2a-org/aim-mcp/discovery"
	"github.com/opena2a-org/aim-mcp/internal/redact"
	"github.com/opena2a-org/aim-mcp/registry"
)

var listUsage = `
Usage: aim-mcp list [--client NAME|all] [--config PATH]... [--home DIR] [--json]

Shows every MCP server in the clients' configs: its client, whether it runs
through aim-mcp (and if not, why), its registration id, its key's
fingerprint, its trust score and activity. Servers registered but gone from
the configs are shown as gone. A server of a project is named
NAME@PROJECT-DIRECTORY.

Flags:
` + clientFlag("only this client:", "(default: every client found)") + `  --config PATH  this config file (repeatable), as for install
  --home DIR     aim-mcp's data directory
  --json         print JSON
`

// listed is one row of "aim-mcp list".
type listed struct {
	Client       string    `json:"client"`
	Name         string    `json:"name"`
	Config       string    `json:"config,omitempty"` // the file it is in
	State        string    `json:"state"`            // wrapped, not wrapped, skipped, gone
	Reason       string    `json:"reason,omitempty"`
	ID           string    `json:"id,omitempty"`
	Fingerprint  string    `json:"fingerprint,omitempty"`
	Command      []string  `json:"command,omitempty"`
	EnvNames     []string  `json:"env_names,omitempty"`
	Trust        *float64  `json:"trust,omitempty"`
	Calls        int       `json:"calls"`
	Denied       int       `json:"denied"`
	LastActivity time.Time `json:"last_activity,omitzero"`
}

func runList(ctx context.Context, e env, args []string) (err error) {
	fs := flags(e, "list", listUsage)
	var cf clientFlags
	cf.register(fs)
	asJSON := fs.Bool("json", false, "")
	dir, cfgs, failed, err := cf.load(e, fs, args)
	if err != nil {
		return err
	}
	db, err := openExisting(ctx, e, dir)
	if err != nil {
		return err
	}
	if db != nil {
		defer db.Close()
	}
	rows, err := listRows(ctx, db, cfgs)
	if err != nil {
		return err
	}
	if failed { // said on stderr; list the others, and exit 1
		defer func() { err = errSilent }()
	}
	if *asJSON {
		out, _ := json.MarshalIndent(rows, "", "  ")
		fmt.Fprintf(e.stdout, "%s\n", out)
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CLIENT\tSERVER\tSTATE\tID\tKEY\tTRUST\tCALLS\tDENIED\tLAST ACTIVITY")
	for _, r := range rows {
		state := r.State
		if r.Reason != "" {
			state += ": " + r.Reason
		}
		trust, last := "-", "-"
		if r.Trust != nil {
			trust = fmt.Sprintf("%.2f", *r.Trust)
		}
		if !r.LastActivity.IsZero() {
			last = r.LastActivity.Local().Format(time.RFC3339)
		}
		id := r.ID
		if len(id) > 8 {
			id = id[:8]
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\n", r.Client, r.Name, state, dash(id),
			dash(r.Fingerprint), trust, r.Calls, r.Denied, last)
	}
	return tw.Flush()
}

// listRows joins what the configs say with what the registry knows.
func listRows(ctx context.Context, db *registry.DB, cfgs []*discovery.Config) ([]listed, error) {
	var servers []registry.Server
	stats := map[string]registry.Stats{}
	if db != nil {
		var err error
		if servers, err = db.Servers(ctx); err != nil {
			return nil, err
		}
		if stats, err = db.Stats(ctx); err != nil {
			return nil, err
		}
	}
	find := func(client, name string) *registry.Server {
		for i := range servers {
			if servers[i].Client == client && servers[i].Name == name && servers[i].Status != registry.StatusPurged {
				return &servers[i]
			}
		}
		return nil
	}
	rows := []listed{}
	inConfig := map[string]bool{}
	for _, cfg := range cfgs {
		for _, s := range cfg.Servers() {
			r := listed{Client: s.Client, Name: s.RegName, Config: s.Path, Command: redact.Argv(s.Original, nil), EnvNames: s.EnvNames}
			switch {
			case s.Skip != "":
				r.State, r.Reason = "skipped", s.Skip
			case s.Wrapped:
				r.State = "wrapped"
			default:
				r.State = "not wrapped"
			}
			if srv := find(s.Client, s.RegName); srv != nil {
				inConfig[srv.ID] = true
				fill(ctx, db, &r, *srv, stats[srv.ID])
			}
			rows = append(rows, r)
		}
	}
	for _, srv := range servers {
		if inConfig[srv.ID] || srv.Status == registry.StatusPurged {
			continue
		}
		watched := false
		for _, cfg := range cfgs {
			watched = watched || cfg.Client.Name == srv.Client
		}
		if !watched {
			continue
		}
		r := listed{Client: srv.Client, Name: srv.Name, State: "gone", Reason: "registered, not in the config",
			Command: redact.Argv(append([]string{srv.Command}, srv.Args...), nil)}
		fill(ctx, db, &r, srv, stats[srv.ID])
		rows = append(rows, r)
	}
	return rows, nil
}

func fill(ctx context.Context, db *registry.DB, r *listed, srv registry.Server, st registry.Stats) {
	r.ID, r.Fingerprint = srv.ID, srv.Fingerprint()
	r.Calls, r.Denied, r.LastActivity = st.Calls, st.Denied, st.Last
	r.Trust = trustOf(ctx, db, srv)
}

// trustOf is the server's trust score; nil when it cannot be computed.
func trustOf(ctx context.Context, db *registry.DB, srv registry.Server) *float64 {
	return trustScore(ctx, db, srv)
}
