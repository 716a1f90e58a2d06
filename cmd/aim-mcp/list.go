package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/opena2a-org/aim-mcp/inventory"
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
	rows, err := inventory.Rows(ctx, db, cfgs)
	if err != nil {
		return err
	}
	if failed { // said on stderr; list the others, and exit 1
		defer func() { err = errSilent }()
	}
	// In a home that uses a remote AIM: each server's agent and AIM's score.
	agents := aimAgentsOf(ctx, e, dir, db)
	if *asJSON {
		type row struct {
			inventory.Row
			AIM *aimListView `json:"aim,omitempty"`
		}
		out := make([]row, len(rows))
		for i, r := range rows {
			out[i] = row{r, agents[r.ID]}
		}
		b, _ := json.MarshalIndent(out, "", "  ")
		fmt.Fprintf(e.stdout, "%s\n", b)
		return nil
	}
	// Buffered: the tabwriter writes a row cell by cell, and ten thousand
	// rows must not cost a system call per cell.
	bw := bufio.NewWriter(e.stdout)
	tw := tabwriter.NewWriter(bw, 0, 4, 2, ' ', 0)
	if agents != nil {
		fmt.Fprintln(tw, "CLIENT\tSERVER\tSTATE\tID\tKEY\tTRUST\tSCAN\tAIM AGENT\tAIM TRUST\tCALLS\tDENIED\tLAST ACTIVITY")
	} else {
		fmt.Fprintln(tw, "CLIENT\tSERVER\tSTATE\tID\tKEY\tTRUST\tSCAN\tCALLS\tDENIED\tLAST ACTIVITY")
	}
	for _, r := range rows {
		state := r.State
		if r.Reason != "" {
			state += ": " + r.Reason
		}
		if r.URL != "" && r.State != inventory.Skipped {
			state += ", remote " + r.URL + " (" + r.Transport + ")"
			if r.Login != "" {
				state += ", login: " + r.Login
			}
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
		if agents == nil {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\n", r.Client, r.Name, state, dash(id),
				dash(r.Fingerprint), trust, r.Scan, r.Calls, r.Denied, last)
			continue
		}
		agent, aimTrust := "-", "-"
		if a := agents[r.ID]; a != nil {
			agent = a.AgentID
			if a.Name != "" {
				agent = a.Name
			}
			switch {
			case a.Trust != nil && a.Status != "verified":
				aimTrust = fmt.Sprintf("%.2f (%s)", *a.Trust, a.Status)
			case a.Trust != nil:
				aimTrust = fmt.Sprintf("%.2f", *a.Trust)
			default:
				aimTrust = "unavailable"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\n", r.Client, r.Name, state, dash(id),
			dash(r.Fingerprint), trust, r.Scan, agent, aimTrust, r.Calls, r.Denied, last)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return bw.Flush()
}
