package mcpproxy

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
)

// RemoteFailure says what kind of trouble a remote server gave: the command
// chooses the hint, the session reports each kind once.
type RemoteFailure string

const (
	// RemoteUnreachable: no connection (refused, no route, DNS, timeout).
	RemoteUnreachable RemoteFailure = "unreachable"
	// RemoteTLS: the server's certificate or handshake was refused.
	RemoteTLS RemoteFailure = "tls"
	// RemoteNotMCP: the server answered something that is no MCP reply,
	// such as an HTML page.
	RemoteNotMCP RemoteFailure = "not_mcp"
	// RemoteSessionLost: the session or a reply stream vanished before the
	// server answered, and could not be resumed.
	RemoteSessionLost RemoteFailure = "session_lost"
	// RemoteStatus: an HTTP error status that answers nothing.
	RemoteStatus RemoteFailure = "http_status"
)

// KindRemoteError is the record a session writes the first time a remote
// server fails it in a given way.
const KindRemoteError = "remote_error"

// RemoteError is reported (through [Options.Report]) the first time a
// remote server fails the session in a given way; the requests it failed
// were each answered with a JSON-RPC error.
type RemoteError struct {
	URL  string // without credentials
	Kind RemoteFailure
	Err  error
}

func (e *RemoteError) Error() string { return fmt.Sprintf("remote server %s: %v", e.URL, e.Err) }
func (e *RemoteError) Unwrap() error { return e.Err }

// classify says what kind of failure err is.
func classify(err error) RemoteFailure {
	var (
		cv  *tls.CertificateVerificationError
		rh  tls.RecordHeaderError
		ua  x509.UnknownAuthorityError
		hn  x509.HostnameError
		ci  x509.CertificateInvalidError
		al  tls.AlertError
		se  *httpStatusError
		op  *net.OpError
		dns *net.DNSError
	)
	switch {
	case errors.As(err, &cv), errors.As(err, &rh), errors.As(err, &ua), errors.As(err, &hn),
		errors.As(err, &ci), errors.As(err, &al):
		return RemoteTLS
	case errors.Is(err, errNotMCP):
		return RemoteNotMCP
	case errors.Is(err, errSessionLost):
		return RemoteSessionLost
	case errors.As(err, &se):
		if se.html() {
			return RemoteNotMCP
		}
		return RemoteStatus
	case errors.As(err, &op), errors.As(err, &dns):
		return RemoteUnreachable
	}
	return RemoteUnreachable
}

var (
	errNotMCP      = errors.New("not an MCP reply")
	errSessionLost = errors.New("session lost")
)

// failRemote answers id with err and reports and records the first failure
// of its kind, so that a dead server costs one line on stderr, not one per
// call.
func (h *httpUp) failRemote(id []byte, err error) {
	h.fail(id, err)
	if h.ctx.Err() != nil {
		return // the session is ending: nothing to tell
	}
	kind := classify(err)
	h.mu.Lock()
	first := !h.failed[kind]
	h.failed[kind] = true
	h.mu.Unlock()
	if !first {
		return
	}
	if h.report != nil {
		h.report(&RemoteError{URL: h.shown, Kind: kind, Err: err})
	}
	if h.record != nil {
		h.record(KindRemoteError, map[string]any{"url": h.shown, "failure": string(kind), "error": err.Error()})
	}
}

// noteTLS keeps the server's leaf certificate's key hash and issuer for
// the session record: a changed key is worth noticing.
func (h *httpUp) noteTLS(resp *http.Response) {
	if resp == nil || resp.TLS == nil || len(resp.TLS.PeerCertificates) == 0 {
		return
	}
	leaf := resp.TLS.PeerCertificates[0]
	sum := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.tlsSPKI, h.tlsIssuer = hex.EncodeToString(sum[:]), leaf.Issuer.String()
}

// do sends req. Its error leaves out the URL, which may carry a
// credential in its query: the messages name the server by h.shown.
func (h *httpUp) do(req *http.Request) (*http.Response, error) {
	resp, err := h.client.Do(req)
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return resp, err
}

// TLSKey is the SHA-256 of the server certificate's key (hex) and the
// certificate's issuer, as the session last saw them; empty before the
// first answer over https, and for http. The peer pins (pins.Peer) compare
// the key with the one first seen: a changed key is drift.
func (r *Remote) TLSKey() (spki, issuer string) {
	h := r.up.Load()
	if h == nil {
		return "", ""
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.tlsSPKI, h.tlsIssuer
}
