// Package remote is a plain HTTP client of a remote AIM server: it
// registers each MCP server as an agent of type mcp_server, verifies
// actions with the agent's Ed25519 key, logs outcomes and reads trust
// scores. What a proxy does with AIM's answers is policy, in policy/aim;
// this package knows nothing of proxies or calls.
//
// The local registry stays the source of the audit trail: AIM's log routes
// store nothing today, and the trail must survive AIM being down.
//
// Usage:
//
//	c, err := remote.New("https://aim.example.com", &remote.Options{APIKey: key})
//	agent, err := c.Enroll(ctx, keys, remote.Enrollment{Name: "filesystem", ...})
//	_, err = c.VerifyAction(ctx, agent.Identity(), remote.Action{Type: "mcp_tool:read_file"})
//	var denied *remote.VerificationError
//	if errors.As(err, &denied) { ... }
//
// Errors are the AIM SDK's: [AuthenticationError], [VerificationError],
// [ConnectionError], [TimeoutError], [RateLimitError], plus [StatusError]
// for anything else. Requests are retried with backoff on connection
// errors, timeouts and 5xx, and after a 429's Retry-After; each retry is
// signed afresh.
package remote

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/opena2a-org/aim-mcp/identity"
)

// Defaults of Options.
const (
	DefaultTimeout       = 30 * time.Second
	DefaultRetryAttempts = 3
	DefaultBackoff       = 250 * time.Millisecond
	DefaultMaxBackoff    = 5 * time.Second
)

// minSignedBody is the shortest non-empty body AIM accepts on an
// Ed25519-signed request: its auth middleware panics (HTTP 500) on less.
const minSignedBody = 200

// maxResponse caps what is read of any answer.
const maxResponse = 1 << 20

// Options tune a Client. The zero value of a field means its default,
// except RetryAttempts, where 0 means no retries: use NewOptions for the
// defaults.
type Options struct {
	// HTTPClient sends the requests; nil means a client of its own.
	HTTPClient *http.Client
	// APIKey authenticates registration and the sdk-api routes. It is
	// never logged nor put in an error.
	APIKey string
	// Timeout bounds each attempt (AIM_TIMEOUT).
	Timeout time.Duration
	// RetryAttempts is how many times a failed request is tried again
	// (AIM_RETRY_ATTEMPTS).
	RetryAttempts int
	// Backoff is the wait before the first retry; it doubles, with
	// jitter, up to MaxBackoff.
	Backoff, MaxBackoff time.Duration
	// Logger gets a debug line per attempt: method, path, status, time.
	// Never headers, bodies, keys or signatures. Nil discards.
	Logger *slog.Logger
	// UserAgent is sent as User-Agent.
	UserAgent string
	// Now is the clock for request timestamps (tests); nil is time.Now.
	Now func() time.Time
}

// NewOptions returns the defaults.
func NewOptions() *Options {
	return &Options{Timeout: DefaultTimeout, RetryAttempts: DefaultRetryAttempts}
}

// Client talks to one AIM server.
type Client struct {
	base *url.URL
	hc   *http.Client
	opt  Options
	log  *slog.Logger
	// sleep waits between attempts; tests replace it to see the waits.
	sleep func(ctx context.Context, d time.Duration) error
}

