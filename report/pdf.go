package report

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/go-pdf/fpdf"
)

// PDFOptions tune the PDF.
type PDFOptions struct {
	// Compress deflates the page streams (the default for Render); tests
	// may turn it off to read the text as it was drawn.
	Compress bool
	// MaxCalls caps the rows of the calls table (0: 2000); the CSV has them all.
	MaxCalls int
}

// A4 portrait, in millimetres.
const (
	pageMargin = 14.0
	lineH      = 4.2
	fontSize   = 8.0
)

type pdfDoc struct {
	pdf   *fpdf.Fpdf
	tr    func(string) string
	pageW float64 // usable width
	pageH float64 // page height
}

// PDF renders the report as a readable A4 document with tables.
func PDF(ctx context.Context, r *Report, opt PDFOptions) ([]byte, error) {
	if opt.MaxCalls <= 0 {
		opt.MaxCalls = 2000
	}
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetCompression(opt.Compress)
	pdf.SetMargins(pageMargin, pageMargin, pageMargin)
	pdf.SetAutoPageBreak(false, pageMargin) // rows are placed by hand, whole
	pdf.SetTitle(r.Title, true)
	pdf.SetCreator("aim-mcp", true)
	pdf.SetSubject(fmt.Sprintf("%s, %s to %s", r.Title, r.Period.Since.Format(time.RFC3339), r.Period.Until.Format(time.RFC3339)), true)
	pdf.SetCreationDate(r.GeneratedAt)
	pdf.SetModificationDate(r.GeneratedAt)
	pdf.AliasNbPages("{nb}")
	w, h := pdf.GetPageSize()
	d := &pdfDoc{pdf: pdf, tr: pdf.UnicodeTranslatorFromDescriptor(""), pageW: w - 2*pageMargin, pageH: h}
	pdf.SetFooterFunc(func() {
		pdf.SetXY(pageMargin, h-pageMargin+4)
		pdf.SetFont("Helvetica", "I", 7)
		pdf.SetTextColor(110, 110, 110)
		pdf.CellFormat(d.pageW/2, 4, d.tr(clean(fmt.Sprintf("aim-mcp %s, generated %s", r.Title, r.GeneratedAt.Format("2006-01-02 15:04 MST")))), "", 0, "L", false, 0, "")
		pdf.CellFormat(d.pageW/2, 4, fmt.Sprintf("page %d of {nb}", pdf.PageNo()), "", 0, "R", false, 0, "")
		pdf.SetTextColor(0, 0, 0)
	})
	pdf.AddPage()

	// Title block.
	pdf.SetFont("Helvetica", "B", 16)
	d.text(r.Title+": MCP tool calls", 8)
	pdf.SetFont("Helvetica", "", 9)
	d.text(fmt.Sprintf("Period: %s to %s (UTC, end excluded)", r.Period.Since.Format("2006-01-02 15:04:05"), r.Period.Until.Format("2006-01-02 15:04:05")), 5)
	d.text("Scope: "+r.Scope, 5)
	d.text("Generated: "+r.GeneratedAt.Format("2006-01-02 15:04:05 MST")+" by aim-mcp", 5)
	chainLine := "Audit chain: INTACT - " + r.Chain.verified() + " (hash links and Ed25519 signatures)"
	if !r.Chain.Intact {
		chainLine = fmt.Sprintf("Audit chain: BROKEN at record %d - %s", r.Chain.BadSeq, r.Chain.Reason)
	}
	pdf.SetFont("Helvetica", "B", 9)
	d.text(chainLine, 6)
	if r.Chain.HeadSeq > 0 {
		pdf.SetFont("Helvetica", "", 9)
		d.text(fmt.Sprintf("Made from the chain up to record %d, hash %s", r.Chain.HeadSeq, r.Chain.HeadHash), 5)
	}
	pdf.SetFont("Helvetica", "I", 8)
	d.text(r.Note, 6)

	s := r.Summary
	d.section("Summary")
	d.table([]col{{"Measure", 60, "L"}, {"Value", 30, "R"}}, [][]string{
		{"Servers in scope", fmt.Sprint(s.Servers)},
		{"Tool calls", fmt.Sprint(s.Calls)},
		{"  forwarded to the server", fmt.Sprint(s.Forwarded)},
		{"  refused or held for a person", fmt.Sprint(s.Refused)},
		{"  cancelled by the client before a decision", fmt.Sprint(s.Cancelled)},
		{"  succeeded", fmt.Sprint(s.Succeeded)},
		{"  failed", fmt.Sprint(s.Failed)},
		{"Approval requests", fmt.Sprint(s.Approvals)},
		{"  approved by a person", fmt.Sprint(s.HumanApproved)},
		{"  denied by a person", fmt.Sprint(s.HumanDenied)},
		{"Drift events", fmt.Sprint(s.DriftEvents)},
		{"Bypass attempts", fmt.Sprint(s.BypassAttempts)},
		{"Audit chain intact", yesNo(s.ChainIntact)},
	})

	d.section("Servers")
	var rows [][]string
	for _, sv := range r.Servers {
		rows = append(rows, []string{sv.Name, sv.Client, sv.Status, sv.ID, sv.Fingerprint,
			fmt.Sprintf("%.2f", sv.Trust.Overall), fmt.Sprint(sv.Calls), fmt.Sprint(sv.Refused)})
	}
	d.table([]col{{"Server", 28, "L"}, {"Client", 24, "L"}, {"Status", 14, "L"}, {"Registration id", 34, "L"},
		{"Key fingerprint", 46, "L"}, {"Trust", 11, "R"}, {"Calls", 12, "R"}, {"Refused", 13, "R"}}, rows, "Client", "Registration id", "Key fingerprint")

	d.section("Trust factors")
	rows = nil
	for _, sv := range r.Servers {
		for _, f := range sv.Trust.List {
			rows = append(rows, []string{sv.Name, f.Name, fmt.Sprintf("%.3f", f.Value), fmt.Sprintf("%.2f", f.Weight), f.Evidence})
		}
	}
	d.table([]col{{"Server", 26, "L"}, {"Factor", 30, "L"}, {"Value", 12, "R"}, {"Weight", 12, "R"}, {"Evidence", 102, "L"}}, rows)

	d.section("Audit chain verification")
	pdf.SetFont("Helvetica", "", fontSize+1)
	if r.Chain.Intact {
		d.para(fmt.Sprintf("Intact. %s of %s checked: each record's SHA-256 hash, its link to the record before it, and its Ed25519 signature by its server's key (%s). Checked %s.",
			count(r.Chain.Records, "record"), count(r.Chain.Servers, "server")+were(r.Chain.Records), r.Chain.Scope, r.Chain.CheckedAt.Format("2006-01-02 15:04:05 MST")))
	} else {
		d.para(fmt.Sprintf("BROKEN at record %d: %s. Records before it are intact; compare with a backup of the registry. Checked %s.",
			r.Chain.BadSeq, r.Chain.Reason, r.Chain.CheckedAt.Format("2006-01-02 15:04:05 MST")))
	}

	d.section("Controls")
	rows = nil
	for _, c := range r.Controls {
		rows = append(rows, []string{c.ID, c.Title, c.Status, c.Evidence})
	}
	d.table([]col{{"Control", 22, "L"}, {"Requirement", 48, "L"}, {"Status", 18, "L"}, {"Evidence", 94, "L"}}, rows)

	d.section("Calls by tool and decision")
	rows = nil
	for _, tc := range r.CallsByTool {
		rows = append(rows, []string{tc.Server, tc.Tool, fmt.Sprint(tc.Calls), counts(tc.Decisions), counts(tc.Outcomes)})
	}
	d.table([]col{{"Server", 30, "L"}, {"Tool", 36, "L"}, {"Calls", 12, "R"}, {"Decisions", 52, "L"}, {"Outcomes", 52, "L"}}, rows)

	d.section("Approvals and denials")
	rows = nil
	for _, a := range r.Approvals {
		decided := ""
		if !a.DecidedAt.IsZero() {
			decided = a.DecidedAt.Format("2006-01-02 15:04:05")
		}
		rows = append(rows, []string{a.CreatedAt.Format("2006-01-02 15:04:05"), a.Server, a.Tool, a.ID, a.Status, a.DecidedBy, decided, a.Reason})
	}
	d.table([]col{{"Requested", 25, "L"}, {"Server", 22, "L"}, {"Tool", 22, "L"}, {"Id", 15, "L"}, {"Status", 15, "L"},
		{"By", 16, "L"}, {"Decided", 25, "L"}, {"Reason", 42, "L"}}, rows, "Requested", "Id", "Decided")

	d.section("Drift events")
	rows = nil
	for _, dr := range r.Drift {
		rows = append(rows, []string{dr.Time.Format("2006-01-02 15:04:05"), dr.Server, dr.Tool, dr.Change, dr.Detail, fmt.Sprint(dr.Seq)})
	}
	d.table([]col{{"Time", 28, "L"}, {"Server", 28, "L"}, {"Tool", 30, "L"}, {"Change", 18, "L"}, {"Detail", 64, "L"}, {"Record", 14, "R"}}, rows, "Time", "Record")

	d.section("Calls")
	rows = nil
	errEnough := errors.New("enough calls")
	err := r.EachCall(ctx, func(c Call) error {
		if len(rows) == opt.MaxCalls {
			return errEnough
		}
		ms := ""
		if c.DurationMS != 0 {
			ms = fmt.Sprintf("%.1f", c.DurationMS)
		}
		rows = append(rows, []string{c.Time.Format("2006-01-02 15:04:05"), c.Server, c.Tool, c.Decision, c.Risk, c.Approver, c.Outcome, ms, fmt.Sprint(c.Seq)})
		return nil
	})
	if err != nil && !errors.Is(err, errEnough) {
		return nil, err
	}
	d.table([]col{{"Time", 27, "L"}, {"Server", 26, "L"}, {"Tool", 28, "L"}, {"Decision", 24, "L"}, {"Risk", 14, "L"},
		{"Approver", 16, "L"}, {"Outcome", 20, "L"}, {"ms", 12, "R"}, {"Record", 15, "R"}}, rows, "Time", "Record")
	if more := r.callCount() - len(rows); more > 0 {
		pdf.SetFont("Helvetica", "I", fontSize)
		d.para(fmt.Sprintf("%d more calls are not shown; the CSV format lists every call.", more))
	}

	var buf bytes.Buffer
	if err := pdf.Output(&buf); err != nil {
		return nil, fmt.Errorf("pdf: %w", err)
	}
	return buf.Bytes(), nil
}

type col struct {
	title string
	width float64
	align string
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "NO"
}

// counts writes a map of counts as "a 3, b 1", biggest first.
func counts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

// need starts a new page unless h millimetres fit on this one.
func (d *pdfDoc) need(h float64) bool {
	if d.pdf.GetY()+h <= d.pageH-pageMargin {
		return false
	}
	d.pdf.AddPage()
	return true
}

// text writes one line (cut to the width) and moves down by h.
func (d *pdfDoc) text(s string, h float64) {
	d.need(h)
	lines := d.pdf.SplitText(clean(s), d.pageW)
	if len(lines) == 0 {
		lines = []string{""}
	}
	for _, l := range lines {
		d.need(h)
		d.pdf.SetX(pageMargin)
		d.pdf.CellFormat(d.pageW, h, d.tr(l), "", 1, "L", false, 0, "")
	}
}

// para writes a wrapped paragraph.
func (d *pdfDoc) para(s string) {
	for _, l := range d.pdf.SplitText(clean(s), d.pageW) {
		d.need(lineH + 0.6)
		d.pdf.SetX(pageMargin)
		d.pdf.CellFormat(d.pageW, lineH+0.6, d.tr(l), "", 1, "L", false, 0, "")
	}
	d.pdf.Ln(1)
}

func (d *pdfDoc) section(title string) {
	d.need(30) // a heading is never alone at the foot of a page
	d.pdf.Ln(3)
	d.pdf.SetFont("Helvetica", "B", 12)
	d.pdf.SetX(pageMargin)
	d.pdf.CellFormat(d.pageW, 7, d.tr(title), "B", 1, "L", false, 0, "")
	d.pdf.Ln(1.5)
}

