package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// env is what a command may touch of the outside world; tests swap it.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	// width is the terminal's width in columns, 0 when stdout is no
	// terminal: output is cut to fit only where a person reads it.
	width int
	// describe, when set, is handed each flag set a command builds instead
	// of parsing it; the command then stops as for -h. The completion
	// scripts and the usage tests read the flags this way, from the flag
	// sets themselves.
	describe func(*flag.FlagSet)
}

// cliError is an error for a person: what happened, and how to fix it.
type cliError struct {
	msg   string
	hints []string
	code  int // exit code; 1 when zero
}

func (e *cliError) Error() string { return e.msg }

func errorf(format string, a ...any) *cliError { return &cliError{msg: fmt.Sprintf(format, a...)} }

func (e *cliError) hint(format string, a ...any) *cliError {
	e.hints = append(e.hints, fmt.Sprintf(format, a...))
	return e
}

// exit sets the exit code.
func (e *cliError) exit(code int) *cliError {
	e.code = code
	return e
}

// errSilent ends a command with exit code 1 after it printed its own output.
var errSilent = errors.New("")

type command struct {
	name  string
	short string
	run   func(ctx context.Context, e env, args []string) error
	// subs are the command's subcommands, the first word after it.
	subs []string
}

func commands() []command {
	return []command{
		{"install", "wrap the MCP servers of a client's config so they run through aim-mcp", runInstall, nil},
		{"uninstall", "give the client its config back", runUninstall, nil},
		{"list", "show each MCP server, its state, identity and trust", runList, nil},
		{"watch", "keep client configs wrapped as they change (--service: at login)", runWatch, nil},
		{"proxy", "run an MCP server behind aim-mcp (the command install writes)", runProxy, nil},
		{"login", "sign aim-mcp in to a remote MCP server (OAuth, in the browser)", runLogin, nil},
		{"logout", "forget aim-mcp's tokens for a remote MCP server", runLogout, nil},
		{"logs", "show the audit trail", runLogs, nil},
		{"audit", "verify the audit trail (audit verify)", runAudit, []string{"verify"}},
		{"policy", "add, list, remove and check policy rules", runPolicy, []string{"add", "list", "remove", "check"}},
		{"approvals", "list the calls waiting for a person's approval; show one whole (show ID [--reveal])", runApprovals, []string{"show"}},
		{"approve", "let a waiting call run (once)", runApprove, nil},
		{"deny", "refuse a waiting call", runDeny, nil},
		{"dashboard", "open the dashboard: approvals, activity, servers, drift, policy, reports", runDashboard, nil},
		{"pins", "show tool pins and drift; diff and accept changed tools", runPins, []string{"diff", "accept"}},
		{"scan", "scan what servers tell the model for poisoning (installed servers or a captured session)", runScan, nil},
		{"trust", "show a server's trust score and, with --detailed, why", runTrust, nil},
		{"keys", "rotate a server's key, here and in AIM (keys rotate SERVER)", runKeys, []string{"rotate"}},
		{"report", "export a compliance report (" + reportNames() + ") as JSON, CSV or PDF", runReport, nil},
		{"status", "show which registry is in use, whether AIM answers, the agent ids", runStatus, nil},
		{"version", "print the version, commit, build date, Go version and platform", runVersion, nil},
		{"completion", "print a shell's completion script (" + strings.Join(shells(), ", ") + ")", runCompletion, nil},
		{"help", "show this help", nil, nil},
	}
}

const usageHead = `aim-mcp gives every MCP server an identity, a policy check and a signed,
tamper-evident record of every tool call.

Usage: aim-mcp <command> [flags]

Commands:
`

func usage(w io.Writer) {
	fmt.Fprint(w, usageHead)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-11s %s\n", c.name, c.short)
	}
	fmt.Fprint(w, "\nRun \"aim-mcp <command> -h\" for a command's flags.\n")
	fmt.Fprint(w, exitCodesHelp)
}

