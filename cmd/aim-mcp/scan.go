package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/opena2a-org/aim-mcp/claudeconfig"
	"github.com/opena2a-org/aim-mcp/discovery"
	"github.com/opena2a-org/aim-mcp/internal/home"
	"github.com/opena2a-org/aim-mcp/internal/jsonedit"
	"github.com/opena2a-org/aim-mcp/poison"
	"github.com/opena2a-org/aim-mcp/surface"
)

var scanUsage = `
Usage: aim-mcp scan [SERVER...] [--client NAME|all] [--config PATH]... [--json]
       aim-mcp scan --file FILE [--server NAME] [--peers FILE] [--json]

Scans what MCP servers tell the model for poisoning: instructions hidden in
tool descriptions and parameters, text the person cannot see (terminal
escapes, Unicode tag and bidi characters), directives to read secrets, send
data elsewhere or hide from the user, references to other servers' tools and
look-alike names, "call me first" and "prefix every command", and, in a
captured session, poisoned results, sampling requests and forms that ask for
a password. A hard finding is one no honest server needs; a soft one is
steering that real servers sometimes do.

Without --file, each installed server (all of the clients' configs, or the
SERVERs named) is started as its proxy starts it, with the environment of
this shell, and its instructions, tools, prompts and resources are listed
and scanned; each is checked against the other servers' tools.

With --file, FILE holds MCP JSON-RPC messages one per line as they cross
stdio, in either direction (a captured session); a response is read by the
request with the same id. A server's author can run this in CI.

Flags:
` + clientFlag("only this client's servers:", "(default: every client found)") + `  --config PATH   this config file (repeatable), as for install
  --home DIR      aim-mcp's data directory
  --file FILE     scan a captured session instead of the installed servers
  --server NAME   the name of the server in FILE (default: file)
  --peers FILE    the other servers' tools: a JSON object from server name to
                  its tools/list result
  --timeout DUR   how long a server may take to answer (default 30s)
  --json          print {"findings":[{"server","tool","rule","severity",
                  "where","evidence","why"}]}

Exit status: 0 when nothing hard was found, 1 when something was, 2 for a
usage error or a file that cannot be read.
`

// scanned is one finding of one server, as printed.
type scanned struct {
	Server string `json:"server"`
	poison.Finding
	Line int `json:"line,omitempty"` // of --file
}

func runScan(ctx context.Context, e env, args []string) error {
	fs := flags(e, "scan", scanUsage)
	var cf clientFlags
	cf.register(fs)
	file := fs.String("file", "", "")
	server := fs.String("server", "", "")
	peersFile := fs.String("peers", "", "")
	timeout := fs.Duration("timeout", 30*time.Second, "")
	asJSON := fs.Bool("json", false, "")
	if err := parse(e, fs, args); err != nil {
		return err
	}
	peers, err := readPeers(*peersFile)
	if err != nil {
		return err
	}
	var out []scanned
	var summary []string
	failed := false
	if *file != "" {
		if fs.NArg() > 0 {
			return &usageError{cmd: "scan", msg: "--file scans one captured session; name no SERVER with it"}
		}
		name := *server
		if name == "" {
			name = "file"
		}
		if out, err = scanFile(*file, name, peers); err != nil {
			return err
		}
	} else {
		if *server != "" {
			return &usageError{cmd: "scan", msg: "--server names the server of --file; name installed servers as arguments"}
		}
		if _, err := home.Resolve(cf.home); err != nil {
			return err
		}
		var cfgs []*discovery.Config
		if cfgs, failed, err = loadConfigs(e, "scan", cf.client, cf.configs); err != nil {
			return err
		}
		out, summary, err = scanInstalled(ctx, e, cfgs, fs.Args(), peers, *timeout)
		if err != nil {
			return err
		}
	}
	if *asJSON {
		if out == nil {
			out = []scanned{}
		}
		b, _ := json.MarshalIndent(map[string]any{"findings": out}, "", "  ")
		fmt.Fprintf(e.stdout, "%s\n", b)
	} else {
		printScan(e.stdout, out, summary)
	}
	for _, f := range out {
		if f.Severity == poison.Hard {
			return errSilent
		}
	}
	if failed { // a config could not be read, and was reported
		return errSilent
	}
	return nil
}

