// Package trust measures how far a registered MCP server can be trusted, on
// the 0–1 scale of the AIM backend: the weighted sum of eight factors, each
// computed from the server's own record over the last 30 days and each
// explained by the evidence it was computed from.
//
// A factor with no evidence in the window (no sessions, no calls, no human
// answers) is neutral: 0.5, marked as such, so a server with no history gets
// a middling score that says why instead of a perfect or a failing one.
//
// A [Source] reads a server's [Evidence] from the registry (its records,
// their outcomes, alerts and drift, the approvals people answered, whether
// the chain verifies); [Compute] turns the evidence into a [Score]. The
// list, trust and report commands score servers this way.
package trust

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/opena2a-org/aim-mcp/audit"
	"github.com/opena2a-org/aim-mcp/registry"
)

// Factor names, in the AIM backend's order.
const (
	VerificationStatus = "verification_status"
	Uptime             = "uptime"
	SuccessRate        = "success_rate"
	SecurityAlerts     = "security_alerts"
	Compliance         = "compliance"
	Age                = "age"
	DriftDetection     = "drift_detection"
	UserFeedback       = "user_feedback"
)

// Names lists the factors in order.
var Names = []string{VerificationStatus, Uptime, SuccessRate, SecurityAlerts, Compliance, Age, DriftDetection, UserFeedback}

// Weights are the AIM backend's, so a score here means what one from AIM
// means; they sum to 1.
var Weights = map[string]float64{
	VerificationStatus: 0.25,
	Uptime:             0.15,
	SuccessRate:        0.15,
	SecurityAlerts:     0.15,
	Compliance:         0.10,
	Age:                0.10,
	DriftDetection:     0.05,
	UserFeedback:       0.05,
}

// Window is how far back the evidence goes.
const Window = 30 * 24 * time.Hour

// Neutral is the value of a factor that has no evidence.
const Neutral = 0.5

// Severity weights of security alerts: each alert in the window takes its
// weight off security_alerts (1.0), down to 0.
var Severity = map[string]float64{
	"bypass":          0.25, // a line refused as ambiguous, or a tools/call with no id
	"drift_changed":   0.10, // a pinned tool's description or schema changed
	"drift_removed":   0.10, // a pinned tool disappeared
	"drift_new":       0.05, // a tool appeared that was never pinned
	"denied_critical": 0.10, // policy denied a critical-risk call
	"denied_high":     0.05,
	"denied_other":    0.02,
}

// FailedStart is how short a crashed session must be to count as a failed
// start rather than a crash.
const FailedStart = 10 * time.Second

// OpenCall is how long a call may go without an outcome before it counts as
// incompletely recorded (it may still be running until then).
const OpenCall = time.Hour

// Age steps: a server registered this long ago or more gets this value.
var AgeSteps = []struct {
	Days  int
	Value float64
}{{90, 1.0}, {30, 0.75}, {7, 0.5}, {0, 0.3}}

// Evidence is everything a score is computed from.
type Evidence struct {
	Server registry.Server
	Now    time.Time
	// KeyErr says why the server's private key is missing or does not match
	// its registered public key; "" when it is present and matches.
	KeyErr string
	// Chain is the verification of the audit chain with this server's
	// signatures checked.
	Chain registry.Verification
	// ChainErr is set when the chain could not be read at all.
	ChainErr string
	// Records are the server's records in the window, oldest first. They
	// are added up when Activity is nil.
	Records []registry.Record
	// Activity is what the server's records in the window add up to; when
	// it is set, Records are not looked at. A [Source] sets it from the
	// records as it reads them and keeps none of them.
	Activity *Activity
	// Approvals are the server's approvals (any time; decisions in the
	// window count).
	Approvals []registry.Approval
	// Tools are the server's pins.
	Tools []registry.Tool
}

// Factor is one factor of a score, explained.
type Factor struct {
	Name         string         `json:"-"`
	Value        float64        `json:"value"`
	Weight       float64        `json:"weight"`
	Contribution float64        `json:"contribution"`
	Neutral      bool           `json:"neutral,omitempty"` // no evidence: the neutral value
	Evidence     string         `json:"evidence"`
	Counts       map[string]int `json:"counts,omitempty"`
}

