package main

import (
	"context"
	"fmt"

	"github.com/opena2a-org/aim-mcp/internal/home"
)

const auditUsage = `
Usage: aim-mcp audit verify [--server NAME] [--home DIR]

Recomputes every record's hash, its link to the record before it and its
signature. Exits 0 when the audit trail is intact; names the first bad
record and exits 1 when a record was edited, deleted or moved.
`

func runAudit(ctx context.Context, e env, args []string) error {
	if len(args) == 0 || (args[0] != "verify" && args[0] != "-h" && args[0] != "--help" && args[0] != "-help") {
		if len(args) > 0 {
			return &usageError{cmd: "audit", msg: fmt.Sprintf("unknown audit command %q", args[0])}
		}
		return &usageError{cmd: "audit", msg: "missing audit command (verify)"}
	}
	if args[0] == "verify" {
		args = args[1:]
	}
	fs := flags(e, "audit", auditUsage)
	server := fs.String("server", "", "")
	homeFlag := fs.String("home", "", "")
	if err := parse(e, fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	dir, db, err := openHome(ctx, e, *homeFlag, false)
	if err != nil {
		return err
	}
	defer db.Close()
	id := ""
	if *server != "" {
		found, err := db.FindServers(ctx, *server)
		if err != nil {
			return err
		}
		if len(found) == 0 {
			return errorf("no server named %q", *server).hint("run \"aim-mcp list\" to see the servers")
		}
		if len(found) > 1 {
			return errorf("%d servers are named %q (one per client)", len(found), *server).hint("verify the whole chain without --server")
		}
		id = found[0].ID
	}
	v, err := db.Verify(ctx, id)
	if err != nil {
		return err
	}
	if !v.OK() {
		return errorf("audit trail broken at record %d: %s", v.BadSeq, v.Reason).
			hint("records up to %d are intact; compare with a backup of %q", v.BadSeq-1, home.DB(dir))
	}
	fmt.Fprintf(e.stdout, "audit trail intact: %s from %s verified\n", plural(v.Records, "record"), plural(v.Servers, "server"))
	return nil
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
