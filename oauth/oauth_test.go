package oauth

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opena2a-org/aim-mcp/internal/oauthtest"
	"github.com/zalando/go-keyring"
)

// follow is the browser of the tests: it follows the authorization
// server's redirect to the loopback callback, as a person's browser would.
func follow(u string) error {
	resp, err := http.Get(u)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

type events struct {
	mu  sync.Mutex
	got []Event
}

func (e *events) add(ev Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.got = append(e.got, ev)
}

func (e *events) kinds() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var k []string
	for _, ev := range e.got {
		k = append(k, ev.Kind)
	}
	return k
}

func config(t *testing.T, home string, as *oauthtest.Server, ev *events) Config {
	t.Helper()
	return Config{Home: home, Server: "demo", URL: as.Resource(), Store: fileStore{dir: filepath.Join(dir(home), "tokens")},
		Open: follow, Event: ev.add}
}

// clock is a time the test moves.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func transport(t *testing.T, cfg Config, interactive bool, c *clock) *Transport {
	t.Helper()
	tr, err := NewTransport(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	tr.Interactive = interactive
	if c != nil {
		tr.f.now = c.now
	}
	return tr
}

func call(tr *Transport, url, method string) (int, string, error) {
	body := `{"jsonrpc":"2.0","id":1,"method":"` + method + `","params":{"name":"echo","arguments":{"text":"hi"}}}`
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

func TestLoginInSessionThenReuse(t *testing.T) {
	as := oauthtest.New(oauthtest.Options{Scopes: []string{"read"}, IssInRedirect: true})
	defer as.Close()
	home := t.TempDir()
	var ev events
	tr := transport(t, config(t, home, as, &ev), true, nil)
	code, body, err := call(tr, as.Resource(), "initialize")
	if err != nil || code != 200 || !strings.Contains(body, "oauthtest") {
		t.Fatalf("initialize through a login: %d %s %v", code, body, err)
	}
	reg, auths, codes, _, _, _ := as.Snapshot()
	if reg != 1 || auths != 1 || codes != 1 {
		t.Errorf("registrations, authorizations, code exchanges = %d %d %d; want 1 1 1", reg, auths, codes)
	}
	for _, r := range as.SeenResources() {
		if r != as.Resource() {
			t.Errorf("a request to the authorization server named resource %q, want %q", r, as.Resource())
		}
	}
	if !slices.Equal(ev.kinds(), []string{"registered", "login"}) {
		t.Errorf("events %v, want registered, login", ev.kinds())
	}
	st := LoginStatus(home, "demo", time.Now())
	if st.State != StateLoggedIn || st.Issuer != as.URL || !slices.Contains(st.Scopes, "read") {
		t.Errorf("status after login: %+v", st)
	}
	tokFile := filepath.Join(dir(home), "tokens", "demo.json")
	if fi, err := os.Stat(tokFile); err != nil || (runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600) {
		t.Errorf("token file %s: %v %v, want mode 0600", tokFile, fi, err)
	}
	// The state file, which list reads, holds no token.
	stateBytes, _ := os.ReadFile(statePath(home, "demo"))
	for _, at := range as.AccessTokens() {
		if bytes.Contains(stateBytes, []byte(at)) {
			t.Errorf("the state file holds the access token")
		}
	}

	// A second session (another process) uses the stored token: no login.
	tr2 := transport(t, config(t, home, as, &ev), false, nil)
	if code, body, err := call(tr2, as.Resource(), "tools/call"); err != nil || code != 200 || !strings.Contains(body, "echo: hi") {
		t.Fatalf("second session: %d %s %v", code, body, err)
	}
	if _, auths, _, _, _, _ := as.Snapshot(); auths != 1 {
		t.Errorf("the second session logged in again (%d authorizations)", auths)
	}
	if d := tr2.Describe(); d["oauth_issuer"] != as.URL || !strings.HasPrefix(d["token_fingerprint"].(string), "sha256:") {
		t.Errorf("describe: %v", d)
	}

	// Logout forgets the tokens; a session without a browser then fails
	// with the command that fixes it, and keeps failing without asking.
	if had, err := Logout(t.Context(), config(t, home, as, &ev)); !had || err != nil {
		t.Fatalf("logout: %v %v", had, err)
	}
	if st := LoginStatus(home, "demo", time.Now()); st.State != StateNone {
		t.Errorf("status after logout: %s", st.State)
	}
	tr3 := transport(t, config(t, home, as, &ev), false, nil)
	var told int
	tr3.LoginNeeded = func(*LoginNeededError) { told++ }
	for range 3 {
		_, _, err := call(tr3, as.Resource(), "tools/list")
		var ln *LoginNeededError
		if !errors.As(err, &ln) || !strings.Contains(err.Error(), "aim-mcp login demo") {
			t.Fatalf("after logout: %v, want a LoginNeededError naming aim-mcp login demo", err)
		}
	}
	if told != 1 {
		t.Errorf("told %d times that a login is needed, want once", told)
	}
}

// TestRefreshOnce: three sessions whose token expired refresh it once
// between them, send the resource with it, and keep the rotated refresh
// token; when the authorization server then refuses the grant, one refresh
// reaches it and no session asks again.
func TestRefreshOnce(t *testing.T) {
	as := oauthtest.New(oauthtest.Options{TokenTTL: 10 * time.Minute})
	defer as.Close()
	home := t.TempDir()
	var ev events
	c := &clock{t: time.Now()}
	first := transport(t, config(t, home, as, &ev), true, c)
	if code, _, err := call(first, as.Resource(), "initialize"); code != 200 || err != nil {
		t.Fatalf("login: %d %v", code, err)
	}
	var trs []*Transport
	for range 3 {
		trs = append(trs, transport(t, config(t, home, as, &ev), false, c))
	}
	for _, tr := range trs {
		if code, _, err := call(tr, as.Resource(), "tools/list"); code != 200 || err != nil {
			t.Fatalf("before expiry: %d %v", code, err)
		}
	}
	c.add(11 * time.Minute)
	for round := range 2 {
		var wg sync.WaitGroup
		errs := make([]error, len(trs))
		for i, tr := range trs {
			wg.Go(func() {
				code, body, err := call(tr, as.Resource(), "tools/call")
				if err == nil && code != 200 {
					err = errors.New(body)
				}
				errs[i] = err
			})
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatalf("round %d after expiry: %v", round, err)
			}
		}
	}
	if _, _, _, refreshes, bad, _ := as.Snapshot(); refreshes != 1 || bad != 0 {
		t.Errorf("refreshes %d (bad %d), want exactly 1", refreshes, bad)
	}
	// The second expiry works only if the rotated refresh token was kept.
	c.add(11 * time.Minute)
	if code, _, err := call(trs[0], as.Resource(), "tools/call"); code != 200 || err != nil {
		t.Fatalf("second expiry: %d %v", code, err)
	}
	for _, r := range as.SeenResources() {
		if r != as.Resource() {
			t.Errorf("a token request named resource %q", r)
		}
	}

	as.RevokeRefresh()
	c.add(11 * time.Minute)
	_, _, _, before, _, _ := as.Snapshot()
	for range 3 {
		for _, tr := range trs {
			_, _, err := call(tr, as.Resource(), "tools/call")
			var ln *LoginNeededError
			if !errors.As(err, &ln) {
				t.Fatalf("after the grant was revoked: %v, want a LoginNeededError", err)
			}
		}
	}
	if _, _, _, after, bad, _ := as.Snapshot(); after-before != 1 || bad != 1 {
		t.Errorf("%d refreshes reached the server after the grant was revoked (bad %d), want 1", after-before, bad)
	}
	if st := LoginStatus(home, "demo", c.now()); st.State != StateExpired || !strings.Contains(st.Reason, "invalid_grant") {
		t.Errorf("status after invalid_grant: %+v", st)
	}
	if n := strings.Count(strings.Join(ev.kinds(), " "), "refresh_failed"); n != 1 {
		t.Errorf("%d refresh_failed events, want 1 (%v)", n, ev.kinds())
	}
}

