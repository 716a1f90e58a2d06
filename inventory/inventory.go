// Package inventory joins what the clients' configs say about their MCP
// servers with what the registry knows of them: one row per server, with
// its state (wrapped or not, and why), identity, trust and activity. It is
// what "aim-mcp list" prints and what the dashboard's Servers page shows.
package inventory

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/opena2a-org/aim-mcp/claudeconfig"
	"github.com/opena2a-org/aim-mcp/discovery"
	"github.com/opena2a-org/aim-mcp/internal/redact"
	"github.com/opena2a-org/aim-mcp/oauth"
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
	Login        string    `json:"login,omitempty"`     // a remote server's: logged in, expired or none
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
	if db != nil {
		var err error
		// Without their arguments: only a server gone from its config
		// shows them, and those are read again below.
		if servers, err = db.ServersBrief(ctx); err != nil {
			return nil, err
		}
	}
	type clientName struct{ client, name string }
	byName := make(map[clientName]int, len(servers))
	for i, srv := range servers {
		k := clientName{srv.Client, srv.Name}
		if _, dup := byName[k]; !dup && srv.Status != registry.StatusPurged {
			byName[k] = i
		}
	}
	listed := make([][]discovery.Server, len(cfgs))
	n := 0
	for i, cfg := range cfgs {
		listed[i] = cfg.Servers()
		n += len(listed[i])
	}
	rows := make([]Row, 0, max(n, len(servers)))
	found := make([]registered, 0, min(n, len(servers)))
	inConfig := make(map[string]bool, min(n, len(servers)))
	for i, cfg := range cfgs {
		for _, s := range listed[i] {
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
			if i, ok := byName[clientName{s.Client, s.RegName}]; ok {
				inConfig[servers[i].ID] = true
				found = append(found, registered{len(rows), servers[i]})
			}
			rows = append(rows, r)
		}
	}
	watched := map[string]bool{}
	for _, cfg := range cfgs {
		watched[cfg.Client.Name] = true
	}
	var gone []registry.Server
	for _, srv := range servers {
		if !inConfig[srv.ID] && srv.Status != registry.StatusPurged && watched[srv.Client] {
			gone = append(gone, srv)
		}
	}
	if len(gone) > 0 {
		args, err := argsOf(ctx, db)
		if err != nil {
			return nil, err
		}
		for _, srv := range gone {
			found = append(found, registered{len(rows), srv})
			rows = append(rows, Row{Client: srv.Client, Name: srv.Name, State: Gone, Reason: "registered, not in the config",
				Command: redact.Argv(append([]string{srv.Command}, args[srv.ID]...), nil)})
		}
	}
	if err := fill(ctx, db, rows, found); err != nil {
		return nil, err
	}
	if db != nil {
		logins(filepath.Dir(db.Path()), rows)
	}
	return rows, nil
}

// argsOf reads every registered server's arguments, by id.
func argsOf(ctx context.Context, db *registry.DB) (map[string][]string, error) {
	all, err := db.Servers(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]string, len(all))
	for _, srv := range all {
		out[srv.ID] = srv.Args
	}
	return out, nil
}

// logins fills in whether aim-mcp is logged in to each remote server, from
// the login's state file in the home (the keychain is not asked).
func logins(home string, rows []Row) {
	now := time.Now()
	for i := range rows {
		if rows[i].URL != "" && rows[i].State != Skipped {
			rows[i].Login = oauth.LoginStatus(home, rows[i].Name, now).State
		}
	}
}

// registered is a row whose server is registered.
type registered struct {
	row int
	srv registry.Server
}

// fill completes the rows of registered servers with what the registry
// knows of them: a few queries for all of them, none per server, so a list
// of ten thousand servers costs what reading the registry once does.
func fill(ctx context.Context, db *registry.DB, rows []Row, found []registered) error {
	if db == nil || len(found) == 0 {
		return nil
	}
	// One source for all rows: the chain is verified once.
	src := &trust.Source{DB: db}
	stats, err := src.Stats(ctx)
	if err != nil {
		return err
	}
	servers := make([]registry.Server, 0, len(found))
	seen := make(map[string]bool, len(found))
	for _, f := range found {
		if !seen[f.srv.ID] {
			seen[f.srv.ID] = true
			servers = append(servers, f.srv)
		}
	}
	scores := make(map[string]float64, len(servers))
	if err := src.EachOverall(ctx, servers, func(srv registry.Server, overall float64) { scores[srv.ID] = overall }); err != nil {
		clear(scores) // no trust shown rather than some
	}
	tallies, err := pins.TallyListed(ctx, db, poison.New(nil))
	if err != nil {
		tallies = nil // no scan shown
	}
	for _, f := range found {
		r, srv, st := &rows[f.row], f.srv, stats[f.srv.ID]
		if t, ok := tallies[srv.ID]; ok && t.Tools > 0 {
			r.Scan = &Scan{Tools: t.Tools, Hard: t.Hard, Soft: t.Soft}
		}
		r.ID, r.Fingerprint = srv.ID, srv.Fingerprint()
		r.Registration = "local"
		if srv.RemoteID != "" {
			r.Registration = "aim"
		}
		r.Calls, r.Denied, r.Cancelled, r.LastActivity = st.Calls, st.Denied, st.Cancelled, st.Last
		if s, ok := scores[srv.ID]; ok {
			r.Trust = &s
		}
	}
	return nil
}

// Registered lists the registered servers only, for when no client config
// is at hand: the state is the registry's (active, removed).
func Registered(ctx context.Context, db *registry.DB) ([]Row, error) {
	servers, err := db.Servers(ctx)
	if err != nil {
		return nil, err
	}
	rows := []Row{}
	var found []registered
	for _, srv := range servers {
		if srv.Status == registry.StatusPurged {
			continue
		}
		found = append(found, registered{len(rows), srv})
		rows = append(rows, Row{Client: srv.Client, Name: srv.Name, State: srv.Status,
			Command: redact.Argv(append([]string{srv.Command}, srv.Args...), nil), EnvNames: srv.EnvNames})
	}
	if err := fill(ctx, db, rows, found); err != nil {
		return nil, err
	}
	return rows, nil
}
