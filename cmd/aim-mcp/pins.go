package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os/user"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/opena2a-org/aim-mcp/inventory"
	"github.com/opena2a-org/aim-mcp/pins"
	"github.com/opena2a-org/aim-mcp/poison"
	"github.com/opena2a-org/aim-mcp/registry"
)

const pinsUsage = `
Usage: aim-mcp pins [SERVER] [--json]
       aim-mcp pins diff SERVER [TOOL]
       aim-mcp pins accept SERVER [TOOL]

The first tools/list answer a server gives through aim-mcp pins its tools: a
hash of each tool's name, description, input and output schema. A changed
description or schema, a new tool or a removed one is drift; calls to a
changed or new tool need approval (config drift_action) until you accept it.

  pins            each tool's state (pinned, changed, new, removed) and since when
  pins diff       what changed: the description and schemas, pinned (-) and now (+)
  pins accept     pin the current definitions (of one tool, or all of the server's)

A remote server's TLS certificate key and authorization server are pinned
too, as @tls and @issuer: a change refuses its calls until you accept it
(aim-mcp pins accept SERVER @tls).

Flags:
  --client NAME  the server's client, when several clients have a server of that name
  --json         print JSON (pins only)
  --home DIR     aim-mcp's data directory
`

func runPins(ctx context.Context, e env, args []string) error {
	sub := ""
	if len(args) > 0 && (args[0] == "diff" || args[0] == "accept") {
		sub, args = args[0], args[1:]
	}
	fs := flags(e, "pins", pinsUsage)
	client := fs.String("client", "", "")
	homeFlag := fs.String("home", "", "")
	asJSON := fs.Bool("json", false, "")
	pos, err := parseAnywhere(e, fs, args)
	if err != nil {
		return err
	}
	maxPos := 1
	if sub != "" {
		maxPos = 2
		if len(pos) == 0 {
			return &usageError{cmd: "pins", msg: fmt.Sprintf("pins %s needs a SERVER", sub)}
		}
		if *asJSON {
			return &usageError{cmd: "pins", msg: fmt.Sprintf("--json is for pins, not pins %s", sub)}
		}
	}
	if len(pos) > maxPos {
		return &usageError{cmd: "pins", msg: fmt.Sprintf("unexpected argument %q", pos[maxPos])}
	}
	_, db, err := openHome(ctx, e, *homeFlag, false)
	if err != nil {
		return err
	}
	defer db.Close()
	var servers []registry.Server
	if len(pos) > 0 {
		srv, err := serverNamed(ctx, db, pos[0], *client)
		if err != nil {
			return err
		}
		servers = []registry.Server{srv}
	} else if servers, err = db.Servers(ctx); err != nil {
		return err
	}
	tool := ""
	if len(pos) > 1 {
		tool = pos[1]
	}
	switch sub {
	case "diff":
		return pinsDiff(ctx, e, db, servers[0], tool)
	case "accept":
		return pinsAccept(ctx, e, db, servers[0], tool)
	}
	return pinsList(ctx, e, db, servers, *asJSON, len(pos) > 0)
}

// pinRow is one tool in "aim-mcp pins".
type pinRow struct {
	Server     string    `json:"server"`
	Client     string    `json:"client"`
	ServerID   string    `json:"server_id"`
	Tool       string    `json:"tool"`
	State      string    `json:"state"`
	Since      time.Time `json:"since"`
	LastSeen   time.Time `json:"last_seen"`
	Hash       string    `json:"hash,omitempty"`
	PinnedHash string    `json:"pinned_hash,omitempty"`
	// Findings are what the scanner says of the tool's definition as last
	// listed: the hard ones quarantine it, the soft ones hold nothing.
	Findings []poison.Finding `json:"findings,omitempty"`
}

