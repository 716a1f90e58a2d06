package mcpproxy

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opena2a-org/aim-mcp/internal/httpnote"
	"github.com/opena2a-org/aim-mcp/internal/oauthtest"
	"github.com/opena2a-org/aim-mcp/internal/tlstest"
	"github.com/opena2a-org/aim-mcp/oauth"
	"github.com/opena2a-org/aim-mcp/registry"
)

// remoteSession is mcpproxy.Run bridging to a remote server, on pipes, with
// a real registry for its records.
type remoteSession struct {
	t     *testing.T
	reg   *testRegistry
	in    io.WriteCloser
	lines chan string
	done  chan error
}

func startRemoteSession(t *testing.T, reg *testRegistry, r *Remote) *remoteSession {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	s := &remoteSession{t: t, reg: reg, in: inW, lines: make(chan string, 64), done: make(chan error, 1)}
	go func() {
		err := Run(context.Background(), Options{Remote: r, Stdin: inR, Stdout: outW, Stderr: io.Discard,
			Report: func(error) {}, StdinGrace: 2 * time.Second, TermGrace: 2 * time.Second,
			Setup: func(ctx context.Context) (Decider, Journal, error) { return nil, reg.journal(t), nil }})
		outW.Close()
		s.done <- err
	}()
	go func() {
		sc := bufio.NewScanner(outR)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
		close(s.lines)
	}()
	return s
}

func (s *remoteSession) send(line string) {
	s.t.Helper()
	if _, err := io.WriteString(s.in, line+"\n"); err != nil {
		s.t.Fatal(err)
	}
}

// answer sends a request and returns its answer (notifications on the way
// are skipped).
func (s *remoteSession) answer(id int, line string) string {
	s.t.Helper()
	s.send(line)
	for {
		select {
		case l, ok := <-s.lines:
			if !ok {
				s.t.Fatal("the proxy closed its output")
			}
			if strings.Contains(l, fmt.Sprintf(`"id":%d`, id)) {
				return l
			}
		case <-time.After(10 * time.Second):
			s.t.Fatalf("no answer to %s within 10s", line)
		}
	}
}

func (s *remoteSession) initialize() {
	s.t.Helper()
	s.answer(0, `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`)
	s.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
}

func (s *remoteSession) close() {
	s.t.Helper()
	s.in.Close()
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		s.t.Fatal("the proxy did not end within 30s")
	}
}

// upstreamOf is the "upstream" member of a record's data.
func upstreamOf(t *testing.T, r registry.Record) map[string]any {
	t.Helper()
	u, ok := data(t, r)["upstream"].(map[string]any)
	if !ok {
		t.Fatalf("record %d (%s) has no upstream: %s", r.Seq, r.Kind, r.Data)
	}
	return u
}

