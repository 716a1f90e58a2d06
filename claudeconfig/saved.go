package claudeconfig

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/opena2a-org/aim-mcp/internal/canon"
	"github.com/opena2a-org/aim-mcp/internal/private"
)

// SavedEntry is a rewritten remote entry's way back: its bytes before
// install, and what install wrote in their place. A wrapped stdio entry
// carries its original command after "--"; a rewritten remote entry keeps
// nothing of its old shape, so uninstall needs this file, named by the
// --entry id in the new entry's args. It lives in the home, private to
// the user: headers in the original are often secrets.
type SavedEntry struct {
	ID     string   `json:"id"`
	Client string   `json:"client"`
	Config string   `json:"config"` // the file the entry is in
	Root   []string `json:"root"`
	Name   string   `json:"name"`
	Server string   `json:"server"` // what it is registered as
	URL    string   `json:"url"`
	// Transport is the --transport written.
	Transport string `json:"transport"`
	// Original is the entry's value before install, byte for byte:
	// OriginalBase64 instead when those bytes are not UTF-8, which a JSON
	// string cannot carry unchanged.
	Original       string `json:"original,omitempty"`
	OriginalBase64 []byte `json:"original_base64,omitempty"`
	// WrappedSum is canon.Sum of what install wrote, and WrappedDigest its
	// canonical digest, so that a client that re-serialises the file does
	// not count as an edit of the entry.
	WrappedSum    string `json:"wrapped_sum"`
	WrappedDigest string `json:"wrapped_digest,omitempty"`
}

// NewSavedEntry describes an entry rewritten from orig to wrapped.
func NewSavedEntry(orig, wrapped []byte) SavedEntry {
	s := SavedEntry{WrappedSum: canon.Sum(wrapped)}
	s.WrappedDigest, _ = canon.Digest(wrapped)
	if utf8.Valid(orig) {
		s.Original = string(orig)
	} else {
		s.OriginalBase64 = bytes.Clone(orig)
	}
	return s
}

// OriginalBytes is the entry as it was before install.
func (s SavedEntry) OriginalBytes() []byte {
	if s.OriginalBase64 != nil {
		return s.OriginalBase64
	}
	return []byte(s.Original)
}

// Unchanged reports whether cur is what install wrote: the same bytes, or
// the same JSON written another way.
func (s SavedEntry) Unchanged(cur []byte) bool {
	if canon.Sum(cur) == s.WrappedSum {
		return true
	}
	d, err := canon.Digest(cur)
	return err == nil && s.WrappedDigest != "" && d == s.WrappedDigest
}

// NewEntryID returns a fresh id for --entry.
func NewEntryID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// validID keeps an id read from a config, which anyone who can write it
// chooses, from naming a file outside dir.
func validID(id string) bool {
	return len(id) > 0 && len(id) <= 64 && strings.Trim(id, "0123456789abcdef") == ""
}

// SavedPath is where the entry id is kept in dir.
func SavedPath(dir, id string) string { return filepath.Join(dir, id+".json") }

// Save writes s into dir as a new private file. It never overwrites.
func (s SavedEntry) Save(dir string) error {
	if !validID(s.ID) {
		return fmt.Errorf("keep entry: bad id %q", s.ID)
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("keep entry: %w", err)
	}
	if err := private.MkdirAll(dir); err != nil {
		return fmt.Errorf("keep entry: %w", err)
	}
	f, err := private.Create(SavedPath(dir, s.ID))
	if err != nil {
		return fmt.Errorf("keep entry: %w", err)
	}
	if err := copyAndSync(f, bytes.NewReader(append(b, '\n'))); err != nil {
		os.Remove(SavedPath(dir, s.ID))
		return fmt.Errorf("keep entry: %w", err)
	}
	return nil
}

// ErrNoSaved is a saved entry that is not there.
var ErrNoSaved = errors.New("no saved entry")

// LoadSaved reads the entry id kept in dir.
func LoadSaved(dir, id string) (SavedEntry, error) {
	var s SavedEntry
	if !validID(id) {
		return s, fmt.Errorf("read saved entry: bad id %q", id)
	}
	b, err := os.ReadFile(SavedPath(dir, id))
	if errors.Is(err, fs.ErrNotExist) {
		return s, fmt.Errorf("%w %s", ErrNoSaved, SavedPath(dir, id))
	}
	if err != nil {
		return s, fmt.Errorf("read saved entry: %w", err)
	}
	if err := json.Unmarshal(b, &s); err != nil || s.ID != id {
		return s, fmt.Errorf("read saved entry %s: not one aim-mcp wrote", SavedPath(dir, id))
	}
	return s, nil
}

// RemoveSaved deletes the entry id kept in dir, once it is given back.
func RemoveSaved(dir, id string) error {
	if !validID(id) {
		return nil
	}
	if err := os.Remove(SavedPath(dir, id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove saved entry: %w", err)
	}
	return nil
}

// SavedEntries lists the entries kept in dir; a missing dir has none.
// Files it cannot read are left out.
func SavedEntries(dir string) ([]SavedEntry, error) {
	des, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list saved entries: %w", err)
	}
	var out []SavedEntry
	for _, de := range des {
		id, ok := strings.CutSuffix(de.Name(), ".json")
		if !ok || !validID(id) {
			continue
		}
		if s, err := LoadSaved(dir, id); err == nil {
			out = append(out, s)
		}
	}
	return out, nil
}
