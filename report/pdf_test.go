package report

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/go-pdf/fpdf"

	"github.com/opena2a-org/aim-mcp/report/pdftext"
)

// A table's header is never alone at the foot of a page: when its first
// row (here a tall one) does not fit under it there, both go to the next.
func TestTableHeaderNotOrphaned(t *testing.T) {
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetCompression(false)
	pdf.SetAutoPageBreak(false, pageMargin)
	w, h := pdf.GetPageSize()
	d := &pdfDoc{pdf: pdf, tr: pdf.UnicodeTranslatorFromDescriptor(""), pageW: w - 2*pageMargin, pageH: h}
	pdf.AddPage()
	pdf.SetFont("Helvetica", "", fontSize)
	// Room for the header and a one-line row, not for a ten-line one.
	pdf.SetY(h - pageMargin - 3*(lineH+1.4))
	tall := strings.TrimSpace(strings.Repeat("word ", 60))
	d.table([]col{{"Heading", 30, "L"}, {"Other", 30, "L"}}, [][]string{{tall, "x"}, {"short", "y"}})
	var buf bytes.Buffer
	if err := pdf.Output(&buf); err != nil {
		t.Fatal(err)
	}
	pages, err := pdftext.Pages(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) != 2 {
		t.Fatalf("%d pages, want 2", len(pages))
	}
	if strings.Contains(pages[0], "Heading") {
		t.Errorf("the header is alone at the foot of page 1: %q", pages[0])
	}
	if strings.Count(pages[1], "Heading") != 1 || !strings.Contains(pages[1], "short") {
		t.Errorf("page 2 should have the header once and the rows: %q", pages[1])
	}
}

// Dates, ids, fingerprints and record numbers are each drawn on one line:
// a table never breaks one across lines.
func TestPDFKeepsValuesWhole(t *testing.T) {
	f := seed(t)
	r := build(t, f, "soc2")
	b, err := PDF(context.Background(), r, PDFOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pages, err := pdftext.Pages(b)
	if err != nil {
		t.Fatal(err)
	}
	lines := map[string]bool{}
	for _, p := range pages {
		for _, l := range strings.Split(p, "\n") {
			lines[l] = true
		}
	}
	var whole []string
	for _, a := range r.Approvals {
		whole = append(whole, a.ID, a.CreatedAt.Format("2006-01-02 15:04:05"), a.DecidedAt.Format("2006-01-02 15:04:05"))
	}
	for _, c := range callsOf(t, r) {
		whole = append(whole, c.Time.Format("2006-01-02 15:04:05"))
	}
	for _, d := range r.Drift {
		whole = append(whole, d.Time.Format("2006-01-02 15:04:05"))
	}
	for _, s := range r.Servers {
		whole = append(whole, s.ID, s.Fingerprint)
	}
	for _, w := range whole {
		if !lines[w] {
			t.Errorf("%q is not drawn whole on a line of its own", w)
		}
	}
}
