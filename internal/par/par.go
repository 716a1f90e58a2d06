// Package par spreads independent pieces of work over every core: keys to
// derive and files to read for ten thousand servers, tools of a long list.
package par

import (
	"runtime"
	"sync"
)

// Each calls fn(i) for every i in [0, n), from as many goroutines as there
// are cores (or n, if fewer), and returns when all have returned. fn must
// be safe for concurrent use; each i is given to one call.
func Each(n int, fn func(i int)) {
	workers := min(n, runtime.GOMAXPROCS(0))
	if workers <= 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				fn(i)
			}
		}()
	}
	wg.Wait()
}
