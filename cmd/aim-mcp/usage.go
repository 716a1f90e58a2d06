package main

import (
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/opena2a-org/aim-mcp/claudeconfig"
	"github.com/opena2a-org/aim-mcp/discovery"
)

// The usage texts that name the MCP clients build those names from
// discovery, so a client added there is in every command's help.

// usageWidth is the width the usage texts are filled to.
const usageWidth = 76

// usageClients lists the known clients, the default one first (it is
// the one a config belongs to when nothing says otherwise), then by name.
func usageClients() []discovery.Client {
	cs := discovery.Clients()
	slices.SortStableFunc(cs, func(a, b discovery.Client) int {
		return rankDefault(a) - rankDefault(b)
	})
	return cs
}

func rankDefault(c discovery.Client) int {
	if c.Name == claudeconfig.DefaultClient {
		return 0
	}
	return 1
}

// clientNames is "claude-desktop, claude-code, ...": the --client values.
func clientNames() string {
	var names []string
	for _, c := range usageClients() {
		names = append(names, c.Name)
	}
	return strings.Join(names, ", ")
}

// clientDisplays is "Claude Desktop, Claude Code, ...".
func clientDisplays() string {
	var names []string
	for _, c := range usageClients() {
		names = append(names, c.Display)
	}
	return strings.Join(names, ", ")
}

// defaultDisplay is the display name of the default client.
func defaultDisplay() string {
	c, err := discovery.Lookup(claudeconfig.DefaultClient)
	if err != nil {
		return claudeconfig.DefaultClient
	}
	return c.Display
}

// projectFiles is ".mcp.json, .cursor/mcp.json or .vscode/mcp.json": the
// files a project directory may hold, one client after another.
func projectFiles() string {
	var rels []string
	for _, c := range usageClients() {
		for _, pf := range c.Projects {
			rels = append(rels, pf.Rel)
		}
	}
	return orList(rels)
}

// orList joins "a, b or c".
func orList(items []string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}

// clientFlag is the --client entry of a flags list: lead, the client
// names, "or all", then tail.
func clientFlag(lead, tail string) string {
	return wrapText("  --client NAME  ", lead+" "+clientNames()+", or all "+tail)
}

// wrapText fills text into lines of at most usageWidth columns, the first
// starting with prefix and the others indented to its width.
func wrapText(prefix, text string) string {
	var b strings.Builder
	indent := strings.Repeat(" ", len(prefix))
	line := prefix
	empty := true
	for _, w := range strings.Fields(text) {
		if !empty && utf8.RuneCountInString(line)+1+utf8.RuneCountInString(w) > usageWidth {
			b.WriteString(line + "\n")
			line, empty = indent, true
		}
		if !empty {
			line += " "
		}
		line += w
		empty = false
	}
	b.WriteString(line + "\n")
	return b.String()
}
