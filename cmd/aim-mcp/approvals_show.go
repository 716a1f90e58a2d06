package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/opena2a-org/aim-mcp/internal/fold"
	"github.com/opena2a-org/aim-mcp/registry"
)

// revealed is an approval as "approvals show --reveal --json" prints it:
// args are the exact arguments.
type revealed struct {
	registry.Approval
	Revealed bool `json:"revealed"`
}

// runApprovalsShow prints one approval with every byte of its arguments:
// masked as stored, or, with --reveal, exactly as the call will send them.
func runApprovalsShow(ctx context.Context, e env, args []string) error {
	fs := flags(e, "approvals", approvalsUsage)
	asJSON := fs.Bool("json", false, "")
	reveal := fs.Bool("reveal", false, "")
	homeFlag := fs.String("home", "", "")
	pos, err := parseAnywhere(e, fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return &usageError{cmd: "approvals", msg: "approvals show takes one approval id"}
	}
	id := pos[0]
	_, db, err := openHome(ctx, e, *homeFlag, false)
	if err != nil {
		return err
	}
	defer db.Close()
	var a registry.Approval
	var full []byte
	if *reveal {
		a, full, err = db.PendingArgs(ctx, id)
	} else {
		a, err = db.Approval(ctx, id)
	}
	if err != nil {
		return revealError(id, a, err)
	}
	if *asJSON {
		out := revealed{Approval: a, Revealed: *reveal}
		if *reveal {
			out.Args = full
			if !json.Valid(full) {
				b, _ := json.Marshal(string(full))
				out.Args = b
			}
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return fmt.Errorf("print approval %s: %w", a.ID, err)
		}
		_, err := e.stdout.Write(buf.Bytes())
		return err
	}
	fmt.Fprintf(e.stdout, "approval   %s (%s)\n", a.ID, a.Status)
	fmt.Fprintf(e.stdout, "server     %s\ntool       %s\nrisk       %s\nwhy        %s\n", a.Server, a.Tool, a.Risk, a.Reason)
	fmt.Fprintf(e.stdout, "requested  %s\nexpires    %s\n", a.CreatedAt.Local().Format(time.RFC3339), a.ExpiresAt.Local().Format(time.RFC3339))
	if !a.DecidedAt.IsZero() {
		fmt.Fprintf(e.stdout, "decided    %s by %s\n", a.DecidedAt.Local().Format(time.RFC3339), a.DecidedBy)
	}
	fmt.Fprintf(e.stdout, "digest     %s\n", a.ArgsDigest)
	if *reveal {
		fmt.Fprintln(e.stdout, "arguments, exactly as the call will run with them (secrets included):")
		fmt.Fprintln(e.stdout, fold.Pretty(full))
		return nil
	}
	note := "secrets shown as [REDACTED N bytes]"
	if a.Status == registry.ApprovalPending {
		note += "; --reveal shows them"
	}
	fmt.Fprintf(e.stdout, "arguments (%s):\n%s\n", note, fold.Pretty(a.Args))
	return nil
}

// revealError says why an approval or its exact arguments cannot be shown.
func revealError(id string, a registry.Approval, err error) error {
	switch {
	case errors.Is(err, registry.ErrArgsGone) && a.Status != registry.ApprovalPending:
		return errorf("the exact arguments of approval %s are gone: it is %s, and they are kept only while an approval waits", a.ID, a.Status).
			hint("\"aim-mcp approvals show %s\" shows them with secrets masked", a.ID)
	case errors.Is(err, registry.ErrArgsGone):
		return errorf("the exact arguments of approval %s were not kept (the proxy could not write them, or they were removed)", a.ID).
			hint("\"aim-mcp approvals show %s\" shows them with secrets masked; deny it if that is not enough: aim-mcp deny %s", a.ID, a.ID)
	case errors.Is(err, registry.ErrArgsTampered):
		return errorf("the exact arguments kept for approval %s were changed: they are not the ones the approval binds, so they are not shown", a.ID).
			hint("deny it: aim-mcp deny %s", a.ID)
	}
	return approvalError(id, err)
}
