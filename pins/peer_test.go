package pins

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opena2a-org/aim-mcp/audit"
	"github.com/opena2a-org/aim-mcp/identity"
	"github.com/opena2a-org/aim-mcp/internal/oauthtest"
	"github.com/opena2a-org/aim-mcp/internal/tlstest"
	"github.com/opena2a-org/aim-mcp/mcpproxy"
	"github.com/opena2a-org/aim-mcp/oauth"
	"github.com/opena2a-org/aim-mcp/registry"
)

// peerDecider decides calls with a Peer alone, as the guard does with it
// among its hooks.
type peerDecider struct{ p *Peer }

func (d peerDecider) Check(ctx context.Context, c *mcpproxy.Call) mcpproxy.Verdict {
	if _, v := d.p.Before(ctx, c); v != nil {
		return *v
	}
	return mcpproxy.Verdict{Allow: true, Decision: audit.Allow, Source: "test"}
}
func (d peerDecider) ToolsListed(ctx context.Context, r json.RawMessage) { d.p.ToolsListed(ctx, r) }
func (d peerDecider) ToolsChanged(ctx context.Context)                   {}

// echoServer is a small streamable HTTP MCP server without sessions.
func echoServer(w http.ResponseWriter, r *http.Request) {
	var m struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
	}
	json.NewDecoder(r.Body).Decode(&m)
	if len(m.ID) == 0 {
		w.WriteHeader(http.StatusAccepted)
		return
	}
	result := `{}`
	switch m.Method {
	case "initialize":
		result = `{"protocolVersion":"2025-06-18","capabilities":{"tools":{}},"serverInfo":{"name":"echo","version":"1"}}`
	case "tools/list":
		result = `{"tools":[{"name":"echo","inputSchema":{"type":"object"}}]}`
	case "tools/call":
		result = `{"content":[{"type":"text","text":"ok"}]}`
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"result":%s}`, m.ID, result)
}

type peerDB struct {
	db     *registry.DB
	srv    registry.Server
	key    *identity.Key
	alerts []string
	mu     sync.Mutex
}

func newPeerDB(t *testing.T) *peerDB {
	t.Helper()
	ctx := context.Background()
	db, err := registry.Open(ctx, filepath.Join(t.TempDir(), "aim.db"), registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	srv, _, err := db.Register(ctx, registry.Registration{Client: "test", Name: "remote", Command: "https://example.test/mcp"})
	if err != nil {
		t.Fatal(err)
	}
	key, err := db.Key(srv)
	if err != nil {
		t.Fatal(err)
	}
	return &peerDB{db: db, srv: srv, key: key}
}

// journal is one session's audit journal: its records reach the chain when
// it is closed.
func (d *peerDB) journal() *mcpproxy.RegistryJournal {
	return &mcpproxy.RegistryJournal{DB: d.db, Key: d.key, Server: d.srv}
}

func (d *peerDB) peer(j *mcpproxy.RegistryJournal) *Peer {
	return &Peer{DB: d.db, Server: d.srv,
		Record: func(ctx context.Context, ev registry.Event) error { return j.Append(ctx, ev) },
		Alert:  func(m string) { d.mu.Lock(); d.alerts = append(d.alerts, m); d.mu.Unlock() }}
}

// drift is the drift records as "tool:decision", after checking the chain.
func (d *peerDB) drift(t *testing.T) []string {
	t.Helper()
	ctx := context.Background()
	v, err := d.db.Verify(ctx, "")
	if err != nil || !v.OK() {
		t.Fatalf("Verify: %v %+v", err, v)
	}
	recs, err := d.db.Records(ctx, registry.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range recs {
		if r.Kind == registry.KindDrift {
			out = append(out, r.Tool+":"+r.Decision)
		}
	}
	return out
}

// bridge is mcpproxy.Run to a remote server, on pipes.
type bridge struct {
	t     *testing.T
	in    io.WriteCloser
	lines chan string
	done  chan error
}

func startBridge(t *testing.T, j *mcpproxy.RegistryJournal, r *mcpproxy.Remote, p *Peer) *bridge {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	b := &bridge{t: t, in: inW, lines: make(chan string, 64), done: make(chan error, 1)}
	go func() {
		err := mcpproxy.Run(context.Background(), mcpproxy.Options{Remote: r, Stdin: inR, Stdout: outW, Stderr: io.Discard,
			Report: func(error) {}, StdinGrace: 2 * time.Second, TermGrace: 2 * time.Second,
			Setup: func(ctx context.Context) (mcpproxy.Decider, mcpproxy.Journal, error) {
				return peerDecider{p}, j, nil
			}})
		outW.Close()
		b.done <- err
	}()
	go func() {
		sc := bufio.NewScanner(outR)
		for sc.Scan() {
			b.lines <- sc.Text()
		}
		close(b.lines)
	}()
	b.ask(0, `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`)
	io.WriteString(b.in, `{"jsonrpc":"2.0","method":"notifications/initialized"}`+"\n")
	b.ask(1, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
	return b
}

func (b *bridge) ask(id int, line string) string {
	b.t.Helper()
	io.WriteString(b.in, line+"\n")
	for {
		select {
		case l, ok := <-b.lines:
			if !ok {
				b.t.Fatal("the proxy closed its output")
			}
			if strings.Contains(l, fmt.Sprintf(`"id":%d`, id)) {
				return l
			}
		case <-time.After(10 * time.Second):
			b.t.Fatalf("no answer to %s within 10s", line)
		}
	}
}

func (b *bridge) call(id int) string {
	return b.ask(id, fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"echo","arguments":{}}}`, id))
}

func (b *bridge) close() {
	b.in.Close()
	select {
	case <-b.done:
	case <-time.After(30 * time.Second):
		b.t.Fatal("the proxy did not end within 30s")
	}
}

