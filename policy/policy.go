// Package policy decides what a tool call may do. Each call gets a risk
// level and an [audit.Action] (allow, approve or deny). Risk comes from, in
// order, a matching rule, the risk the caller declares (a Go agent's Track),
// the tool's MCP annotations, its name, and a default; the action from the most specific rule that sets one, else from
// the risk.
//
// # The order in which a call is decided
//
// The proxy hands every tools/call to one [Guard] (its mcpproxy.Decider).
// The guard asks its hooks first, in the order they were added, then the
// local policy, then, when the answer is "approve", a person:
//
//	tools/call
//	    │
//	    ├─ 1. pins.Hook       a changed or new tool: deny, or needs approval (drift_action)
//	    ├─ 2. aim.Hook        AIM verifies the agent and the action (only with --aim-url)
//	    │       a hook's verdict decides at once; its "require" turns an allow into approve
//	    ├─ 3. local policy    rules, annotations, name, default → allow / approve / deny
//	    └─ 4. approval        approve: a person answers (aim-mcp approve, the dashboard, elicitation)
//
// The order is set in one place: the proxy command (cmd/aim-mcp/proxy.go)
// calls [Guard.AddHook] for the pins, then attaches AIM. Pins come first
// because they are local and refuse a changed tool before anyone outside is
// asked about it. When the registry cannot be read, [FailMode] decides.
package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode"

	"github.com/opena2a-org/aim-mcp/audit"
	"github.com/opena2a-org/aim-mcp/config"
)

// Risk levels, ordered.
const (
	Low      = "low"
	Medium   = "medium"
	High     = "high"
	Critical = "critical"
)

func riskRank(r string) int         { return slices.Index(config.RiskLevels, r) }
func actionRank(a audit.Action) int { return slices.Index(audit.Actions, a) }

// Rule is a compiled policy rule.
type Rule struct {
	ID     int64        `json:"id,omitempty"` // 0 for rules from config.yaml
	Server string       `json:"server"`
	Tool   string       `json:"tool"`
	When   *Cond        `json:"when,omitempty"`
	Risk   string       `json:"risk,omitempty"`
	Action audit.Action `json:"action,omitempty"`
	Origin string       `json:"origin"` // "rule 3" or "config.yaml rule 2"

	server, tool *regexp.Regexp
}

// Compile checks a rule and prepares its globs.
func (r *Rule) Compile() error {
	if r.Server == "" {
		r.Server = "*"
	}
	if r.Tool == "" {
		r.Tool = "*"
	}
	var err error
	if r.server, err = glob(r.Server); err != nil {
		return err
	}
	if r.tool, err = glob(r.Tool); err != nil {
		return err
	}
	if r.Risk != "" && riskRank(r.Risk) < 0 {
		return fmt.Errorf("unknown risk %q: want low, medium, high or critical", r.Risk)
	}
	if r.Action != "" && actionRank(r.Action) < 0 {
		return fmt.Errorf("unknown action %q: want allow, approve or deny", r.Action)
	}
	if r.Risk == "" && r.Action == "" {
		return fmt.Errorf("a rule needs a risk, an action or both")
	}
	if r.When != nil {
		return r.When.compile()
	}
	return nil
}

