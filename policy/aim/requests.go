package aim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"sync"

	"github.com/opena2a-org/aim-mcp/internal/atomicfile"
)

// RequestLog remembers which capabilities were requested for which agent,
// so that a proxy started every time the client starts does not ask an
// admin again each time. It is a small JSON file; a nil *RequestLog
// remembers nothing.
type RequestLog struct {
	Path string
	mu   sync.Mutex
}

func (l *RequestLog) read() (map[string][]string, error) {
	m := map[string][]string{}
	data, err := os.ReadFile(l.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return map[string][]string{}, fmt.Errorf("%q: %v", l.Path, err)
	}
	return m, nil
}

// Requested reports whether capability was requested for agent.
func (l *RequestLog) Requested(agent, capability string) bool {
	if l == nil {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	m, _ := l.read()
	return slices.Contains(m[agent], capability)
}

// Add records capabilities as requested for agent.
func (l *RequestLog) Add(agent string, capabilities ...string) error {
	if l == nil || len(capabilities) == 0 {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	m, err := l.read()
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		m = map[string][]string{} // unreadable: start over rather than stop asking
	}
	for _, c := range capabilities {
		if !slices.Contains(m[agent], c) {
			m[agent] = append(m[agent], c)
		}
	}
	data, _ := json.MarshalIndent(m, "", "  ")
	return atomicfile.WriteFile(l.Path, append(data, '\n'), 0o600)
}
