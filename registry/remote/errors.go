package remote

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// The errors of the AIM SDK, as Go types to test with errors.As. Each
// has a Hint that tells a person what to do about it; none ever carries a
// key, a signature or a request body.

// ErrNotFound matches (with errors.Is) a StatusError for a 404: an agent
// or a route that AIM does not know.
var ErrNotFound = errors.New("not found")

// Hinter is implemented by every error of this package.
type Hinter interface {
	error
	Hint() string
}

// AuthenticationError is AIM refusing the credentials: a 401, or a 403
// that is not an action's denial (another organisation's agent, a role).
type AuthenticationError struct {
	Status     int
	Message    string // AIM's own words
	Credential string // what was refused: "API key" or "agent key"
	URL        string // AIM's base URL
}

func (e *AuthenticationError) Error() string {
	return fmt.Sprintf("AIM refused the %s (HTTP %d): %s", e.Credential, e.Status, e.Message)
}

// Hint says how to fix the credential.
func (e *AuthenticationError) Hint() string {
	switch {
	case e.Credential == credAPIKey && e.Status == http.StatusForbidden:
		return "the API key belongs to another AIM organisation than this agent; use a key of the agent's organisation"
	case e.Credential == credUser:
		return "sign in to AIM's web UI and copy a fresh token (tokens expire after a day); the user must be a member of the agent's organisation"
	case e.Credential == credAPIKey:
		return "check the API key (--api-key, AIM_API_KEY or api_key in config.yaml); AIM API keys expire after 90 days, so create a new one in AIM if needed"
	case e.Message == "Invalid signature":
		return "the agent's key was rotated in AIM; \"aim-mcp status\" names the server, then " + RotateHint("")
	default:
		return "AIM does not accept this server's agent key; run \"aim-mcp install\" again to register it with AIM at " + e.URL
	}
}

// VerificationError is AIM denying an action: the call must not run.
type VerificationError struct {
	Action  string // the action_type that was checked
	Reason  string // AIM's reason, shown to the person
	AuditID string // AIM's audit row for the decision, if any
}

func (e *VerificationError) Error() string {
	if e.Reason == "" {
		return fmt.Sprintf("AIM denied %q", e.Action)
	}
	return fmt.Sprintf("AIM denied %q: %s", e.Action, e.Reason)
}

// Hint says who can change the answer.
func (e *VerificationError) Hint() string {
	return fmt.Sprintf("an AIM admin must grant the capability %q to this agent (aim-mcp has requested it)", e.Action)
}

// ConnectionError is AIM not reachable at all: refused, reset, no route,
// a name that does not resolve.
type ConnectionError struct {
	URL string
	Err error
}

func (e *ConnectionError) Error() string {
	return fmt.Sprintf("cannot connect to AIM at %s: %v", e.URL, e.Err)
}

func (e *ConnectionError) Unwrap() error { return e.Err }

// Hint says what to check.
func (e *ConnectionError) Hint() string {
	return fmt.Sprintf("check that AIM is running (curl %s/health) and that the URL (--aim-url, AIM_URL or aim_url in config.yaml) is right", e.URL)
}

// TimeoutError is AIM not answering in time.
type TimeoutError struct {
	URL     string
	Timeout time.Duration // the budget that ran out, 0 when unknown
	Err     error
}

func (e *TimeoutError) Error() string {
	if e.Timeout > 0 {
		return fmt.Sprintf("AIM at %s did not answer within %s", e.URL, e.Timeout)
	}
	return fmt.Sprintf("AIM at %s did not answer in time", e.URL)
}

func (e *TimeoutError) Unwrap() error { return e.Err }

// Hint says which knob to turn.
func (e *TimeoutError) Hint() string {
	return "raise AIM_TIMEOUT (or call_timeout in config.yaml for tool calls) or check the network to AIM"
}

// RateLimitError is AIM's 429: too many requests in the last minute.
type RateLimitError struct {
	RetryAfter time.Duration // from the Retry-After header, 0 when absent
	Message    string
}

