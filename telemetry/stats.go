package telemetry

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/opena2a-org/aim-mcp/internal/atomicfile"
)

// Each proxy is a process of its own, and status another, so a session's
// counts are kept in the home when it ends: one small file per server,
// replaced by its next session.

// SessionStats is what a server's last session exported.
type SessionStats struct {
	Server   string    `json:"server"`
	Client   string    `json:"client"`
	Ended    time.Time `json:"ended"`
	Exporter string    `json:"exporter"`
	Stats
}

func statsDir(home string) string { return filepath.Join(home, "otel") }

// SaveStats keeps what x exported for status to read.
func (x *Exporter) SaveStats(home string) error {
	s := SessionStats{Server: x.id.Server, Client: x.id.Client, Ended: time.Now().UTC(),
		Exporter: x.set.String(), Stats: x.Stats()}
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	dir := statsDir(home)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("save export counts: %w", err)
	}
	name := fmt.Sprintf("%x", sha256.Sum256([]byte(x.id.Client+"\x00"+x.id.Server)))[:16] + ".json"
	if err := atomicfile.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
		return fmt.Errorf("save export counts: %w", err)
	}
	return nil
}

// LoadStats reads what each server's last session exported, by client and
// server name. Unreadable files are skipped: they are counts, not records.
func LoadStats(home string) ([]SessionStats, error) {
	ents, err := os.ReadDir(statsDir(home))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read export counts: %w", err)
	}
	var out []SessionStats
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(statsDir(home), e.Name()))
		if err != nil {
			continue
		}
		var s SessionStats
		if json.Unmarshal(b, &s) == nil && s.Server != "" {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Client != out[j].Client {
			return out[i].Client < out[j].Client
		}
		return out[i].Server < out[j].Server
	})
	return out, nil
}
