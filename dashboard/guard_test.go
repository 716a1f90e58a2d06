package dashboard

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opena2a-org/aim-mcp/config"
	"github.com/opena2a-org/aim-mcp/registry"
	compliance "github.com/opena2a-org/aim-mcp/report"
)

// fixture is a dashboard on a real loopback listener over a real registry
// with one server and one held call.
type fixture struct {
	srv      *Server
	base     string // http://127.0.0.1:PORT
	db       *registry.DB
	approval registry.Approval
	server   registry.Server
}

func start(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := registry.Open(ctx, filepath.Join(dir, "aim.db"), registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s, _, err := db.Register(ctx, registry.Registration{Client: "claude-desktop", Name: "everything", Command: "node"})
	if err != nil {
		t.Fatal(err)
	}
	a, _, err := db.RequestApproval(ctx, registry.Approval{ServerID: s.ID, Server: s.Name, Tool: "get-sum", ArgsDigest: "d1",
		Args: json.RawMessage(`{"a":1,"b":2}`), Risk: "high", Reason: "rule 1"}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := LoadToken(dir)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := Listen("127.0.0.1:0", false)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Options{DB: db, Config: config.Defaults(), Token: tok, Who: "tester"}, ln)
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { srv.Serve(sctx, ln); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return &fixture{srv: srv, base: "http://" + ln.Addr().String(), db: db, approval: a, server: s}
}

// routes are every route of the dashboard, as method and path.
func (f *fixture) routes() [][2]string {
	id := f.approval.ID
	return [][2]string{
		{"GET", "/"}, {"GET", "/approvals"}, {"GET", "/activity"}, {"GET", "/servers"}, {"GET", "/drift"},
		{"GET", "/policy"}, {"GET", "/reports"}, {"GET", "/static/app.js"}, {"GET", "/static/app.css"}, {"GET", "/events"},
		{"GET", "/api/approvals"}, {"POST", "/api/approvals/" + id + "/approve"}, {"POST", "/api/approvals/" + id + "/deny"},
		{"POST", "/api/approvals/" + id + "/reveal"},
		{"GET", "/api/records"}, {"GET", "/api/records/1"}, {"POST", "/api/verify"}, {"GET", "/api/servers"},
		{"GET", "/api/servers/" + f.server.ID + "/trust"}, {"GET", "/api/drift"}, {"POST", "/api/drift/accept"},
		{"GET", "/api/policy"}, {"POST", "/api/policy/rules"}, {"POST", "/api/policy/rules/1/remove"},
		{"GET", "/api/policy/check?server=a&tool=b"}, {"GET", "/api/report?type=soc2&format=json"},
		{"GET", "/api/report/types"},
	}
}

func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// do sends one request with the headers a same-origin page would send,
// changed by edit.
func do(t *testing.T, c *http.Client, method, u string, edit func(*http.Request)) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	if method == "POST" {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", "http://"+req.URL.Host)
	}
	if edit != nil {
		edit(req)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	resp, err := c.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// login follows the link with the token and returns a client holding the
// cookie.
func (f *fixture) login(t *testing.T) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: noRedirect}
	resp := do(t, c, "GET", f.srv.Link("/approvals"), nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("GET the link: %d, want 303", resp.StatusCode)
	}
	if loc := resp.Header.Get("Location"); loc != "/approvals" {
		t.Errorf("the link redirects to %q, want /approvals (the token dropped)", loc)
	}
	var ck *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == cookieName {
			ck = c
		}
	}
	if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode {
		t.Fatalf("cookie %+v: want HttpOnly, SameSite=Strict", ck)
	}
	return c
}

