package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/opena2a-org/aim-mcp/registry"
)

const logsUsage = `
Usage: aim-mcp logs [flags]

Shows the audit trail, oldest first: every session, call, outcome, denial
and alert, with its time in RFC 3339.

Flags:
  --server NAME     only this server
  --tool NAME       only this tool
  --kind KIND       only this kind (call, outcome, denied, noise, drift, ...)
  --decision D      only this decision (allow, deny, approved, success, ...)
  --since T         from T: RFC 3339, a date, or an age such as 24h or 7d
  --until T         before T
  --limit N         the newest N records (default all)
  --offset N        skip the newest N records
  --json            print a JSON array of records
  --follow          keep printing new records (JSON Lines with --json)
  --home DIR        aim-mcp's data directory
`

func runLogs(ctx context.Context, e env, args []string) error {
	fs := flags(e, "logs", logsUsage)
	var f registry.Filter
	fs.StringVar(&f.Server, "server", "", "")
	fs.StringVar(&f.Tool, "tool", "", "")
	fs.StringVar(&f.Kind, "kind", "", "")
	fs.StringVar(&f.Decision, "decision", "", "")
	since := fs.String("since", "", "")
	until := fs.String("until", "", "")
	fs.IntVar(&f.Limit, "limit", 0, "")
	fs.IntVar(&f.Offset, "offset", 0, "")
	asJSON := fs.Bool("json", false, "")
	follow := fs.Bool("follow", false, "")
	homeFlag := fs.String("home", "", "")
	if err := parse(e, fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	now := time.Now()
	var err error
	if f.Since, err = parseTime(*since, now); err != nil {
		return &usageError{cmd: "logs", msg: "--since: " + err.Error()}
	}
	if f.Until, err = parseTime(*until, now); err != nil {
		return &usageError{cmd: "logs", msg: "--until: " + err.Error()}
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return &usageError{cmd: "logs", msg: "--since must be before --until"}
	}
	if f.Limit < 0 || f.Offset < 0 {
		return &usageError{cmd: "logs", msg: "--limit and --offset must not be negative"}
	}
	_, db, err := openHome(ctx, e, *homeFlag, false)
	if err != nil {
		return err
	}
	defer db.Close()
	if f.Server != "" {
		if s, _ := db.FindServers(ctx, f.Server); len(s) == 0 {
			return errorf("no server named %q", f.Server).hint("run \"aim-mcp list\" to see the servers")
		}
	}
	recs, err := db.Records(ctx, f)
	if err != nil {
		return err
	}
	switch {
	case *asJSON && !*follow:
		if recs == nil {
			recs = []registry.Record{}
		}
		out, _ := json.MarshalIndent(recs, "", "  ")
		fmt.Fprintf(e.stdout, "%s\n", out)
	case *asJSON:
		enc := json.NewEncoder(e.stdout)
		for _, r := range recs {
			enc.Encode(r)
		}
	default:
		printRecords(e.stdout, recs)
	}
	if !*follow {
		return nil
	}
	last := int64(0)
	if len(recs) > 0 {
		last = recs[len(recs)-1].Seq
	} else if tail, _ := db.Records(ctx, registry.Filter{Limit: 1}); len(tail) > 0 {
		last = tail[0].Seq
	}
	f.Limit, f.Offset = 0, 0
	tick := time.NewTicker(300 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		f.AfterSeq = last
		recs, err := db.Records(ctx, f)
		if err != nil {
			return err
		}
		if *asJSON {
			enc := json.NewEncoder(e.stdout)
			for _, r := range recs {
				enc.Encode(r)
			}
		} else if len(recs) > 0 {
			printRecords(e.stdout, recs)
		}
		if len(recs) > 0 {
			last = recs[len(recs)-1].Seq
		}
	}
}

func printRecords(w io.Writer, recs []registry.Record) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, r := range recs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Time.Local().Format(time.RFC3339),
			r.Server, r.Kind, dash(r.Tool), dash(r.Decision), summary(r))
	}
	tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// summary is the one detail of a record worth a glance.
func summary(r registry.Record) string {
	var d map[string]any
	json.Unmarshal(r.Data, &d)
	var parts []string
	for _, k := range []string{"reason", "args", "duration_ms", "error", "exit", "line", "count", "approval_id"} {
		v, ok := d[k]
		if !ok || fmt.Sprint(v) == r.Decision {
			continue
		}
		s := fmt.Sprint(v)
		if k == "args" {
			b, _ := json.Marshal(v)
			s = string(b)
		}
		if len(s) > 80 {
			s = s[:77] + "..."
		}
		parts = append(parts, k+"="+s)
	}
	return strings.Join(parts, " ")
}
