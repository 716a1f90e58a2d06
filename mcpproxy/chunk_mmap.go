//go:build linux || darwin

package mcpproxy

import "syscall"

// chunk is a piece of a long line, mapped from the system so that freeing
// it gives the memory back at once rather than when the GC next runs.
type chunk struct {
	b      []byte
	mapped bool
}

func newChunk(size int) chunk {
	b, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return chunk{b: make([]byte, 0, size)} // no mapping to spare: the heap will do
	}
	return chunk{b: b[:0], mapped: true}
}

// free gives the chunk back; its bytes must not be used again.
func (c *chunk) free() {
	if c.mapped {
		syscall.Munmap(c.b[:cap(c.b)])
	}
	c.b, c.mapped = nil, false
}
