package report

import "fmt"

// Framework is a compliance framework a report can be built for: its
// --type name, what the report is called, and the controls its evidence
// speaks to. Adding a framework is adding an entry to [Frameworks].
type Framework struct {
	Type  string // the --type value: "soc2"
	Name  string // "SOC 2"
	Title string // the report's title
	Cites string // the controls it speaks to, for help texts: "CC6/CC7"
	// controls writes the framework's controls from the period's evidence.
	controls func(e evidence) []Control
}

// frameworks are the known frameworks; the first is the default.
var frameworks = []Framework{
	{Type: "soc2", Name: "SOC 2", Title: "SOC 2 evidence report", Cites: "CC6/CC7", controls: soc2},
	{Type: "hipaa", Name: "HIPAA", Title: "HIPAA audit controls report", Cites: "§164.312(b)", controls: hipaa},
	{Type: "gdpr", Name: "GDPR", Title: "GDPR records of processing report", Cites: "art. 30 and 32", controls: gdpr},
}

// Frameworks lists the known frameworks, the default first.
func Frameworks() []Framework { return append([]Framework(nil), frameworks...) }

// Lookup finds a framework by its --type name.
func Lookup(typ string) (Framework, bool) {
	for _, f := range frameworks {
		if f.Type == typ {
			return f, true
		}
	}
	return Framework{}, false
}

func soc2(e evidence) []Control {
	return []Control{
		{"CC6.1", "Logical access security: identities and credentials of system components", status(e.identityOK), sentences(e.identity)},
		{"CC6.3", "Access is authorized, and changes to it approved", status(true), sentences(e.decisions(), e.approvals())},
		{"CC6.8", "Prevent or detect unauthorized or malicious software", status(e.pinningOK), sentences(e.pinning)},
		{"CC7.2", "Monitor system components for anomalies", status(e.chainOK, e.recordedOK), sentences(e.recorded, e.chain())},
		{"CC7.3", "Evaluate security events", status(e.eventsOK), sentences(e.events)},
	}
}

func hipaa(e evidence) []Control {
	return []Control{
		{"§164.312(b)", "Audit controls: record and examine activity in systems that contain or use ePHI", status(e.chainOK, e.recordedOK),
			sentences(e.decisions(), e.recorded, e.chain())},
		{"§164.312(c)(1)", "Integrity: protect ePHI from improper alteration or destruction", status(e.chainOK, e.pinningOK),
			sentences(e.chain(), e.pinning)},
		{"§164.312(d)", "Person or entity authentication", status(e.identityOK, e.chainOK), sentences(e.identity)},
		{"§164.312(a)(1)", "Access control: allow access only to those granted rights", status(true),
			sentences(e.decisions(), e.approvals())},
	}
}

func gdpr(e evidence) []Control {
	return []Control{
		{"Art. 30", "Records of processing activities", status(e.chainOK, e.recordedOK),
			sentences(fmt.Sprintf("each tool call is a record of processing: when, which server and tool, the decision and its outcome (%s, by tool in the table)", count(e.r.Summary.Calls, "call")),
				"arguments are kept as a digest, with secret-looking values redacted", e.chain())},
		{"Art. 32(1)(b)", "Security of processing: confidentiality and integrity", status(e.chainOK, e.identityOK, e.eventsOK),
			sentences(e.identity, e.decisions(), e.events, e.chain())},
		{"Art. 32(1)(d)", "Security of processing: regularly testing and evaluating the measures", status(e.pinningOK),
			sentences("trust scores are measured per server from its own record (servers table)", e.pinning)},
	}
}
