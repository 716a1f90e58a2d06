package watch

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opena2a-org/aim-mcp/claudeconfig"
	"github.com/opena2a-org/aim-mcp/discovery"
	"github.com/opena2a-org/aim-mcp/internal/syncbuf"
	"github.com/opena2a-org/aim-mcp/registry"
)

const exe = "/opt/aim/bin/aim-mcp"

// fakeRegistry keeps registrations in memory.
type fakeRegistry struct {
	mu       sync.Mutex
	servers  map[string]*registry.Server // by client + "\x00" + name
	installs map[string]registry.Install
	configs  map[string]registry.ConfigState
	// onRegister, when set, runs before each registration.
	onRegister func(in registry.Registration)
}

func newFakeRegistry() *fakeRegistry {
	return &fakeRegistry{servers: map[string]*registry.Server{}, installs: map[string]registry.Install{}, configs: map[string]registry.ConfigState{}}
}

func (f *fakeRegistry) Register(ctx context.Context, in registry.Registration) (registry.Server, bool, error) {
	if f.onRegister != nil {
		f.onRegister(in)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	k := in.Client + "\x00" + in.Name
	if s, ok := f.servers[k]; ok {
		s.Command, s.Args, s.Status = in.Command, in.Args, registry.StatusActive
		return *s, false, nil
	}
	s := &registry.Server{ID: fmt.Sprintf("id-%d", len(f.servers)+1), Client: in.Client, Name: in.Name,
		Command: in.Command, Args: in.Args, Status: registry.StatusActive}
	f.servers[k] = s
	return *s, true, nil
}

func (f *fakeRegistry) RegisterAll(ctx context.Context, ins []registry.Registration) ([]registry.Registered, error) {
	var out []registry.Registered
	for _, in := range ins {
		s, created, err := f.Register(ctx, in)
		if err != nil {
			return nil, err
		}
		out = append(out, registry.Registered{Server: s, Created: created})
	}
	return out, nil
}

func (f *fakeRegistry) Server(ctx context.Context, client, name string) (registry.Server, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s, ok := f.servers[client+"\x00"+name]; ok {
		return *s, nil
	}
	return registry.Server{}, registry.ErrNotFound
}

func (f *fakeRegistry) SetStatus(ctx context.Context, id, status string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.servers {
		if s.ID == id {
			s.Status = status
		}
	}
	return nil
}

func (f *fakeRegistry) SaveInstall(ctx context.Context, in registry.Install) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.installs[in.Path] = in
	return nil
}

func (f *fakeRegistry) ConfigState(ctx context.Context, path string) (registry.ConfigState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.configs[path], nil
}

func (f *fakeRegistry) SaveConfigState(ctx context.Context, path string, st registry.ConfigState) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.configs[path] = st
	return nil
}

func (f *fakeRegistry) ReleaseConfig(ctx context.Context, path, client string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := f.configs[path]
	if st.Client == "" {
		st.Client = client
	}
	st.Released = true
	f.configs[path] = st
	return nil
}

func (f *fakeRegistry) ServersElsewhere(ctx context.Context, client, path string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for p, st := range f.configs {
		if p != path && st.Client == client {
			out = append(out, st.Servers...)
		}
	}
	return out, nil
}

func (f *fakeRegistry) status(client, name string) string {
	s, err := f.Server(context.Background(), client, name)
	if err != nil {
		return "unregistered"
	}
	return s.Status
}

// harness runs a Watcher over real files in a temp directory.
type harness struct {
	t    *testing.T
	w    *Watcher
	reg  *fakeRegistry
	log  *syncbuf.Buffer
	home string

	mu         sync.Mutex
	passes     int // looks at a file
	reconciles int // looks that found new bytes
	writes     int
	errs       []error
	done       chan struct{}
}

func writable(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if st.Mode().Perm()&0o200 == 0 {
		return fmt.Errorf("%q is read-only", path)
	}
	return nil
}

func newHarness(t *testing.T, paths ...string) *harness {
	t.Helper()
	h := &harness{t: t, reg: newFakeRegistry(), log: &syncbuf.Buffer{}, home: t.TempDir(), done: make(chan struct{})}
	var targets []discovery.Location
	for _, p := range paths {
		targets = append(targets, discovery.Location{Client: discovery.ClaudeDesktop, Path: p, Format: claudeconfig.ClaudeDesktop})
	}
	h.w = &Watcher{
		Targets: targets,
		Reconciler: &Reconciler{Registry: h.reg, Exe: exe, Home: h.home,
			Backups: filepath.Join(h.home, "backups"), Writable: writable},
		Log:        slog.New(slog.NewTextHandler(h.log, nil)),
		Debounce:   40 * time.Millisecond,
		ParseRetry: 600 * time.Millisecond,
		OnPass: func(path string, reconciled bool, res Result, err error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.passes++
			if reconciled {
				h.reconciles++
			}
			if res.Wrote {
				h.writes++
			}
			if err != nil {
				h.errs = append(h.errs, err)
			}
		},
	}
	return h
}

// start runs the watcher until the test ends, and waits for its first pass
// over every target.
func (h *harness) start() {
	h.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		defer close(h.done)
		if err := h.w.Run(ctx); err != nil {
			h.t.Errorf("Run() = %v", err)
		}
	}()
	h.t.Cleanup(func() {
		cancel()
		<-h.done
		if h.t.Failed() {
			h.t.Logf("watcher log:\n%s", h.log.String())
		}
	})
	h.waitFor("first pass", func() bool { return h.counts().passes >= len(h.w.Targets) })
}

type counts struct{ passes, reconciles, writes int }

func (h *harness) counts() counts {
	h.mu.Lock()
	defer h.mu.Unlock()
	return counts{h.passes, h.reconciles, h.writes}
}

// waitFor polls cond for up to 3 s and reports how long it took.
func (h *harness) waitFor(what string, cond func() bool) time.Duration {
	h.t.Helper()
	start := time.Now()
	for time.Since(start) < 3*time.Second {
		if cond() {
			return time.Since(start)
		}
		time.Sleep(5 * time.Millisecond)
	}
	h.t.Fatalf("timed out waiting for %s", what)
	return 0
}

// wrappedAs reports the wrapped servers in the file at path.
func wrappedAs(t *testing.T, path string) []string {
	t.Helper()
	f, err := claudeconfig.Load(path, claudeconfig.ClaudeDesktop)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range f.Entries() {
		if e.Wrapped {
			out = append(out, e.Name)
		}
	}
	slices.Sort(out)
	return out
}

func isWrapped(t *testing.T, path string, names ...string) func() bool {
	return func() bool {
		got := wrappedAs(t, path)
		for _, n := range names {
			if !slices.Contains(got, n) {
				return false
			}
		}
		return true
	}
}

// config renders a Claude Desktop config with unwrapped servers.
func config(servers ...string) string {
	var b strings.Builder
	b.WriteString("{\n  \"mcpServers\": {")
	for i, s := range servers {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "\n    %q: {\n      \"command\": \"npx\",\n      \"args\": [\"-y\", \"server-%s\"]\n    }", s, s)
	}
	b.WriteString("\n  },\n  \"globalShortcut\": \"Alt+Space\"\n}")
	return b.String()
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
