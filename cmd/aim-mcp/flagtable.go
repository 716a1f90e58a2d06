package main

import (
	"context"
	"flag"
	"io"
	"slices"
	"strings"
)

// commandFlagSets runs c in describe mode, bare and with each of its
// subcommands, and returns the flag sets it builds, keyed by subcommand
// ("" for the bare command). They are the flag sets the command parses,
// so help tests and completion scripts cannot drift from them.
func commandFlagSets(ctx context.Context, c command) map[string]*flag.FlagSet {
	sets := map[string]*flag.FlagSet{}
	if c.run == nil {
		return sets
	}
	for _, sub := range append([]string{""}, c.subs...) {
		var args []string
		if sub != "" {
			args = []string{sub}
		}
		e := env{stdin: eofReader{}, stdout: io.Discard, stderr: io.Discard,
			describe: func(fs *flag.FlagSet) { sets[sub] = fs }}
		c.run(ctx, e, args) // stops at its flag set, as for -h
	}
	return sets
}

// flagSpec is one flag a person may type.
type flagSpec struct {
	name  string // without dashes
	value bool   // takes a value (not a bool flag)
}

// commandFlags is the union of c's visible flags over its subcommands, by name.
func commandFlags(ctx context.Context, c command) []flagSpec {
	seen := map[string]flagSpec{}
	for _, fs := range commandFlagSets(ctx, c) {
		fs.VisitAll(func(f *flag.Flag) {
			if hiddenFlag(f) {
				return
			}
			b, isBool := f.Value.(interface{ IsBoolFlag() bool })
			seen[f.Name] = flagSpec{name: f.Name, value: !isBool || !b.IsBoolFlag()}
		})
	}
	var out []flagSpec
	for _, f := range seen {
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b flagSpec) int { return strings.Compare(a.name, b.name) })
	return out
}

// eofReader is an empty stdin for describe mode.
type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }
