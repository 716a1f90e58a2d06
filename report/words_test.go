package report

import (
	"context"
	"strings"
	"testing"

	"github.com/opena2a-org/aim-mcp/audit"
	"github.com/opena2a-org/aim-mcp/registry"
)

// Counts read right in the singular and the plural.
func TestCounts(t *testing.T) {
	one := &Report{Chain: Chain{Intact: true, Records: 1, Servers: 1}, Servers: []Server{{Name: "fs"}},
		Summary: Summary{Calls: 1, Approvals: 1, BypassAttempts: 1, DriftEvents: 1, Refused: 1}}
	f := facts{r: one}
	identities, _ := f.identities()
	alerts, _ := f.alerts()
	for _, s := range []string{f.chain(), identities, f.decisions(), f.approvals(), alerts} {
		for _, wrong := range []string{"1 records", "1 MCP servers", "1 tool calls", "1 approval requests", "1 bypass attempts", "1 drift events", "1 calls"} {
			if strings.Contains(s, wrong) {
				t.Errorf("%q says %q", s, wrong)
			}
		}
	}
	if !strings.Contains(f.chain(), "1 record hash-linked") || !strings.Contains(identities, "1 MCP server,") ||
		!strings.Contains(alerts, "1 bypass attempt (") || !strings.Contains(alerts, "1 call refused") {
		t.Errorf("singulars: %q / %q / %q", f.chain(), identities, alerts)
	}
	two := facts{r: &Report{Chain: Chain{Intact: true, Records: 2}, Summary: Summary{Calls: 2, DriftEvents: 0}}}
	alerts2, _ := two.alerts()
	if !strings.Contains(two.chain(), "2 records") || !strings.Contains(two.decisions(), "2 tool calls") || !strings.Contains(alerts2, "0 drift events") {
		t.Errorf("plurals: %q / %q / %q", two.chain(), two.decisions(), alerts2)
	}
}

// A call the client gave up on before it was decided is counted as
// cancelled, not refused: nobody refused it.
func TestCancelledNotRefused(t *testing.T) {
	f := seed(t)
	before := build(t, f, "soc2")
	ctx := context.Background()
	key, err := f.db.Key(f.fs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.Append(ctx, key, registry.Event{Time: at(12, 0), Kind: registry.KindDenied, Tool: "write_file",
		Decision: string(audit.Cancelled), ServerID: f.fs.ID, Server: f.fs.Name, Client: f.fs.Client}); err != nil {
		t.Fatal(err)
	}
	after := build(t, f, "soc2")
	if after.Summary.Cancelled != before.Summary.Cancelled+1 || after.Summary.Refused != before.Summary.Refused {
		t.Errorf("summary: cancelled %d → %d, refused %d → %d; want cancelled +1, refused unchanged",
			before.Summary.Cancelled, after.Summary.Cancelled, before.Summary.Refused, after.Summary.Refused)
	}
	for i, s := range after.Servers {
		if s.Refused != before.Servers[i].Refused {
			t.Errorf("server %s: refused %d → %d", s.Name, before.Servers[i].Refused, s.Refused)
		}
	}
	calls := callsOf(t, after)
	last := calls[len(calls)-1]
	if last.Outcome != "cancelled by the client" {
		t.Errorf("the cancelled call's outcome: %q", last.Outcome)
	}
}
