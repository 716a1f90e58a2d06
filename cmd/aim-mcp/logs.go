package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/opena2a-org/aim-mcp/audit"
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
	// Streamed as the rows are read: a million records are printed in the
	// memory of one.
	last := int64(0)
	var each func(registry.Record) error
	var done func() error
	switch {
	case *asJSON && !*follow:
		each, done = jsonArray(e.stdout)
	case *asJSON:
		enc := json.NewEncoder(e.stdout)
		each, done = func(r registry.Record) error { return enc.Encode(r) }, func() error { return nil }
	default:
		each, done = recordPrinter(e.stdout)
	}
	err = db.EachRecord(ctx, f, func(r registry.Record) error {
		last = r.Seq
		return each(r)
	})
	if err == nil {
		err = done()
	}
	if err != nil {
		return err
	}
	if !*follow {
		return nil
	}
	if last == 0 {
		if tail, _ := db.Records(ctx, registry.Filter{Limit: 1}); len(tail) > 0 {
			last = tail[0].Seq
		}
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
	each, done := recordPrinter(w)
	for _, r := range recs {
		each(r)
	}
	done()
}

// printBlock is how many lines are aligned together: tabwriter holds what
// it aligns, so a long log is aligned a block at a time.
const printBlock = 500

// recordPrinter prints records one a line, aligned in blocks.
func recordPrinter(w io.Writer) (each func(registry.Record) error, done func() error) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	n := 0
	each = func(r registry.Record) error {
		kind := r.Kind
		if kind == registry.KindDenied && r.Decision == string(audit.Cancelled) {
			kind = "cancelled" // the client gave up on it: nobody refused it
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Time.Local().Format(time.RFC3339),
			r.Server, kind, dash(r.Tool), dash(r.Decision), summary(r))
		if n++; n%printBlock == 0 {
			return tw.Flush()
		}
		return nil
	}
	return each, tw.Flush
}

// jsonArray writes records as one indented JSON array, the bytes
// json.MarshalIndent(records, "", "  ") would give, one record at a time.
func jsonArray(w io.Writer) (each func(registry.Record) error, done func() error) {
	bw := bufio.NewWriter(w)
	n := 0
	each = func(r registry.Record) error {
		b, err := json.MarshalIndent(r, "  ", "  ")
		if err != nil {
			return err
		}
		if n == 0 {
			bw.WriteString("[\n  ")
		} else {
			bw.WriteString(",\n  ")
		}
		n++
		_, err = bw.Write(b)
		return err
	}
	done = func() error {
		if n == 0 {
			bw.WriteString("[]\n")
		} else {
			bw.WriteString("\n]\n")
		}
		return bw.Flush()
	}
	return each, done
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
