// Package pdftext reads the text back out of the PDFs aim-mcp writes
// (github.com/go-pdf/fpdf, core fonts): enough to check in a test that a
// report opens and what its pages show, with no PDF tools installed.
//
// It checks the file's structure on the way: the header, the cross
// reference table (every object where it says), the trailer's root and the
// page tree. It reads the text of Tj operators in each page's content
// stream, inflating Flate streams; it is not a general PDF reader.
package pdftext

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
)

// Doc is a parsed PDF.
type Doc struct {
	data    []byte
	offsets map[int]int // object number → byte offset
}

// Pages returns the text of each page, one line per text-showing
// operator, in page order.
func Pages(pdf []byte) ([]string, error) {
	d, err := Parse(pdf)
	if err != nil {
		return nil, err
	}
	return d.Pages()
}

var (
	startxrefRe = regexp.MustCompile(`startxref\s+(\d+)\s+%%EOF\s*$`)
	entryRe     = regexp.MustCompile(`^(\d{10}) (\d{5}) ([nf])`)
	refRe       = func(key string) *regexp.Regexp { return regexp.MustCompile(`/` + key + `\s+(\d+)\s+0\s+R`) }
	rootRe      = refRe("Root")
	contentsRe  = refRe("Contents")
	kidsRe      = regexp.MustCompile(`/Kids\s*\[([^\]]*)\]`)
	kidRe       = regexp.MustCompile(`(\d+)\s+0\s+R`)
	lengthRe    = regexp.MustCompile(`/Length\s+(\d+)(\s+0\s+R)?`)
	pagesRe     = refRe("Pages")
)

// Parse checks the structure of a PDF and indexes its objects.
func Parse(pdf []byte) (*Doc, error) {
	if !bytes.HasPrefix(pdf, []byte("%PDF-1.")) {
		return nil, errors.New("pdf: no %PDF-1.x header")
	}
	m := startxrefRe.FindSubmatch(pdf)
	if m == nil {
		return nil, errors.New("pdf: no startxref and %%EOF at the end")
	}
	off, _ := strconv.Atoi(string(m[1]))
	if off >= len(pdf) || !bytes.HasPrefix(pdf[off:], []byte("xref")) {
		return nil, fmt.Errorf("pdf: startxref %d does not point at the xref table", off)
	}
	lines := bytes.Split(pdf[off:], []byte("\n"))
	if len(lines) < 2 {
		return nil, errors.New("pdf: truncated xref table")
	}
	var first, count int
	if _, err := fmt.Sscanf(string(lines[1]), "%d %d", &first, &count); err != nil {
		return nil, fmt.Errorf("pdf: xref subsection: %v", err)
	}
	if len(lines) < 2+count {
		return nil, errors.New("pdf: truncated xref table")
	}
	d := &Doc{data: pdf, offsets: map[int]int{}}
	for i := range count {
		e := entryRe.FindSubmatch(lines[2+i])
		if e == nil {
			return nil, fmt.Errorf("pdf: bad xref entry %q", lines[2+i])
		}
		if string(e[3]) != "n" {
			continue
		}
		n := first + i
		o, _ := strconv.Atoi(string(e[1]))
		head := fmt.Sprintf("%d 0 obj", n)
		if o >= len(pdf) || !bytes.HasPrefix(pdf[o:], []byte(head)) {
			return nil, fmt.Errorf("pdf: xref says object %d is at %d, but it is not there", n, o)
		}
		d.offsets[n] = o
	}
	trailer := pdf[off:]
	if rootRe.Find(trailer) == nil {
		return nil, errors.New("pdf: the trailer has no /Root")
	}
	return d, nil
}

// object returns the text of object n, from "n 0 obj" to "endobj".
func (d *Doc) object(n int) ([]byte, error) {
	o, ok := d.offsets[n]
	if !ok {
		return nil, fmt.Errorf("pdf: no object %d", n)
	}
	end := bytes.Index(d.data[o:], []byte("endobj"))
	if end < 0 {
		return nil, fmt.Errorf("pdf: object %d has no endobj", n)
	}
	return d.data[o : o+end], nil
}