// TestRemoteCallRecords: over https, each call record of a remote session
// says where the call went and with which token (none here); each outcome
// the HTTP status, SSE, and the re-initialization the server's restart
// took. The server's key, swapped between two sessions at the same URL, is
// what Remote.TLSKey reports in each.
func TestRemoteCallRecords(t *testing.T) {
	f := &fakeRemote{t: t, sessions: map[string]bool{}, release: make(chan struct{}), pushes: make(chan string, 4)}
	// Two keys for the same address (httptest's own certificate is the
	// same for every server).
	first, firstX := tlstest.SelfSigned(t)
	second, secondX := tlstest.SelfSigned(t)
	var mu sync.Mutex
	swapped := false
	srv := httptest.NewUnstartedServer(f)
	srv.TLS = &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		mu.Lock()
		defer mu.Unlock()
		if swapped {
			return &second, nil
		}
		return &first, nil
	}}
	srv.StartTLS()
	defer srv.Close()
	// A server name in the handshake: without one the server answers with
	// httptest's own certificate, not GetCertificate's.
	roots := x509.NewCertPool()
	roots.AddCert(firstX)
	roots.AddCert(secondX)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "aim-test"}}}

	reg := newRegistry(t)
	r := &Remote{URL: srv.URL + "/mcp?key=secret", Client: client}
	s := startRemoteSession(t, reg, r)
	s.initialize()
	if l := s.answer(1, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{}}}`); !strings.Contains(l, `"result"`) {
		t.Fatalf("call 1: %s", l)
	}
	key1, _ := r.TLSKey()
	f.restart()
	if l := s.answer(2, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{}}}`); !strings.Contains(l, `"result"`) {
		t.Fatalf("call 2 after the restart: %s", l)
	}
	s.close()

	recs := reg.records(t) // the chain verifies
	calls, outs := only(recs, registry.KindCall), only(recs, registry.KindOutcome)
	if len(calls) != 2 || len(outs) != 2 {
		t.Fatalf("%d calls and %d outcomes, want 2 and 2: %v", len(calls), len(outs), kinds(recs))
	}
	for _, c := range calls {
		u := upstreamOf(t, c)
		if u["url"] != srv.URL+"/mcp?key=REDACTED" || u["token_fingerprint"] != "none" {
			t.Errorf("call record upstream: %v", u)
		}
	}
	for i, o := range outs {
		u := upstreamOf(t, o)
		retries, _ := u["retries"].(map[string]any)
		wantReinit := float64(i) // the second call met the lost session
		if u["http_status"] != float64(200) || u["reply"] != "sse" || retries["reinitialize"] != wantReinit ||
			retries["auth"] != float64(0) || u["token_fingerprint"] != "none" {
			t.Errorf("outcome %d upstream: %v", i+1, u)
		}
	}
	for _, r := range recs {
		if strings.Contains(string(r.Data), "secret") {
			t.Errorf("record %d holds the query's value: %s", r.Seq, r.Data)
		}
	}

	// The same URL, another key.
	mu.Lock()
	swapped = true
	mu.Unlock()
	client.CloseIdleConnections()
	r2 := &Remote{URL: srv.URL + "/mcp", Client: client}
	s2 := startRemoteSession(t, reg, r2)
	s2.initialize()
	key2, _ := r2.TLSKey()
	s2.close()
	sum1, sum2 := sha256.Sum256(firstX.RawSubjectPublicKeyInfo), sha256.Sum256(secondX.RawSubjectPublicKeyInfo)
	if key1 != hex.EncodeToString(sum1[:]) || key2 != hex.EncodeToString(sum2[:]) {
		t.Errorf("TLSKey: %s then %s; want %x then %x", key1, key2, sum1, sum2)
	}
}

// TestRemoteCallToken: with a login, the call and outcome records carry the
// fingerprint of the access token the request went with, never the token.
func TestRemoteCallToken(t *testing.T) {
	as := oauthtest.New(oauthtest.Options{})
	defer as.Close()
	home := t.TempDir()
	cfg := oauth.Config{Home: home, Server: "demo", URL: as.Resource(), StoreKind: "file",
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
	reg := newRegistry(t)
	s := startRemoteSession(t, reg, &Remote{URL: as.Resource(), Client: &http.Client{Transport: tr}, Describe: tr.Describe})
	s.initialize()
	if l := s.answer(1, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"}}}`); !strings.Contains(l, "echo: hi") {
		t.Fatalf("call: %s", l)
	}
	s.close()
	toks := as.AccessTokens()
	if len(toks) != 1 {
		t.Fatalf("%d access tokens issued, want 1", len(toks))
	}
	want := httpnote.Fingerprint(toks[0])
	recs := reg.records(t)
	for _, kind := range []string{registry.KindCall, registry.KindOutcome} {
		rs := only(recs, kind)
		if len(rs) != 1 {
			t.Fatalf("%d %s records, want 1", len(rs), kind)
		}
		if u := upstreamOf(t, rs[0]); u["token_fingerprint"] != want {
			t.Errorf("%s upstream: %v; want token fingerprint %s", kind, u, want)
		}
	}
	if o := upstreamOf(t, only(recs, registry.KindOutcome)[0]); o["reply"] != "json" || o["http_status"] != float64(200) {
		t.Errorf("outcome upstream: %v", o)
	}
	for _, r := range recs {
		if strings.Contains(string(r.Data), toks[0]) {
			t.Errorf("record %d holds the token", r.Seq)
		}
	}
}