func (e *RateLimitError) Error() string {
	if e.RetryAfter > 0 {
		return fmt.Sprintf("AIM's rate limit was hit; it asks to retry after %s", e.RetryAfter)
	}
	return "AIM's rate limit was hit"
}

// Hint says how long to wait.
func (e *RateLimitError) Hint() string {
	return "AIM allows about 100 requests a minute per user or address; wait a minute and try again"
}

// StatusError is any other answer AIM gave that was not a success.
type StatusError struct {
	Method, Path string
	Status       int
	Message      string
}

func (e *StatusError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	return fmt.Sprintf("AIM answered %s %s with HTTP %d: %s", e.Method, e.Path, e.Status, msg)
}

// Is makes errors.Is(err, ErrNotFound) true for a 404.
func (e *StatusError) Is(target error) bool {
	return target == ErrNotFound && e.Status == http.StatusNotFound
}

// Hint says what a status means for the person.
func (e *StatusError) Hint() string {
	switch {
	case e.Status >= 500:
		return "AIM failed on its side; its server log says why"
	case e.Status == http.StatusNotFound:
		return "AIM does not know this agent (was it deleted?); run \"aim-mcp install\" again to register it"
	default:
		return "this aim-mcp and this AIM server may not speak the same API version"
	}
}

// KeyUnknownError is an agent that exists in AIM under the server's name
// whose private key this machine does not hold: aim-mcp cannot act as it.
type KeyUnknownError struct {
	Name    string
	AgentID string
	KeyPath string // where the key would have to be
}

func (e *KeyUnknownError) Error() string {
	return fmt.Sprintf("AIM already has an agent named %q (%s), and this machine does not hold its key", e.Name, e.AgentID)
}

// Hint gives the two ways out.
func (e *KeyUnknownError) Hint() string {
	return fmt.Sprintf("delete or rename agent %s in AIM and run the command again, or save its private key (from GET /api/v1/agents/%s/credentials) in %q with mode 0600",
		e.AgentID, e.AgentID, e.KeyPath)
}

// NotAIMError is a server that answers, but not as AIM does.
type NotAIMError struct {
	URL string
	Why string
}

func (e *NotAIMError) Error() string {
	return fmt.Sprintf("%s does not look like an AIM server (%s)", e.URL, e.Why)
}

// Hint says which address is meant.
func (e *NotAIMError) Hint() string {
	return "give the address of AIM's backend API (its GET /health answers \"agent-identity-management\"), not of its web UI nor of another server"
}

// KeyMismatchError is an agent whose key here is not the one AIM holds:
// the key was rotated in AIM (or replaced here), and AIM refuses this
// machine's signatures.
type KeyMismatchError struct {
	Name    string
	AgentID string
	Server  string // the MCP server, when known, for the hint
}

func (e *KeyMismatchError) Error() string {
	return fmt.Sprintf("the key of AIM agent %q (%s) here is not the one AIM holds: it was rotated in AIM", e.Name, e.AgentID)
}

// Hint gives the one command that repairs it.
func (e *KeyMismatchError) Hint() string {
	return RotateHint(e.Server)
}

// RotateHint is the command that gives an agent a new key in AIM and here.
func RotateHint(server string) string {
	if server == "" {
		server = "SERVER"
	} else if strings.ContainsAny(server, " \t'\"$`\\!*?;&|<>()[]{}#~") {
		server = "'" + strings.ReplaceAll(server, "'", `'\''`) + "'"
	}
	return fmt.Sprintf("run \"aim-mcp keys rotate %s --aim-token -\" with an AIM user's token (from AIM's web UI) on stdin: it gives the agent a new key in AIM and here", server)
}

// Unavailable reports whether err means AIM could not give an answer
// (unreachable, too slow, rate limited, failing with a 5xx), as opposed to
// an answer that says no. The proxy applies its fail mode to the first kind.
func Unavailable(err error) bool {
	var (
		ce *ConnectionError
		te *TimeoutError
		re *RateLimitError
		se *StatusError
	)
	switch {
	case errors.As(err, &ce), errors.As(err, &te), errors.As(err, &re):
		return true
	case errors.As(err, &se):
		return se.Status >= 500
	}
	return false
}