func TestStepUp(t *testing.T) {
	as := oauthtest.New(oauthtest.Options{Scopes: []string{"read"}, CallScope: "write"})
	defer as.Close()
	home := t.TempDir()
	var ev events
	tr := transport(t, config(t, home, as, &ev), true, nil)
	if code, _, err := call(tr, as.Resource(), "initialize"); code != 200 || err != nil {
		t.Fatalf("login: %d %v", code, err)
	}
	code, body, err := call(tr, as.Resource(), "tools/call")
	if err != nil || code != 200 || !strings.Contains(body, "echo: hi") {
		t.Fatalf("tools/call after step-up: %d %s %v", code, body, err)
	}
	if _, auths, _, _, _, _ := as.Snapshot(); auths != 2 {
		t.Errorf("%d authorizations, want 2 (login, step-up)", auths)
	}
	st := LoginStatus(home, "demo", time.Now())
	if !slices.Contains(st.Scopes, "read") || !slices.Contains(st.Scopes, "write") {
		t.Errorf("scopes after step-up %v, want read and write", st.Scopes)
	}
	if k := ev.kinds(); k[len(k)-1] != "step_up" {
		t.Errorf("events %v, want step_up last", k)
	}
}

func TestRefusals(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  oauthtest.Options
		want string
	}{
		{"resource mismatch", oauthtest.Options{PRMResource: "https://other.example/mcp"}, "names another resource"},
		{"wrong iss", oauthtest.Options{IssInRedirect: true, WrongIss: true}, "not \"http://127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			as := oauthtest.New(tc.opt)
			defer as.Close()
			var ev events
			tr := transport(t, config(t, t.TempDir(), as, &ev), true, nil)
			_, _, err := call(tr, as.Resource(), "initialize")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error with %q", err, tc.want)
			}
			if _, _, codes, _, _, _ := as.Snapshot(); codes != 0 {
				t.Errorf("a code was exchanged for a token")
			}
		})
	}
}

