package claudeconfig

import (
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/opena2a-org/aim-mcp/internal/jsonedit"
)

// readRoomy reads the file at path into a buffer with room to grow by a
// sixteenth and 64 KiB: wrapping a hundred servers adds a few tens of
// kilobytes, which then fit without a second copy of the file.
func readRoomy(path string) ([]byte, error) {
	r, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	size := 0
	if st, err := r.Stat(); err == nil && st.Size() <= MaxFileSize {
		size = int(st.Size())
	}
	buf := make([]byte, 0, size+size/16+64<<10)
	for {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, cap(buf)/2) // the file grew since the stat
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// editInPlace applies edits to src within its capacity, as jsonedit.Apply
// does into a new buffer, and reports whether it did. It works from the
// last edit back, moving each stretch between edits to its final place;
// that never overwrites bytes still to be moved as long as no run of edits
// from the start shrinks the text, which it checks first (installing only
// grows it). Otherwise, or when the result does not fit, src is left as it
// was and reported not done. What src held is gone once it is done: the
// File keeps a digest of it, not the bytes.
func editInPlace(src []byte, edits []jsonedit.Edit) ([]byte, bool, error) {
	sorted := slices.Clone(edits)
	slices.SortStableFunc(sorted, func(a, b jsonedit.Edit) int { return a.Start - b.Start })
	size, prev, grown := len(src), 0, 0
	for _, e := range sorted {
		if e.Start < prev || e.End < e.Start || e.End > len(src) {
			return nil, false, fmt.Errorf("edit [%d,%d) overlaps another edit or lies outside the %d-byte source", e.Start, e.End, len(src))
		}
		grown += len(e.Text) - (e.End - e.Start)
		if grown < 0 {
			return nil, false, nil
		}
		prev = e.End
	}
	size += grown
	if size > cap(src) {
		return nil, false, nil
	}
	for i, e := range sorted {
		// A text may be bytes of src itself (unwrapping puts an
		// argument back as the command): copied before src moves.
		sorted[i].Text = slices.Clone(e.Text)
	}
	out := src[:size]
	w, r := size, len(src)
	for i := len(sorted) - 1; i >= 0; i-- {
		e := sorted[i]
		w -= r - e.End
		copy(out[w:], src[e.End:r])
		w -= len(e.Text)
		copy(out[w:], e.Text)
		r = e.Start
	}
	return out, true, nil
}

// digest stands for the bytes as read or last saved once they are edited:
// a file of tens of megabytes is not held twice, as read and as edited, for
// Changed and OnDisk to compare.
type digest struct {
	n   int
	sum [sha256.Size]byte
}

// loadedDigest is the digest of the bytes as read or last saved.
func (f *File) loadedDigest() digest {
	if f.same {
		return digest{n: len(f.src), sum: sha256.Sum256(f.src)}
	}
	return f.loaded
}
