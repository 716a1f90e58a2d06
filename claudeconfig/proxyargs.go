package claudeconfig

import "strings"

// What the arguments of an entry that runs "aim-mcp proxy" say: which
// server of which client it wraps, and where that server is.

// ProxySpec is what a wrapped entry's arguments tell aim-mcp proxy.
type ProxySpec struct {
	Exe    string // absolute path of aim-mcp, the entry's command
	Client string // --client; empty (or "claude-desktop", the default) is not written
	Server string // --server; Wrap uses the entry's name when empty
	Home   string // --home; not written when empty

	// Of a rewritten remote entry: --url, --transport, and --entry, the id
	// under which its original bytes are kept (see [SavedEntry]).
	URL, Transport, Entry string
}

// isProxy reports whether command runs aim-mcp, whichever OS wrote it.
func isProxy(command string) bool {
	base := command[strings.LastIndexAny(command, `/\`)+1:]
	return base == "aim-mcp" || strings.EqualFold(base, "aim-mcp.exe")
}

// proxiesURL reports whether proxy flags name a remote server (--url).
func proxiesURL(flags []string) bool {
	for _, a := range flags {
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") && name == "url" {
			return true
		}
	}
	return false
}

// parseProxyArgs reads the flags of "aim-mcp proxy" and returns them with
// the index of the "--" that ends them (len(args) when there is none). Like
// the flag package, a value flag takes the next argument whatever it is, so a
// server named "--" does not end the flags. Unknown flags are skipped.
func parseProxyArgs(exe string, args []string) (spec ProxySpec, sep int) {
	spec.Exe = exe
	for i := 1; i < len(args); i++ {
		if args[i] == "--" {
			return spec, i
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(args[i], "-"), "=")
		var dst *string
		switch name {
		case "client":
			dst = &spec.Client
		case "server":
			dst = &spec.Server
		case "home":
			dst = &spec.Home
		case "url":
			dst = &spec.URL
		case "transport":
			dst = &spec.Transport
		case "entry":
			dst = &spec.Entry
		default:
			continue
		}
		if !hasVal && i+1 < len(args) {
			i++
			val = args[i]
		}
		*dst = val
	}
	return spec, len(args)
}
