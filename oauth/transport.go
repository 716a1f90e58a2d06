package oauth

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opena2a-org/aim-mcp/internal/httpnote"
)

// Transport adds the server's access token to each request and, when the
// server refuses, refreshes it or logs in again (once per request), so the
// bridge above it only sees answers. Every process serving the same server
// shares the stored grant: one of them refreshes, the others read.
type Transport struct {
	f    *flow
	base http.RoundTripper
	// Interactive lets a session that needs a login open the browser and
	// wait up to Wait for it; otherwise such a request fails at once.
	Interactive bool
	Wait        time.Duration
	// LoginNeeded is told, once, that requests fail until a person runs
	// aim-mcp login: the CLI says so on stderr.
	LoginNeeded func(*LoginNeededError)

	mu      sync.Mutex // guards the fields below; held while refreshing
	g       *grant     // the grant as last read or made
	loaded  bool
	retryAt time.Time // after a refresh that failed for a reason other than the grant
	lastErr error

	loginMu sync.Mutex // one login at a time in this process
	failed  *LoginNeededError
	told    atomic.Bool // LoginNeeded was called for the current failure
	stepUps int
}

// NewTransport wraps base (nil: http.DefaultTransport) with the server's
// OAuth.
func NewTransport(cfg Config, base http.RoundTripper) (*Transport, error) {
	f, err := newFlow(cfg)
	if err != nil {
		return nil, err
	}
	if base == nil {
		base = http.DefaultTransport
	}
	return &Transport{f: f, base: base, Wait: 45 * time.Second}, nil
}

// maxStepUps bounds the logins a server's insufficient_scope answers can ask
// for in one session: a server that is never content gets its 403.
const maxStepUps = 2

// refreshBackoff is how long a failed refresh (the server down, a network
// error) is not tried again: requests fail fast meanwhile.
const refreshBackoff = 30 * time.Second

func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	tok, err := t.token(ctx)
	if err != nil {
		return nil, err
	}
	resp, err := t.send(req, tok)
	if err != nil {
		return nil, err
	}
	switch resp.StatusCode {
	case http.StatusUnauthorized:
	case http.StatusForbidden:
		ch := parseChallenge(resp.Header)
		if ch.err != "insufficient_scope" || !t.wantsMore(ch) {
			return resp, nil
		}
		return t.again(req, resp, ch, tok, true)
	default:
		return resp, nil
	}
	ch := parseChallenge(resp.Header)
	if !ch.bearer && req.Header.Get("Authorization") != "" {
		return resp, nil // the server refused the caller's own credentials, not asking for OAuth
	}
	if tok != "" {
		// The server no longer takes the token (revoked, or expired before
		// its time): a refresh may be all it needs.
		if nt, err := t.forceRefresh(ctx, tok); err == nil && nt != "" && nt != tok {
			resp.Body.Close()
			httpnote.AuthRetry(ctx)
			if resp, err = t.send(req, nt); err != nil || resp.StatusCode != http.StatusUnauthorized {
				return resp, err
			}
			ch = parseChallenge(resp.Header)
			tok = nt
		}
	}
	return t.again(req, resp, ch, tok, false)
}

// again logs in (or steps up) and sends the request once more. When the
// server turns out to have no OAuth to offer, its answer goes back as it
// was.
func (t *Transport) again(req *http.Request, resp *http.Response, ch challenge, sent string, stepUp bool) (*http.Response, error) {
	kept, err := keep(resp)
	if err != nil {
		return nil, err
	}
	nt, err := t.login(req.Context(), ch, sent, stepUp)
	if err != nil {
		var ln *LoginNeededError
		if errors.As(err, &ln) {
			return nil, err
		}
		return kept, nil // not an OAuth server: its own answer says why
	}
	httpnote.AuthRetry(req.Context())
	return t.send(req, nt)
}

// keep reads a small refusal into memory so it can still be returned after
// the session has talked to the authorization server.
func keep(resp *http.Response) (*http.Response, error) {
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp, nil
}

// send is the request with the token, on a copy: a RoundTripper must not
// change the request it is given.
func (t *Transport) send(req *http.Request, tok string) (*http.Response, error) {
	r := req.Clone(req.Context())
	if req.Body != nil && req.Body != http.NoBody {
		if req.GetBody == nil {
			// Sent once already it cannot be sent again: the first try
			// has it.
			if tok != "" {
				r.Header.Set("Authorization", "Bearer "+tok)
			}
			return t.base.RoundTrip(r)
		}
		body, err := req.GetBody()
		if err != nil {
			return nil, err
		}
		r.Body = body
	}
	if tok != "" {
		r.Header.Set("Authorization", "Bearer "+tok)
	}
	return t.base.RoundTrip(r)
}

// token is the access token to send: the one held when it is still good,
// else a refreshed one, else none (the server will say what it wants).
func (t *Transport) token(ctx context.Context) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.failed != nil {
		// Until a person logs in (aim-mcp login, or another session), every
		// request fails here, without asking any server.
		g, err := t.f.load()
		if err != nil || !g.valid(t.f.now()) {
			return "", t.failed
		}
		t.failed, t.g, t.loaded = nil, g, true
		t.told.Store(false)
	}
	if !t.loaded {
		g, err := t.f.load()
		if err != nil {
			return "", err
		}
		t.g, t.loaded = g, true
	}
	now := t.f.now()
	if t.g.valid(now) {
		return t.g.AccessToken, nil
	}
	if t.g == nil || t.g.RefreshToken == "" {
		return "", nil
	}
	return t.refreshLocked(ctx, "")
}

