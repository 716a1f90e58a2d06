package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/user"
	"text/tabwriter"
	"time"

	"github.com/opena2a-org/aim-mcp/audit"
	"github.com/opena2a-org/aim-mcp/internal/fold"
	"github.com/opena2a-org/aim-mcp/pins"
	"github.com/opena2a-org/aim-mcp/policy"
	"github.com/opena2a-org/aim-mcp/registry"
)

const approvalsUsage = `
Usage: aim-mcp approvals [--all] [--json] [--home DIR]
       aim-mcp approvals show ID [--reveal] [--json] [--home DIR]

Lists the tool calls waiting for a person's approval: id, server, tool,
arguments, risk, why, and when the request expires. Every argument is
listed; a long value is folded to its first and last bytes around a
marker that counts what is left out ("…[+5000 bytes]…"), and a secret
is shown as "[REDACTED N bytes]" with its length.
Answer with "aim-mcp approve ID" or "aim-mcp deny ID".

"approvals show ID" prints one approval with all of its arguments,
indented, nothing folded (secrets still masked). With --reveal it prints
the exact arguments the call will run with, secrets included: they are
kept, readable by you alone, only while the approval waits, and removed
as soon as it is approved, denied, cancelled or expired.

Flags:
  --all       also list answered, used and expired approvals
  --json      print JSON
  --reveal    (show) print the exact arguments, secrets included
  --home DIR  aim-mcp's data directory
`

// listKeep is how much of each end of a long value the list shows.
const listKeep = 32

func runApprovals(ctx context.Context, e env, args []string) error {
	if len(args) > 0 && args[0] == "show" {
		return runApprovalsShow(ctx, e, args[1:])
	}
	fs := flags(e, "approvals", approvalsUsage)
	all := fs.Bool("all", false, "")
	asJSON := fs.Bool("json", false, "")
	homeFlag := fs.String("home", "", "")
	if err := parse(e, fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	_, db, err := openHome(ctx, e, *homeFlag, true)
	if err != nil {
		return err
	}
	defer db.Close()
	var states []string
	if !*all {
		states = []string{registry.ApprovalPending}
	}
	list, err := db.Approvals(ctx, states...)
	if err != nil {
		return err
	}
	if *asJSON {
		if list == nil {
			list = []registry.Approval{}
		}
		out, _ := json.MarshalIndent(list, "", "  ")
		fmt.Fprintf(e.stdout, "%s\n", out)
		return nil
	}
	if len(list) == 0 {
		fmt.Fprintln(e.stdout, "no approvals waiting")
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATUS\tSERVER\tTOOL\tRISK\tARGUMENTS\tWHY\tEXPIRES")
	for _, a := range list {
		argsText := fold.JSON(a.Args, listKeep)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.ID, a.Status, a.Server, a.Tool, a.Risk, argsText, a.Reason,
			a.ExpiresAt.Local().Format(time.RFC3339))
	}
	return tw.Flush()
}

const approveUsage = `
Usage: aim-mcp approve ID [--remember] [--home DIR]

Lets the waiting call ID run once. A proxy still holding it sees the
answer within a second; otherwise the identical call (same server, tool
and arguments) passes the next time the client makes it.

Flags:
  --remember  also add a rule that allows this tool on this server from now on
  --home DIR  aim-mcp's data directory
`

func runApprove(ctx context.Context, e env, args []string) error {
	fs := flags(e, "approve", approveUsage)
	remember := fs.Bool("remember", false, "")
	homeFlag := fs.String("home", "", "")
	if err := parse(e, fs, interspersed(args)); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return &usageError{cmd: "approve", msg: "approve takes one approval id"}
	}
	_, db, err := openHome(ctx, e, *homeFlag, false)
	if err != nil {
		return err
	}
	defer db.Close()
	a, err := db.DecideApproval(ctx, fs.Arg(0), registry.ApprovalApproved, whoami(), "")
	if err != nil {
		return approvalError(fs.Arg(0), err)
	}
	if !*remember {
		fmt.Fprintf(e.stdout, "approved %s: %s on %s may run once\n", a.ID, a.Tool, a.Server)
		return nil
	}
	r, err := policy.Store(ctx, db, a.Server, a.Tool, "", "", audit.ActionAllow)
	if err != nil {
		return errorf("approved %s to run once, but the rule was not added: %v", a.ID, err).
			hint("add it with: aim-mcp policy add --server %s --tool %s --action allow", pins.Quote(a.Server), pins.Quote(a.Tool))
	}
	fmt.Fprintf(e.stdout, "approved %s: %s on %s runs once, and rule %d now allows it from now on\n", a.ID, a.Tool, a.Server, r.ID)
	return nil
}

const denyUsage = `
Usage: aim-mcp deny ID [--reason TEXT] [--home DIR]

Refuses the waiting call ID. The client gets an error result with the
reason.

Flags:
  --reason TEXT  why, for the client and the audit trail
  --home DIR     aim-mcp's data directory
`

func runDeny(ctx context.Context, e env, args []string) error {
	fs := flags(e, "deny", denyUsage)
	reason := fs.String("reason", "", "")
	homeFlag := fs.String("home", "", "")
	if err := parse(e, fs, interspersed(args)); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return &usageError{cmd: "deny", msg: "deny takes one approval id"}
	}
	_, db, err := openHome(ctx, e, *homeFlag, false)
	if err != nil {
		return err
	}
	defer db.Close()
	a, err := db.DecideApproval(ctx, fs.Arg(0), registry.ApprovalDenied, whoami(), *reason)
	if err != nil {
		return approvalError(fs.Arg(0), err)
	}
	fmt.Fprintf(e.stdout, "denied %s: %s on %s\n", a.ID, a.Tool, a.Server)
	return nil
}

func approvalError(id string, err error) error {
	switch {
	case errors.Is(err, registry.ErrNotFound):
		return errorf("no approval %q", id).hint("run \"aim-mcp approvals\" to see the waiting calls")
	case errors.Is(err, registry.ErrNotPending):
		return errorf("%v", err).hint("ask the client to make the call again: it will wait for a new approval")
	}
	return err
}

// whoami names the person answering, for the record.
func whoami() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if n := getenv("USER"); n != "" {
		return n
	}
	return "unknown"
}

// interspersed moves flags after positional arguments to the front, so
// "approve ID --remember" works as well as "approve --remember ID".
func interspersed(args []string) []string {
	var flagsFirst, rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			rest = append(rest, args[i+1:]...)
			break
		}
		if len(a) > 1 && a[0] == '-' {
			flagsFirst = append(flagsFirst, a)
			if (a == "--reason" || a == "-reason" || a == "--home" || a == "-home") && i+1 < len(args) {
				flagsFirst = append(flagsFirst, args[i+1])
				i++
			}
			continue
		}
		rest = append(rest, a)
	}
	return append(flagsFirst, rest...)
}