func TestEveryRouteNeedsTheCookie(t *testing.T) {
	f := start(t)
	c := &http.Client{CheckRedirect: noRedirect}
	for _, r := range f.routes() {
		resp := do(t, c, r[0], f.base+r[1], nil)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s %s without the cookie: %d, want 401", r[0], r[1], resp.StatusCode)
		}
	}
	// A wrong token in the link, or a wrong cookie, is no better.
	if resp := do(t, c, "GET", f.base+"/?token=0000000000000000000000000000000000000000", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a wrong token: %d, want 401", resp.StatusCode)
	}
	resp := do(t, c, "GET", f.base+"/api/approvals", func(r *http.Request) {
		r.AddCookie(&http.Cookie{Name: cookieName, Value: "guess"})
	})
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), "aim-mcp dashboard") {
		t.Errorf("a wrong cookie: %d %s, want 401 saying how to get the link", resp.StatusCode, body)
	}
}

func TestForeignHostOriginAndCSRF(t *testing.T) {
	f := start(t)
	c := f.login(t)
	if resp := do(t, c, "GET", f.base+"/api/approvals", nil); resp.StatusCode != 200 {
		t.Fatalf("with the cookie: %d, want 200", resp.StatusCode)
	}
	// DNS rebinding: the name differs, the address is ours.
	for _, host := range []string{"evil.example:" + port(f.base), "127.0.0.1:1", "127.0.0.2:" + port(f.base)} {
		resp := do(t, c, "GET", f.base+"/api/approvals", func(r *http.Request) { r.Host = host })
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("Host %s: %d, want 403", host, resp.StatusCode)
		}
	}
	// localhost is the same loopback address served: past the Host check
	// (its cookie is another host's, so the link is needed there too).
	if resp := do(t, c, "GET", f.base+"/api/approvals", func(r *http.Request) { r.Host = "localhost:" + port(f.base) }); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("Host localhost: %d, want 401", resp.StatusCode)
	}
	approve := f.base + "/api/approvals/" + f.approval.ID + "/approve"
	for name, edit := range map[string]func(*http.Request){
		"cross-origin":     func(r *http.Request) { r.Header.Set("Origin", "http://evil.example") },
		"no origin":        func(r *http.Request) { r.Header.Del("Origin") },
		"cross-site fetch": func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", "cross-site") },
		"no CSRF token":    nil,
		"bad CSRF token":   func(r *http.Request) { r.Header.Set("X-CSRF-Token", "00") },
	} {
		edit := edit
		resp := do(t, c, "POST", approve, func(r *http.Request) {
			r.Header.Set("X-CSRF-Token", f.srv.csrf)
			if edit == nil {
				r.Header.Del("X-CSRF-Token")
			} else {
				edit(r)
			}
		})
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("POST %s: %d, want 403", name, resp.StatusCode)
		}
	}
	if a, _ := f.db.Approval(context.Background(), f.approval.ID); a.Status != registry.ApprovalPending {
		t.Fatalf("after refused POSTs the approval is %s, want still pending", a.Status)
	}
	// The page's own request passes, and records who answered.
	resp := do(t, c, "POST", approve, func(r *http.Request) { r.Header.Set("X-CSRF-Token", f.srv.csrf) })
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("POST from the page: %d %s", resp.StatusCode, b)
	}
	a, _ := f.db.Approval(context.Background(), f.approval.ID)
	if a.Status != registry.ApprovalApproved || a.DecidedBy != "tester via dashboard" {
		t.Errorf("approval after Approve: %s by %q, want approved by %q", a.Status, a.DecidedBy, "tester via dashboard")
	}
	// Answering again changes nothing and says why.
	resp = do(t, c, "POST", f.base+"/api/approvals/"+f.approval.ID+"/deny", func(r *http.Request) { r.Header.Set("X-CSRF-Token", f.srv.csrf) })
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusConflict || !strings.Contains(string(b), "already answered") {
		t.Errorf("deny after approve: %d %s, want 409 already answered", resp.StatusCode, b)
	}
	resp = do(t, c, "POST", f.base+"/api/approvals/nope/deny", func(r *http.Request) { r.Header.Set("X-CSRF-Token", f.srv.csrf) })
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("deny of an unknown approval: %d, want 404", resp.StatusCode)
	}
}

