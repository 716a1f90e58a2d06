package policy

import (
	"encoding/json"
	"testing"

	"github.com/opena2a-org/aim-mcp/audit"
	"github.com/opena2a-org/aim-mcp/config"
)

func rule(t *testing.T, server, tool, when, risk string, action audit.Action, origin string) *Rule {
	t.Helper()
	c, err := ParseWhen(when)
	if err != nil {
		t.Fatalf("ParseWhen(%q): %v", when, err)
	}
	r := &Rule{Server: server, Tool: tool, When: c, Risk: risk, Action: action, Origin: origin}
	if err := r.Compile(); err != nil {
		t.Fatalf("Compile(%s): %v", origin, err)
	}
	return r
}

func yes() *bool { b := true; return &b }

func TestFromName(t *testing.T) {
	tests := []struct{ tool, want string }{
		{"delete_file", High},
		{"removeUser", High},
		{"run-command", High},
		{"execSQL", High},
		{"send_email", High},
		{"write_file", High},
		{"read_file", Low},
		{"list_directory", Low},
		{"getWeather", Low},
		{"search_files", Low},
		{"read_and_delete", High}, // any dangerous word wins
		{"summarize", ""},
		{"get-sum", Low},
		{"HTTPRequest", ""},
	}
	for _, tt := range tests {
		if got, _ := FromName(tt.tool); got != tt.want {
			t.Errorf("FromName(%q) = %q, want %q", tt.tool, got, tt.want)
		}
	}
}

func TestDecide(t *testing.T) {
	cfg := config.Defaults()
	args := json.RawMessage(`{"path":"/etc/passwd","force":true,"n":3}`)
	tests := []struct {
		name       string
		tool       string
		ann        *Annotations
		declared   string
		rules      []*Rule
		wantRisk   string
		wantAction audit.Action
		wantSource string
	}{
		{name: "default risk allows", tool: "summarize", wantRisk: Medium, wantAction: audit.ActionAllow, wantSource: "default for medium risk"},
		{name: "name says high, needs approval", tool: "delete_file", wantRisk: High, wantAction: audit.ActionApprove},
		{name: "readOnlyHint beats the name", tool: "delete_file", ann: &Annotations{ReadOnly: yes()}, wantRisk: Low, wantAction: audit.ActionAllow},
		{name: "destructiveHint makes it high", tool: "summarize", ann: &Annotations{Destructive: yes()}, wantRisk: High, wantAction: audit.ActionApprove},
		{name: "openWorldHint raises low to medium", tool: "get_page", ann: &Annotations{OpenWorld: yes()}, wantRisk: Medium, wantAction: audit.ActionAllow},
		{name: "a rule's risk beats annotations", tool: "get_page", ann: &Annotations{ReadOnly: yes()},
			rules: []*Rule{rule(t, "*", "get_*", "", Critical, "", "rule 1")}, wantRisk: Critical, wantAction: audit.ActionApprove, wantSource: "default for critical risk"},
		{name: "a rule's action", tool: "delete_file",
			rules: []*Rule{rule(t, "*", "delete_file", "", "", audit.ActionAllow, "rule 1")}, wantRisk: High, wantAction: audit.ActionAllow, wantSource: "rule 1"},
		{name: "more specific tool glob wins", tool: "delete_file", rules: []*Rule{
			rule(t, "*", "*", "", "", audit.ActionDeny, "rule 1"),
			rule(t, "*", "delete_*", "", "", audit.ActionAllow, "rule 2"),
		}, wantRisk: High, wantAction: audit.ActionAllow, wantSource: "rule 2"},
		{name: "a condition is more specific", tool: "write_file", rules: []*Rule{
			rule(t, "srv", "write_file", "", "", audit.ActionAllow, "rule 1"),
			rule(t, "*", "write_*", "/path^=/etc/", "", audit.ActionDeny, "rule 2"),
		}, wantRisk: High, wantAction: audit.ActionDeny, wantSource: "rule 2"},
		{name: "a condition that does not match", tool: "write_file", rules: []*Rule{
			rule(t, "*", "write_file", "/path^=/home/", "", audit.ActionDeny, "rule 1"),
		}, wantRisk: High, wantAction: audit.ActionApprove},
		{name: "equals on a bool", tool: "write_file", rules: []*Rule{
			rule(t, "*", "*", "/force=true", "", audit.ActionDeny, "rule 1"),
		}, wantRisk: High, wantAction: audit.ActionDeny},
		{name: "regex on a number", tool: "summarize", rules: []*Rule{
			rule(t, "*", "*", "/n~=^[0-9]$", Low, "", "rule 1"),
		}, wantRisk: Low, wantAction: audit.ActionAllow},
		{name: "ties go to the strictest", tool: "summarize", rules: []*Rule{
			rule(t, "srv", "summarize", "", "", audit.ActionAllow, "rule 1"),
			rule(t, "srv", "summarize", "", "", audit.ActionDeny, "rule 2"),
			rule(t, "srv", "summarize", "", "", audit.ActionApprove, "rule 3"),
		}, wantRisk: Medium, wantAction: audit.ActionDeny, wantSource: "rule 2"},
		{name: "another server's rule does not apply", tool: "summarize", rules: []*Rule{
			rule(t, "other", "*", "", "", audit.ActionDeny, "rule 1"),
		}, wantRisk: Medium, wantAction: audit.ActionAllow},
		{name: "a declared risk beats the name", tool: "delete_file", declared: Low, wantRisk: Low, wantAction: audit.ActionAllow},
		{name: "a declared risk beats annotations", tool: "get_page", ann: &Annotations{ReadOnly: yes()}, declared: Critical,
			wantRisk: Critical, wantAction: audit.ActionApprove, wantSource: "default for critical risk"},
		{name: "a rule's risk beats a declared one", tool: "summarize", declared: Critical,
			rules: []*Rule{rule(t, "*", "*", "", Low, "", "rule 1")}, wantRisk: Low, wantAction: audit.ActionAllow},
		{name: "an unknown declared risk is ignored", tool: "delete_file", declared: "harmless", wantRisk: High, wantAction: audit.ActionApprove},
		{name: "server glob crosses slashes", tool: "summarize", rules: []*Rule{
			rule(t, "s*", "*", "", "", audit.ActionDeny, "rule 1"),
		}, wantRisk: Medium, wantAction: audit.ActionDeny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Decide(Input{Server: "srv", Tool: tt.tool, Args: args, Annotations: tt.ann, Declared: tt.declared}, tt.rules, cfg)
			if d.Risk != tt.wantRisk || d.Action != tt.wantAction {
				t.Errorf("Decide = risk %s (%s), action %s (%s); want risk %s, action %s",
					d.Risk, d.RiskSource, d.Action, d.ActionSource, tt.wantRisk, tt.wantAction)
			}
			if tt.wantSource != "" && d.ActionSource != tt.wantSource {
				t.Errorf("action source = %q, want %q", d.ActionSource, tt.wantSource)
			}
		})
	}
}

