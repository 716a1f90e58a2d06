package pins

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/opena2a-org/aim-mcp/poison"
	"github.com/opena2a-org/aim-mcp/registry"
)

// Verdict is the scanner's verdict on one pinned definition, as the proxy
// reaches it: the definition alone, with no other server's tools, so that
// what install says of a tool is what every session will do with it.
func Verdict(s *poison.Scanner, d registry.ToolDef) []poison.Finding {
	return s.Tool("", d.Definition, nil)
}

// ToolFinding is what the scanner says of one of a server's tools.
type ToolFinding struct {
	Tool string `json:"tool"`
	poison.Finding
}

// ScanListed scans each tool of a server as last listed (a removed tool
// has nothing listed), with Verdict: what list and the dashboard show is
// what the proxy decides on. It returns the findings, hard and soft, and
// how many tools were read.
func ScanListed(ctx context.Context, db *registry.DB, serverID string, s *poison.Scanner) ([]ToolFinding, int, error) {
	ts, err := db.Tools(ctx, serverID)
	if err != nil {
		return nil, 0, err
	}
	out := []ToolFinding{}
	n := 0
	for _, t := range ts {
		if len(t.Definition) == 0 {
			continue
		}
		n++
		for _, f := range Verdict(s, registry.ToolDef{Name: t.Name, Definition: t.Definition}) {
			out = append(out, ToolFinding{Tool: t.Name, Finding: f})
		}
	}
	return out, n, nil
}

// Held is a tool that a scan quarantined, with its hard findings.
type Held struct {
	Tool     string
	Findings []poison.Finding
}

// QuarantineScanned takes the tools/list result of a scan made outside any
// session (install starts each server it wraps once, to say what it
// tells the model) and quarantines the tools with a hard finding before the
// client ever starts the server, so a person can review them with "aim-mcp
// pins diff" and release them with "aim-mcp pins accept" at once. Each
// quarantine is recorded in the audit chain, signed with the server's key,
// as the proxy records one. Nothing is written when a session has listed
// the server's tools already: those pins are the session's. The held tools
// are returned either way, with their findings.
func QuarantineScanned(ctx context.Context, db *registry.DB, srv registry.Server, s *poison.Scanner, result json.RawMessage, now time.Time) ([]Held, error) {
	page, ok := ParseList(result)
	if !ok {
		return nil, nil
	}
	var held []Held
	for i := range page.Tools {
		d := &page.Tools[i]
		var hard []poison.Finding
		for _, f := range Verdict(s, *d) {
			if f.Severity == poison.Hard {
				hard = append(hard, f)
			}
		}
		if len(hard) > 0 {
			d.Hold = true
			held = append(held, Held{Tool: d.Name, Findings: hard})
		}
	}
	if len(held) == 0 {
		return nil, nil
	}
	changes, err := db.QuarantineScanned(ctx, srv.ID, page.Tools, now)
	if err != nil || len(changes) == 0 {
		return held, err
	}
	key, err := db.Key(srv)
	if err != nil {
		return held, fmt.Errorf("the key of server %q cannot be loaded, so the quarantine is not in the audit trail: %w", srv.Name, err)
	}
	byTool := map[string][]poison.Finding{}
	for _, h := range held {
		byTool[h.Tool] = h.Findings
	}
	for _, c := range changes {
		data := map[string]any{"change": c.Change, "state": c.Tool.State, "hash": c.Tool.Hash,
			"current": c.Tool.Definition, "findings": byTool[c.Tool.Name], "scanned_by": "install"}
		if _, err := db.Append(ctx, key, registry.Event{Time: now, ServerID: srv.ID, Server: srv.Name, Client: srv.Client,
			Kind: registry.KindDrift, Tool: c.Tool.Name, Decision: c.Change, Data: data}); err != nil {
			return held, err
		}
	}
	return held, nil
}

// Tally is what ScanListed finds in one server's tools, counted: how many
// tools were read and how many hard and soft findings they have.
type Tally struct {
	Tools, Hard, Soft int
}

// TallyListed counts what ScanListed would find in the tools of every
// server, by server id (a server none of whose tools was ever listed is
// absent), in one read of the tools: listing ten thousand servers must not
// cost ten thousand queries.
func TallyListed(ctx context.Context, db *registry.DB, s *poison.Scanner) (map[string]Tally, error) {
	out := map[string]Tally{}
	err := db.EachTool(ctx, func(t registry.Tool) error {
		if len(t.Definition) == 0 {
			return nil
		}
		c := out[t.ServerID]
		c.Tools++
		for _, f := range Verdict(s, registry.ToolDef{Name: t.Name, Definition: t.Definition}) {
			if f.Severity == poison.Hard {
				c.Hard++
			} else {
				c.Soft++
			}
		}
		out[t.ServerID] = c
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