// Loss is how much the factor takes off a perfect score.
func (f Factor) Loss() float64 { return f.Weight * (1 - f.Value) }

// Score is a server's trust score. Its JSON is the AIM SDK's shape,
// {"overall": 0.95, "factors": {"verification_status": 1.0, ...}}, with
// the evidence beside it.
type Score struct {
	Server       string             `json:"server"`
	Client       string             `json:"client"`
	ServerID     string             `json:"server_id"`
	Overall      float64            `json:"overall"`
	Factors      map[string]float64 `json:"factors"`
	Evidence     map[string]Factor  `json:"evidence"`
	Since        time.Time          `json:"since"`
	CalculatedAt time.Time          `json:"calculated_at"`
	NoHistory    bool               `json:"no_history,omitempty"`
	Note         string             `json:"note,omitempty"`

	List []Factor `json:"-"` // the factors in order
}

// Reasons are the factors that lower the score because of what happened
// (not for want of evidence, not for age), the biggest loss first.
func (s Score) Reasons() []Factor {
	var out []Factor
	for _, f := range s.List {
		if f.Neutral || f.Name == Age || f.Loss() < 0.0005 {
			continue
		}
		out = append(out, f)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Loss() > out[j].Loss() })
	return out
}

// Compute scores a server from its evidence.
func Compute(ev Evidence) Score { return compute(ev, true) }

// Overall is Compute(ev).Overall, without the rest: no factor's evidence
// is written out and no counts are kept. "aim-mcp list" shows ten thousand
// servers' scores and none of their eighty thousand explanations.
func Overall(ev Evidence) float64 { return compute(ev, false).Overall }

// compute scores a server; why says whether to explain each factor (its
// Evidence text and Counts) and fill Factors and Evidence. The factors
// compute their value the same way either way: what why leaves out is only
// words and counts that no value is read from.
func compute(ev Evidence, why bool) Score {
	if ev.Now.IsZero() {
		ev.Now = time.Now()
	}
	since := WindowStart(ev.Now)
	act := ev.Activity
	if act == nil {
		act = Tally(ev.Records)
	}
	factors := [...]Factor{
		verification(ev, why),
		uptime(act, why),
		successRate(act, why),
		securityAlerts(act, why),
		compliance(ev, act, why),
		age(ev, why),
		drift(ev, act, why),
		feedback(ev, since, why),
	}
	s := Score{Server: ev.Server.Name, Client: ev.Server.Client, ServerID: ev.Server.ID,
		Since: since.UTC(), CalculatedAt: ev.Now.UTC()}
	if why {
		s.Factors, s.Evidence = map[string]float64{}, map[string]Factor{}
	}
	total := 0.0
	for i, f := range factors {
		f.Name = Names[i]
		f.Value = clamp(f.Value)
		f.Weight = Weights[f.Name]
		total += f.Value * f.Weight
		f.Contribution = round(f.Value * f.Weight)
		f.Value = round(f.Value)
		factors[i] = f
		if why {
			s.Factors[f.Name] = f.Value
			s.Evidence[f.Name] = f
		}
	}
	if why {
		s.List = slices.Clone(factors[:]) // a copy: the array stays on the stack
	}
	s.Overall = round(total)
	if act.records == 0 && !decidedIn(ev.Approvals, since) {
		s.NoHistory = true
		s.Note = "no history in the last 30 days: the factors that need events are neutral (0.5); the score rests on registration, key and age"
	}
	return s
}

func clamp(v float64) float64 { return math.Max(0, math.Min(1, v)) }

func round(v float64) float64 { return math.Round(v*1000) / 1000 }

// neutral is a factor without evidence; why says whether to explain it
// (see compute).
func neutral(why bool, evidence string) Factor {
	f := Factor{Value: Neutral, Neutral: true}
	if why {
		f.Evidence = evidence + " (neutral)"
	}
	return f
}