func TestBrowserURL(t *testing.T) {
	for _, u := range []string{"file:///etc/passwd", "javascript:alert(1)", "http://example.com/authorize",
		"https://a.example/x?y=1 --foo", "calc.exe", "ms-settings:x"} {
		if err := checkBrowserURL(u); err == nil {
			t.Errorf("%q was allowed", u)
		}
	}
	for _, u := range []string{"https://auth.example.com/authorize?a=1&b=2", "http://127.0.0.1:9/authorize", "http://localhost:8/a"} {
		if err := checkBrowserURL(u); err != nil {
			t.Errorf("%q refused: %v", u, err)
		}
	}
}

// TestOpenBrowserArgv: the URL reaches $BROWSER as one argument, shell
// characters and all.
func TestOpenBrowserArgv(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("a shell script as $BROWSER")
	}
	d := t.TempDir()
	out := filepath.Join(d, "argv")
	script := filepath.Join(d, "browser.sh")
	os.WriteFile(script, []byte("#!/bin/sh\nprintf '%s\\n' \"$#\" \"$@\" > "+out+".tmp && mv "+out+".tmp "+out+"\n"), 0o755)
	t.Setenv("BROWSER", script)
	u := "https://auth.example.com/authorize?state=a;b&x=$(id)&y=|id>/tmp/p"
	if err := OpenBrowser(u); err != nil {
		t.Fatal(err)
	}
	var got []byte
	for range 200 {
		if b, err := os.ReadFile(out); err == nil {
			got = b
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if want := "1\n" + u + "\n"; string(got) != want {
		t.Errorf("$BROWSER got %q, want %q", got, want)
	}
}

func TestKeyringStore(t *testing.T) {
	keyring.MockInit()
	home := t.TempDir()
	s, err := OpenStore(home, StoreKeyring)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("demo"); !errors.Is(err, ErrNoGrant) {
		t.Fatalf("empty keychain: %v", err)
	}
	if err := saveGrant(s, "demo", &grant{AccessToken: "tok", Resource: "https://x.example/mcp"}); err != nil {
		t.Fatal(err)
	}
	g, err := loadGrant(s, "demo")
	if err != nil || g.AccessToken != "tok" {
		t.Fatalf("read back: %+v %v", g, err)
	}
	if entries, _ := os.ReadDir(filepath.Join(dir(home), "tokens")); len(entries) != 0 {
		t.Errorf("the keychain store wrote files: %v", entries)
	}
	if err := s.Delete("demo"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("demo"); !errors.Is(err, ErrNoGrant) {
		t.Errorf("after delete: %v", err)
	}
}

// TestKeyringTooBig: a grant the keychain cannot hold goes to the file.
func TestKeyringTooBig(t *testing.T) {
	keyring.MockInitWithError(keyring.ErrSetDataTooBig)
	defer keyring.MockInit()
	home := t.TempDir()
	f, err := newFlow(Config{Home: home, Server: "demo", URL: "https://x.example/mcp", StoreKind: StoreKeyring})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.save(&grant{Resource: "https://x.example/mcp", AccessToken: strings.Repeat("j", 3000)}, ""); err != nil {
		t.Fatal(err)
	}
	if st := LoginStatus(home, "demo", time.Now()); st.Store != StoreFile || st.State != StateLoggedIn {
		t.Errorf("status %+v, want logged in with the file store", st)
	}
	if _, err := os.Stat(filepath.Join(dir(home), "tokens", "demo.json")); err != nil {
		t.Error(err)
	}
}

// TestLoginWaitEnds: a session whose browser never comes back gives up
// after its wait, with the command that fixes it, and picks up a login
// made elsewhere afterwards.
func TestLoginWaitEnds(t *testing.T) {
	as := oauthtest.New(oauthtest.Options{})
	defer as.Close()
	home := t.TempDir()
	var ev events
	cfg := config(t, home, as, &ev)
	cfg.Open = func(string) error { return nil } // a browser nobody looks at
	tr := transport(t, cfg, true, nil)
	tr.Wait = 300 * time.Millisecond
	_, _, err := call(tr, as.Resource(), "initialize")
	var ln *LoginNeededError
	if !errors.As(err, &ln) || !strings.Contains(err.Error(), "aim-mcp login demo") {
		t.Fatalf("got %v, want a LoginNeededError naming aim-mcp login demo", err)
	}
	if _, _, codes, _, _, _ := as.Snapshot(); codes != 0 {
		t.Errorf("a token was issued")
	}
	// A login elsewhere (aim-mcp login): the same session works again.
	if _, err := Login(t.Context(), config(t, home, as, &ev)); err != nil {
		t.Fatal(err)
	}
	if code, _, err := call(tr, as.Resource(), "tools/list"); err != nil || code != 200 {
		t.Fatalf("after a login elsewhere: %d %v", code, err)
	}
}

func TestLoginNotAsked(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/mcp" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"jsonrpc":"2.0","id":0,"result":{}}`)
	}))
	defer srv.Close()
	home := t.TempDir()
	_, err := Login(t.Context(), Config{Home: home, Server: "open", URL: srv.URL + "/mcp", Open: follow,
		Store: fileStore{dir: filepath.Join(dir(home), "tokens")}})
	if !errors.Is(err, ErrNoLoginAsked) {
		t.Fatalf("got %v, want ErrNoLoginAsked", err)
	}
	if st := LoginStatus(home, "open", time.Now()); st.State != StateNone {
		t.Errorf("status %s", st.State)
	}
}