func ref(re *regexp.Regexp, b []byte) (int, bool) {
	m := re.FindSubmatch(b)
	if m == nil {
		return 0, false
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n, true
}

// stream returns the decoded stream of object n.
func (d *Doc) stream(n int) ([]byte, error) {
	obj, err := d.object(n)
	if err != nil {
		return nil, err
	}
	i := bytes.Index(obj, []byte("stream"))
	if i < 0 {
		return nil, fmt.Errorf("pdf: object %d has no stream", n)
	}
	dict := obj[:i]
	lm := lengthRe.FindSubmatch(dict)
	if lm == nil || len(lm[2]) > 0 {
		return nil, fmt.Errorf("pdf: object %d: no direct /Length", n)
	}
	length, _ := strconv.Atoi(string(lm[1]))
	body := obj[i+len("stream"):]
	body = bytes.TrimPrefix(body, []byte("\r"))
	body = bytes.TrimPrefix(body, []byte("\n"))
	if length > len(body) {
		return nil, fmt.Errorf("pdf: object %d: /Length %d runs past the object", n, length)
	}
	body = body[:length]
	if bytes.Contains(dict, []byte("/FlateDecode")) {
		zr, err := zlib.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("pdf: object %d: %v", n, err)
		}
		if body, err = io.ReadAll(zr); err != nil {
			return nil, fmt.Errorf("pdf: object %d: %v", n, err)
		}
	}
	return body, nil
}

// Pages returns each page's text.
func (d *Doc) Pages() ([]string, error) {
	trailer := d.data[bytes.LastIndex(d.data, []byte("trailer")):]
	root, _ := ref(rootRe, trailer)
	cat, err := d.object(root)
	if err != nil {
		return nil, err
	}
	pagesN, ok := ref(pagesRe, cat)
	if !ok {
		return nil, errors.New("pdf: the catalog has no /Pages")
	}
	pages, err := d.object(pagesN)
	if err != nil {
		return nil, err
	}
	kids := kidsRe.FindSubmatch(pages)
	if kids == nil {
		return nil, errors.New("pdf: the page tree has no /Kids")
	}
	var out []string
	for _, k := range kidRe.FindAllSubmatch(kids[1], -1) {
		n, _ := strconv.Atoi(string(k[1]))
		page, err := d.object(n)
		if err != nil {
			return nil, err
		}
		if !bytes.Contains(page, []byte("/Type /Page")) {
			return nil, fmt.Errorf("pdf: kid %d is not a page", n)
		}
		c, ok := ref(contentsRe, page)
		if !ok {
			return nil, fmt.Errorf("pdf: page %d has no /Contents", n)
		}
		content, err := d.stream(c)
		if err != nil {
			return nil, err
		}
		out = append(out, showText(content))
	}
	if len(out) == 0 {
		return nil, errors.New("pdf: no pages")
	}
	return out, nil
}

// showText collects the string operands of Tj, one per line, decoded from
// Windows-1252 (as far as Latin-1 goes).
func showText(content []byte) string {
	var out bytes.Buffer
	for i := 0; i < len(content); i++ {
		if content[i] != '(' {
			continue
		}
		s, end := literal(content, i)
		rest := bytes.TrimLeft(content[end:], " \r\n")
		if bytes.HasPrefix(rest, []byte("Tj")) {
			for _, b := range s {
				out.WriteRune(rune(b))
			}
			out.WriteByte('\n')
		}
		i = end - 1
	}
	return out.String()
}

// literal reads the PDF string literal at content[i] == '(' and returns its
// bytes and the index after its closing parenthesis.
func literal(content []byte, i int) ([]byte, int) {
	var s []byte
	depth := 0
	for j := i; j < len(content); j++ {
		c := content[j]
		switch {
		case c == '\\' && j+1 < len(content):
			j++
			switch e := content[j]; e {
			case 'n':
				s = append(s, '\n')
			case 'r':
				s = append(s, '\r')
			case 't':
				s = append(s, '\t')
			case 'b':
				s = append(s, '\b')
			case 'f':
				s = append(s, '\f')
			case '\r', '\n': // a line continuation
			default:
				if e >= '0' && e <= '7' {
					v, k := 0, 0
					for ; k < 3 && j+k < len(content) && content[j+k] >= '0' && content[j+k] <= '7'; k++ {
						v = v*8 + int(content[j+k]-'0')
					}
					s = append(s, byte(v))
					j += k - 1
				} else {
					s = append(s, e)
				}
			}
		case c == '(':
			if depth > 0 {
				s = append(s, c)
			}
			depth++
		case c == ')':
			depth--
			if depth == 0 {
				return s, j + 1
			}
			s = append(s, c)
		default:
			s = append(s, c)
		}
	}
	return s, len(content)
}
