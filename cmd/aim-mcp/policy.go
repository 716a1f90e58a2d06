package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/opena2a-org/aim-mcp/audit"
	"github.com/opena2a-org/aim-mcp/config"
	"github.com/opena2a-org/aim-mcp/policy"
	"github.com/opena2a-org/aim-mcp/registry"
)

var policyUsage = `
Usage:
  aim-mcp policy add --server GLOB --tool GLOB [--when COND] [--risk LEVEL] [--action ACTION]
  aim-mcp policy list [--json]
  aim-mcp policy remove ID
  aim-mcp policy check --server NAME --tool NAME [--args JSON] [--json]

Each tool call gets a risk (low, medium, high, critical) and an action
(allow, approve: wait for a person, deny). Risk comes from the most
specific matching rule, else the tool's MCP annotations (readOnlyHint,
destructiveHint, openWorldHint), else its name, else default_risk. The
action comes from the most specific rule that sets one, else from the
risk: low and medium allow, high and critical approve (see config.yaml's
"actions"). Among equally specific rules the strictest wins.

GLOB: * any run of characters, ? one, [a-z] a class.
COND: a JSON pointer into the arguments and a value:
` + wrapText("      ", condForms()) + `
Rules live in the registry (these commands) and in config.yaml's "policy:".
Running proxies pick up changes within a second.

Flags:
  --server GLOB    add: the servers the rule is for (default *);
                   check: the server's name
  --tool GLOB      add: the tools the rule is for (default *); check:
                   the tool's name
  --when COND      add: only when the arguments match COND (above)
  --risk LEVEL     add: the risk the rule gives: low, medium, high or
                   critical
  --action ACTION  add: what the rule does: allow, approve or deny
  --args JSON      check: the call's arguments (default {})
  --json           list, check: print JSON
  --home DIR       aim-mcp's data directory
`

// condForms is "/path=VALUE (equals), ...": the --when form of each
// condition operator.
func condForms() string {
	var forms []string
	for _, o := range policy.Operators() {
		f := "/path" + o.Mark + "=" + strings.ToUpper(o.Value)
		if o.Means != "" {
			f += " (" + o.Means + ")"
		}
		forms = append(forms, f)
	}
	return strings.Join(forms, ", ")
}

func runPolicy(ctx context.Context, e env, args []string) error {
	if len(args) == 0 {
		return &usageError{cmd: "policy", msg: "missing policy command (add, list, remove, check)"}
	}
	switch args[0] {
	case "add":
		return policyAdd(ctx, e, args[1:])
	case "list":
		return policyList(ctx, e, args[1:])
	case "remove", "rm":
		return policyRemove(ctx, e, args[1:])
	case "check":
		return policyCheck(ctx, e, args[1:])
	case "-h", "--help", "-help", "help":
		fmt.Fprint(e.stdout, policyUsage[1:])
		return nil
	}
	return &usageError{cmd: "policy", msg: fmt.Sprintf("unknown policy command %q", args[0]), hints: didYouMean(args[0], "add", "list", "remove", "check")}
}

// loadPolicy reads config.yaml (for its rules and defaults) and opens the registry.
func loadPolicy(ctx context.Context, e env, homeFlag string, create bool) (config.Config, *registry.DB, error) {
	cfg, err := config.Load()
	if err != nil {
		return cfg, nil, errorf("%v", err).hint("fix config.yaml; nothing was changed")
	}
	_, db, err := openHome(ctx, e, homeFlag, create)
	return cfg, db, err
}

func policyAdd(ctx context.Context, e env, args []string) error {
	fs := flags(e, "policy", policyUsage)
	server := fs.String("server", "*", "")
	tool := fs.String("tool", "*", "")
	when := fs.String("when", "", "")
	risk := fs.String("risk", "", "")
	action := fs.String("action", "", "")
	homeFlag := fs.String("home", "", "")
	if err := parse(e, fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	// Checked before the registry is opened: a bad rule changes nothing.
	cond, err := policy.ParseWhen(*when)
	if err != nil {
		return &usageError{cmd: "policy", msg: "--when: " + err.Error()}
	}
	if err := (&policy.Rule{Server: *server, Tool: *tool, When: cond, Risk: *risk, Action: audit.Action(*action)}).Compile(); err != nil {
		return &usageError{cmd: "policy", msg: err.Error()}
	}
	_, db, err := loadPolicy(ctx, e, *homeFlag, true)
	if err != nil {
		return err
	}
	defer db.Close()
	r, err := policy.Store(ctx, db, *server, *tool, *when, *risk, audit.Action(*action))
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "added rule %d: %s\n", r.ID, r.Describe())
	return nil
}

