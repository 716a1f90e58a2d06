// Package pins pins each MCP server's tools and reports drift: a "rug pull",
// where a server that was trusted with one tool definition quietly serves
// another.
//
// A tool's pin is the digest of the canonical JSON of its name,
// description, input schema and output schema; key order and whitespace do
// not matter, and annotations (hints that servers rewrite freely) are left
// out. The first tools/list answer a server gives pins every tool in it.
// After that, a changed description or schema, a new tool, or a removed one
// is drift: a signed `drift` record in the audit chain, an alert on the
// proxy's stderr, a lower trust score, and calls to the changed or new tool
// need a person's approval (or are denied, or allowed: config drift_action)
// until the change is accepted with `aim-mcp pins accept`.
//
// In a proxy, [Hook] sees both directions: each tools/list answer is
// compared with the pins in the registry ([Hook.ToolsListed]), and each
// tools/call is checked against them before AIM is asked ([Hook.Before]).
// The CLI's pins command shows, diffs ([Diff]) and accepts changes.
package pins

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/opena2a-org/aim-mcp/internal/canon"
	"github.com/opena2a-org/aim-mcp/internal/par"
	"github.com/opena2a-org/aim-mcp/registry"
)

// Fields are the members of a tool that its pin covers.
var Fields = []string{"name", "description", "inputSchema", "outputSchema"}

// Canonical returns a tool's pinned definition: the canonical JSON of the
// members in Fields that it has (a null counts as absent), its digest, and
// its annotations, in canonical form too.
func Canonical(tool json.RawMessage) (registry.ToolDef, error) {
	d, _, err := canonical(tool)
	return d, err
}

// canonical is Canonical, and the pinned members decoded: what the pinned
// definition decodes to, for the scanner.
func canonical(tool json.RawMessage) (registry.ToolDef, map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(tool))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return registry.ToolDef{}, nil, fmt.Errorf("tool definition: %w", err)
	}
	if m == nil {
		return registry.ToolDef{}, nil, errors.New("tool definition: not an object")
	}
	name, ok := m["name"].(string)
	if !ok || name == "" {
		return registry.ToolDef{}, nil, errors.New("tool definition: no name")
	}
	def := map[string]any{}
	for _, f := range Fields {
		if v, ok := m[f]; ok && v != nil {
			def[f] = v
		}
	}
	// The canonical text is about as long as the tool's bytes: written
	// into room for them, it is not grown a few times a tool.
	text := canon.AppendValue(make([]byte, 0, len(tool)), def)
	d := registry.ToolDef{Name: name, Definition: text, Hash: canon.Sum(text)}
	if a, ok := m["annotations"]; ok && a != nil {
		d.Annotations = canon.Value(a)
	}
	return d, def, nil
}

// Page is one tools/list answer.
type Page struct {
	Tools      []registry.ToolDef
	NextCursor string // more pages follow
	Skipped    []string
	// Sources are the tools read, by the SHA-256 of their bytes (hex),
	// without their definitions: what a later answer in the same bytes
	// reads as (see registry.DB.KnownSources).
	Sources map[string]registry.ToolDef
	// Known counts the tools known by their source, not decoded.
	Known int
}

// ParseList reads a tools/list result. ok is false when the result has no
// tools array, so that a malformed answer never reads as "every tool was
// removed". Tools without a name or that are not objects are skipped and
// named in Skipped.
func ParseList(result json.RawMessage) (p Page, ok bool) {
	return parseList(result, nil, nil)
}

// parseList is ParseList; judge, when given, is called with each tool's
// pinned definition and that definition decoded, so that the scanner reads
// what was decoded once, while it is at hand (a list's decoded tools are
// never all held at once). A long list is read on every core: judge must be
// safe for concurrent use. A tool whose bytes' SHA-256 is in known is taken
// as known says, neither decoded nor judged: the same bytes read the same,
// and known holds only tools settled as they read (its ToolDefs have no
// Definition).
func parseList(result json.RawMessage, known map[string]registry.ToolDef, judge func(d *registry.ToolDef, v map[string]any)) (p Page, ok bool) {
	var r struct {
		Tools      []json.RawMessage `json:"tools"`
		NextCursor string            `json:"nextCursor"`
	}
	if json.Unmarshal(result, &r) != nil || r.Tools == nil {
		return Page{}, false
	}
	p.NextCursor = r.NextCursor
	defs := make([]registry.ToolDef, len(r.Tools))
	errs := make([]error, len(r.Tools))
	sources := make([]string, len(r.Tools))
	isKnown := func(i int) bool {
		sum := sha256.Sum256(r.Tools[i])
		sources[i] = hex.EncodeToString(sum[:])
		d, ok := known[sources[i]]
		if ok {
			defs[i] = d
		}
		return ok
	}
	one := func(i int) {
		if isKnown(i) {
			return
		}
		d, v, err := canonical(r.Tools[i])
		if err == nil && judge != nil {
			judge(&d, v)
		}
		defs[i], errs[i] = d, err
	}
	if len(r.Tools) >= parallelTools {
		par.Each(len(r.Tools), one)
	} else {
		for i := range r.Tools {
			one(i)
		}
	}
	p.Tools = defs[:0]
	p.Sources = make(map[string]registry.ToolDef, len(defs))
	for i := range defs {
		if errs[i] != nil {
			p.Skipped = append(p.Skipped, fmt.Sprintf("tool %d: %v", i, errs[i]))
			continue
		}
		d := defs[i]
		if d.Definition == nil {
			p.Known++
		}
		p.Tools = append(p.Tools, d)
		d.Definition = nil
		p.Sources[sources[i]] = d
	}
	return p, true
}

// parallelTools is the length from which a list is read on every core: a
// goroutine costs about what a tool does.
const parallelTools = 64

// listDigest sums up a complete answer, in name order, so that the same
// tools in another order or with other annotations sum alike.
func listDigest(defs []registry.ToolDef) string {
	order := make([]int, len(defs))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		if c := strings.Compare(defs[a].Name, defs[b].Name); c != 0 {
			return c
		}
		return strings.Compare(defs[a].Hash, defs[b].Hash)
	})
	h := sha256.New()
	for n, i := range order {
		if n > 0 {
			h.Write([]byte{'\n'})
		}
		io.WriteString(h, defs[i].Name)
		h.Write([]byte{0})
		io.WriteString(h, defs[i].Hash)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Changed names the members of two pinned definitions that differ.
func Changed(before, after json.RawMessage) []string {
	var b, a map[string]json.RawMessage
	json.Unmarshal(before, &b)
	json.Unmarshal(after, &a)
	var out []string
	for _, f := range Fields {
		if !bytes.Equal(b[f], a[f]) {
			out = append(out, f)
		}
	}
	return out
}