// TestPeerTLSDrift: the key of a server's TLS certificate is pinned in the
// first session; a session that meets another key at the same URL records
// the drift and refuses every call, naming the command that accepts it,
// which releases the calls at once.
func TestPeerTLSDrift(t *testing.T) {
	first, firstX := tlstest.SelfSigned(t)
	second, secondX := tlstest.SelfSigned(t)
	var mu sync.Mutex
	cur := &first
	srv := httptest.NewUnstartedServer(http.HandlerFunc(echoServer))
	srv.TLS = &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		mu.Lock()
		defer mu.Unlock()
		return cur, nil
	}}
	srv.StartTLS()
	defer srv.Close()
	// A server name in the handshake: without one the server answers with
	// httptest's own certificate, not GetCertificate's.
	roots := x509.NewCertPool()
	roots.AddCert(firstX)
	roots.AddCert(secondX)
	client := func() *http.Client {
		return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "aim-test"}}}
	}
	d := newPeerDB(t)

	j1 := d.journal()
	p1 := d.peer(j1)
	r1 := &mcpproxy.Remote{URL: srv.URL + "/mcp", Client: client()}
	p1.TLS = r1.TLSKey
	b := startBridge(t, j1, r1, p1)
	if l := b.call(2); strings.Contains(l, "isError") {
		t.Fatalf("first session: %s", l)
	}
	b.close()

	mu.Lock()
	cur = &second
	mu.Unlock()
	j2 := d.journal()
	p2 := d.peer(j2)
	r2 := &mcpproxy.Remote{URL: srv.URL + "/mcp", Client: client()}
	p2.TLS = r2.TLSKey
	b = startBridge(t, j2, r2, p2)
	l := b.call(2)
	if !strings.Contains(l, `"isError":true`) || !strings.Contains(l, "aim-mcp pins accept remote @tls") {
		t.Errorf("a call with another TLS key: %s; want an isError naming aim-mcp pins accept remote @tls", l)
	}
	res, err := Accept(context.Background(), d.db, d.srv, []string{registry.PeerTLS}, "tester", time.Now())
	if err != nil || len(res.Peers) != 1 || len(res.Changes) != 0 || res.Unrecorded != nil {
		t.Fatalf("Accept: %+v, %v", res, err)
	}
	if l := b.call(3); strings.Contains(l, "isError") {
		t.Errorf("after pins accept: %s", l)
	}
	b.close()
	if got := d.drift(t); strings.Join(got, ",") != "@tls:accepted,@tls:changed" && strings.Join(got, ",") != "@tls:changed,@tls:accepted" {
		t.Errorf("drift records: %v; want @tls:changed and @tls:accepted", got)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.alerts) == 0 || !strings.Contains(d.alerts[0], "TLS certificate key") {
		t.Errorf("alerts: %q", d.alerts)
	}
}

// TestPeerIssuerDrift: a login from another authorization server is drift
// too, and refused until accepted.
func TestPeerIssuerDrift(t *testing.T) {
	as1 := oauthtest.New(oauthtest.Options{})
	defer as1.Close()
	as2 := oauthtest.New(oauthtest.Options{})
	defer as2.Close()
	home := t.TempDir()
	login := func(name string, as *oauthtest.Server) *oauth.Transport {
		cfg := oauth.Config{Home: home, Server: name, URL: as.Resource(), StoreKind: "file",
			Open: func(u string) error {
				resp, err := http.Get(u)
				if err == nil {
					resp.Body.Close()
				}
				return err
			}}
		if _, err := oauth.Login(context.Background(), cfg); err != nil {
			t.Fatal(err)
		}
		tr, err := oauth.NewTransport(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		return tr
	}
	issuer := func(tr *oauth.Transport) func() string {
		return func() string { s, _ := tr.Describe()["oauth_issuer"].(string); return s }
	}
	d := newPeerDB(t)
	ctx := context.Background()
	call := &mcpproxy.Call{Tool: "echo"}

	j := d.journal()
	p1 := d.peer(j)
	p1.Issuer = issuer(login("one", as1))
	p1.ToolsListed(ctx, nil)
	if _, v := p1.Before(ctx, call); v != nil {
		t.Fatalf("first issuer: %+v", v)
	}
	p2 := d.peer(j)
	p2.Issuer = issuer(login("two", as2))
	if _, _, ok := p2.Quick(call); ok {
		t.Error("Quick answered before the new issuer was compared")
	}
	_, v := p2.Before(ctx, call)
	if v == nil || v.Decision != audit.Deny || !strings.Contains(v.Next, "aim-mcp pins accept remote @issuer") ||
		!strings.Contains(v.Reason, as1.URL) || !strings.Contains(v.Reason, as2.URL) {
		t.Fatalf("another issuer: %+v; want a denial naming both issuers and the accept command", v)
	}
	if _, _, ok := p2.Quick(call); ok {
		t.Error("Quick let a drifted session's call through")
	}
	if _, err := Accept(ctx, d.db, d.srv, nil, "tester", time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, v := p2.Before(ctx, call); v != nil {
		t.Errorf("after pins accept: %+v", v)
	}
	if _, _, ok := p2.Quick(call); !ok {
		t.Error("Quick did not answer once the drift was accepted")
	}
	if err := j.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := d.drift(t); strings.Join(got, ",") != "@issuer:accepted,@issuer:changed" && strings.Join(got, ",") != "@issuer:changed,@issuer:accepted" {
		t.Errorf("drift records: %v", got)
	}
	pins, err := d.db.PeerPins(ctx, d.srv.ID)
	if err != nil || len(pins) != 1 || pins[0].Pinned != as2.URL || pins[0].State != registry.ToolPinned {
		t.Errorf("pins: %+v, %v", pins, err)
	}
}
