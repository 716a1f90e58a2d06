package filelock

import (
	"os"
	"path/filepath"
	"testing"
)

// A held lock refuses another holder without waiting, and is free again
// once its holder's file is closed.
func TestLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	open := func() *os.File {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	a, b := open(), open()
	if ok, err := Lock(a, true); !ok || err != nil {
		t.Fatalf("first lock: %v, %v", ok, err)
	}
	if ok, err := Lock(b, false); ok || err != nil {
		t.Fatalf("second lock while the first is held: %v, %v; want false, nil", ok, err)
	}
	a.Close()
	if ok, err := Lock(b, false); !ok || err != nil {
		t.Fatalf("second lock after the first holder closed: %v, %v", ok, err)
	}
}