// glob turns a shell-style pattern (* any run, ? one character, [a-z] a
// class) into an anchored regexp. Unlike path.Match, * crosses slashes:
// server names may contain them.
func glob(p string) (*regexp.Regexp, error) {
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		case '[':
			j := strings.IndexByte(p[i+1:], ']')
			if j < 0 {
				return nil, fmt.Errorf("glob %q: unclosed [", p)
			}
			class := p[i+1 : i+1+j]
			if class == "" || class == "!" {
				return nil, fmt.Errorf("glob %q: empty character class", p)
			}
			if class[0] == '!' {
				class = "^" + class[1:]
			}
			b.WriteString("[" + strings.ReplaceAll(class, `\`, `\\`) + "]")
			i += j + 1
		case ']':
			return nil, fmt.Errorf("glob %q: unexpected ]", p)
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	re, err := regexp.Compile(b.String())
	if err != nil {
		return nil, fmt.Errorf("glob %q: %v", p, err)
	}
	return re, nil
}

// specificity ranks rules: a condition beats none, then the longer literal
// part of the tool pattern, then of the server pattern.
func (r *Rule) specificity() []int {
	literal := func(p string) int {
		n := 0
		for _, c := range p {
			if c != '*' && c != '?' {
				n++
			}
		}
		return n
	}
	cond := 0
	if r.When != nil {
		cond = 1
	}
	return []int{cond, literal(r.Tool), literal(r.Server)}
}

// Matches reports whether the rule applies to a call.
func (r *Rule) Matches(server, tool string, args any) bool {
	return r.server.MatchString(server) && r.tool.MatchString(tool) && (r.When == nil || r.When.match(args))
}

// Annotations are the MCP tool hints that speak to risk.
type Annotations struct {
	ReadOnly    *bool `json:"readOnlyHint,omitempty"`
	Destructive *bool `json:"destructiveHint,omitempty"`
	OpenWorld   *bool `json:"openWorldHint,omitempty"`
}

// Input is what a decision looks at.
type Input struct {
	Server      string
	Tool        string
	Args        json.RawMessage
	Value       any          // Args already decoded (UseNumber), if the caller has it
	Annotations *Annotations // nil when the tool was never listed
	// Declared is the risk the code that runs the action gives it (the
	// aim package's Track): it stands where annotations do, under the
	// rules, because it is the action's own word about itself. "" for a
	// call from the wire.
	Declared string
}

// Decision is the risk and action of a call, with what produced each.
type Decision struct {
	Risk         string       `json:"risk"`
	RiskSource   string       `json:"risk_source"`
	Action       audit.Action `json:"action"`
	ActionSource string       `json:"action_source"`
	Rule         *Rule        `json:"rule,omitempty"` // the rule that set the action, if any
}

// Decide classifies a call. rules must be compiled.
func Decide(in Input, rules []*Rule, cfg config.Config) Decision {
	args := in.Value
	if args == nil && len(bytes.TrimSpace(in.Args)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(in.Args))
		dec.UseNumber()
		dec.Decode(&args)
	}
	var matched []*Rule
	for _, r := range rules {
		if r.Matches(in.Server, in.Tool, args) {
			matched = append(matched, r)
		}
	}
	// Most specific first; among equals, the strictest first.
	slices.SortStableFunc(matched, func(a, b *Rule) int {
		if c := slices.Compare(b.specificity(), a.specificity()); c != 0 {
			return c
		}
		if c := actionRank(b.Action) - actionRank(a.Action); c != 0 {
			return c
		}
		return riskRank(b.Risk) - riskRank(a.Risk)
	})
	var d Decision
	for _, r := range matched {
		if r.Risk != "" {
			d.Risk, d.RiskSource = r.Risk, r.Origin
			break
		}
	}
	if d.Risk == "" && riskRank(in.Declared) >= 0 {
		d.Risk, d.RiskSource = in.Declared, "declared by the caller"
	}
	if d.Risk == "" {
		d.Risk, d.RiskSource = fromAnnotations(in.Annotations)
	}
	if d.Risk == "" {
		d.Risk, d.RiskSource = FromName(in.Tool)
	}
	if d.Risk == "" {
		d.Risk, d.RiskSource = cfg.DefaultRisk, "default risk"
	}
	if in.Annotations != nil && in.Annotations.OpenWorld != nil && *in.Annotations.OpenWorld &&
		riskRank(d.Risk) < riskRank(Medium) && !strings.HasPrefix(d.RiskSource, "rule") && !strings.HasPrefix(d.RiskSource, "config") {
		d.Risk, d.RiskSource = Medium, d.RiskSource+", raised by openWorldHint"
	}
	for _, r := range matched {
		if r.Action != "" {
			d.Action, d.ActionSource, d.Rule = r.Action, r.Origin, r
			return d
		}
	}
	d.Action = cfg.Actions[d.Risk]
	if d.Action == "" {
		d.Action = audit.ActionApprove
	}
	d.ActionSource = "default for " + d.Risk + " risk"
	return d
}

func fromAnnotations(a *Annotations) (string, string) {
	switch {
	case a == nil:
		return "", ""
	case a.ReadOnly != nil && *a.ReadOnly:
		return Low, "readOnlyHint"
	case a.Destructive != nil && *a.Destructive:
		return High, "destructiveHint"
	}
	return "", ""
}

var (
	highWords = []string{"delete", "remove", "rm", "drop", "truncate", "purge", "destroy", "wipe", "kill",
		"exec", "execute", "run", "shell", "bash", "cmd", "eval", "write", "overwrite", "send", "email",
		"transfer", "pay", "payment", "deploy", "push", "sudo", "chmod", "format"}
	lowWords = []string{"get", "list", "read", "search", "find", "show", "view", "describe", "fetch",
		"lookup", "query", "echo", "ping", "status", "info", "count", "stat", "tree"}
)

// FromName guesses a risk from the words of a tool's name: high when any
// word is dangerous, low when the first word only reads, "" when unsure.
func FromName(tool string) (string, string) {
	words := splitWords(tool)
	for _, w := range words {
		if slices.Contains(highWords, w) {
			return High, fmt.Sprintf("tool name (%q)", w)
		}
	}
	if len(words) > 0 && slices.Contains(lowWords, words[0]) {
		return Low, fmt.Sprintf("tool name (%q)", words[0])
	}
	return "", ""
}

// splitWords splits snake_case, kebab-case, dotted and camelCase names into
// lower-case words.
func splitWords(s string) []string {
	var words []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			words = append(words, strings.ToLower(string(cur)))
			cur = cur[:0]
		}
	}
	rs := []rune(s)
	for i, r := range rs {
		switch {
		case !unicode.IsLetter(r) && !unicode.IsDigit(r):
			flush()
		case unicode.IsUpper(r) && i > 0 && (unicode.IsLower(rs[i-1]) || (i+1 < len(rs) && unicode.IsLower(rs[i+1]) && unicode.IsUpper(rs[i-1]))):
			flush()
			cur = append(cur, r)
		default:
			cur = append(cur, r)
		}
	}
	flush()
	return words
}
