package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/opena2a-org/aim-mcp/oauth"
	"github.com/opena2a-org/aim-mcp/watch"
)

// remoteLogin is a remote server install rewrote, which may want a login.
type remoteLogin struct {
	name, client, url string
	cfg               oauth.Config
}

// remoteLogins lists the remote servers of res that install rewrote, with
// the OAuth client their entry names. One whose OAuth settings do not hold
// is left to its first session, which says why.
func remoteLogins(dir string, res watch.Result) []remoteLogin {
	var out []remoteLogin
	for _, o := range res.Outcomes {
		r := o.Remote
		if r == nil || r.Problem != "" || (o.Action != watch.Wrapped && o.Action != watch.Rewrapped) {
			continue
		}
		port, _ := strconv.Atoi(r.OAuth.CallbackPort)
		cfg, err := oauthConfig(dir, o.RegName, r.URL, r.OAuth.ClientID, r.OAuth.Scopes, port, r.OAuth.MetadataURL)
		if err != nil {
			continue
		}
		out = append(out, remoteLogin{name: o.RegName, client: o.Client, url: r.URL, cfg: cfg})
	}
	return out
}

// loginRemotes signs aim-mcp in to each remote server install rewrote that
// wants a login and has none yet, so its first session does not stop to
// open a browser under the client's timeout. It runs only with a person
// at the terminal (open is how the authorization URL reaches them); a
// login that fails or is left unfinished is said, with the command that
// does it later, and install goes on.
func loginRemotes(ctx context.Context, e env, logins []remoteLogin, open func(string) error) {
	for _, l := range logins {
		if ctx.Err() != nil {
			return
		}
		if st := oauth.LoginStatus(l.cfg.Home, l.name, time.Now()); st.State == oauth.StateLoggedIn {
			continue
		}
		cfg := l.cfg
		cfg.Open = open
		cfg.Notify = func(authURL string) {
			fmt.Fprintf(e.stderr, "aim-mcp: %s is a remote server that wants a login; sign in in your browser (Ctrl-C stops).\nIf it does not open, visit:\n  %s\n", l.name, authURL)
		}
		rec := authRecorder(ctx, e, l.cfg.Home, l.name, l.client)
		cfg.Event = rec.add
		lctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
		st, err := oauth.Login(lctx, cfg)
		cancel()
		rec.close()
		switch {
		case errors.Is(err, oauth.ErrNoLoginAsked):
			// It needs none.
		case err != nil:
			fmt.Fprintf(e.stderr, "aim-mcp: warning: login to %s failed: %v\n", l.name, err)
			fmt.Fprintf(e.stderr, "aim-mcp: hint: run \"aim-mcp login %s\" later; until then its first session asks for the login\n", l.name)
		default:
			fmt.Fprintf(e.stdout, "  %-24s logged in at %s as client %s\n", l.name, st.Issuer, st.ClientID)
		}
	}
}