func pinsList(ctx context.Context, e env, db *registry.DB, servers []registry.Server, asJSON, named bool) error {
	rows := []pinRow{}
	drifted := map[string]int{}
	scanner := poison.New(nil)
	for _, s := range servers {
		ts, err := db.Tools(ctx, s.ID)
		if err != nil {
			return err
		}
		for _, t := range ts {
			r := pinRow{Server: s.Name, Client: s.Client, ServerID: s.ID, Tool: t.Name, State: t.State,
				Since: t.ChangedAt, LastSeen: t.SeenAt, Hash: t.Hash, PinnedHash: t.PinnedHash}
			if len(t.Definition) > 0 {
				r.Findings = pins.Verdict(scanner, registry.ToolDef{Name: t.Name, Definition: t.Definition})
			}
			rows = append(rows, r)
			if t.State != registry.ToolPinned {
				drifted[s.Name]++
			}
		}
		// A remote server's TLS key and authorization server, pinned as
		// @tls and @issuer.
		ps, err := db.PeerPins(ctx, s.ID)
		if err != nil {
			return err
		}
		for _, p := range ps {
			rows = append(rows, pinRow{Server: s.Name, Client: s.Client, ServerID: s.ID, Tool: p.Name, State: p.State,
				Since: p.ChangedAt, LastSeen: p.SeenAt, Hash: p.Value, PinnedHash: p.Pinned})
			if p.State != registry.ToolPinned {
				drifted[s.Name]++
			}
		}
	}
	if asJSON {
		out, _ := json.MarshalIndent(rows, "", "  ")
		fmt.Fprintf(e.stdout, "%s\n", out)
		return nil
	}
	if len(rows) == 0 {
		if named {
			fmt.Fprintf(e.stdout, "server %q has no pinned tools yet: its first tools/list through aim-mcp pins them\n", servers[0].Name)
		} else {
			fmt.Fprintln(e.stdout, "no pinned tools yet: each server's first tools/list through aim-mcp pins them")
		}
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVER\tCLIENT\tTOOL\tSTATE\tSINCE\tLAST SEEN\tSCAN")
	var notes []string
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Server, r.Client, r.Tool, r.State,
			r.Since.Local().Format(time.RFC3339), r.LastSeen.Local().Format(time.RFC3339), scanSummary(r.Findings))
		for _, f := range r.Findings {
			notes = append(notes, fmt.Sprintf("  %s %s of server %q (%s, in %s): %s", f.Severity, r.Tool, r.Server, f.Rule, f.Where, f.Why))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(notes) > 0 {
		fmt.Fprintf(e.stdout, "\nwhat the scanner says (hard: quarantined until accepted; soft: shown, holds nothing):\n%s\n", strings.Join(notes, "\n"))
	}
	for _, s := range servers {
		if n := drifted[s.Name]; n > 0 {
			fmt.Fprintf(e.stdout, "\n%s of server %q drifted: review with `aim-mcp pins diff %s`, accept with `aim-mcp pins accept %s`\n",
				plural(n, "tool"), s.Name, pins.Quote(s.Name), pins.Quote(s.Name))
			delete(drifted, s.Name)
		}
	}
	return nil
}

func pinsDiff(ctx context.Context, e env, db *registry.DB, srv registry.Server, tool string) error {
	ps, err := db.PeerPins(ctx, srv.ID)
	if err != nil {
		return err
	}
	found := false
	for _, p := range ps {
		if p.Name == tool || tool == "" && p.State != registry.ToolPinned {
			found = true
			fmt.Fprintf(e.stdout, "%s: %s %s\n  pinned:  %s\n  current: %s\n\n", p.Name, p.State,
				p.ChangedAt.Local().Format(time.RFC3339), p.Pinned, p.Value)
		}
	}
	if registry.IsPeerName(tool) && !found {
		return errorf("server %q has no pin %q", srv.Name, tool).
			hint("only a remote server has @tls (https) and @issuer (OAuth) pins; run \"aim-mcp pins %s\" to see them", pins.Quote(srv.Name))
	}
	if registry.IsPeerName(tool) {
		return nil
	}
	ts, err := db.Tools(ctx, srv.ID)
	if err != nil {
		return err
	}
	if tool != "" {
		t, err := toolNamed(ts, srv, tool)
		if err != nil {
			return err
		}
		ts = []registry.Tool{t}
	}
	shown := 0
	for _, t := range ts {
		if t.State == registry.ToolPinned {
			if tool != "" {
				fmt.Fprintf(e.stdout, "%s: pinned, unchanged since %s\n", t.Name, t.ChangedAt.Local().Format(time.RFC3339))
			}
			continue
		}
		if shown > 0 {
			fmt.Fprintln(e.stdout)
		}
		shown++
		head := fmt.Sprintf("%s: %s %s", t.Name, t.State, t.ChangedAt.Local().Format(time.RFC3339))
		if t.State == registry.ToolChanged {
			head += " (" + strings.Join(pins.Changed(t.PinnedDef, t.Definition), ", ") + ")"
		}
		fmt.Fprintln(e.stdout, head)
		if t.PinnedHash != "" {
			fmt.Fprintf(e.stdout, "  pinned:  %s\n", t.PinnedHash)
		}
		if t.Hash != "" {
			fmt.Fprintf(e.stdout, "  current: %s\n", t.Hash)
		}
		fmt.Fprint(e.stdout, pins.Diff(t.PinnedDef, t.Definition))
	}
	if tool == "" && shown == 0 {
		fmt.Fprintf(e.stdout, "all %s of server %q are as pinned\n", plural(len(ts), "tool"), srv.Name)
	}
	return nil
}

func pinsAccept(ctx context.Context, e env, db *registry.DB, srv registry.Server, tool string) error {
	var names []string
	if tool != "" {
		if !registry.IsPeerName(tool) {
			ts, err := db.Tools(ctx, srv.ID)
			if err != nil {
				return err
			}
			if _, err := toolNamed(ts, srv, tool); err != nil {
				return err
			}
		}
		names = []string{tool}
	}
	res, err := pins.Accept(ctx, db, srv, names, pinsAcceptor(), time.Now())
	if errors.Is(err, registry.ErrNotFound) && registry.IsPeerName(tool) {
		return errorf("server %q has no pin %q", srv.Name, tool).
			hint("only a remote server has @tls (https) and @issuer (OAuth) pins; run \"aim-mcp pins %s\" to see them", pins.Quote(srv.Name))
	}
	if errors.Is(err, registry.ErrNotFound) {
		return errorf("server %q has no tool %q", srv.Name, tool).hint("run \"aim-mcp pins %s\" to see its tools", pins.Quote(srv.Name))
	}
	if err != nil {
		return err
	}
	if len(res.Changes) == 0 && len(res.Peers) == 0 {
		what := "all its tools are"
		if tool != "" {
			what = fmt.Sprintf("%s is", tool)
			if !registry.IsPeerName(tool) {
				what = fmt.Sprintf("tool %q is", tool)
			}
		}
		fmt.Fprintf(e.stdout, "nothing to accept: %s as pinned\n", what)
		return nil
	}
	for _, c := range res.Peers {
		fmt.Fprintf(e.stdout, "accepted the new %s of server %q (%s, was %s): its calls run again\n",
			peerNoun(c.Pin.Name), srv.Name, c.Pin.Pinned, c.Before.Pinned)
	}
	if res.Unrecorded != nil {
		fmt.Fprintf(e.stderr, "aim-mcp: warning: accepted, but not recorded in the audit trail: %v\n", res.Unrecorded)
	}
	for _, c := range res.Changes {
		switch c.From {
		case registry.ToolRemoved:
			fmt.Fprintf(e.stdout, "accepted the removal of %s: its pin is dropped\n", c.Tool.Name)
		case registry.ToolQuarantined:
			fmt.Fprintf(e.stdout, "released %s from quarantine: the client sees it listed again and calls to it run\n", c.Tool.Name)
		default:
			fmt.Fprintf(e.stdout, "accepted %s (%s): calls to it no longer need approval for drift\n", c.Tool.Name, c.From)
		}
	}
	for _, a := range res.Released {
		fmt.Fprintf(e.stdout, "released held call %s: %s on %s may run once\n", a.ID, a.Tool, a.Server)
	}
	return nil
}

func toolNamed(ts []registry.Tool, srv registry.Server, name string) (registry.Tool, error) {
	for _, t := range ts {
		if t.Name == name {
			return t, nil
		}
	}
	e := errorf("server %q has no pinned tool %q", srv.Name, name)
	if len(ts) == 0 {
		return registry.Tool{}, e.hint("no tools of %q are pinned yet: its first tools/list through aim-mcp pins them", srv.Name)
	}
	var names []string
	for _, t := range ts {
		names = append(names, t.Name)
	}
	if len(names) > 8 {
		names = append(names[:8], "...")
	}
	return registry.Tool{}, e.hint("its tools: %s", strings.Join(names, ", "))
}

// serverNamed finds the registered server called name; client picks one
// when several clients have a server of that name.
func serverNamed(ctx context.Context, db *registry.DB, name, client string) (registry.Server, error) {
	found, err := db.FindServers(ctx, name)
	if err != nil {
		return registry.Server{}, err
	}
	var match []registry.Server
	var clients []string
	for _, s := range found {
		clients = append(clients, s.Client)
		if client == "" || s.Client == client {
			match = append(match, s)
		}
	}
	switch {
	case len(found) == 0:
		return registry.Server{}, errorf("no server named %q", name).hint("run \"aim-mcp list\" to see the servers")
	case len(match) == 0:
		return registry.Server{}, errorf("no server named %q for client %q", name, client).hint("it is registered for: %s", strings.Join(clients, ", "))
	case len(match) > 1:
		return registry.Server{}, errorf("%d servers are named %q (one per client)", len(match), name).hint("pass --client with one of: %s", strings.Join(clients, ", "))
	}
	return match[0], nil
}

// parseAnywhere parses flags given before, between or after positional
// arguments ("trust fs --detailed" as well as "trust --detailed fs") and
// returns the positional ones. "--" ends the flags.
func parseAnywhere(e env, fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parse(e, fs, args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		// The flag package stops at the first non-flag, or after "--".
		consumed := len(args) - len(rest)
		if consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// pinsAcceptor names the person accepting, for the record.
func pinsAcceptor() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if n := getenv("USER"); n != "" {
		return n
	}
	return "unknown"
}

// scanSummary is the SCAN column: "clean", or the findings counted by
// severity, as list says it of a server.
func scanSummary(fs []poison.Finding) string {
	var s inventory.Scan
	s.Hard, s.Soft = poison.Count(fs)
	return s.String()
}

func peerNoun(name string) string {
	if name == registry.PeerTLS {
		return "TLS certificate key"
	}
	return "authorization server"
}
