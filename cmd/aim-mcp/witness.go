package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/opena2a-org/aim-mcp/internal/home"
	"github.com/opena2a-org/aim-mcp/registry"
	"github.com/opena2a-org/aim-mcp/witness"
)

// syslogEnv names the syslog socket the chain witness writes to, or "off".
// Tests point it at a socket of their own; a container without a system
// log may turn it off.
const syslogEnv = "AIM_MCP_SYSLOG"

// newWitness is the publisher of the chain's head to the system log that
// every process that opens the registry for writing hands to it, and to
// the extra sinks given (a proxy's OpenTelemetry exporter). warn, when
// set, is told once of the first line a sink refused (the proxy prints it
// to the client's log of the server); commands pass nil: their lines are
// few and a host with no system log would make every command warn. Nil
// when there is nowhere to send.
func newWitness(warn func(error), extra ...witness.Sink) registry.Witness {
	sinks := extra
	if path := getenv(syslogEnv); path != "off" {
		sink, err := witness.SystemLog(path)
		if err != nil && warn != nil {
			warn(err)
		}
		if err == nil {
			sinks = append([]witness.Sink{sink}, extra...)
		}
	}
	if len(sinks) == 0 {
		return nil
	}
	return witness.New(witness.Options{Sinks: sinks, OnError: warn})
}

// proxyWitnessWarning is what a proxy says, once, when the system log
// refuses its heads.
func proxyWitnessWarning(w io.Writer) func(error) {
	return func(err error) {
		fmt.Fprintf(w, "aim-mcp: warning: the chain's head could not be sent to the system log (%v): "+
			"\"aim-mcp audit verify\" cannot check this session's records against a witness\n", err)
	}
}

// witnessHeads reads the heads to check the chain against: from --witness
// (a line, a file of lines, or - for stdin), else from the systemd journal
// when there is one. It returns where they came from, for messages; no
// heads and no error when nothing was witnessed or --witness is none.
func witnessHeads(ctx context.Context, e env, db *registry.DB, arg string) ([]witness.Head, string, error) {
	id := db.HomeID()
	if arg == "none" {
		return nil, "", nil
	}
	if arg == "" {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		heads, err := witness.Journal(ctx, id)
		if err != nil {
			return nil, "", errorf("read the chain's witness from the journal: %v", err).
				hint("pass the last head line with --witness LINE|FILE, or --witness none to skip the witness")
		}
		return heads, "the system journal", nil
	}
	c := witness.NewCollector(id)
	source := "--witness"
	switch st, err := os.Stat(arg); {
	case arg == "-":
		source = "--witness - (stdin)"
		if err := c.Read(e.stdin); err != nil {
			return nil, "", errorf("%v", err)
		}
	case err == nil && !st.IsDir():
		source = fmt.Sprintf("--witness %s", arg)
		f, err := os.Open(arg)
		if err != nil {
			return nil, "", errorf("%v", err)
		}
		defer f.Close()
		if err := c.Read(f); err != nil {
			return nil, "", errorf("%v", err)
		}
	case err != nil && !errors.Is(err, fs.ErrNotExist) && !strings.Contains(arg, "chain head"):
		return nil, "", errorf("--witness %s: %v", arg, err)
	default:
		if _, err := witness.Parse(arg); err != nil {
			return nil, "", errorf("--witness: %v", err).
				hint("pass a line such as \"journalctl -t aim-mcp -o cat | tail -1\" prints, a file of such lines, or - to read them from stdin")
		}
		c.Add(arg)
	}
	heads := c.Heads()
	switch {
	case c.Lines == 0:
		return nil, "", errorf("%s holds no chain head line", source).
			hint("a head line reads \"aim-mcp chain head home=... seq=N hash=... keys=...\"; \"journalctl -t aim-mcp -o cat\" prints them")
	case len(heads) == 0:
		return nil, "", errorf("%s holds heads of other homes only (%s)", source, plural(c.Others, "line")).
			hint("this home's lines say home=%s; pass --home for the home the line is about", id)
	}
	return heads, source, nil
}

// checkWitness compares the chain with what was witnessed. It returns
// the line that says so when it matches ("" when nothing was witnessed),
// and fails naming every difference when not.
func checkWitness(ctx context.Context, e env, db *registry.DB, dir, arg string) (string, error) {
	heads, source, err := witnessHeads(ctx, e, db, arg)
	if err != nil || len(heads) == 0 {
		return "", err
	}
	problems, err := db.CheckWitness(ctx, heads)
	if err != nil {
		return "", err
	}
	if len(problems) == 0 {
		return fmt.Sprintf("witnessed head matches: record %d, hash %.16s… (%s)", heads[0].Seq, heads[0].Hash, source), nil
	}
	for _, p := range problems[1:] {
		fmt.Fprintf(e.stderr, "aim-mcp: error: audit trail does not match its witness: %s\n", p.Reason)
	}
	p := problems[0]
	ce := errorf("audit trail does not match its witness (%s): %s", source, p.Reason)
	switch p.Kind {
	case registry.WitnessMissingTail:
		ce.hint("the chain verifies on its own only because its newest records were removed; restore %q from a backup, and treat what the servers did since as unrecorded", home.DB(dir))
	default:
		ce.hint("the chain verifies on its own only because whoever changed it signed it again; restore %q from a backup and rotate the servers' keys (aim-mcp keys rotate SERVER): their key files may be known", home.DB(dir))
	}
	return "", ce
}