func policyList(ctx context.Context, e env, args []string) error {
	fs := flags(e, "policy", policyUsage)
	asJSON := fs.Bool("json", false, "")
	homeFlag := fs.String("home", "", "")
	if err := parse(e, fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	cfg, db, err := loadPolicy(ctx, e, *homeFlag, true)
	if err != nil {
		return err
	}
	defer db.Close()
	rules, err := policy.AllRules(ctx, db, cfg)
	if err != nil {
		return errorf("%v", err)
	}
	if *asJSON {
		if rules == nil {
			rules = []*policy.Rule{}
		}
		out, _ := json.MarshalIndent(map[string]any{
			"rules": rules, "default_risk": cfg.DefaultRisk, "actions": cfg.Actions,
			"fail_mode": cfg.FailMode, "drift_action": cfg.DriftAction,
		}, "", "  ")
		fmt.Fprintf(e.stdout, "%s\n", out)
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSERVER\tTOOL\tWHEN\tRISK\tACTION\tFROM")
	for _, r := range rules {
		id, when := "-", "-"
		if r.ID != 0 {
			id = strconv.FormatInt(r.ID, 10)
		}
		if r.When != nil {
			when = r.When.String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", id, r.Server, r.Tool, when, dash(r.Risk), dash(string(r.Action)), r.Origin)
	}
	tw.Flush()
	fmt.Fprintf(e.stdout, "\ndefaults: low %s, medium %s, high %s, critical %s; unknown tools are %s risk; fail mode %s\n",
		cfg.Actions["low"], cfg.Actions["medium"], cfg.Actions["high"], cfg.Actions["critical"], cfg.DefaultRisk, cfg.FailMode)
	return nil
}

func policyRemove(ctx context.Context, e env, args []string) error {
	fs := flags(e, "policy", policyUsage)
	homeFlag := fs.String("home", "", "")
	if err := parse(e, fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return &usageError{cmd: "policy", msg: "policy remove takes one rule id"}
	}
	id, err := strconv.ParseInt(fs.Arg(0), 10, 64)
	if err != nil || id <= 0 {
		return &usageError{cmd: "policy", msg: fmt.Sprintf("rule id %q is not a number", fs.Arg(0))}
	}
	_, db, err := loadPolicy(ctx, e, *homeFlag, false)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.RemoveRule(ctx, id); err != nil {
		if errors.Is(err, registry.ErrNotFound) {
			return errorf("no rule %d", id).hint("run \"aim-mcp policy list\" to see the rules; rules from config.yaml are removed by editing it")
		}
		return err
	}
	fmt.Fprintf(e.stdout, "removed rule %d\n", id)
	return nil
}

func policyCheck(ctx context.Context, e env, args []string) error {
	fs := flags(e, "policy", policyUsage)
	server := fs.String("server", "", "")
	tool := fs.String("tool", "", "")
	argsJSON := fs.String("args", "{}", "")
	asJSON := fs.Bool("json", false, "")
	homeFlag := fs.String("home", "", "")
	if err := parse(e, fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *server == "" || *tool == "" {
		return &usageError{cmd: "policy", msg: "policy check needs --server and --tool"}
	}
	if !json.Valid([]byte(*argsJSON)) {
		return &usageError{cmd: "policy", msg: fmt.Sprintf("--args %q is not valid JSON", *argsJSON)}
	}
	cfg, db, err := loadPolicy(ctx, e, *homeFlag, true)
	if err != nil {
		return err
	}
	defer db.Close()
	d, err := policy.Explain(ctx, db, cfg, *server, *tool, json.RawMessage(*argsJSON))
	if err != nil {
		return errorf("%v", err)
	}
	if *asJSON {
		out, _ := json.MarshalIndent(d, "", "  ")
		fmt.Fprintf(e.stdout, "%s\n", out)
		return nil
	}
	fmt.Fprintf(e.stdout, "decision: %s\n  action %s, from %s\n  risk %s, from %s\n", verb(d.Action), d.Action, d.ActionSource, d.Risk, d.RiskSource)
	return nil
}

func verb(action audit.Action) string {
	switch action {
	case audit.ActionAllow:
		return "the call runs"
	case audit.ActionDeny:
		return "the call is refused"
	}
	return "the call waits for a person's approval"
}