// said is a factor of value v, explained by evidence and counts when why
// says so (see compute).
func said(why bool, v float64, evidence func() string, counts func() map[string]int) Factor {
	f := Factor{Value: v}
	if why {
		f.Evidence = evidence()
		if counts != nil {
			f.Counts = counts()
		}
	}
	return f
}

func verification(ev Evidence, why bool) Factor {
	registered := ev.Server.ID != "" && ev.Server.Status != registry.StatusPurged
	keyOK := ev.KeyErr == ""
	chainOK := ev.ChainErr == "" && ev.Chain.OK()
	n := 0
	for _, ok := range []bool{registered, keyOK, chainOK} {
		if ok {
			n++
		}
	}
	return said(why, float64(n)/3, func() string {
		var ok, bad []string
		if registered {
			ok = append(ok, fmt.Sprintf("registered %s", ev.Server.RegisteredAt.UTC().Format("2006-01-02")))
		} else {
			bad = append(bad, "not registered (purged)")
		}
		if keyOK {
			ok = append(ok, "key present and valid")
		} else {
			bad = append(bad, "key: "+ev.KeyErr)
		}
		switch {
		case ev.ChainErr != "":
			bad = append(bad, "records cannot be read: "+ev.ChainErr)
		case chainOK:
			ok = append(ok, fmt.Sprintf("%s verify", plural(ev.Chain.Records, "record")))
		default:
			bad = append(bad, fmt.Sprintf("records do not verify: record %d: %s", ev.Chain.BadSeq, ev.Chain.Reason))
		}
		return strings.Join(append(bad, ok...), "; ")
	}, func() map[string]int { return map[string]int{"checks_passed": n, "checks": 3} })
}

// data decodes a record's data.
func data(r registry.Record) map[string]any {
	var d map[string]any
	json.Unmarshal(r.Data, &d)
	return d
}

func uptime(a *Activity, why bool) Factor {
	clean, crashed, failed, starts := a.clean, a.crashed, a.failed, a.starts
	ended := clean + crashed + failed
	switch {
	case !why && ended == 0:
		return neutral(false, "")
	case !why:
		return Factor{Value: float64(clean) / float64(ended)}
	}
	counts := map[string]int{"sessions": starts, "clean": clean, "crashed": crashed, "failed_starts": failed}
	if ended == 0 {
		f := neutral(true, fmt.Sprintf("no finished sessions in the last 30 days (%s started)", plural(starts, "session")))
		f.Counts = counts
		return f
	}
	ev2 := fmt.Sprintf("%d of %s ended cleanly", clean, plural(ended, "session"))
	if crashed+failed > 0 {
		ev2 += fmt.Sprintf("; %d crashed, %d failed to start (exited within %v)", crashed, failed, FailedStart)
	}
	if open := starts - ended; open > 0 {
		ev2 += fmt.Sprintf("; %d running or not ended", open)
	}
	return Factor{Value: float64(clean) / float64(ended), Evidence: ev2, Counts: counts}
}

func successRate(a *Activity, why bool) Factor {
	ok, bad := a.succeeded, a.errored
	switch {
	case !why && ok+bad == 0:
		return neutral(false, "")
	case !why:
		return Factor{Value: float64(ok) / float64(ok+bad)}
	}
	counts := copyCounts(a.results)
	if ok+bad == 0 {
		f := neutral(true, "no call results in the last 30 days")
		f.Counts = counts
		return f
	}
	ev2 := fmt.Sprintf("%d of %s returned a result without error", ok, plural(ok+bad, "call"))
	var parts []string
	for _, k := range []string{string(audit.ToolError), string(audit.RPCError), string(audit.ServerExited)} {
		if counts[k] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[k], k))
		}
	}
	if len(parts) > 0 {
		ev2 += " (" + strings.Join(parts, ", ") + ")"
	}
	return Factor{Value: float64(ok) / float64(ok+bad), Evidence: ev2, Counts: counts}
}

