package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/opena2a-org/aim-mcp/internal/home"
	"github.com/opena2a-org/aim-mcp/registry"
)

// TestPinsAcceptPeer: a remote server whose TLS key changed shows as @tls,
// changed, in "aim-mcp pins"; "pins accept SERVER @tls" pins the new key,
// and the audit trail, acceptance included, verifies. An unknown pin is an
// error with a hint, and changes nothing.
func TestPinsAcceptPeer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !strings.Contains(string(body), `"id"`) {
			w.WriteHeader(http.StatusAccepted)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-06-18","capabilities":{},"serverInfo":{"name":"x","version":"1"}}}`)
	}))
	defer srv.Close()
	// A session registers the server.
	s := startRemoteProxy(t, "remote", "--client", "test", "--url", srv.URL+"/mcp")
	s.call(1, "initialize", initParams)
	s.stop()

	// What a session over https pinned, then another key.
	ctx := context.Background()
	db, err := registry.Open(ctx, home.DB(s.home), registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := db.Server(ctx, "test", "remote")
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"aaaa", "bbbb"} {
		if _, _, err := db.ObservePeer(ctx, reg.ID, registry.PeerTLS, key, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	cli := func(want int, args ...string) (string, string) {
		t.Helper()
		var out, errb strings.Builder
		if code := run(ctx, append(args, "--home", s.home), env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb}); code != want {
			t.Fatalf("aim-mcp %s: exit %d, want %d\n%s%s", strings.Join(args, " "), code, want, out.String(), errb.String())
		}
		return out.String(), errb.String()
	}
	out, _ := cli(0, "pins", "remote")
	if !strings.Contains(out, "@tls") || !strings.Contains(out, "changed") || !strings.Contains(out, "aim-mcp pins accept remote") {
		t.Errorf("pins:\n%s", out)
	}
	if out, _ := cli(0, "pins", "diff", "remote", "@tls"); !strings.Contains(out, "pinned:  aaaa") || !strings.Contains(out, "current: bbbb") {
		t.Errorf("pins diff:\n%s", out)
	}
	_, errOut := cli(1, "pins", "accept", "remote", "@nope")
	if !strings.Contains(errOut, "aim-mcp: error:") || !strings.Contains(errOut, "aim-mcp: hint:") {
		t.Errorf("accept of an unknown pin: %q", errOut)
	}
	if out, _ := cli(0, "pins", "accept", "remote", "@tls"); !strings.Contains(out, "accepted the new TLS certificate key") {
		t.Errorf("pins accept:\n%s", out)
	}
	if out, _ := cli(0, "pins", "remote", "--json"); strings.Contains(out, `"changed"`) || !strings.Contains(out, `"pinned_hash": "bbbb"`) {
		t.Errorf("pins after accept:\n%s", out)
	}
	if out, _ := cli(0, "pins", "accept", "remote", "@tls"); !strings.Contains(out, "nothing to accept") {
		t.Errorf("a second accept:\n%s", out)
	}
	cli(0, "audit", "verify")
	recs := s.records("remote", registry.KindDrift)
	if len(recs) != 1 || !strings.Contains(fmt.Sprint(recs[0]), "accepted") {
		t.Errorf("drift records: %v", recs)
	}
}
