//go:build !linux && !darwin

package mcpproxy

// chunk is a piece of a long line, on the heap: the GC takes it back.
type chunk struct{ b []byte }

func newChunk(size int) chunk { return chunk{b: make([]byte, 0, size)} }

func (c *chunk) free() { c.b = nil }