// maxCellLines keeps a row shorter than a page.
const maxCellLines = 40

// table draws rows under a header that is repeated on each new page; cells
// wrap, and a row is never split across pages. The columns titled in whole
// hold values a reader copies or compares (dates, ids, fingerprints, record
// numbers): they are widened to their longest value, taking the room from
// the other columns, so that no such value is broken across lines.
func (d *pdfDoc) table(cols []col, rows [][]string, whole ...string) {
	pdf := d.pdf
	cols = d.fitWhole(cols, rows, whole)
	header := func() {
		pdf.SetFont("Helvetica", "B", fontSize)
		pdf.SetFillColor(225, 228, 235)
		x := pageMargin
		y := pdf.GetY()
		for _, c := range cols {
			pdf.SetXY(x, y)
			pdf.CellFormat(c.width, lineH+1.4, d.tr(c.title), "1", 0, c.align, true, 0, "")
			x += c.width
		}
		pdf.SetXY(pageMargin, y+lineH+1.4)
		pdf.SetFont("Helvetica", "", fontSize)
	}
	if len(rows) == 0 {
		pdf.SetFont("Helvetica", "I", fontSize+1)
		d.para("None in this period.")
		return
	}
	// A row's cells, wrapped, and its height.
	layout := func(row []string) ([][]string, float64) {
		cells := make([][]string, len(cols))
		n := 1
		for i, c := range cols {
			v := ""
			if i < len(row) {
				v = clean(row[i])
			}
			lines := pdf.SplitText(v, c.width)
			if len(lines) == 0 {
				lines = []string{""}
			}
			if len(lines) > maxCellLines {
				lines = append(lines[:maxCellLines-1], "...")
			}
			cells[i] = lines
			n = max(n, len(lines))
		}
		return cells, float64(n)*lineH + 1.2
	}
	// The header goes where its first row fits under it: never alone at
	// the foot of a page.
	_, first := layout(rows[0])
	d.need(lineH + 1.4 + first)
	header()
	for _, row := range rows {
		cells, h := layout(row)
		if d.need(h) {
			header()
		}
		x, y := pageMargin, pdf.GetY()
		for i, c := range cols {
			pdf.Rect(x, y, c.width, h, "D")
			for j, l := range cells[i] {
				pdf.SetXY(x, y+0.6+float64(j)*lineH)
				pdf.CellFormat(c.width, lineH, d.tr(l), "", 0, c.align, false, 0, "")
			}
			x += c.width
		}
		pdf.SetXY(pageMargin, y+h)
	}
	pdf.Ln(1)
}