// exitCodesHelp is the last part of "aim-mcp help": the values report
// returns.
const exitCodesHelp = `
Exit codes:
  0  success; for audit verify: the audit trail is intact
  1  failure (the error says why); for audit verify: a record was edited,
     deleted or moved, or the witness disagrees; for scan: a hard finding
  2  usage: an unknown command, subcommand, flag or argument, or a bad
     flag value
`

// run dispatches a command and turns its error into the exit code.
func run(ctx context.Context, args []string, e env) int {
	if len(args) == 0 {
		usage(e.stderr)
		return 2
	}
	name, rest := args[0], args[1:]
	if name == "help" || name == "-h" || name == "--help" {
		if len(rest) > 0 {
			return run(ctx, []string{rest[0], "-h"}, e)
		}
		usage(e.stdout)
		return 0
	}
	if name == "--version" || name == "-version" {
		name = "version"
	}
	if name == completeCommand {
		return report(e.stderr, runComplete(ctx, e, rest))
	}
	for _, c := range commands() {
		if c.name == name && c.run != nil {
			return report(e.stderr, c.run(ctx, e, rest))
		}
	}
	ce := errorf("unknown command %q", name).exit(2)
	ce.hints = append(didYouMean(name, commandNames()...), "run \"aim-mcp help\" to see the commands")
	return report(e.stderr, ce)
}

// commandNames are the commands a person may type.
func commandNames() []string {
	var names []string
	for _, c := range commands() {
		names = append(names, c.name)
	}
	return names
}

func report(w io.Writer, err error) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if errors.Is(err, errSilent) {
		return 1
	}
	var ce *cliError
	if errors.As(err, &ce) {
		if ce.msg == "" { // the command already said why (the proxy's child)
			return ce.code
		}
		fmt.Fprintf(w, "aim-mcp: error: %s\n", ce.msg)
		for _, h := range ce.hints {
			fmt.Fprintf(w, "aim-mcp: hint: %s\n", h)
		}
		if ce.code != 0 {
			return ce.code
		}
		return 1
	}
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(w, "aim-mcp: error: %s\n", ue.msg)
		for _, h := range ue.hints {
			fmt.Fprintf(w, "aim-mcp: hint: %s\n", h)
		}
		fmt.Fprintf(w, "aim-mcp: hint: run \"aim-mcp %s -h\" for its usage\n", ue.cmd)
		return 2
	}
	fmt.Fprintf(w, "aim-mcp: error: %v\n", err)
	return 1
}

// usageError is a flag or argument mistake; it exits 2.
type usageError struct {
	cmd, msg string
	hints    []string // said before the pointer to the command's usage
}

func (e *usageError) Error() string { return e.msg }

// flags builds a command's flag set with its usage text. Parse errors are
// reported once, by report, not by the flag package.
func flags(e env, name, text string) *flag.FlagSet {
	fs := flag.NewFlagSet("aim-mcp "+name, flag.ContinueOnError)
	// The flag package prints the usage on every parse error; it goes to
	// the discarded output then, and parse prints it once, for -h only.
	fs.SetOutput(io.Discard)
	fs.Usage = func() { fmt.Fprint(fs.Output(), strings.TrimLeft(text, "\n")) }
	return fs
}

// parse parses args, printing usage for -h and turning mistakes into usage errors.
func parse(e env, fs *flag.FlagSet, args []string) error {
	name := strings.TrimPrefix(fs.Name(), "aim-mcp ")
	if e.describe != nil {
		e.describe(fs)
		return flag.ErrHelp
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(e.stdout)
			fs.Usage()
			return err
		}
		return flagError(name, fs, err)
	}
	return nil
}

// noArgs refuses stray positional arguments.
func noArgs(fs *flag.FlagSet) error {
	if fs.NArg() > 0 {
		return &usageError{cmd: strings.TrimPrefix(fs.Name(), "aim-mcp "), msg: fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}

func getenv(k string) string { return os.Getenv(k) }
