package mcpproxy

import (
	"errors"
	"fmt"
)

// The errors below are what a session reports; the words around them (the
// "aim-mcp: error:" prefix, hints, exit codes) are the command's to choose.

// ErrCommandNotFound is wrapped by the [StartError] of a server command
// that is not on PATH.
var ErrCommandNotFound = errors.New("command not found")

// StartError is returned by [Run] when the server could not be started.
// Nothing was relayed and no record was written.
type StartError struct {
	Command string // argv[0] as configured
	Err     error  // wraps [ErrCommandNotFound] when it is not on PATH
}

func (e *StartError) Error() string { return e.Err.Error() }
func (e *StartError) Unwrap() error { return e.Err }

// ExitError is returned by [Run] when the server exited with a non-zero
// code, or was killed.
type ExitError struct {
	Command string
	Code    int    // the server's exit code; 128+n when killed by signal n
	How     string // "exited with status 3", "killed by killed"
	// Crashed is false when the proxy asked the server to stop (stdin
	// closed, a signal passed on): such an exit is expected.
	Crashed bool
}

func (e *ExitError) Error() string { return fmt.Sprintf("server %q %s", e.Command, e.How) }

// SetupError is reported (through [Options.Report]) when the session has no
// registry or no audit log: every tool call is then refused, or decided by
// [Options.Fallback].
type SetupError struct {
	Audit bool // the registry opened, but the session's first record failed
	Err   error
}

func (e *SetupError) Error() string {
	what := "registry"
	if e.Audit {
		what = "audit log"
	}
	return fmt.Sprintf("%s unavailable, tool calls will be refused: %v", what, e.Err)
}

func (e *SetupError) Unwrap() error { return e.Err }

// AuditError is reported when records could not be committed: once when
// the failures start (the records are kept and tried again until they are
// written), and, with Lost naming its kind, for each record that still
// could not be written when the session ended.
type AuditError struct {
	Err  error
	Lost string
}

func (e *AuditError) Error() string {
	if e.Lost != "" {
		return fmt.Sprintf("audit log: a %s record could not be written", e.Lost)
	}
	return fmt.Sprintf("audit log: %v", e.Err)
}

func (e *AuditError) Unwrap() error { return e.Err }

// UnrecordedError is reported, as a warning, when a call allowed by
// fail_mode open runs without its record: Err says why, nil when there is
// no registry at all.
type UnrecordedError struct {
	Tool string
	Err  error
}

func (e *UnrecordedError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("call to %q runs unrecorded (fail_mode open, registry unavailable)", e.Tool)
	}
	return fmt.Sprintf("call to %q runs unrecorded (fail_mode open): %v", e.Tool, e.Err)
}

func (e *UnrecordedError) Unwrap() error { return e.Err }