func TestConfiguredActions(t *testing.T) {
	cfg, err := config.Parse([]byte("actions:\n  medium: deny\ndefault_risk: low\n"))
	if err != nil {
		t.Fatal(err)
	}
	if d := Decide(Input{Tool: "summarize"}, nil, cfg); d.Risk != Low || d.Action != audit.ActionAllow {
		t.Errorf("default_risk low: got %s/%s, want low/allow", d.Risk, d.Action)
	}
	if d := Decide(Input{Tool: "x", Annotations: &Annotations{OpenWorld: yes()}}, nil, cfg); d.Action != audit.ActionDeny {
		t.Errorf("medium deny: got %s, want deny", d.Action)
	}
	if d := Decide(Input{Tool: "delete_x"}, nil, cfg); d.Action != audit.ActionApprove {
		t.Errorf("high keeps its default: got %s, want approve", d.Action)
	}
}

func TestBadRules(t *testing.T) {
	for _, tt := range []struct {
		server, tool, when, risk string
		action                   audit.Action
	}{
		{"*", "[a-", "", "", audit.ActionDeny},
		{"*", "x]", "", "", audit.ActionDeny},
		{"*", "*", "", "severe", ""},
		{"*", "*", "", "", "block"},
		{"*", "*", "", "", ""},
	} {
		r := &Rule{Server: tt.server, Tool: tt.tool, Risk: tt.risk, Action: tt.action}
		if err := r.Compile(); err == nil {
			t.Errorf("Compile(%+v) succeeded, want an error", tt)
		}
	}
	for _, when := range []string{"path=1", "/a~=(", "/a~0~2=x", "noequals"} {
		if _, err := ParseWhen(when); err == nil {
			t.Errorf("ParseWhen(%q) succeeded, want an error", when)
		}
	}
	if _, err := config.Parse([]byte("fail_mode: sometimes\n")); err == nil {
		t.Error("config with fail_mode sometimes parsed, want an error")
	}
	if _, err := config.Parse([]byte("polcy: []\n")); err == nil {
		t.Error("config with a misspelt key parsed, want an error")
	}
}

func TestPointer(t *testing.T) {
	var v any
	json.Unmarshal([]byte(`{"a/b":{"c~d":[10,20]}}`), &v)
	got, ok := lookup(v, "/a~1b/c~0d/1")
	if !ok || got.(float64) != 20 {
		t.Errorf("lookup = %v, %v; want 20, true", got, ok)
	}
	if _, ok := lookup(v, "/a~1b/missing"); ok {
		t.Error("lookup of a missing key succeeded")
	}
}
