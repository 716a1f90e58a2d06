// Package mcpproxy is the stdio relay between an MCP client and the real
// server. It forwards every line byte for byte in both directions, except a
// client's tools/call: that one is held aside, decided by a [Decider], recorded
// in a [Journal] and only then forwarded, or answered with an isError result.
//
// The pump never waits for a decision. A call that might wait (for a
// person, the network, another proxy's lock on the registry) is held on a
// goroutine of its own, so pings, cancels, other calls and the server's own
// requests keep flowing while a human thinks; a call the decider can decide at
// once, and record without waiting, is done in line. Only what must be
// parsed is parsed: the top-level members of client lines, the params of
// tools/call, and the answers to the few requests the proxy observes.
//
// A session's parts, one file each: lifecycle.go starts the [upstream] (the
// child process of child.go, or the streamable HTTP session of httpup*.go
// and sse.go, behind upstream.go's interface), runs both
// pumps and shuts down in steps; client.go routes the client's lines and
// server.go the server's; call.go decides a tools/call in line or holds it;
// elicit.go asks the client questions of the proxy's own; records.go is the
// recorder that owns the session's records on their way to the [Journal];
// frame.go reads and writes whole lines. [Run] returns what ended the
// session as a typed error, and reports trouble along the way through
// [Options.Report]: the command that runs the proxy chooses the words.
package mcpproxy

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opena2a-org/aim-mcp/poison"

	"github.com/opena2a-org/aim-mcp/audit"
	"github.com/opena2a-org/aim-mcp/registry"
)

// Decider decides tool calls.
type Decider interface {
	// Check decides c. It may take as long as it needs (a human may be
	// asked); ctx ends when the client cancels the call or the proxy stops.
	Check(ctx context.Context, c *Call) Verdict
}

// ToolsObserver is implemented by deciders that want every tools/list answer
// (for risk from annotations, and for pinning).
type ToolsObserver interface {
	ToolsListed(ctx context.Context, result json.RawMessage)
	ToolsChanged(ctx context.Context)
}

// ToolsFilter is implemented by deciders that leave tools out of the
// tools/list answer the client sees (the scanner's quarantine: line jumping
// does its harm at listing time). It runs before the answer is forwarded;
// ok false forwards the answer as the server sent it. Observers still get
// the server's own answer.
type ToolsFilter interface {
	FilterTools(ctx context.Context, result json.RawMessage) (out json.RawMessage, ok bool)
}

// OutcomeObserver is implemented by deciders that want to know how each
// forwarded call ended (a remote registry logs it too).
type OutcomeObserver interface {
	Outcome(ctx context.Context, c *Call, o Outcome)
}

// Journal commits records to the audit chain. The proxy fills in kind, tool,
// decision, request id and data; the journal adds the session's server.
// Several events given at once are committed together, in order.
type Journal interface {
	Append(ctx context.Context, evs ...registry.Event) error
}

// QuickDecider is implemented by deciders that can often decide at once, with
// nothing to wait for. Quick returns ok false when the call may have to
// wait (for a person, the network, the registry), and the proxy then holds
// it and asks Check.
type QuickDecider interface {
	Quick(c *Call) (v Verdict, ok bool)
}

// TryJournal is implemented by journals that can try a commit without
// waiting for the registry's write lock, returning registry.ErrBusy when
// they would have to.
type TryJournal interface {
	TryAppend(ctx context.Context, evs ...registry.Event) error
}

// Closer is implemented by journals with work to finish when the session
// ends (the registry journal moves what its spool still holds).
type Closer interface {
	Close(ctx context.Context) error
}

// Observer sees each tools/call once it is over, for telemetry. It is
// called on the relay's own goroutines, so it must return at once: hand the
// work to a queue of its own and drop when that is full.
type Observer interface {
	CallDone(o *Observed)
}

// RequestObserver is implemented by observers that also want the other
// requests the proxy follows to their answer: initialize,
// server/discover and tools/list. Like CallDone, it must return at once.
type RequestObserver interface {
	RequestDone(r *ObservedRequest)
}

// ObservedRequest is one of those requests, answered.
type ObservedRequest struct {
	Method     string
	ID         json.RawMessage // the caller's raw id (a copy)
	Protocol   string          // the session's protocol version, once known
	Start, End time.Time
	Error      bool // the server answered with a JSON-RPC error
	ErrorCode  int
}

// Observed is one tools/call as an [Observer] sees it.
type Observed struct {
	Call    *Call // its Line and Args are gone by now
	Verdict Verdict
	// Outcome is how the forwarded call ended; its Status is empty when the
	// call was refused (the client got an isError result from aim-mcp) or
	// dropped before it was forwarded.
	Outcome   Outcome
	Forwarded time.Time // zero when the call was not forwarded
	End       time.Time
}

// Call is one tools/call as the client sent it.
type Call struct {
	ID         json.RawMessage // the caller's raw id, echoed as is
	Tool       string
	Args       json.RawMessage // the raw arguments, {} when absent
	ArgsDigest string          // digest of the canonical arguments
	Meta       json.RawMessage // params._meta, if any
	Modern     bool            // the request declares protocol 2026-07-28 or later
	Line       []byte          // the exact bytes that are forwarded
	Client     ClientInfo
	// Received is when the proxy read the call; set only when an
	// [Observer] is there to read it.
	Received time.Time
	// TraceParent and TraceState are the W3C trace context the client put
	// in params._meta, if any.
	TraceParent, TraceState string
	// Ask sends a request to the client (elicitation/create) and waits for
	// its answer. It is nil when the client did not declare elicitation.
	Ask func(ctx context.Context, method string, params any) (json.RawMessage, error)

	value    any // Args decoded, numbers as json.Number
	redacted json.RawMessage
	// verdict and forwarded are set before the call is forwarded, for the
	// observer to read when the answer comes.
	verdict   Verdict
	forwarded time.Time
}