// alertOf classifies a record as a security alert ("" when it is not one).
func alertOf(r registry.Record) string {
	switch r.Kind {
	case registry.KindBypass:
		return "bypass"
	case registry.KindDrift:
		if registry.IsDrift(r.Decision) {
			return "drift_" + r.Decision
		}
	case registry.KindDenied:
		if audit.Decision(r.Decision) != audit.Deny {
			return "" // waiting for, or refused by, a person: user feedback
		}
		d := data(r)
		if src, _ := d["source"].(string); strings.HasPrefix(src, "tool pin") {
			return "" // the drift is the alert
		}
		switch d["risk"] {
		case "critical":
			return "denied_critical"
		case "high":
			return "denied_high"
		}
		return "denied_other"
	}
	return ""
}

func securityAlerts(a *Activity, why bool) Factor {
	switch {
	case a.records == 0:
		return neutral(why, "no records in the last 30 days")
	case len(a.alerts) == 0:
		return said(why, 1, func() string { return fmt.Sprintf("no alerts in %s", plural(a.records, "record")) }, nil)
	case !why:
		return Factor{Value: 1 - a.points()}
	}
	counts := copyCounts(a.alerts)
	points := a.points()
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if Severity[keys[i]] != Severity[keys[j]] {
			return Severity[keys[i]] > Severity[keys[j]]
		}
		return keys[i] < keys[j]
	})
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%d %s × %.2f", counts[k], strings.ReplaceAll(k, "_", " "), Severity[k]))
	}
	return Factor{Value: 1 - points, Evidence: "alerts: " + strings.Join(parts, ", "), Counts: counts}
}

func compliance(ev Evidence, a *Activity, why bool) Factor {
	calls, complete, denied, cancelled := a.complete, a.complete, a.denied, a.cancelledByUser
	running, missing := 0, 0
	for _, q := range a.open {
		for _, t := range q {
			if ev.Now.Sub(t) < OpenCall {
				running++
			} else {
				missing++
				calls++
			}
		}
	}
	var counts map[string]int
	if why {
		counts = map[string]int{"calls": calls, "complete": complete, "missing_outcome": missing, "denied": denied, "cancelled": cancelled, "running": running}
	}
	switch {
	case !why && (ev.ChainErr != "" || !ev.Chain.OK()):
		return Factor{Value: 0}
	case !why && a.records == 0:
		return neutral(false, "")
	case !why && calls+denied+cancelled == 0:
		return Factor{Value: 1}
	case !why:
		return Factor{Value: float64(complete+denied+cancelled) / float64(calls+denied+cancelled)}
	case ev.ChainErr != "":
		return Factor{Value: 0, Evidence: "the audit chain cannot be read: " + ev.ChainErr, Counts: counts}
	case !ev.Chain.OK():
		return Factor{Value: 0, Evidence: fmt.Sprintf("the audit chain does not verify (record %d: %s)", ev.Chain.BadSeq, ev.Chain.Reason), Counts: counts}
	case a.records == 0:
		f := neutral(true, "no records in the last 30 days; the chain verifies")
		f.Counts = counts
		return f
	case calls+denied+cancelled == 0:
		return Factor{Value: 1, Evidence: "no calls in the last 30 days; the chain verifies", Counts: counts}
	}
	v := float64(complete+denied+cancelled) / float64(calls+denied+cancelled)
	e := fmt.Sprintf("%d of %s have a signed call and outcome record", complete, plural(calls, "forwarded call"))
	if denied > 0 {
		e += fmt.Sprintf(", %s signed", plural(denied, "denial"))
	}
	if cancelled > 0 {
		e += fmt.Sprintf(", %s cancelled by the client signed", plural(cancelled, "call"))
	}
	if missing > 0 {
		e += fmt.Sprintf("; %d without an outcome after %v", missing, OpenCall)
	}
	return Factor{Value: v, Evidence: e + "; the chain verifies", Counts: counts}
}

