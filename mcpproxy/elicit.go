package mcpproxy

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
)

// ask sends a request of the proxy's own to the client, with an id from a
// space of its own, and waits for the answer, which is not forwarded.
func (p *Proxy) ask(ctx context.Context, method string, params any) (json.RawMessage, error) {
	p.mu.Lock()
	p.askSeq++
	id := "aim-mcp:" + strconv.FormatInt(p.askSeq, 10)
	ch := make(chan json.RawMessage, 1)
	p.asks["s"+id] = ch
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.asks, "s"+id)
		p.mu.Unlock()
	}()
	frame, err := marshalNoEscape(map[string]any{"jsonrpc": "2.0", "id": id, "method": method, "params": params})
	if err != nil {
		return nil, err
	}
	if err := p.toClient.write(append(frame, '\n')); err != nil {
		return nil, err
	}
	select {
	case resp := <-ch:
		return resp, nil
	case <-ctx.Done():
		note, _ := marshalNoEscape(map[string]any{"jsonrpc": "2.0", "method": "notifications/cancelled",
			"params": map[string]any{"requestId": id, "reason": "aim-mcp: no longer needed"}})
		p.toClient.write(append(note, '\n'))
		return nil, ctx.Err()
	}
}

// answerAsk consumes the client's answer to one of the proxy's own requests.
func (p *Proxy) answerAsk(m message) bool {
	if !bytes.HasPrefix(m.id, []byte(`"aim-mcp:`)) {
		return false
	}
	p.mu.Lock()
	ch, ok := p.asks[idKey(m.id)]
	p.mu.Unlock()
	if ok {
		resp, _ := marshalNoEscape(map[string]any{"result": jsonOrNil(m.result), "error": jsonOrNil(m.error)})
		ch <- resp
	}
	return true // ours even when late: the server never sent this id
}

func jsonOrNil(b []byte) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	return bytes.Clone(b)
}
