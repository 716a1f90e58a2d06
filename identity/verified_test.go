package identity

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

// TestCheckAll checks keys as Load does, first by reading them and then by
// the stamps it remembered, and sees every change made since: a key
// rewritten in place with another of the same size, one renamed over, one
// removed, one opened to others, and a registered key that is not the one
// on disk.
func TestCheckAll(t *testing.T) {
	var warned []string
	s := Store{Dir: t.TempDir(), Warn: func(m string) { warned = append(warned, m) }}
	ids := []string{"a", "b", "c", "d", "e"}
	keys := make([]*Key, len(ids))
	pubs := make([]string, len(ids))
	for i := range keys {
		keys[i], _ = Generate()
		pubs[i] = keys[i].PublicString()
	}
	if err := s.SaveAll(ids, keys); err != nil {
		t.Fatal(err)
	}
	// A tick later, the files' stamps can be remembered.
	time.Sleep(2 * settle)
	for round := range 2 {
		for i, err := range s.CheckAll(ids, pubs) {
			if err != nil {
				t.Fatalf("round %d: key %s: %v", round, ids[i], err)
			}
		}
		if got := len(s.readVerified()); got != len(ids) {
			t.Fatalf("round %d: %d keys remembered, want %d", round, got, len(ids))
		}
	}

	other, _ := Generate()
	if err := os.WriteFile(s.Path("a"), []byte(other.Seed()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.Path("b")+".new", []byte(other.Seed()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(s.Path("b")+".new", s.Path("b")); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove("c"); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(s.Path("d"), 0o644); err != nil {
		t.Fatal(err)
	}
	registered := append([]string(nil), pubs...)
	registered[4] = other.PublicString()
	errs := s.CheckAll(ids, registered)
	for i, want := range []error{ErrMismatch, ErrMismatch, nil, nil, ErrMismatch} {
		if want != nil && !errors.Is(errs[i], want) {
			t.Errorf("key %s: %v, want %v", ids[i], errs[i], want)
		}
	}
	_, loadErr := s.LoadFile("c")
	if errs[2] == nil || errs[2].Error() != loadErr.Error() {
		t.Errorf("removed key: %v, want Load's %v", errs[2], loadErr)
	}
	if errs[3] != nil {
		t.Errorf("key opened to others: %v", errs[3])
	}
	if len(warned) != 1 || !strings.Contains(warned[0], "0644") || !strings.Contains(warned[0], s.Path("d")) {
		t.Errorf("warnings = %q, want one for d's mode", warned)
	}
	// Remembered again with the same answer: d's new mode is a change
	// like any other, and is warned of from the stamp as from the file.
	time.Sleep(2 * settle)
	for range 2 {
		warned = nil
		if errs := s.CheckAll(ids[3:4], pubs[3:4]); errs[0] != nil {
			t.Fatal(errs[0])
		}
		if len(warned) != 1 {
			t.Errorf("warnings = %q, want one for d's mode", warned)
		}
	}
}

// TestCheckAllTrustsStamps shows that a remembered key file whose stamp has
// not changed is not read again: its content is not what answers.
func TestCheckAllTrustsStamps(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	k, _ := Generate()
	if err := s.Save("a", k); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(s.Path("a"))
	if err != nil {
		t.Fatal(err)
	}
	st, ok := stampOf(fi)
	if !ok {
		t.Skip("no stamps on this system: every key is read")
	}
	other, _ := Generate()
	if err := s.writeVerified(map[string]seen{"a": {pub: other.PublicString(), st: st}}); err != nil {
		t.Fatal(err)
	}
	if err := s.CheckAll([]string{"a"}, []string{other.PublicString()})[0]; err != nil {
		t.Errorf("remembered stamp: %v, want it taken as verified", err)
	}
	if err := s.CheckAll([]string{"a"}, []string{k.PublicString()})[0]; err != nil {
		t.Errorf("the key itself: %v", err)
	}
}

// TestCheckAllEnvKey: AIM_PRIVATE_KEY, when it is the registered key, is
// the answer without a file, as for Load.
func TestCheckAllEnvKey(t *testing.T) {
	k, _ := Generate()
	t.Setenv(EnvPrivateKey, k.Seed())
	var warned []string
	s := Store{Dir: t.TempDir(), Warn: func(m string) { warned = append(warned, m) }}
	errs := s.CheckAll([]string{"a", "b"}, []string{k.PublicString(), "other"})
	if errs[0] != nil || errs[1] == nil || errors.Is(errs[1], ErrMismatch) {
		t.Errorf("errs = %v, want nil then a missing file", errs)
	}
	if len(warned) != 1 {
		t.Errorf("warnings = %q, want one for b", warned)
	}
}
