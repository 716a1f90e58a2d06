package dashboard

import (
	"context"

	"github.com/opena2a-org/aim-mcp/pins"
	"github.com/opena2a-org/aim-mcp/poison"
	"github.com/opena2a-org/aim-mcp/registry"
)

// toolFinding is what the scanner says of one of a server's tools.
type toolFinding struct {
	Tool string `json:"tool"`
	poison.Finding
}

// scanTools scans each tool of srv as last listed, as the proxy does, and
// returns the findings (hard and soft) and how many tools were read. The
// page asks for one server at a time, when a person opens it, so the scan
// runs then rather than for every server on every redraw.
func (s *Server) scanTools(ctx context.Context, srv registry.Server) ([]toolFinding, int, error) {
	ts, err := s.opt.DB.Tools(ctx, srv.ID)
	if err != nil {
		return nil, 0, err
	}
	sc := poison.New(nil)
	out := []toolFinding{}
	n := 0
	for _, t := range ts {
		if len(t.Definition) == 0 {
			continue // removed: nothing is listed any more
		}
		n++
		for _, f := range pins.Verdict(sc, registry.ToolDef{Name: t.Name, Definition: t.Definition}) {
			out = append(out, toolFinding{Tool: t.Name, Finding: f})
		}
	}
	return out, n, nil
}