// fitWhole widens the columns titled in whole to their longest value and
// narrows the others by as much, each in proportion to its room above its
// title's width (a header is drawn on one line).
func (d *pdfDoc) fitWhole(cols []col, rows [][]string, whole []string) []col {
	cols = slices.Clone(cols)
	pad := 2*d.pdf.GetCellMargin() + 0.5
	d.pdf.SetFont("Helvetica", "", fontSize)
	extra := 0.0
	for i, c := range cols {
		if !slices.Contains(whole, c.title) {
			continue
		}
		need := 0.0
		for _, row := range rows {
			if i < len(row) {
				need = max(need, d.pdf.GetStringWidth(d.tr(clean(row[i])))+pad)
			}
		}
		if need > c.width {
			extra += need - c.width
			cols[i].width = need
		}
	}
	if extra == 0 {
		return cols
	}
	d.pdf.SetFont("Helvetica", "B", fontSize)
	room := make([]float64, len(cols))
	total := 0.0
	for i, c := range cols {
		if !slices.Contains(whole, c.title) {
			room[i] = max(c.width-d.pdf.GetStringWidth(d.tr(c.title))-pad, 0)
			total += room[i]
		}
	}
	if total == 0 {
		return cols
	}
	for i := range cols {
		cols[i].width -= min(extra, total) * room[i] / total
	}
	return cols
}

// clean makes text drawable with the core fonts (Windows-1252): controls
// become spaces, common typography its ASCII form, anything else "?". The
// result has only runes below 256, which the fonts' width tables cover.
func clean(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			b.WriteByte(' ')
		case r < 0x20 || r >= 0x7f && r < 0xa0:
			b.WriteByte('?')
		case r < 0x100:
			b.WriteRune(r)
		default:
			switch r {
			case '–', '—', '‐', '−':
				b.WriteByte('-')
			case '‘', '’':
				b.WriteByte('\'')
			case '“', '”':
				b.WriteByte('"')
			case '…':
				b.WriteString("...")
			case '→':
				b.WriteString("->")
			case '≥':
				b.WriteString(">=")
			case '≤':
				b.WriteString("<=")
			default:
				b.WriteByte('?')
			}
		}
	}
	return b.String()
}
