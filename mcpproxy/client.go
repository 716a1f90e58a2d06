package mcpproxy

import (
	"bytes"
	"encoding/json"
	"errors"
	"time"

	"github.com/opena2a-org/aim-mcp/audit"
	"github.com/opena2a-org/aim-mcp/internal/canon"
	"github.com/opena2a-org/aim-mcp/registry"
)

// fromClient routes one client line.
func (p *Proxy) fromClient(line []byte, owned bool) {
	body := trimLine(line)
	if innerBreak(line) {
		m, _ := scanMessage(body) // for the id, when there is one
		p.refuse(body, m, errLineBreak)
		return
	}
	if len(body) == 0 {
		p.toServer.write(line)
		return
	}
	switch body[0] {
	case '{':
		p.clientMessage(line, body, owned)
	case '[':
		p.clientBatch(line, body)
	default:
		p.toServer.write(line)
	}
}

func (p *Proxy) clientMessage(line, body []byte, owned bool) {
	m, err := scanMessage(body)
	if err != nil {
		p.clientUnreadable(line, body, m, err)
		return
	}
	if !m.hasMethod {
		if m.hasID && p.answerAsk(m) {
			return
		}
		p.toServer.write(line)
		return
	}
	method, _ := decodeString(m.method)
	switch method {
	case "tools/call":
		if !m.hasID {
			// A notification cannot be answered or audited; servers
			// ignore it, but nothing unchecked may reach them.
			p.rec.record(registry.Event{Kind: registry.KindBypass, Decision: string(audit.Dropped),
				Data: map[string]any{"reason": "tools/call without an id", "size": len(body)}})
			return
		}
		p.intercept(line, body, m, owned)
		return
	case "notifications/cancelled":
		if p.cancelHeld(m.params) {
			return
		}
	case "initialize", "server/discover", "tools/list":
		if m.hasID {
			f := &inflight{method: method, start: time.Now()}
			if method != "tools/list" {
				f.params = bytes.Clone(m.params)
			}
			p.track(idKey(m.id), f)
		}
	default:
		if m.hasID && scannedAnswers[method] {
			p.track(idKey(m.id), &inflight{method: method, start: time.Now()})
		}
	}
	p.toServer.write(line)
}

// clientUnreadable handles a client line the scanner refused. A line that
// may be a tools/call is refused: it is ambiguous, or it spells tools/call,
// or it has escapes that could spell it ("tools\/call"). Any other line goes
// on as it came.
func (p *Proxy) clientUnreadable(line, body []byte, m message, err error) {
	if errors.Is(err, errAmbiguous) || errors.Is(err, errTooDeep) || bytes.Contains(body, []byte("tools/call")) || bytes.IndexByte(body, '\\') >= 0 {
		p.refuse(body, m, err)
		return
	}
	p.toServer.write(line)
}

// refuse answers a line that is not forwarded, because the server might read
// it as a call that was never checked.
func (p *Proxy) refuse(body []byte, m message, err error) {
	id := json.RawMessage("null")
	if m.hasID {
		id = m.id
	}
	p.rec.record(registry.Event{Kind: registry.KindBypass, Decision: string(audit.Refused), RequestID: jsonOrNil(m.id),
		Data: map[string]any{"reason": err.Error(), "size": len(body), "digest": canon.Sum(body)}})
	p.toClient.write(rpcError(id, -32600, "aim-mcp: refused an ambiguous or malformed request: "+err.Error()))
}

// clientBatch checks each element of a JSON-RPC batch. A batch that holds no
// tools/call passes as it came; otherwise each element goes its own way, as
// if it had arrived alone, so every call is checked. Batches were dropped
// from MCP in 2025-06-18 and no known client sends them.
func (p *Proxy) clientBatch(line, body []byte) {
	var elems []json.RawMessage
	if err := json.Unmarshal(body, &elems); err != nil {
		p.clientUnreadable(line, body, message{}, err)
		return
	}
	hasCall := false
	for _, e := range elems {
		m, err := scanMessage(e)
		if err != nil {
			// The whole batch goes as it came, or is refused.
			p.clientUnreadable(line, body, m, err)
			return
		}
		if method, _ := decodeString(m.method); method == "tools/call" || method == "notifications/cancelled" {
			hasCall = true
		}
	}
	if !hasCall {
		p.toServer.write(line)
		return
	}
	for _, e := range elems {
		line := append(bytes.Clone(e), '\n')
		p.clientMessage(line, line[:len(e)], true)
	}
}

func (p *Proxy) track(k string, f *inflight) {
	p.mu.Lock()
	if _, ok := p.inflight[k]; !ok {
		p.nTracked.Add(1)
	}
	p.inflight[k] = f
	p.mu.Unlock()
}

// untrack takes the request named k out of the ones awaiting an answer,
// and returns it when it was there.
func (p *Proxy) untrack(k string) (*inflight, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f, ok := p.inflight[k]
	if ok {
		delete(p.inflight, k)
		p.nTracked.Add(-1)
	}
	return f, ok
}

// cancelHeld drops a held call named by a notifications/cancelled. It
// reports whether the notification was consumed.
func (p *Proxy) cancelHeld(params []byte) bool {
	pm, err := members(params)
	if err != nil {
		return false
	}
	id, ok := pm["requestId"]
	if !ok {
		return false
	}
	k := idKey(id)
	p.mu.Lock()
	defer p.mu.Unlock()
	h, ok := p.held[k]
	if !ok {
		return false
	}
	h.cancelled = true
	h.cancel()
	return true
}
