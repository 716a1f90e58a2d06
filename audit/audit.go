// Package audit is the vocabulary of the audit trail, defined once: what
// was decided about a tool call ([Decision]), how a forwarded call ended
// ([Status]) and what a policy does with a call of some risk ([Action]).
//
// The proxy writes these words into records, the policy and the pins
// produce them, and the trust score and the reports read them back; every
// one of them spells a word through the constants here, never as a string
// of its own. The record kinds themselves are the registry's.
package audit

// Decision is what a call, denied or bypass record says was decided.
type Decision string

const (
	Allow            Decision = "allow"             // the policy let it run
	Approved         Decision = "approved"          // a person let it run
	Deny             Decision = "deny"              // a rule, the pins or AIM refused it
	Denied           Decision = "denied"            // a person refused it
	ApprovalRequired Decision = "approval_required" // it waits for a person; refused meanwhile
	FailClosed       Decision = "fail_closed"       // it could not be decided or recorded, so it did not run
	Cancelled        Decision = "cancelled"         // the client gave up on it before it was decided
	// The call's approval can no longer let it run.
	ApprovalExpired   Decision = "approval_expired"
	ApprovalCancelled Decision = "approval_cancelled"
	ApprovalUsed      Decision = "approval_used"
	// Bypass records: lines that were not forwarded as they came.
	Dropped Decision = "dropped" // a tools/call notification, which nobody could answer
	Refused Decision = "refused" // an ambiguous or malformed line
	Split   Decision = "split"   // a server line holding line breaks, sent as several
)

// Status is how a forwarded call ended, in its outcome record.
type Status string

const (
	Success       Status = "success"
	ToolError     Status = "tool_error"     // the tool ran and said isError
	RPCError      Status = "rpc_error"      // the server answered with a JSON-RPC error
	InputRequired Status = "input_required" // the server asked for more (2026-07-28)
	CallCancelled Status = "cancelled"      // the client cancelled it after it was forwarded
	ServerExited  Status = "server_exited"  // the server died before answering
)

// Failed reports whether the call failed: the trust score's success rate
// and the reports' failure counts both count these.
func (s Status) Failed() bool {
	return s == ToolError || s == RPCError || s == ServerExited
}

// Action is what a policy does with a call of some risk, and what drift
// does to the calls of a changed tool. They are ordered from the loosest
// to the strictest.
type Action string

const (
	ActionAllow   Action = "allow"
	ActionApprove Action = "approve" // a person approves each call
	ActionDeny    Action = "deny"
)

// Actions lists the actions from the loosest to the strictest.
var Actions = []Action{ActionAllow, ActionApprove, ActionDeny}
