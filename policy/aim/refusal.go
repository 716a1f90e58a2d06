package aim

import (
	"errors"
	"strings"

	"github.com/opena2a-org/aim-mcp/registry/remote"
)

// Refusal is why AIM kept a call from running; the record keeps it as
// aim_refusal.
type Refusal string

// The kinds of refusal, each with its own way out.
const (
	// NotGranted: AIM answered, and the agent lacks the capability.
	NotGranted Refusal = "capability_not_granted"
	// NotVerified: the agent is suspended, compromised or not verified.
	NotVerified Refusal = "agent_not_verified"
	// Unreachable: AIM did not answer (refused, timed out, failing).
	Unreachable Refusal = "aim_unreachable"
	// RateLimited: AIM's rate limit answered 429.
	RateLimited Refusal = "rate_limited"
	// Credentials: AIM refused the agent's key or the API key, or does
	// not know the agent.
	Credentials Refusal = "credentials"
)

// Classify says which kind of refusal err is.
func Classify(err error) Refusal {
	var (
		ve *remote.VerificationError
		rl *remote.RateLimitError
	)
	switch {
	case errors.As(err, &ve):
		r := strings.ToLower(ve.Reason)
		if strings.Contains(r, "not verified") || strings.Contains(r, "agent status is") ||
			strings.Contains(r, "suspended") || strings.Contains(r, "compromised") {
			return NotVerified
		}
		return NotGranted
	case errors.As(err, &rl):
		return RateLimited
	case remote.Unavailable(err):
		return Unreachable
	}
	return Credentials
}
