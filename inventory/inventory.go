// Package inventory joins what the clients' configs say about their MCP
// servers with what the registry knows of them: one row per server, with
// its state (wrapped or not, and why), identity, trust and activity. It is
// what "aim-mcp list" prints and what the dashboard's Servers page shows.
package inventory

import (
	"context"
	"fmt"
	"time"

	"github.com/opena2a-org/aim-mcp/claudeconfig"
	"github.com/opena2a-org/aim-mcp/discovery"
	"github.com/opena2a-org/aim-mcp/internal/redact"
	"github.com/opena2a-org/aim-mcp/pins"
	"github.com/opena2a-org/aim-mcp/poison"
	"github.com/opena2a-org/aim-mcp/registry"
	"github.com/opena2a-org/aim-mcp/trust"
)

// Server states.
const (
	Wrapped    = "wrapped"
	NotWrapped = "not wrapped"
	Skipped    = "skipped"
	Gone       = "gone" // registered, no longer in its config
)

// Row is one server.
type Row struct {
	Client       string    `json:"client"`
	Name         string    `json:"name"`
	Config       string    `json:"config,omitempty"` // the file it is in
	State        string    `json:"state"`
	Reason       string    `json:"reason,omitempty"`
	ID           string    `json:"id,omitempty"`
	Fingerprint  string    `json:"fingerprint,omitempty"`
	Registration string    `json:"registration,omitempty"` // local, or aim (a remote AIM server knows it)
	Command      []string  `json:"command,omitempty"`
	URL          string    `json:"url,omitempty"`       // a remote server's
	Transport    string    `json:"transport,omitempty"` // a remote server's: http, sse or auto
	EnvNames     []string  `json:"env_names,omitempty"`
	Trust        *float64  `json:"trust,omitempty"`
	Scan         *Scan     `json:"scan,omitempty"` // nil until a session listed its tools
	Calls        int       `json:"calls"`
	Denied       int       `json:"denied"`
	Cancelled    int       `json:"cancelled"`
	LastActivity time.Time `json:"last_activity,omitzero"`
}

// Scan is what the scanner finds in a server's tools as last listed: the
// hard findings quarantine a tool, the soft ones hold nothing.
type Scan struct {
	Tools int `json:"tools"`
	Hard  int `json:"hard"`
	Soft  int `json:"soft"`
}

func (s *Scan) String() string {
	switch {
	case s == nil:
		return "-"
	case s.Hard == 0 && s.Soft == 0:
		return "clean"
	case s.Hard == 0:
		return fmt.Sprintf("%d soft", s.Soft)
	case s.Soft == 0:
		return fmt.Sprintf("%d hard", s.Hard)
	}
	return fmt.Sprintf("%d hard, %d soft", s.Hard, s.Soft)
}

// Rows lists the servers of cfgs, then those registered for the same
// clients but gone from their configs. db may be nil (aim-mcp never ran):
// the rows then carry only what the configs say.
func Rows(ctx context.Context, db *registry.DB, cfgs []*discovery.Config) ([]Row, error) {
	var servers []registry.Server
	stats := map[string]registry.Stats{}
	var src *trust.Source
	if db != nil {
		var err error
		if servers, err = db.Servers(ctx); err != nil {
			return nil, err
		}
		if stats, err = db.Stats(ctx); err != nil {
			return nil, err
		}
		// One source for all rows: the chain is verified once.
		src = &trust.Source{DB: db}
	}
	find := func(client, name string) *registry.Server {
		for i := range servers {
			if servers[i].Client == client && servers[i].Name == name && servers[i].Status != registry.StatusPurged {
				return &servers[i]
			}
		}
		return nil
	}
	rows := []Row{}
	inConfig := map[string]bool{}
	for _, cfg := range cfgs {
		for _, s := range cfg.Servers() {
			r := Row{Client: s.Client, Name: s.RegName, Config: s.Path, Command: redact.Argv(s.Original, nil), EnvNames: s.EnvNames}
			if rm := s.Remote; rm != nil {
				r.URL, r.Transport = rm.URL, rm.Transport
			}
			switch {
			case s.Skip == claudeconfig.SkipRemote && s.RemoteSkip(cfg.Client.Remote) == "":
				r.State = NotWrapped // install rewrites it
			case s.Skip == claudeconfig.SkipRemote:
				r.State, r.Reason = Skipped, s.RemoteSkip(cfg.Client.Remote)
			case s.Skip != "":
				r.State, r.Reason = Skipped, s.Skip
			case s.Wrapped:
				r.State = Wrapped
			default:
				r.State = NotWrapped
			}
			if srv := find(s.Client, s.RegName); srv != nil {
				inConfig[srv.ID] = true
				fill(ctx, src, &r, *srv, stats[srv.ID])
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
		r := Row{Client: srv.Client, Name: srv.Name, State: Gone, Reason: "registered, not in the config",
			Command: redact.Argv(append([]string{srv.Command}, srv.Args...), nil)}
		fill(ctx, src, &r, srv, stats[srv.ID])
		rows = append(rows, r)
	}
	return rows, nil
}

func fill(ctx context.Context, src *trust.Source, r *Row, srv registry.Server, st registry.Stats) {
	r.Scan = scanTools(ctx, src, srv)
	r.ID, r.Fingerprint = srv.ID, srv.Fingerprint()
	r.Registration = "local"
	if srv.RemoteID != "" {
		r.Registration = "aim"
	}
	r.Calls, r.Denied, r.Cancelled, r.LastActivity = st.Calls, st.Denied, st.Cancelled, st.Last
	if s, err := src.Score(ctx, srv); err == nil {
		r.Trust = &s.Overall
	}
}

// Registered lists the registered servers only, for when no client config
// is at hand: the state is the registry's (active, removed).
func Registered(ctx context.Context, db *registry.DB) ([]Row, error) {
	servers, err := db.Servers(ctx)
	if err != nil {
		return nil, err
	}
	stats, err := db.Stats(ctx)
	if err != nil {
		return nil, err
	}
	src := &trust.Source{DB: db}
	rows := []Row{}
	for _, srv := range servers {
		if srv.Status == registry.StatusPurged {
			continue
		}
		r := Row{Client: srv.Client, Name: srv.Name, State: srv.Status, Command: redact.Argv(append([]string{srv.Command}, srv.Args...), nil),
			EnvNames: srv.EnvNames}
		fill(ctx, src, &r, srv, stats[srv.ID])
		rows = append(rows, r)
	}
	return rows, nil
}

// scanTools counts what the scanner finds in srv's tools as last listed;
// nil when none was ever listed.
func scanTools(ctx context.Context, src *trust.Source, srv registry.Server) *Scan {
	if src == nil {
		return nil
	}
	fs, n, err := pins.ScanListed(ctx, src.DB, srv.ID, poison.New(nil))
	if err != nil || n == 0 {
		return nil
	}
	out := &Scan{Tools: n}
	for _, f := range fs {
		if f.Severity == poison.Hard {
			out.Hard++
		} else {
			out.Soft++
		}
	}
	return out
}
