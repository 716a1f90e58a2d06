package main

import (
	"bytes"
	"context"
	"flag"
	"regexp"
	"testing"
)

// Every flag a command parses is listed, with what it does, in the Flags
// section of the usage text its -h prints, spelled as a person types it:
// a flag added without a word in the help fails here. The flag sets are
// the commands' own (see commandFlagSets).
func TestEveryFlagInUsage(t *testing.T) {
	ctx := context.Background()
	for _, c := range commands() {
		if c.run == nil {
			continue
		}
		sets := commandFlagSets(ctx, c)
		if len(sets) == 0 {
			t.Errorf("%s: built no flag set", c.name)
		}
		for sub, fs := range sets {
			var usage bytes.Buffer
			fs.SetOutput(&usage)
			fs.Usage()
			_, list, ok := bytes.Cut(usage.Bytes(), []byte("\nFlags:\n"))
			fs.VisitAll(func(f *flag.Flag) {
				if !ok && !hiddenFlag(f) {
					t.Errorf("aim-mcp %s %s -h: no Flags section for %s", c.name, sub, dashed(f.Name))
					return
				}
				// Listed: the first thing on a line of the list, or after
				// another spelling of the same flag ("-o FILE, --output FILE").
				listed := regexp.MustCompile(`(?m)^ +(-\S+( \S+)?, )?` + regexp.QuoteMeta(dashed(f.Name)) + `($|[ =])`)
				named := regexp.MustCompile(`(^|[^\w-])` + regexp.QuoteMeta(dashed(f.Name)) + `($|[^\w-])`)
				switch {
				case hiddenFlag(f) && named.Match(usage.Bytes()):
					t.Errorf("aim-mcp %s %s -h: names the hidden flag %s", c.name, sub, dashed(f.Name))
				case !hiddenFlag(f) && !listed.Match(list):
					t.Errorf("aim-mcp %s %s -h: does not list %s under Flags", c.name, sub, dashed(f.Name))
				}
			})
		}
	}
}

// The commands that take subcommands build a flag set for each (the
// completion scripts and the test above read them).
func TestSubcommandFlagSets(t *testing.T) {
	for _, c := range commands() {
		sets := commandFlagSets(context.Background(), c)
		for _, sub := range c.subs {
			if sets[sub] == nil {
				t.Errorf("aim-mcp %s %s: no flag set", c.name, sub)
			}
		}
	}
}

func TestNearest(t *testing.T) {
	names := commandNames()
	for word, want := range map[string]string{
		"instal": "install", "isntall": "install", "lgos": "logs", "verison": "version",
		"dash": "dashboard", "polcy": "policy", "xyzzy": "", "ls": "", "": "",
	} {
		if got := nearest(word, names); got != want {
			t.Errorf("nearest(%q) = %q, want %q", word, got, want)
		}
	}
}
