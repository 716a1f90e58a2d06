package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/opena2a-org/aim-mcp/internal/atomicfile"
	compliance "github.com/opena2a-org/aim-mcp/report"
)

var reportUsage = `
Usage: aim-mcp report [--type ` + strings.Join(reportTypes(), "|") + `] [--format json|csv|pdf] [flags]

Exports a compliance report for a period: each server with its identity,
key fingerprint and trust score; calls by tool and decision; approvals and
denials, with who answered and when; drift events; the result of verifying
the audit chain; and the controls of the framework the evidence speaks to
` + wrapText("", "("+reportCites()+"). CSV is one row per call. The report collects evidence; it is not an attestation.") + `
Flags:
  --type T       ` + reportTypes()[0] + " (default), " + orList(reportTypes()[1:]) + `
  --format F     json (default), csv or pdf
  --server NAME  only this server (all registered servers by default)
  --client NAME  with --server: only that client's server of that name
  --since T      from T: RFC 3339, a date (local midnight), or an age such as 24h or 7d (default 30d)
  --until T      up to T, excluded (default now)
  -o FILE, --output FILE
                 write to FILE (atomically) instead of standard output
  --home DIR     aim-mcp's data directory

Example: the PDF for one day
  aim-mcp report --type soc2 --format pdf --since 2026-11-24 --until 2026-11-25 -o soc2-2026-11-24.pdf
`

// reportTypes are the --type values, the default first.
func reportTypes() []string {
	var types []string
	for _, f := range compliance.Frameworks() {
		types = append(types, f.Type)
	}
	return types
}

// reportNames is "SOC 2, HIPAA, GDPR".
func reportNames() string {
	var names []string
	for _, f := range compliance.Frameworks() {
		names = append(names, f.Name)
	}
	return strings.Join(names, ", ")
}

// reportCites is "SOC 2 CC6/CC7, HIPAA ...": what each framework's report
// speaks to.
func reportCites() string {
	var cites []string
	for _, f := range compliance.Frameworks() {
		cites = append(cites, f.Name+" "+f.Cites)
	}
	return strings.Join(cites, ", ")
}

func runReport(ctx context.Context, e env, args []string) error {
	fs := flags(e, "report", reportUsage)
	typ := fs.String("type", reportTypes()[0], "")
	format := fs.String("format", "json", "")
	server := fs.String("server", "", "")
	client := fs.String("client", "", "")
	sinceFlag := fs.String("since", "", "")
	untilFlag := fs.String("until", "", "")
	out := fs.String("o", "", "")
	fs.StringVar(out, "output", "", "")
	homeFlag := fs.String("home", "", "")
	if err := parse(e, fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	*typ, *format = strings.ToLower(*typ), strings.ToLower(*format)
	if _, ok := compliance.Lookup(*typ); !ok {
		return &cliError{msg: fmt.Sprintf("unknown report type %q", *typ), code: 2,
			hints: []string{"use --type " + orList(reportTypes())}}
	}
	if !slices.Contains(compliance.Formats, *format) {
		return &cliError{msg: fmt.Sprintf("unknown report format %q", *format), code: 2,
			hints: []string{"use --format json, csv or pdf"}}
	}
	if *client != "" && *server == "" {
		return &usageError{cmd: "report", msg: "--client needs --server"}
	}
	now := time.Now()
	until, err := parseTime(*untilFlag, now)
	if err != nil {
		return &cliError{msg: "--until: " + err.Error(), code: 2, hints: []string{"for one day: --since 2026-11-24 --until 2026-11-25"}}
	}
	if until.IsZero() {
		until = now
	}
	since, err := parseTime(*sinceFlag, now)
	if err != nil {
		return &cliError{msg: "--since: " + err.Error(), code: 2, hints: []string{"for one day: --since 2026-11-24 --until 2026-11-25"}}
	}
	if since.IsZero() {
		since = until.AddDate(0, 0, -30)
	}
	if !since.Before(until) {
		return &cliError{msg: fmt.Sprintf("the period is empty or inverted: --since %s is not before --until %s",
			since.Format(time.RFC3339), until.Format(time.RFC3339)), code: 2,
			hints: []string{"give --since an earlier time than --until (--until is excluded)"}}
	}
	if *out != "" {
		if err := checkOutput(*out); err != nil {
			return err
		}
	} else if *format == "pdf" && isTerminal(e.stdout) {
		return errorf("a PDF is not for the terminal").hint("write it to a file with -o report.pdf")
	}

	_, db, err := openHome(ctx, e, *homeFlag, false)
	if err != nil {
		return err
	}
	defer db.Close()
	opt := compliance.Options{Type: *typ, Since: since, Until: until, Now: now}
	if *server != "" {
		found, err := db.FindServers(ctx, *server)
		if err != nil {
			return err
		}
		var clients []string
		for _, s := range found {
			clients = append(clients, s.Client)
			if *client == "" || s.Client == *client {
				opt.Servers = append(opt.Servers, s)
			}
		}
		switch {
		case len(found) == 0:
			return errorf("no server named %q", *server).hint("run \"aim-mcp list\" to see the servers")
		case len(opt.Servers) == 0:
			return errorf("no server named %q for client %q", *server, *client).hint("it is registered for: %s", strings.Join(clients, ", "))
		}
	} else {
		opt.All = true
		if opt.Servers, err = db.Servers(ctx); err != nil {
			return err
		}
	}
	r, err := compliance.Build(ctx, db, opt)
	if err != nil {
		return err
	}
	defer r.Close()
	if *out == "" {
		return compliance.Write(ctx, e.stdout, r, *format)
	}
	err = atomicfile.Write(*out, 0o600, func(w io.Writer) error { return compliance.Write(ctx, w, r, *format) })
	if err != nil {
		return errorf("cannot write the report: %v", err).hint("choose another -o FILE in a directory you can write")
	}
	chain := "the audit chain verifies"
	if r.Chain.HeadSeq > 0 {
		chain += fmt.Sprintf(" up to its head, record %d (hash %.16s…)", r.Chain.HeadSeq, r.Chain.HeadHash)
	}
	if !r.Chain.Intact {
		chain = fmt.Sprintf("the audit chain is BROKEN at record %d", r.Chain.BadSeq)
	}
	fmt.Fprintf(e.stderr, "aim-mcp: wrote the %s report (%s) to %s: %s from %s, %s\n",
		*typ, *format, *out, plural(r.Summary.Calls, "call"), plural(r.Summary.Servers, "server"), chain)
	return nil
}

// checkOutput refuses, before any work, an output path that cannot be
// written: a missing directory, a directory as the file, a read-only
// place. The report itself is written atomically, so a failure later
// leaves nothing behind either.
func checkOutput(path string) error {
	dir := filepath.Dir(path)
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return errorf("cannot write the report to %q: directory %q does not exist", path, dir).hint("create it first, or choose another -o FILE")
	case err != nil:
		return errorf("cannot write the report to %q: %v", path, err).hint("choose another -o FILE")
	case !st.IsDir():
		return errorf("cannot write the report to %q: %q is not a directory", path, dir).hint("choose another -o FILE")
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return errorf("cannot write the report to %q: it is a directory", path).hint("name a file, such as %s", filepath.Join(path, "report.pdf"))
	}
	probe, err := os.CreateTemp(dir, ".aim-mcp-report-*")
	if err != nil {
		if u := errors.Unwrap(err); u != nil {
			err = u
		}
		return errorf("cannot write the report to %q: %v", path, err).hint("choose an -o FILE in a directory you can write")
	}
	probe.Close()
	os.Remove(probe.Name())
	return nil
}

// isTerminal reports whether w is a terminal.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