func age(ev Evidence, why bool) Factor {
	days := int(ev.Now.Sub(ev.Server.RegisteredAt).Hours() / 24)
	if ev.Server.RegisteredAt.IsZero() || days < 0 {
		days = 0
	}
	v := 0.0
	for _, s := range AgeSteps {
		if days >= s.Days {
			v = s.Value
			break
		}
	}
	if !why {
		return Factor{Value: v}
	}
	next := ""
	for i := len(AgeSteps) - 1; i >= 0; i-- {
		if AgeSteps[i].Days > days {
			next = fmt.Sprintf("; %.2f from day %d", AgeSteps[i].Value, AgeSteps[i].Days)
			break
		}
	}
	return Factor{Value: v, Evidence: fmt.Sprintf("registered %s ago%s", plural(days, "day"), next),
		Counts: map[string]int{"days": days}}
}

func drift(ev Evidence, a *Activity, why bool) Factor {
	if !why {
		if len(ev.Tools) == 0 {
			return neutral(false, "")
		}
		pinned := 0
		for _, t := range ev.Tools {
			if t.State == registry.ToolPinned {
				pinned++
			}
		}
		if pinned == len(ev.Tools) {
			return Factor{Value: 1}
		}
		return Factor{Value: 0.5 * float64(pinned) / float64(len(ev.Tools))}
	}
	counts := map[string]int{}
	var unsettled []string
	for _, t := range ev.Tools {
		counts[t.State]++
		if t.State != registry.ToolPinned {
			unsettled = append(unsettled, fmt.Sprintf("%s %s since %s", t.Name, t.State, t.ChangedAt.UTC().Format(time.RFC3339)))
		}
	}
	accepted := a.accepted
	counts["accepted"] = accepted
	if len(ev.Tools) == 0 {
		f := neutral(true, "no tools pinned yet (the server's first tools/list pins them)")
		f.Counts = counts
		return f
	}
	if len(unsettled) == 0 {
		e := fmt.Sprintf("all %s unchanged since pinned", plural(len(ev.Tools), "tool"))
		if accepted > 0 {
			e = fmt.Sprintf("all %s pinned; %s accepted in the last 30 days", plural(len(ev.Tools), "tool"), plural(accepted, "change"))
		}
		return Factor{Value: 1, Evidence: e, Counts: counts}
	}
	// Any unaccepted drift halves the factor; the rest scales with the
	// share of tools still as pinned.
	pinned := counts[registry.ToolPinned]
	v := 0.5 * float64(pinned) / float64(len(ev.Tools))
	return Factor{Value: v, Evidence: fmt.Sprintf("drift not accepted: %s (%d of %s as pinned)",
		strings.Join(unsettled, ", "), pinned, plural(len(ev.Tools), "tool")), Counts: counts}
}

// human reports whether a person answered a (decided_by "aim-mcp" is
// aim-mcp's own rate limit), and whether they said yes.
func human(a registry.Approval) (answered, yes bool) {
	if a.DecidedAt.IsZero() || a.DecidedBy == "" || a.DecidedBy == "aim-mcp" {
		return false, false
	}
	return true, a.Status != registry.ApprovalDenied
}

func decidedIn(as []registry.Approval, since time.Time) bool {
	for _, a := range as {
		if ok, _ := human(a); ok && !a.DecidedAt.Before(since) {
			return true
		}
	}
	return false
}

func feedback(ev Evidence, since time.Time, why bool) Factor {
	yes, no := 0, 0
	for _, a := range ev.Approvals {
		answered, ok := human(a)
		if !answered || a.DecidedAt.Before(since) || a.DecidedAt.After(ev.Now) {
			continue
		}
		if ok {
			yes++
		} else {
			no++
		}
	}
	switch {
	case !why && yes+no == 0:
		return neutral(false, "")
	case !why:
		return Factor{Value: float64(yes) / float64(yes+no)}
	}
	counts := map[string]int{"approved": yes, "denied": no}
	if yes+no == 0 {
		f := neutral(true, "no calls approved or denied by a person in the last 30 days")
		f.Counts = counts
		return f
	}
	return Factor{Value: float64(yes) / float64(yes+no),
		Evidence: fmt.Sprintf("a person approved %d and denied %d of the calls put to them", yes, no), Counts: counts}
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
