package report

import (
	"fmt"
	"strings"

	"github.com/opena2a-org/aim-mcp/trust"
)

const (
	evidenced = "evidenced"
	attention = "attention"
)

// facts are the sentences the controls are written from.
type facts struct {
	r *Report
}

func (f facts) chain() string {
	c := f.r.Chain
	if c.Intact {
		what := count(c.Records, "record") + " hash-linked and signed"
		if c.CheckpointSeq > 0 {
			what = "hash-linked and signed, " + c.verified()
		}
		return fmt.Sprintf("the audit chain verifies: %s, checked %s", what, c.CheckedAt.Format("2006-01-02 15:04 MST"))
	}
	return fmt.Sprintf("the audit chain does NOT verify: record %d: %s", c.BadSeq, c.Reason)
}

// verified says what the check covered: "17 records verified", or with a
// checkpoint "verified up to record 17 (5 records checked now, those up
// to record 12 by the signed checkpoint of an earlier check)".
func (c Chain) verified() string {
	if c.CheckpointSeq == 0 {
		return count(c.Records, "record") + " verified"
	}
	return fmt.Sprintf("verified up to record %d (%s checked now, those up to record %d by the signed checkpoint of an earlier check)",
		c.HeadSeq, count(c.Records, "record"), c.CheckpointSeq)
}

func (f facts) identities() (string, bool) {
	ok := true
	var weak []string
	for _, s := range f.r.Servers {
		if s.Trust.Evidence[trust.VerificationStatus].Value < 1 {
			ok = false
			weak = append(weak, fmt.Sprintf("%s (%s)", s.Name, s.Trust.Evidence[trust.VerificationStatus].Evidence))
		}
	}
	text := fmt.Sprintf("%s, each registered with its own Ed25519 key (fingerprints in the servers table); every record is signed with its server's key", count(len(f.r.Servers), "MCP server"))
	if !ok {
		text += "; identity checks failing: " + strings.Join(weak, "; ")
	}
	return text, ok
}

func (f facts) decisions() string {
	s := f.r.Summary
	return fmt.Sprintf("%s, each checked against policy before it ran: %d forwarded, %d refused or held for a person", count(s.Calls, "tool call"), s.Forwarded, s.Refused)
}

func (f facts) approvals() string {
	s := f.r.Summary
	return fmt.Sprintf("%s; a person approved %d and denied %d, each bound to the exact call (server, tool, argument digest), single use and expiring", count(s.Approvals, "approval request"), s.HumanApproved, s.HumanDenied)
}

func (f facts) unsettled() []string {
	var out []string
	for _, s := range f.r.Servers {
		if s.Trust.Evidence[trust.DriftDetection].Value < 1 && !s.Trust.Evidence[trust.DriftDetection].Neutral {
			out = append(out, s.Name)
		}
	}
	return out
}

func (f facts) drift() (string, bool) {
	accepted := 0
	for _, d := range f.r.Drift {
		if d.Change == "accepted" {
			accepted++
		}
	}
	text := fmt.Sprintf("tool definitions are pinned by hash; %d drift events (changed, new or removed tools) in the period, %d acceptances", f.r.Summary.DriftEvents, accepted)
	u := f.unsettled()
	if len(u) > 0 {
		text += "; drift not yet accepted on: " + strings.Join(u, ", ")
	}
	return text, len(u) == 0
}

func (f facts) outcomes() (string, bool) {
	missing := f.r.noOutcome
	if f.r.calls == nil { // made by hand: its calls say
		for _, c := range f.r.Calls {
			if c.Outcome == "" {
				missing++
			}
		}
	}
	s := f.r.Summary
	text := fmt.Sprintf("every forwarded call has a call record before it ran and an outcome after: %d succeeded, %d failed", s.Succeeded, s.Failed)
	if missing > 0 {
		text += fmt.Sprintf("; %d without an outcome in the period (still running, or the proxy was killed)", missing)
	}
	return text, true
}

func (f facts) alerts() (string, bool) {
	s := f.r.Summary
	text := fmt.Sprintf("%s (ambiguous or unidentified tools/call lines refused), %s, %s refused", count(s.BypassAttempts, "bypass attempt"), count(s.DriftEvents, "drift event"), count(s.Refused, "call"))
	_, settled := f.drift()
	return text, s.BypassAttempts == 0 && settled
}

func status(ok ...bool) string {
	for _, o := range ok {
		if !o {
			return attention
		}
	}
	return evidenced
}

// evidence is what every framework's controls are written from: the
// facts, and whether each speaks well of the period.
type evidence struct {
	facts
	chainOK    bool
	identity   string // who the servers are
	identityOK bool
	pinning    string // tool definitions and their drift
	pinningOK  bool
	recorded   string // calls and their outcomes
	recordedOK bool
	events     string // bypass attempts, drift, refusals
	eventsOK   bool
}

func gather(r *Report) evidence {
	e := evidence{facts: facts{r}, chainOK: r.Chain.Intact}
	e.identity, e.identityOK = e.identities()
	e.pinning, e.pinningOK = e.drift()
	e.recorded, e.recordedOK = e.outcomes()
	e.events, e.eventsOK = e.alerts()
	return e
}

// sentences joins the parts of a control's evidence into one sentence.
func sentences(parts ...string) string { return strings.Join(parts, "; ") + "." }

// count is "1 server", "2 servers": n and the noun, in the plural unless n
// is one.
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// were is " was" after one record, " were" after more.
func were(records int) string {
	if records == 1 {
		return " was"
	}
	return " were"
}