// Value is the decoded arguments (numbers as json.Number), nil when they
// are not valid JSON.
func (c *Call) Value() any { return c.value }

// RedactedArgs is the arguments as the audit log shows them.
func (c *Call) RedactedArgs() json.RawMessage {
	if c.redacted == nil {
		if c.value == nil {
			c.redacted = Redacted(c.Args)
		} else {
			c.redacted = redactedJSON(c.value)
		}
	}
	return c.redacted
}

// ApproverArgs is the arguments as the person asked to approve the call
// sees them: whole, secrets masked with their length.
func (c *Call) ApproverArgs() json.RawMessage {
	if c.value == nil {
		return Approver(c.Args)
	}
	return approverJSON(c.value)
}

// ClientInfo is what the client said about itself.
type ClientInfo struct {
	Name         string          `json:"name,omitempty"`
	Version      string          `json:"version,omitempty"`
	Protocol     string          `json:"protocol,omitempty"`
	Capabilities json.RawMessage `json:"-"`
}

// Verdict is a decider's answer.
type Verdict struct {
	Allow      bool
	Decision   audit.Decision // what the record says
	Risk       string
	Source     string // the rule or signal that decided
	Reason     string // shown to the model when the call is refused
	Next       string // what the person should do next, appended to Reason
	ApprovalID string
	Approver   string
	Data       map[string]any // more evidence for the record
	// FailOpen marks a call allowed by fail_mode open while the registry is
	// unavailable: it runs even when its record cannot be written.
	FailOpen bool
}

// Outcome is how a forwarded call ended.
type Outcome struct {
	Status    audit.Status
	Duration  time.Duration
	Size      int
	Digest    string
	ErrorCode int
	ErrorText string
}

// Options configure a proxy.
type Options struct {
	Command []string // the real server: argv[0] resolved on PATH
	// Remote, when set, is the real server instead of Command: a
	// streamable HTTP session the proxy is the client of.
	Remote *Remote
	Env    []string // its environment; nil means the proxy's (ProxiedEnv is added either way)
	Stdin  io.Reader
	Stdout io.Writer
	// Stderr is the server's stderr, the client's log of it, and the
	// proxy's own lines. Unless it is an *os.File it must be safe for
	// concurrent use: the server's output is copied to it while the proxy
	// writes.
	Stderr io.Writer
	Log    *slog.Logger
	// Report receives what goes wrong while the session runs, as a
	// [*SetupError], [*AuditError] or [*UnrecordedError]; the session
	// carries on. It is called from several goroutines. Nil discards.
	Report func(error)
	// Setup runs once the child has started, so slow work (opening the
	// registry, loading keys) does not count against the client's start-up
	// timeout. Until it returns, tool calls wait. A nil decider allows every
	// call; a setup error makes every call fail closed with that reason.
	Setup func(ctx context.Context) (Decider, Journal, error)
	// Fallback decides calls when Setup failed (the registry is down); its
	// fail-open verdicts run without a record. Nil refuses every call.
	Fallback Decider
	// ScanResults runs the scanner's phrase rules over tool results;
	// BlockResults replaces a result with a hard finding by an isError
	// text (else it is recorded and forwarded).
	ScanResults, BlockResults bool
	// Signals are passed on to the server's process group.
	Signals <-chan os.Signal
	// Supervise runs the server under a supervisor (on Linux) that kills
	// everything the server started when the proxy goes, even by SIGKILL.
	// The supervisor is this program again, run by package supervisor's
	// init, which this package links.
	Supervise bool
	// Observer, when not nil, sees every tools/call once it is over.
	Observer Observer
	// Grace periods of the shutdown after stdin closes (defaults 2s and 3s).
	StdinGrace, TermGrace time.Duration
}

// Proxy relays one session.
type Proxy struct {
	opt Options
	log *slog.Logger
	ctx context.Context

	toClient frameWriter
	toServer frameWriter
	// scan reads the server's sampling and elicitation requests; a hard
	// finding refuses them.
	scan     *poison.Scanner
	verdicts verdictCache // prompts and resources already scanned

	ready   chan struct{}
	decider Decider
	rec     *recorder   // holds the journal
	remote  remoteCalls // a remote server's part of call records; nil for a child
	down    error       // why the registry is unavailable

	mu       sync.Mutex
	held     map[string]*heldCall
	inflight map[string]*inflight
	nTracked atomic.Int32 // len(inflight), read without the lock by the server pump
	asks     map[string]chan json.RawMessage
	askSeq   int64
	client   ClientInfo

	calls sync.WaitGroup // held calls
	// observers are added by the server's pump, which may run while
	// drainHeld waits on calls; they are waited for once that pump is done.
	observers sync.WaitGroup
	listing   gate   // tools/list answers being compared with the pins
	lastList  string // digest of the last tools/list answer (under mu)
	// listRepeats counts the tools/list answers that were the same as the
	// one before: the session_end record says how many (under mu).
	listRepeats int

	heldCtx  context.Context // parent of every held call
	stopHeld context.CancelFunc
}

type heldCall struct {
	cancel    context.CancelFunc
	cancelled bool
}

type inflight struct {
	method string
	call   *Call
	start  time.Time
	params []byte // initialize/server/discover: kept to record the client
}