// New returns a client for the AIM server at baseURL (scheme and host,
// optionally a path prefix; without /api/v1). opt may be nil.
func New(baseURL string, opt *Options) (*Client, error) {
	u, err := ParseURL(baseURL)
	if err != nil {
		return nil, err
	}
	if opt == nil {
		opt = NewOptions()
	}
	o := *opt
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.RetryAttempts < 0 {
		o.RetryAttempts = 0
	}
	if o.Backoff <= 0 {
		o.Backoff = DefaultBackoff
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.UserAgent == "" {
		o.UserAgent = "aim-mcp"
	}
	c := &Client{base: u, hc: o.HTTPClient, opt: o, log: o.Logger, sleep: sleepCtx}
	if c.hc == nil {
		// Each attempt has its own deadline; this only stops a body that
		// trickles forever.
		c.hc = &http.Client{Timeout: o.Timeout + time.Second}
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// ParseURL checks an AIM URL: http or https, a host, no query. The
// result has no trailing slash.
func ParseURL(s string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("AIM URL %q: want http(s)://host[:port]", s)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("AIM URL %q: want no user, query or fragment", s)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// URL is the server's base URL.
func (c *Client) URL() string { return c.base.String() }

// HasAPIKey reports whether the client has an API key.
func (c *Client) HasAPIKey() bool { return c.opt.APIKey != "" }

// Identity is an agent as it signs requests.
type Identity struct {
	AgentID string
	Key     *identity.Key
}

type authKind int

const (
	authNone     authKind = iota
	authAPIKey            // Authorization: Bearer (sdk-api)
	authRegister          // X-AIM-API-Key (public registration)
	authSigned            // Ed25519 request signing
	authUser              // Authorization: Bearer <an AIM user's token>
)

const (
	credAPIKey   = "API key"
	credAgentKey = "agent key"
	credUser     = "user token"
)

// request is one API call.
type request struct {
	method string
	path   string // below the base URL, starting with /api/v1 or /health
	body   []byte // the exact bytes sent (and signed)
	auth   authKind
	id     Identity
	token  string // an AIM user's token, for authUser
	// replayable says whether a retry after the request may have reached
	// AIM is harmless. Registration is not: a lost answer would make the
	// retry fail on the duplicate name with the key lost.
	replayable bool
	action     string // for VerificationError
}

// do sends r, retrying what may be retried, and decodes a 2xx JSON answer
// into out (when out is not nil).
func (c *Client) do(ctx context.Context, r request, out any) error {
	var last error
	for attempt := 0; ; attempt++ {
		status, hdr, body, err := c.once(ctx, r, attempt)
		if err == nil && status/100 == 2 {
			if out == nil {
				return nil
			}
			if !isJSON(hdr) {
				return &StatusError{Method: r.method, Path: r.path, Status: status,
					Message: fmt.Sprintf("the answer is %q, not JSON: is %s an AIM server?", hdr.Get("Content-Type"), c.URL())}
			}
			if err := json.Unmarshal(body, out); err != nil {
				return &StatusError{Method: r.method, Path: r.path, Status: status, Message: fmt.Sprintf("unreadable answer: %v", err)}
			}
			return nil
		}
		if err != nil {
			last = err
		} else {
			last = c.statusError(r, status, hdr, body)
		}
		if ctx.Err() != nil {
			return c.ctxError(ctx, last)
		}
		wait, retry := c.retryable(r, last, attempt)
		if !retry || attempt >= c.opt.RetryAttempts {
			return last
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return last // the budget would run out while waiting
		}
		c.log.Debug("AIM retry", "method", r.method, "path", r.path, "wait_ms", wait.Milliseconds())
		if err := c.sleep(ctx, wait); err != nil {
			return c.ctxError(ctx, last)
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// ctxError is the error of a request whose context ended.
func (c *Client) ctxError(ctx context.Context, last error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		var te *TimeoutError
		if errors.As(last, &te) {
			return te
		}
		return &TimeoutError{URL: c.URL(), Err: ctx.Err()}
	}
	return ctx.Err()
}

// retryable says whether last may be retried, and after how long.
func (c *Client) retryable(r request, last error, attempt int) (time.Duration, bool) {
	backoff := c.backoff(attempt)
	var (
		ce *ConnectionError
		te *TimeoutError
		rl *RateLimitError
		se *StatusError
	)
	switch {
	case errors.As(last, &rl):
		if rl.RetryAfter > 0 {
			return rl.RetryAfter, true
		}
		return backoff, true
	case errors.As(last, &ce):
		// A refused connection never reached AIM; other connection
		// errors may have, after the request was written.
		return backoff, r.replayable || isDialError(ce.Err)
	case errors.As(last, &te):
		return backoff, r.replayable
	case errors.As(last, &se):
		return backoff, r.replayable && se.Status >= 500
	}
	return 0, false
}

func (c *Client) backoff(attempt int) time.Duration {
	d := c.opt.Backoff << min(attempt, 16)
	if d > c.opt.MaxBackoff || d <= 0 {
		d = c.opt.MaxBackoff
	}
	// Up to 25% jitter, so proxies that failed together do not retry together.
	return d - time.Duration(rand.Int64N(int64(d)/4+1))
}

func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// once makes one attempt. A transport failure comes back as a
// ConnectionError or TimeoutError; any HTTP answer as its status.
func (c *Client) once(ctx context.Context, r request, attempt int) (int, http.Header, []byte, error) {
	actx, cancel := context.WithTimeout(ctx, c.opt.Timeout)
	defer cancel()
	u := *c.base
	u.Path = c.base.Path + r.path
	var rd io.Reader
	if len(r.body) > 0 {
		rd = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(actx, r.method, u.String(), rd)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("build request: %v", err)
	}
	req.Header.Set("User-Agent", c.opt.UserAgent)
	req.Header.Set("Accept", "application/json")
	if len(r.body) > 0 {
		req.Header.Set("Content-Type", "application/json")
	}
	switch r.auth {
	case authAPIKey:
		req.Header.Set("Authorization", "Bearer "+c.opt.APIKey)
	case authRegister:
		req.Header.Set("X-AIM-API-Key", c.opt.APIKey)
	case authSigned:
		c.sign(req, r, u.EscapedPath())
	case authUser:
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	start := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		c.log.Debug("AIM request failed", "method", r.method, "path", r.path, "attempt", attempt+1,
			"ms", time.Since(start).Milliseconds(), "error", c.redact(rootCause(err).Error()))
		switch {
		case ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded):
			return 0, nil, nil, &TimeoutError{URL: c.URL(), Err: err} // the caller's budget ran out
		case ctx.Err() != nil:
			return 0, nil, nil, ctx.Err()
		case actx.Err() != nil || isTimeout(err):
			return 0, nil, nil, &TimeoutError{URL: c.URL(), Timeout: c.opt.Timeout, Err: err}
		}
		return 0, nil, nil, &ConnectionError{URL: c.URL(), Err: rootCause(err)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	c.log.Debug("AIM request", "method", r.method, "path", r.path, "status", resp.StatusCode,
		"attempt", attempt+1, "ms", time.Since(start).Milliseconds())
	if err != nil {
		if actx.Err() != nil || isTimeout(err) {
			return 0, nil, nil, &TimeoutError{URL: c.URL(), Timeout: c.opt.Timeout, Err: err}
		}
		return 0, nil, nil, &ConnectionError{URL: c.URL(), Err: err}
	}
	return resp.StatusCode, resp.Header, body, nil
}

// sign adds the four Ed25519 headers. The signed bytes are, exactly,
// METHOD "\n" path "\n" timestamp, then "\n" body when there is one; the
// path is the full request path, without the query.
func (c *Client) sign(req *http.Request, r request, path string) {
	ts := strconv.FormatInt(c.opt.Now().Unix(), 10)
	req.Header.Set("X-Agent-ID", r.id.AgentID)
	req.Header.Set("X-Timestamp", ts)
	req.Header.Set("X-Public-Key", r.id.Key.PublicString())
	req.Header.Set("X-Signature", base64.StdEncoding.EncodeToString(r.id.Key.Sign(SignedBytes(r.method, path, ts, r.body))))
}

// SignedBytes are the bytes of an Ed25519-signed request that the
// signature covers.
func SignedBytes(method, path, ts string, body []byte) []byte {
	b := []byte(strings.ToUpper(method) + "\n" + path + "\n" + ts)
	if len(body) > 0 {
		b = append(b, '\n')
		b = append(b, body...)
	}
	return b
}

// errorBody is every error shape AIM has: {"error":"..."} from handlers,
// {"error":true,"message":"..."} from the router, and the denials of
// verify-action ({"allowed":false,"reason"}) and of verifications
// ({"status":"denied","denial_reason"}).
type errorBody struct {
	Error        json.RawMessage `json:"error"`
	Message      string          `json:"message"`
	Details      string          `json:"details"`
	Allowed      *bool           `json:"allowed"`
	Reason       string          `json:"reason"`
	Status       string          `json:"status"`
	DenialReason string          `json:"denial_reason"`
	AuditID      string          `json:"audit_id"`
	ID           string          `json:"id"`
}

func (b errorBody) message() string {
	var s string
	if json.Unmarshal(b.Error, &s) == nil && s != "" {
		if b.Message != "" && b.Message != s {
			return s + ": " + b.Message
		}
		return s
	}
	if b.Message != "" {
		return b.Message
	}
	return b.Reason
}

// statusError turns a non-2xx answer into the matching error type.
func (c *Client) statusError(r request, status int, hdr http.Header, body []byte) error {
	var b errorBody
	if isJSON(hdr) {
		json.Unmarshal(body, &b)
	}
	msg := c.redact(b.message())
	if msg == "" && !isJSON(hdr) && len(body) > 0 && len(body) < 200 {
		msg = c.redact(strings.TrimSpace(string(body)))
	}
	cred := credAgentKey
	switch r.auth {
	case authAPIKey, authRegister:
		cred = credAPIKey
	case authUser:
		cred = credUser
	}
	switch {
	case status == http.StatusForbidden && (b.Allowed != nil || b.Status == "denied"):
		reason := b.Reason
		if reason == "" {
			reason = b.DenialReason
		}
		audit := b.AuditID
		if audit == "" {
			audit = b.ID
		}
		return &VerificationError{Action: r.action, Reason: c.redact(reason), AuditID: audit}
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return &AuthenticationError{Status: status, Message: msg, Credential: cred, URL: c.URL()}
	case status == http.StatusTooManyRequests:
		return &RateLimitError{RetryAfter: retryAfter(hdr.Get("Retry-After"), c.opt.Now()), Message: msg}
	}
	return &StatusError{Method: r.method, Path: r.path, Status: status, Message: msg}
}

// retryAfter reads delay-seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

func isJSON(h http.Header) bool {
	mt, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// rootCause drops the *url.Error wrapper, whose text repeats the URL.
func rootCause(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// redact removes the API key from text that came from elsewhere (AIM's
// error messages), in case it is ever echoed.
func (c *Client) redact(s string) string {
	if c.opt.APIKey != "" {
		s = strings.ReplaceAll(s, c.opt.APIKey, "[redacted]")
	}
	return s
}

// jsonBody marshals v without HTML escaping.
func jsonBody(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
	return bytes.TrimRight(buf.Bytes(), "\n")
}

// padded marshals the object build returns with the padding given, growing
// the padding until the body reaches AIM's minimum for signed requests.
func padded(build func(pad string) any) []byte {
	b := jsonBody(build(""))
	for n := 0; len(b) < minSignedBody && n < 4; n++ {
		b = jsonBody(build(strings.Repeat(".", minSignedBody-len(b)+16)))
	}
	return b
}

// Health checks that AIM answers GET /health.
func (c *Client) Health(ctx context.Context) error {
	return c.do(ctx, request{method: http.MethodGet, path: "/health", replayable: true}, nil)
}

// AIMService is what AIM's GET /health names itself.
const AIMService = "agent-identity-management"

// Identify checks that the server is AIM before anything is registered
// there: AIM answers GET /health with {"service":"agent-identity-management"},
// or, in versions that do not name themselves there, GET /api/v1/status
// with {"status":"operational"}. Anything else is a *NotAIMError; a server
// that does not answer at all is the usual ConnectionError or TimeoutError.
func (c *Client) Identify(ctx context.Context) error {
	var h struct {
		Service string `json:"service"`
		Status  string `json:"status"`
	}
	err := c.do(ctx, request{method: http.MethodGet, path: "/health", replayable: true}, &h)
	if err == nil && h.Service == AIMService {
		return nil
	}
	if err != nil && Unavailable(err) && !isStatus(err) {
		return err
	}
	var st struct {
		Status string `json:"status"`
	}
	serr := c.do(ctx, request{method: http.MethodGet, path: "/api/v1/status", replayable: true}, &st)
	switch {
	case serr == nil && st.Status == "operational":
		return nil
	case serr != nil && Unavailable(serr) && !isStatus(serr):
		return serr
	}
	why := "GET /health does not name agent-identity-management and GET /api/v1/status does not say operational"
	if err != nil {
		why = err.Error()
	}
	return &NotAIMError{URL: c.URL(), Why: why}
}

// isStatus reports whether err is an HTTP answer (a 5xx from a web server
// that is not AIM), as opposed to no answer.
func isStatus(err error) bool {
	var se *StatusError
	return errors.As(err, &se)
}
