package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/opena2a-org/aim-mcp/audit"
	"github.com/opena2a-org/aim-mcp/internal/jsonarray"
	"github.com/opena2a-org/aim-mcp/registry"
)

const logsUsage = `
Usage: aim-mcp logs [flags]

Shows the audit trail, oldest first: every session, call, outcome, denial
and alert, with its time in RFC 3339, one a row under a header. On a
terminal a row wider than the terminal is cut to fit ("…" marks where);
piped or with --json, every value is printed whole.

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
	table := newLogTable(e.stdout, e.width)
	if *follow {
		var names []string
		if servers, err := db.Servers(ctx); err == nil {
			for _, s := range servers {
				names = append(names, s.Name)
			}
		}
		table.following(names)
	}
	var each func(registry.Record) error
	var done func() error
	switch {
	case *asJSON && !*follow:
		each, done = jsonArray(e.stdout)
	case *asJSON:
		enc := json.NewEncoder(e.stdout)
		each, done = func(r registry.Record) error { return enc.Encode(r) }, func() error { return nil }
	default:
		each, done = table.add, table.flush
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
			for _, r := range recs {
				table.add(r)
			}
			table.flush()
		}
		if len(recs) > 0 {
			last = recs[len(recs)-1].Seq
		}
	}
}

// logColumns head the columns of logs' text output.
var logColumns = []string{"TIME", "SERVER", "KIND", "TOOL", "DECISION", "DETAILS"}

// followToolWidth is the TOOL column's width under logs --follow, before
// any tool is seen: most tool names fit.
const followToolWidth = 20

// printBlock is how many rows are aligned together: the table holds the
// rows it aligns, so a long log is aligned a block at a time.
const printBlock = 500

// logTable prints records as rows under a header, aligned. The first block
// sets the column widths and the header is printed with it; later blocks
// and the rows --follow adds keep those widths, so the columns stay under
// their header (a value wider than its column pushes the rest of its own
// row only). On a terminal (width > 0) a row longer than the terminal is
// cut to fit, marked with "…"; elsewhere rows are printed whole (--json
// has every field, whole, either way).
type logTable struct {
	w      io.Writer
	width  int   // the terminal's width; 0: do not cut
	widths []int // of each column but the last
	header bool  // printed
	rows   [][]string
	loc    *time.Location // of the times shown
}

func newLogTable(w io.Writer, width int) *logTable {
	t := &logTable{w: w, width: width, widths: make([]int, len(logColumns)-1), loc: time.Local}
	t.fit(logColumns)
	return t
}

// atLeast widens column i to n, as when the server names are known before
// their records arrive.
func (t *logTable) atLeast(i, n int) { t.widths[i] = max(t.widths[i], n) }

// following widens the columns for logs --follow: from the start, wide
// enough for every server's name and for most kinds, tool names and
// decisions, so the rows that come later fit under the header the first
// ones set.
func (t *logTable) following(servers []string) {
	for _, s := range servers {
		t.atLeast(1, utf8.RuneCountInString(s))
	}
	t.atLeast(2, len(registry.KindSessionStart))
	t.atLeast(3, followToolWidth)
	t.atLeast(4, len(audit.Cancelled))
}

func (t *logTable) fit(row []string) {
	for i := range t.widths {
		t.atLeast(i, utf8.RuneCountInString(row[i]))
	}
}

// add queues a record's row, printing the queue when it is a block long.
func (t *logTable) add(r registry.Record) error {
	t.rows = append(t.rows, recordRow(r, t.loc))
	if len(t.rows) >= printBlock {
		return t.flush()
	}
	return nil
}

// flush prints the queued rows, under the header if it is not out yet.
func (t *logTable) flush() error {
	if len(t.rows) == 0 {
		return nil
	}
	var b strings.Builder
	if !t.header {
		for _, row := range t.rows {
			t.fit(row)
		}
		t.line(&b, logColumns)
		t.header = true
	}
	for _, row := range t.rows {
		t.line(&b, row)
	}
	t.rows = t.rows[:0]
	_, err := io.WriteString(t.w, b.String())
	return err
}

func (t *logTable) line(b *strings.Builder, row []string) {
	var l strings.Builder
	for i, cell := range row {
		l.WriteString(cell)
		if i < len(t.widths) {
			l.WriteString(strings.Repeat(" ", max(t.widths[i]-utf8.RuneCountInString(cell), 0)+2))
		}
	}
	b.WriteString(cut(strings.TrimRight(l.String(), " "), t.width))
	b.WriteByte('\n')
}

// cut shortens s to width columns, the last one "…"; width 0 keeps it whole.
func cut(s string, width int) string {
	if width <= 0 || utf8.RuneCountInString(s) <= width {
		return s
	}
	r := []rune(s)
	return string(r[:width-1]) + "…"
}

// recordRow is a record's cells, in the order of logColumns.
func recordRow(r registry.Record, loc *time.Location) []string {
	kind := r.Kind
	if kind == registry.KindDenied && r.Decision == string(audit.Cancelled) {
		kind = "cancelled" // the client gave up on it: nobody refused it
	}
	return []string{r.Time.In(loc).Format(time.RFC3339), r.Server, kind, dash(r.Tool), dash(r.Decision), summary(r)}
}

// jsonArray writes records as one indented JSON array, the bytes
// json.MarshalIndent(records, "", "  ") would give, one record at a time.
func jsonArray(w io.Writer) (each func(registry.Record) error, done func() error) {
	bw := bufio.NewWriter(w)
	a := jsonarray.New(bw, "", "  ")
	each = func(r registry.Record) error { return a.Add(r) }
	done = func() error {
		a.Close()
		bw.WriteByte('\n')
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
		parts = append(parts, k+"="+s)
	}
	return strings.Join(parts, " ")
}
