// Command scalegen makes the inputs of scripts/bench-scale.sh: a client
// config with many servers (and, like Claude Code's ~/.claude.json, many
// megabytes of other data around them), and an audit trail of many records.
//
//	scalegen config --servers 10000 [--pad-mib 40] > config.json
//	scalegen records --home DIR --n 1000000
//	scalegen echo                                  # an MCP echo server on stdio
//	scalegen message --mib 64 -- CMD...            # one big echo through CMD: ms, peak KiB
//	scalegen start -- CMD1... ::: CMD2...          # each one's start to forwarding: ms
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/opena2a-org/aim-mcp/registry"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: scalegen config|records|echo|message|start [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "config":
		err = config(os.Args[2:])
	case "records":
		err = records(os.Args[2:])
	case "echo":
		err = echo()
	case "message":
		err = message(os.Args[2:])
	case "start":
		err = start(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "scalegen:", err)
		os.Exit(1)
	}
}

// config writes a pretty-printed config of n stdio servers, with padMiB of
// project history before them, as Claude Code keeps it.
func config(args []string) error {
	fs := flag.NewFlagSet("config", flag.ExitOnError)
	n := fs.Int("servers", 100, "servers")
	pad := fs.Int("pad-mib", 0, "MiB of project history around the servers")
	fs.Parse(args)
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	w.WriteString("{\n  \"numStartups\": 42,\n  \"projects\": {")
	entry := `{"display": "please refactor the module and explain each change in detail, with tests", "pastedContents": {}}`
	written, p := 0, 0
	for written < *pad<<20 {
		if p > 0 {
			w.WriteByte(',')
		}
		fmt.Fprintf(w, "\n    \"/home/u/src/p%d\": {\n      \"history\": [", p)
		for i := range 200 {
			if i > 0 {
				w.WriteString(",")
			}
			w.WriteString("\n        ")
			w.WriteString(entry)
		}
		w.WriteString("\n      ],\n      \"mcpServers\": {}\n    }")
		written += 200 * (len(entry) + 10)
		p++
	}
	w.WriteString("\n  },\n  \"mcpServers\": {")
	for i := range *n {
		if i > 0 {
			w.WriteByte(',')
		}
		fmt.Fprintf(w, "\n    \"srv%d\": {\n      \"command\": \"npx\",\n      \"args\": [\n        \"-y\",\n        \"@modelcontextprotocol/server-everything\",\n        \"stdio\"\n      ],\n      \"env\": {\n        \"K\": \"v\"\n      }\n    }", i)
	}
	w.WriteString("\n  }\n}\n")
	return nil
}

// records appends n call and outcome records of one server to the home's
// chain, signed as the proxy signs them: the last record of each batch its
// mover commits. -batch 1 (the default) is a laptop used by hand, where each
// record is moved on its own and so signed; a proxy under load moves dozens
// a batch.
func records(args []string) error {
	fs := flag.NewFlagSet("records", flag.ExitOnError)
	home := fs.String("home", "", "aim-mcp home")
	n := fs.Int("n", 1000, "records")
	per := fs.Int("batch", 1, "records per batch (one signature each)")
	fs.Parse(args)
	if *per < 1 {
		return fmt.Errorf("-batch %d: want 1 or more", *per)
	}
	ctx := context.Background()
	db, err := registry.Open(ctx, filepath.Join(*home, "aim.db"), registry.Options{})
	if err != nil {
		return err
	}
	defer db.Close()
	s, _, err := db.Register(ctx, registry.Registration{Client: "claude-desktop", Name: "everything", Command: "npx", Args: []string{"-y", "@modelcontextprotocol/server-everything", "stdio"}})
	if err != nil {
		return err
	}
	key, err := db.Key(s)
	if err != nil {
		return err
	}
	text := strings.Repeat("hello ", 8)
	for done := 0; done < *n; {
		batch := make([]registry.Event, 0, 1000)
		for i := 0; i < 1000 && done+len(batch) < *n; i++ {
			k := done + len(batch)
			if k%2 == 0 {
				batch = append(batch, registry.Event{ServerID: s.ID, Server: s.Name, Client: s.Client, Kind: registry.KindCall,
					Tool: "echo", Decision: "allow", RequestID: []byte(fmt.Sprint(k)), Data: map[string]any{"args": map[string]string{"message": text}}})
			} else {
				batch = append(batch, registry.Event{ServerID: s.ID, Server: s.Name, Client: s.Client, Kind: registry.KindOutcome,
					Tool: "echo", Decision: "success", RequestID: []byte(fmt.Sprint(k - 1)), Data: map[string]any{"duration_ms": 1}})
			}
		}
		for b := batch; len(b) > 0; b = b[min(*per, len(b)):] {
			if _, err := db.AppendAll(ctx, key, b[:min(*per, len(b))]); err != nil {
				return err
			}
		}
		done += len(batch)
	}
	return nil
}