// readPeers reads --peers: server name → tools/list result.
func readPeers(path string) (map[string][]string, error) {
	peers := map[string][]string{}
	if path == "" {
		return peers, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &cliError{msg: fmt.Sprintf("--peers: %v", err), code: 2}
	}
	var m map[string]struct {
		Tools []struct {
			Name string `json:"name"`
		} `json:"tools"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, &cliError{msg: fmt.Sprintf("--peers %q is not a JSON object of tools/list results: %v", path, err), code: 2,
			hints: []string{`write {"server-name": {"tools": [{"name": "send_email", ...}]}, ...}`}}
	}
	for srv, r := range m {
		for _, t := range r.Tools {
			peers[srv] = append(peers[srv], t.Name)
		}
	}
	return peers, nil
}

// scanFile scans a captured session, one JSON-RPC message per line.
func scanFile(path, server string, peers map[string][]string) ([]scanned, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &cliError{msg: fmt.Sprintf("--file: %v", err), code: 2}
	}
	defer f.Close()
	delete(peers, server)
	s := poison.New(&poison.Options{Peers: peers})
	methods := map[string]string{} // request id → method
	var out []scanned
	r := bufio.NewReader(f)
	for n := 1; ; n++ {
		line, err := r.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			fs, perr := scanMessage(s, methods, bytes.TrimSpace(line))
			if perr != nil {
				return nil, &cliError{msg: fmt.Sprintf("%s line %d is not an MCP JSON-RPC message: %v", path, n, perr), code: 2,
					hints: []string{"--file reads a captured session: one JSON-RPC message per line, as they cross stdio"}}
			}
			for _, x := range fs {
				out = append(out, scanned{Server: server, Finding: x, Line: n})
			}
		}
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, &cliError{msg: fmt.Sprintf("--file: %v", err), code: 2}
		}
	}
}

// scanMessage scans one message of a session. Requests are remembered by
// id so that their responses are read as what they answer.
func scanMessage(s *poison.Scanner, methods map[string]string, line []byte) ([]poison.Finding, error) {
	if line[0] == '[' { // a batch
		var batch []json.RawMessage
		if err := json.Unmarshal(line, &batch); err != nil {
			return nil, err
		}
		var out []poison.Finding
		for _, m := range batch {
			fs, err := scanMessage(s, methods, m)
			if err != nil {
				return nil, err
			}
			out = append(out, fs...)
		}
		return out, nil
	}
	var m struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
		Params json.RawMessage `json:"params"`
		Result json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(line, &m); err != nil {
		return nil, err
	}
	if m.Method == "" && len(m.ID) == 0 {
		return nil, errors.New("no method and no id")
	}
	if m.Method != "" {
		if len(m.ID) > 0 {
			methods[string(m.ID)] = m.Method
		}
		switch m.Method {
		case "sampling/createMessage":
			return s.Sampling(m.Params), nil
		case "elicitation/create":
			return s.Elicitation(m.Params), nil
		}
		return nil, nil
	}
	if len(m.Result) == 0 {
		return nil, nil // an error answer
	}
	switch methods[string(m.ID)] {
	case "initialize":
		var r struct {
			Instructions string `json:"instructions"`
		}
		json.Unmarshal(m.Result, &r)
		if r.Instructions != "" {
			return s.Instructions(r.Instructions), nil
		}
	case "tools/list":
		return s.Tools(m.Result), nil
	case "prompts/list":
		return s.Prompts(m.Result), nil
	case "resources/list", "resources/templates/list":
		return s.Resources(m.Result), nil
	case "tools/call", "prompts/get", "resources/read":
		return s.Content("result", m.Result), nil
	}
	return nil, nil
}

// scanInstalled starts the servers of the configs (or those named), lists
// what each tells the model and scans it against the others' tools.
func scanInstalled(ctx context.Context, e env, cfgs []*discovery.Config, names []string, peers map[string][]string,
	timeout time.Duration) ([]scanned, []string, error) {
	type target struct {
		name string
		argv []string
		env  []string
		surf surface.Surface
		err  error
	}
	var targets []*target
	found := map[string]bool{}
	for _, cfg := range cfgs {
		for _, s := range cfg.Servers() {
			if len(names) > 0 && !slices.Contains(names, s.RegName) && !slices.Contains(names, s.Name) {
				continue
			}
			found[s.RegName], found[s.Name] = true, true
			if s.Skip != "" && !s.Wrapped {
				fmt.Fprintf(e.stderr, "aim-mcp: %s: not scanned: %s\n", s.RegName, s.Skip)
				continue
			}
			argv := append([]string{s.Command}, s.Args...)
			if s.Wrapped {
				argv = s.Original
			}
			targets = append(targets, &target{name: s.RegName, argv: argv, env: serverEnv(cfg, s.Entry)})
		}
	}
	for _, n := range names {
		if !found[n] {
			return nil, nil, errorf("no server named %q in the configs", n).hint("run \"aim-mcp list\" to see the servers")
		}
	}
	for _, t := range targets {
		t.surf, t.err = surface.List(ctx, t.argv, &surface.Options{Env: t.env, Timeout: timeout})
		if t.err == nil {
			var l struct {
				Tools []struct {
					Name string `json:"name"`
				} `json:"tools"`
			}
			json.Unmarshal(t.surf.Tools, &l)
			for _, x := range l.Tools {
				peers[t.name] = append(peers[t.name], x.Name)
			}
		}
	}
	var out []scanned
	var summary []string
	for _, t := range targets {
		if t.err != nil {
			summary = append(summary, fmt.Sprintf("%s: not scanned: %v", t.name, t.err))
			continue
		}
		others := map[string][]string{}
		for k, v := range peers {
			if k != t.name {
				others[k] = v
			}
		}
		s := poison.New(&poison.Options{Peers: others})
		fs := scanSurface(s, t.surf)
		hard, soft := poison.Count(fs)
		for _, f := range fs {
			out = append(out, scanned{Server: t.name, Finding: f})
		}
		verdict := "clean"
		if hard+soft > 0 {
			verdict = fmt.Sprintf("%d hard, %d soft", hard, soft)
		}
		summary = append(summary, fmt.Sprintf("%s: %d tools, %d prompts, %d resources: %s", t.name,
			t.surf.NTools, t.surf.NPrompts, t.surf.NResources, verdict))
	}
	return out, summary, nil
}

// serverEnv is the environment the client gives the server: ours, and the
// entry's env object of the config (read here only, never kept).
func serverEnv(cfg *discovery.Config, e claudeconfig.Entry) []string {
	env := os.Environ()
	root, err := jsonedit.Parse(cfg.File.Bytes(), jsonedit.Options{JSONC: true})
	if err != nil {
		return env
	}
	v := root
	for _, k := range append(slices.Clip(e.Root), e.Name, "env") {
		m := v.Lookup(k)
		if m == nil {
			return env
		}
		v = m.Value
	}
	for _, m := range v.Members {
		if m.Value.Kind == jsonedit.String {
			env = append(env, m.Key+"="+m.Value.Str)
		}
	}
	return env
}

// printScan prints the findings for a person: a summary line per server,
// then each finding with where it is, the evidence and why it matters.
func printScan(w io.Writer, out []scanned, summary []string) {
	for _, s := range summary {
		fmt.Fprintln(w, s)
	}
	if len(out) == 0 {
		if len(summary) == 0 {
			fmt.Fprintln(w, "no findings")
		}
		return
	}
	if len(summary) > 0 {
		fmt.Fprintln(w)
	}
	for _, f := range out {
		who := f.Server
		if f.Tool != "" {
			who += " " + f.Tool
		}
		at := f.Where
		if f.Line > 0 {
			at = fmt.Sprintf("line %d: %s", f.Line, f.Where)
		}
		fmt.Fprintf(w, "%-4s  %s  %s\n      %s\n", f.Severity, who, f.Rule, at)
		if f.Evidence != "" {
			fmt.Fprintf(w, "      %s\n", f.Evidence)
		}
		fmt.Fprintf(w, "      %s\n", strings.TrimSpace(f.Why))
	}
}
