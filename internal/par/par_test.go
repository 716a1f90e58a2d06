package par

import (
	"sync/atomic"
	"testing"
)

// Every index is given exactly once, whatever n against the cores.
func TestEach(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 7, 1000} {
		seen := make([]atomic.Int32, n)
		Each(n, func(i int) { seen[i].Add(1) })
		for i := range seen {
			if got := seen[i].Load(); got != 1 {
				t.Errorf("n=%d: index %d given %d times", n, i, got)
			}
		}
	}
}
