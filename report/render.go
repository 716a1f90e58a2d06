package report

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/opena2a-org/aim-mcp/internal/jsonarray"
)

// Write writes the report in a format (json, csv or pdf) to w. JSON and
// CSV are written as the calls are read, one at a time: the output of a
// million calls never sits in memory. The PDF lists the first calls only
// and is written whole.
func Write(ctx context.Context, w io.Writer, r *Report, format string) error {
	switch format {
	case "json":
		return writeJSON(ctx, w, r)
	case "csv":
		return writeCSV(ctx, w, r)
	case "pdf":
		b, err := PDF(ctx, r, PDFOptions{Compress: true})
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	return fmt.Errorf("unknown report format %q", format)
}

// Render returns the report in a format, as [Write] writes it.
func Render(ctx context.Context, r *Report, format string) ([]byte, error) {
	var buf bytes.Buffer
	if err := Write(ctx, &buf, r, format); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// callsHole is where the calls go in the indented JSON of a report
// marshalled without them.
const callsHole = "\n  \"calls\": []"

// writeJSON writes the same bytes as json.MarshalIndent(r, "", "  ")
// would with every call in r.Calls, streaming the calls into their place.
func writeJSON(ctx context.Context, w io.Writer, r *Report) error {
	shell := *r
	shell.Calls = []Call{}
	b, err := json.MarshalIndent(&shell, "", "  ")
	if err != nil {
		return err
	}
	i := bytes.Index(b, []byte(callsHole))
	if i < 0 {
		return errors.New("report: no calls in the JSON") // the struct lost its field
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.Write(b[:i+len(callsHole)-2]) // up to the empty array, which the calls replace
	calls := jsonarray.New(bw, "  ", "  ")
	var buf []byte
	err = r.EachCall(ctx, func(c Call) error {
		var err error
		if buf, err = c.appendJSON(buf[:0], calls.Prefix(), "  "); err != nil {
			return err
		}
		return calls.AddIndented(buf)
	})
	if err != nil {
		return err
	}
	calls.Close()
	bw.Write(b[i+len(callsHole):]) // after the ']'
	bw.WriteByte('\n')
	return bw.Flush()
}

// CSVHeader is the CSV format's header: one row per call follows.
var CSVHeader = []string{"seq", "time", "server", "client", "server_id", "tool", "decision", "risk", "source",
	"approval_id", "approver", "outcome", "duration_ms", "args_digest", "hash", "report_type", "period_since", "period_until"}

// writeCSV writes one row per call of the period, oldest first.
func writeCSV(ctx context.Context, w io.Writer, r *Report) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	cw := csv.NewWriter(bw)
	cw.Write(CSVHeader)
	since, until := r.Period.Since.Format(time.RFC3339), r.Period.Until.Format(time.RFC3339)
	row := make([]string, len(CSVHeader))
	err := r.EachCall(ctx, func(c Call) error {
		ms := ""
		if c.DurationMS != 0 {
			ms = strconv.FormatFloat(c.DurationMS, 'f', -1, 64)
		}
		row = append(row[:0], strconv.FormatInt(c.Seq, 10), c.Time.UTC().Format(time.RFC3339Nano), cell(c.Server), cell(c.Client), c.ServerID,
			cell(c.Tool), c.Decision, c.Risk, cell(c.Source), c.ApprovalID, cell(c.Approver), c.Outcome, ms, c.ArgsDigest, c.Hash,
			r.Type, since, until)
		return cw.Write(row)
	})
	if err != nil {
		return err
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	return bw.Flush()
}

// cell defuses a value a spreadsheet would run as a formula (a tool or
// server name is chosen by the server, not by us): it gets a leading '.
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
