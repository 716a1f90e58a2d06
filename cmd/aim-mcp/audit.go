package main

import (
	"context"
	"fmt"

	"github.com/opena2a-org/aim-mcp/internal/home"
	"github.com/opena2a-org/aim-mcp/registry"
)

const auditUsage = `
Usage: aim-mcp audit verify [--server NAME | --since-checkpoint]
                           [--witness LINE|FILE|-|none] [--home DIR]

Recomputes every record's hash, its link to the record before it and its
signature. Exits 0 when the audit trail is intact; names the first bad
record and exits 1 when a record was edited, deleted or moved.

Then it compares the chain with its witness: after each commit aim-mcp
sends the chain's head to the system log ("aim-mcp chain head home=...
seq=N hash=... keys=..."), where a server running as you cannot take it
back. A witnessed record missing from the chain (its newest records were
deleted), one whose hash changed (the chain was rewritten and signed
again), or a witnessed key that no server has and no key_rotated record
names (the chain was re-signed with a key written into the database)
fails the check. On Linux the heads are read from the journal
("journalctl --user -t aim-mcp" and "journalctl -t aim-mcp") when no
--witness is given; elsewhere pass them.

A whole trail found intact is remembered as a signed checkpoint; list,
trust and report then check only the records appended after it.

Flags:
  --server NAME       check only this server's signatures (links: all)
  --since-checkpoint  check only what was appended since the checkpoint,
                      after checking that the checkpoint and the record it
                      names are unchanged and no record was edited in place
                      (the fast way; without it, every record is read)
  --witness LINE|FILE|-|none
                      the witnessed heads to compare with: a line as
                      "journalctl -t aim-mcp -o cat | tail -1" prints it,
                      a file of such lines (the newest head of this home
                      is used, and each key's newest), - for stdin, or
                      none to skip the witness
  --home DIR          aim-mcp's data directory
`

func runAudit(ctx context.Context, e env, args []string) error {
	if len(args) == 0 || (args[0] != "verify" && args[0] != "-h" && args[0] != "--help" && args[0] != "-help") {
		if len(args) > 0 {
			return &usageError{cmd: "audit", msg: fmt.Sprintf("unknown audit command %q", args[0]), hints: didYouMean(args[0], "verify")}
		}
		return &usageError{cmd: "audit", msg: "missing audit command (verify)"}
	}
	if args[0] == "verify" {
		args = args[1:]
	}
	fs := flags(e, "audit", auditUsage)
	server := fs.String("server", "", "")
	since := fs.Bool("since-checkpoint", false, "")
	witnessArg := fs.String("witness", "", "")
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
	if *since && id != "" {
		return &usageError{cmd: "audit", msg: "--since-checkpoint checks the whole chain: drop --server"}
	}
	var v registry.Verification
	if *since {
		v, err = db.VerifySince(ctx)
	} else {
		v, err = db.Verify(ctx, id)
	}
	if err != nil {
		return err
	}
	if v.Distrust != "" {
		fmt.Fprintf(e.stderr, "aim-mcp: warning: the checkpoint was not trusted (%s); checked from the first record\n", v.Distrust)
	}
	if !v.OK() {
		return errorf("audit trail broken at record %d: %s", v.BadSeq, v.Reason).
			hint("records up to %d are intact; compare with a backup of %q", v.BadSeq-1, home.DB(dir))
	}
	witnessed, err := checkWitness(ctx, e, db, dir, *witnessArg)
	if err != nil {
		return err
	}
	issues, err := db.VerifySpools(ctx)
	if err != nil {
		return err
	}
	for _, is := range issues {
		if is.Broken {
			return errorf("spool of a session of %q (%s) is broken: %s", is.Server, is.Session, is.Reason).
				hint("the records moved from it are in the chain and verify; what it held after that may be lost or altered")
		}
		fmt.Fprintf(e.stderr, "aim-mcp: note: the spool of a session of %q (%s): %s\n", is.Server, is.Session, is.Reason)
	}
	if v.From > 0 {
		fmt.Fprintf(e.stdout, "audit trail intact: %s after the checkpoint at record %d verified (records up to it were verified before)\n",
			plural(v.Records, "record"), v.From)
	} else {
		fmt.Fprintf(e.stdout, "audit trail intact: %s from %s verified\n", plural(v.Records, "record"), plural(v.Servers, "server"))
	}
	if witnessed != "" {
		fmt.Fprintln(e.stdout, witnessed)
	}
	return nil
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