// forceRefresh refreshes after the server refused tok.
func (t *Transport) forceRefresh(ctx context.Context, tok string) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.g != nil && t.g.AccessToken != tok && t.g.valid(t.f.now()) {
		return t.g.AccessToken, nil // someone has already
	}
	if t.g == nil || t.g.RefreshToken == "" {
		return "", nil
	}
	return t.refreshLocked(ctx, tok)
}

// refreshLocked refreshes under the cross-process lock. Whoever gets the
// lock first refreshes; the others, once they have it, find the new token
// in the store and use it. A refused refresh token is dropped (the grant is
// over: aim-mcp login); any other failure is not tried again for a while.
// refused is a token the server turned down, which must not come back.
func (t *Transport) refreshLocked(ctx context.Context, refused string) (string, error) {
	now := t.f.now()
	if now.Before(t.retryAt) {
		return "", t.lastErr
	}
	lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	unlock, err := t.f.lock(lctx)
	if err != nil {
		return "", err
	}
	defer unlock()
	g, err := t.f.load()
	if err != nil {
		return "", err
	}
	if g.valid(t.f.now()) && g.AccessToken != refused {
		t.g = g
		return g.AccessToken, nil
	}
	if g == nil || g.RefreshToken == "" {
		t.g = g
		return "", nil
	}
	ng, err := refresh(lctx, t.f.cfg.httpClient(), g, t.f.now())
	if err != nil {
		var te *tokenError
		if errors.As(err, &te) && (te.Code == "invalid_grant" || te.Code == "invalid_client") {
			cleared := *g
			cleared.AccessToken, cleared.RefreshToken, cleared.Expiry = "", "", time.Time{}
			t.f.save(&cleared, "the authorization server refused the refresh token ("+te.Code+")")
			t.f.event("refresh_failed", g, err)
			t.g = &cleared
			ln := &LoginNeededError{Server: t.f.cfg.Server, Cause: err}
			t.failed = ln
			t.tell(ln)
			return "", ln
		}
		t.f.event("refresh_failed", g, err)
		t.retryAt, t.lastErr = t.f.now().Add(refreshBackoff), err
		return "", err
	}
	if err := t.f.save(ng, ""); err != nil {
		return "", err
	}
	t.f.event("refresh", ng, nil)
	t.g = ng
	return ng.AccessToken, nil
}

// wantsMore: the server asks for a scope not granted yet, and the session
// has step-ups left.
func (t *Transport) wantsMore(ch challenge) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stepUps >= maxStepUps {
		return false
	}
	if t.g == nil {
		return true
	}
	for _, s := range ch.scopes {
		if !contains(t.g.Scopes, s) {
			return true
		}
	}
	return len(ch.scopes) == 0 && t.stepUps == 0
}

// login runs the authorization flow inside a session, when allowed, for a
// request the server refused with sent. One login at a time: the requests
// that wait for it then use its token; a login that fails is not tried
// again in this session.
func (t *Transport) login(ctx context.Context, ch challenge, sent string, stepUp bool) (string, error) {
	t.loginMu.Lock()
	defer t.loginMu.Unlock()
	t.mu.Lock()
	if t.failed != nil {
		defer t.mu.Unlock()
		return "", t.failed
	}
	if !stepUp && t.g.valid(t.f.now()) && t.g.AccessToken != sent {
		defer t.mu.Unlock()
		return t.g.AccessToken, nil // another request's login
	}
	t.mu.Unlock()

	wait := t.Wait
	if wait <= 0 {
		wait = 45 * time.Second
	}
	lctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	unlock, err := t.f.lock(lctx)
	if err != nil {
		return "", t.needLogin(err)
	}
	defer unlock()
	old, err := t.f.load()
	if err != nil {
		return "", err
	}
	if !stepUp && old.valid(t.f.now()) && old.AccessToken != sent {
		t.mu.Lock()
		t.g = old // another process logged in meanwhile
		t.mu.Unlock()
		return old.AccessToken, nil
	}
	if !t.Interactive {
		return "", t.needLogin(errors.New("no login stored"))
	}
	g, err := t.f.authorize(lctx, ch, old)
	if err != nil {
		t.f.event("login_failed", old, err)
		return "", t.needLogin(err)
	}
	if err := t.f.save(g, ""); err != nil {
		return "", err
	}
	kind := "login"
	if stepUp {
		kind = "step_up"
		t.mu.Lock()
		t.stepUps++
		t.mu.Unlock()
	}
	t.f.event(kind, g, nil)
	t.mu.Lock()
	t.g, t.loaded = g, true
	t.mu.Unlock()
	return g.AccessToken, nil
}

func (t *Transport) needLogin(cause error) error {
	ln := &LoginNeededError{Server: t.f.cfg.Server, Cause: cause}
	t.mu.Lock()
	t.failed = ln
	t.mu.Unlock()
	t.tell(ln)
	return ln
}

func (t *Transport) tell(ln *LoginNeededError) {
	if t.LoginNeeded != nil && t.told.CompareAndSwap(false, true) {
		t.LoginNeeded(ln)
	}
}

// Describe is what the session record says of the login: issuer, client,
// scopes and the token's fingerprint, never the token.
func (t *Transport) Describe() map[string]any {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.loaded {
		if g, err := t.f.load(); err == nil {
			t.g, t.loaded = g, true
		}
	}
	if t.g == nil || t.g.AccessToken == "" {
		return map[string]any{"oauth": "none"}
	}
	return map[string]any{"oauth_issuer": t.g.Issuer, "oauth_client_id": t.g.ClientID,
		"oauth_scopes": t.g.Scopes, "token_fingerprint": httpnote.Fingerprint(t.g.AccessToken)}
}
