package mcpproxy

import (
	"bytes"
	"encoding/json"

	"github.com/opena2a-org/aim-mcp/audit"
	"github.com/opena2a-org/aim-mcp/internal/canon"
	"github.com/opena2a-org/aim-mcp/registry"
)

// splitServerLine handles a server line with a raw carriage return inside:
// each part goes on as a line of its own, observed like any other. A client
// whose reader splits on '\r' (Python's, Node's readline) would read those
// parts anyway; this way every client reads them, and the proxy has looked
// at each one (a tools/list answer hidden after a '\r' is still pinned).
func (p *Proxy) splitServerLine(line []byte) {
	parts := bytes.FieldsFunc(line, func(r rune) bool { return r == '\r' || r == '\n' })
	p.rec.record(registry.Event{Kind: registry.KindBypass, Decision: string(audit.Split), Data: map[string]any{
		"reason": errLineBreak.Error(), "direction": "server", "parts": len(parts),
		"size": len(line), "digest": canon.Sum(line)}})
	for _, part := range parts {
		own := make([]byte, len(part)+1)
		copy(own, part)
		own[len(part)] = '\n'
		p.fromServer(own, true)
	}
}

// serverTooDeep refuses a server line nested deeper than the proxy reads:
// it is not forwarded, since what the proxy cannot read it cannot pin or
// record. The request it answers gets an error instead.
func (p *Proxy) serverTooDeep(body []byte, m message) {
	p.rec.record(registry.Event{Kind: registry.KindBypass, Decision: string(audit.Refused), RequestID: jsonOrNil(m.id),
		Data: map[string]any{"reason": errTooDeep.Error(), "direction": "server",
			"size": len(body), "digest": canon.Sum(body)}})
	if !m.hasID {
		return
	}
	f, ok := p.untrack(idKey(m.id))
	if !ok {
		return // not a request the proxy tracks: nothing waits for it here
	}
	const msg = "aim-mcp: refused the server's answer: "
	p.toClient.write(rpcError(json.RawMessage(bytes.Clone(m.id)), -32603, msg+errTooDeep.Error()))
	if f.call != nil {
		p.recordOutcome(f.call, Outcome{Status: audit.RPCError, Size: len(body), Digest: canon.Sum(body),
			ErrorCode: -32603, ErrorText: msg + errTooDeep.Error()})
	}
}
