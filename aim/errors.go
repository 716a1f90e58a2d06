package aim

import (
	"context"
	"fmt"
)

// NameError says why a name given to Secure cannot be an identity. Nothing
// was opened or registered.
type NameError struct {
	Name   string
	Reason string
}

func (e *NameError) Error() string { return fmt.Sprintf("aim: name %q: %s", e.Name, e.Reason) }

// HomeError is returned by Secure when the home cannot be created or
// written (or is on a network share, where the keys would not be private).
// Nothing was registered.
type HomeError struct {
	Dir string
	Err error
}

func (e *HomeError) Error() string { return fmt.Sprintf("aim: %v", e.Err) }
func (e *HomeError) Unwrap() error { return e.Err }

// DeniedError is the SDK guide's verification failure: the action was
// refused (by a rule, by the default for its risk, by a person, or because
// the registry could not answer) and did not run. Use errors.As.
type DeniedError struct {
	Action     string
	Risk       Risk
	Decision   string // as the audit record says it: deny, denied, fail_closed, ...
	Reason     string
	ApprovalID string // the approval a person refused, if any
	Approver   string
}

func (e *DeniedError) Error() string {
	return fmt.Sprintf("aim: action %q was not run: %s", e.Action, e.Reason)
}

// ApprovalTimeoutError is the SDK guide's timeout: the action needs a
// person's approval and none came before the context's deadline (or the
// approval expired). The action did not run. The approval stays pending
// until it expires, so once a person approves it the same action, with the
// same arguments, runs the next time it is tracked.
type ApprovalTimeoutError struct {
	Action     string
	Risk       Risk
	ApprovalID string
}

func (e *ApprovalTimeoutError) Error() string {
	return fmt.Sprintf("aim: action %q needs a person's approval and none came in time; approve it with `aim-mcp approve %s` or in the dashboard, then run it again",
		e.Action, e.ApprovalID)
}

// Unwrap lets errors.Is(err, context.DeadlineExceeded) hold.
func (e *ApprovalTimeoutError) Unwrap() error { return context.DeadlineExceeded }

// ConnectionError is the SDK guide's connection error: the AIM server the
// agent is to ask did not answer (or is not AIM). Secure returns it before
// registering anything.
type ConnectionError struct {
	URL string
	Err error
}

func (e *ConnectionError) Error() string {
	return fmt.Sprintf("aim: AIM at %s did not answer: %v", e.URL, e.Err)
}
func (e *ConnectionError) Unwrap() error { return e.Err }
