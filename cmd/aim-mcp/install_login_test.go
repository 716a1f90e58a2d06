package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/opena2a-org/aim-mcp/internal/oauthtest"
	"github.com/opena2a-org/aim-mcp/oauth"
)

// TestInstallLogsInRemotes: install's login of the remote servers it
// rewrote signs in to one that wants a login (once: a second install asks
// nothing), says nothing of one that wants none, and only warns, with the
// command to run later, when a login fails.
func TestInstallLogsInRemotes(t *testing.T) {
	t.Setenv("AIM_MCP_TOKEN_STORE", "file")
	as := oauthtest.New(oauthtest.Options{})
	defer as.Close()
	open := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/mcp" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"jsonrpc":"2.0","id":1,"result":{}}`))
	}))
	defer open.Close()
	dir := t.TempDir()
	follow := func(u string) error {
		resp, err := http.Get(u)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	login := func(name, url string) remoteLogin {
		return remoteLogin{name: name, client: "claude-code", url: url,
			cfg: oauth.Config{Home: dir, Server: name, URL: url, StoreKind: "file"}}
	}
	logins := []remoteLogin{login("secured", as.Resource()), login("open", open.URL+"/mcp"), login("broken", "http://127.0.0.1:1/mcp")}

	var out, errb bytes.Buffer
	e := env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb}
	loginRemotes(context.Background(), e, logins, follow)
	if st := oauth.LoginStatus(dir, "secured", time.Now()); st.State != oauth.StateLoggedIn {
		t.Fatalf("secured: %+v; want logged in\nstdout:\n%s\nstderr:\n%s", st, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "secured") || strings.Contains(out.String()+errb.String(), "open ") {
		t.Errorf("want a line for secured and none for open:\nstdout:\n%s\nstderr:\n%s", out.String(), errb.String())
	}
	if !strings.Contains(errb.String(), "login to broken failed") || !strings.Contains(errb.String(), `run "aim-mcp login broken" later`) {
		t.Errorf("the failed login is not said with its hint:\n%s", errb.String())
	}
	if st := oauth.LoginStatus(dir, "open", time.Now()); st.State != oauth.StateNone {
		t.Errorf("open: %+v; want no login", st)
	}

	_, authorizes, _, _, _, _ := as.Snapshot()
	out.Reset()
	loginRemotes(context.Background(), e, logins[:1], follow)
	if _, again, _, _, _, _ := as.Snapshot(); again != authorizes || out.Len() != 0 {
		t.Errorf("a second install authorized again (%d, then %d) or said %q; want nothing asked", authorizes, again, out.String())
	}
}