func TestHeaders(t *testing.T) {
	f := start(t)
	c := f.login(t)
	resp := do(t, c, "GET", f.base+"/approvals", nil)
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe") {
		t.Errorf("CSP %q allows unsafe sources", csp)
	}
	if rp := resp.Header.Get("Referrer-Policy"); rp != "no-referrer" {
		t.Errorf("Referrer-Policy %q, want no-referrer (the link carries the token)", rp)
	}
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), f.srv.csrf) {
		t.Error("the page does not carry its CSRF token")
	}
}

func TestLoopbackOnly(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", "[::]:0", "192.0.2.1:0", "example.com:0"} {
		if ln, err := Listen(addr, false); err == nil {
			ln.Close()
			t.Errorf("Listen(%q) succeeded, want refused", addr)
		}
	}
	for _, addr := range []string{"127.0.0.1:0", "localhost:0"} {
		ln, err := Listen(addr, false)
		if err != nil {
			t.Errorf("Listen(%q): %v", addr, err)
			continue
		}
		if ip := ln.Addr().(*net.TCPAddr).IP; !ip.IsLoopback() {
			t.Errorf("Listen(%q) is on %v, want loopback", addr, ip)
		}
		ln.Close()
	}
}

func TestTokenFile(t *testing.T) {
	dir := t.TempDir()
	a, err := LoadToken(dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, TokenFile))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("token file mode %04o, want 0600", st.Mode().Perm())
	}
	b, _ := LoadToken(dir)
	if a != b || len(a) < 32 {
		t.Errorf("tokens %q then %q: want one stable token of 32+ characters", a, b)
	}
}

func port(base string) string {
	u, _ := url.Parse(base)
	return u.Port()
}

// TestReportTypes: the reports page offers the frameworks of the report
// package's table, the default first.
func TestReportTypes(t *testing.T) {
	f := start(t)
	c := f.login(t)
	resp := do(t, c, "GET", f.base+"/api/report/types", nil)
	var got []struct{ Type, Name string }
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /api/report/types: %d, %v", resp.StatusCode, err)
	}
	fws := compliance.Frameworks()
	if len(got) != len(fws) {
		t.Fatalf("report types %+v, want %d", got, len(fws))
	}
	for i, fw := range fws {
		if got[i].Type != fw.Type || got[i].Name != fw.Name {
			t.Errorf("report type %d = %+v, want %s (%s)", i, got[i], fw.Type, fw.Name)
		}
	}
}

// TestReportDownload: the report is streamed, its calls read back from
// the report's temporary file, which is gone once the download is.
func TestReportDownload(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	f := start(t)
	ctx := context.Background()
	key, err := f.db.Key(f.server)
	if err != nil {
		t.Fatal(err)
	}
	for i, kind := range []string{registry.KindCall, registry.KindOutcome, registry.KindCall} {
		ev := registry.Event{ServerID: f.server.ID, Server: f.server.Name, Client: f.server.Client, Kind: kind, Tool: "echo",
			Decision: "allow", RequestID: json.RawMessage(fmt.Sprint(i / 2))}
		if kind == registry.KindOutcome {
			ev.Decision = "success"
		}
		if _, err := f.db.Append(ctx, key, ev); err != nil {
			t.Fatal(err)
		}
	}
	c := f.login(t)
	resp := do(t, c, "GET", f.base+"/api/report?type=soc2&format=json", nil)
	var rep struct {
		Calls []struct {
			Seq     int64  `json:"seq"`
			Outcome string `json:"outcome"`
		} `json:"calls"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /api/report: %d, %v", resp.StatusCode, err)
	}
	if len(rep.Calls) != 2 || rep.Calls[0].Outcome != "success" || rep.Calls[1].Outcome != "" {
		t.Errorf("calls = %+v, want the first answered and the second not", rep.Calls)
	}
	resp = do(t, c, "GET", f.base+"/api/report?type=soc2&format=csv", nil)
	rows, err := csv.NewReader(resp.Body).ReadAll()
	if err != nil || resp.StatusCode != 200 || len(rows) != 3 {
		t.Errorf("GET the CSV: %d, %d rows, %v", resp.StatusCode, len(rows), err)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("left in the temporary directory: %v", left)
	}
}
