package syncbuf

import (
	"strings"
	"sync"
	"testing"
)

// TestConcurrent writes from many goroutines while reading; under -race a
// missing lock fails, and every write must be whole in the result.
func TestConcurrent(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 100; j++ {
				b.Write([]byte("line\n"))
				_ = b.String()
			}
		}()
	}
	wg.Wait()
	if got := strings.Count(b.String(), "line\n"); got != 800 {
		t.Fatalf("got %d lines, want 800", got)
	}
	c := b.Bytes()
	c[0] = 'X'
	if b.String()[0] != 'l' {
		t.Fatal("Bytes returned the buffer itself, not a copy")
	}
}
