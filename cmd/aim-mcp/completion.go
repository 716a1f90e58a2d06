package main

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/opena2a-org/aim-mcp/audit"
	"github.com/opena2a-org/aim-mcp/config"
	"github.com/opena2a-org/aim-mcp/internal/home"
	"github.com/opena2a-org/aim-mcp/registry"
	compliance "github.com/opena2a-org/aim-mcp/report"
)

var completionUsage = `
Usage: aim-mcp completion ` + strings.Join(shells(), "|") + `

Prints the shell completion script for aim-mcp: commands, subcommands,
flags, flag values (clients, report types and formats), files, and the
names of the servers in the registry (asked of aim-mcp as you type).

Install it:
  bash        aim-mcp completion bash > ~/.local/share/bash-completion/completions/aim-mcp
              (or add  source <(aim-mcp completion bash)  to ~/.bashrc)
  zsh         aim-mcp completion zsh > "${fpath[1]}/_aim-mcp"
              (or add  source <(aim-mcp completion zsh)  to ~/.zshrc, after compinit)
  fish        aim-mcp completion fish > ~/.config/fish/completions/aim-mcp.fish
  powershell  aim-mcp completion powershell | Out-String | Invoke-Expression
              (add that line to $PROFILE to keep it)
`

// shells are the shells completion writes a script for.
func shells() []string { return []string{"bash", "zsh", "fish", "powershell"} }

func runCompletion(ctx context.Context, e env, args []string) error {
	fs := flags(e, "completion", completionUsage)
	if err := parse(e, fs, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() == 0:
		return &usageError{cmd: "completion", msg: "completion needs a shell: " + orList(shells())}
	case fs.NArg() > 1:
		return &usageError{cmd: "completion", msg: fmt.Sprintf("unexpected argument %q", fs.Arg(1))}
	}
	spec := completionSpecOf(ctx)
	var script string
	switch sh := fs.Arg(0); sh {
	case "bash":
		script = bashCompletion(spec)
	case "zsh":
		script = zshCompletion(spec)
	case "fish":
		script = fishCompletion(spec)
	case "powershell", "pwsh":
		script = powershellCompletion(spec)
	default:
		return &usageError{cmd: "completion", msg: fmt.Sprintf("no completion for the shell %q: there is one for %s", sh, orList(shells())),
			hints: didYouMean(sh, shells()...)}
	}
	fmt.Fprint(e.stdout, script)
	return nil
}

// completeCommand is the hidden command the scripts run for what only the
// registry knows: "aim-mcp __complete servers" prints the server names, one
// a line. It prints nothing rather than an error: a completion never
// complains.
const completeCommand = "__complete"

func runComplete(ctx context.Context, e env, args []string) error {
	if len(args) != 1 || args[0] != "servers" {
		return nil
	}
	dir, err := home.Resolve("")
	if err != nil {
		return nil
	}
	db, err := openExisting(ctx, env{stdout: e.stdout, stderr: discard{}}, dir)
	if err != nil || db == nil {
		return nil
	}
	defer db.Close()
	servers, err := db.Servers(ctx)
	if err != nil {
		return nil
	}
	var names []string
	for _, s := range servers {
		if s.Status != registry.StatusPurged && !slices.Contains(names, s.Name) {
			names = append(names, s.Name)
		}
	}
	slices.Sort(names)
	for _, n := range names {
		fmt.Fprintln(e.stdout, n)
	}
	return nil
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// completionSpec is what the scripts complete, read from the command table
// and the commands' own flag sets: a flag or command added there is
// completed without touching the scripts.
type completionSpec struct {
	commands []command
	subs     map[string][]string   // command → subcommands
	flags    map[string][]flagSpec // command → its flags (all subcommands')
	// values are the fixed values of a flag, by flag name.
	values map[string][]string
	// serverFlags take a server name; fileFlags a path.
	serverFlags, fileFlags []string
	// serverArgs are the commands whose arguments are server names.
	serverArgs []string
}

func completionSpecOf(ctx context.Context) completionSpec {
	spec := completionSpec{
		subs:  map[string][]string{},
		flags: map[string][]flagSpec{},
		values: map[string][]string{
			"client":  append(strings.Split(clientNames(), ", "), "all"),
			"type":    reportTypes(),
			"format":  compliance.Formats,
			"service": {"install", "uninstall", "status"},
			"risk":    config.RiskLevels,
			"action":  actionNames(),
		},
		serverFlags: []string{"server"},
		fileFlags:   []string{"config", "file", "home", "log", "o", "output", "peers", "witness"},
		serverArgs:  []string{"keys", "login", "logout", "pins", "scan", "trust"},
	}
	for _, c := range commands() {
		spec.commands = append(spec.commands, c)
		if len(c.subs) > 0 {
			spec.subs[c.name] = c.subs
		}
		spec.flags[c.name] = commandFlags(ctx, c)
	}
	// help takes a command; completion a shell.
	spec.subs["help"] = commandNames()
	spec.subs["completion"] = shells()
	return spec
}

func actionNames() []string {
	var names []string
	for _, a := range audit.Actions {
		names = append(names, string(a))
	}
	return names
}

// names is the command names.
func (s completionSpec) names() []string {
	var out []string
	for _, c := range s.commands {
		out = append(out, c.name)
	}
	return out
}

// dashedFlags is each of cmd's flags spelled as typed.
func (s completionSpec) dashedFlags(cmd string) []string {
	var out []string
	for _, f := range s.flags[cmd] {
		out = append(out, dashed(f.name))
	}
	return out
}

// sortedKeys is m's keys in order, so the scripts come out the same each time.
func sortedKeys[V any](m map[string]V) []string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
