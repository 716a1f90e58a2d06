package mcpproxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/opena2a-org/aim-mcp/audit"
	"github.com/opena2a-org/aim-mcp/internal/canon"
	"github.com/opena2a-org/aim-mcp/registry"
)

// intercept holds a tools/call and decides it on its own goroutine.
func (p *Proxy) intercept(line, body []byte, m message, owned bool) {
	own := line
	if !owned {
		own = bytes.Clone(line) // the call outlives the reader's buffer
	}
	var params []byte
	if m.params != nil { // a call without params has no span to take
		off := cap(line) - cap(m.params)
		params = own[off : off+len(m.params)]
	}
	c := &Call{ID: bytes.Clone(own[cap(line)-cap(m.id):][:len(m.id)]), Line: own, Args: json.RawMessage("{}")}
	if p.opt.Observer != nil {
		c.Received = time.Now()
	}
	if len(params) > 0 {
		if err := checkKeys(params); err != nil {
			p.refuse(body, m, err)
			return
		}
		pm, err := members(params)
		if err != nil {
			p.refuse(body, m, err)
			return
		}
		for key := range pm {
			if err := foldedKey(key, "name", "arguments", "_meta"); err != nil {
				p.refuse(body, m, err)
				return
			}
		}
		c.Tool, _ = decodeString(pm["name"])
		if a := pm["arguments"]; len(a) > 0 && !bytes.Equal(a, []byte("null")) {
			c.Args = a
		}
		if meta := pm["_meta"]; len(meta) > 0 {
			c.Meta = meta
			if mm, err := members(meta); err == nil {
				if v, ok := decodeString(mm["io.modelcontextprotocol/protocolVersion"]); ok {
					c.Modern = v >= "2026-07-28"
				}
				c.TraceParent, _ = decodeString(mm["traceparent"])
				c.TraceState, _ = decodeString(mm["tracestate"])
			}
		}
	}
	// Decode the arguments once: the digest, the log's redacted copy and
	// the policy's conditions all read the same value. checkKeys has
	// checked every string in them (or they are the {} of a call without
	// params).
	if v, err := decodeChecked(c.Args); err == nil {
		c.value = v
		c.ArgsDigest = canon.DigestValue(v)
	} else {
		c.ArgsDigest = canon.Sum(c.Args)
	}
	k := idKey(c.ID)
	if p.inline(c, k) {
		return
	}
	ctx, cancel := context.WithCancel(p.heldCtx)
	h := &heldCall{cancel: cancel}
	p.mu.Lock()
	c.Client = p.client
	if p.client.Capabilities != nil && bytes.Contains(p.client.Capabilities, []byte(`"elicitation"`)) {
		c.Ask = p.ask
	}
	p.held[k] = h
	p.mu.Unlock()
	p.calls.Add(1)
	go p.handle(ctx, h, c, k)
}

// inline decides, records and forwards a call on the pump itself when
// nothing can make it wait: setup is done, no tools/list answer is being
// compared, the decider is sure at once, and the registry's write lock is
// free right now. Handing the call to a goroutine of its own costs more
// than all of that (~0.1 ms of a round trip here); anything that might
// wait still goes that way, so the pump never blocks.
func (p *Proxy) inline(c *Call, k string) bool {
	select {
	case <-p.ready:
	default:
		return false
	}
	// Counted with the held calls, so the session's end waits for it.
	p.calls.Add(1)
	defer p.calls.Done()
	if p.down != nil || p.rec.journal == nil || p.listing.busy() || p.heldCtx.Err() != nil {
		return false // (the last: the session is ending, and calls are cancelled)
	}
	if _, ok := p.rec.journal.(TryJournal); !ok {
		return false
	}
	p.mu.Lock()
	c.Client = p.client
	_, pending := p.held[k]
	p.mu.Unlock()
	if pending {
		return false // a duplicate id: let the held path sort it out
	}
	v := Verdict{Allow: true, Decision: audit.Allow, Source: "default"}
	if p.decider != nil {
		q, ok := p.decider.(QuickDecider)
		if !ok {
			return false
		}
		if v, ok = q.Quick(c); !ok {
			return false
		}
	}
	if !v.Allow {
		p.rec.record(p.callEvent(registry.KindDenied, c, v))
		p.toClient.write(denial(c, v))
		p.observeRefused(c, v)
		return true
	}
	err := p.rec.tryCommit(p.callEvent(registry.KindCall, c, v))
	if errors.Is(err, registry.ErrBusy) {
		return false
	}
	if err != nil {
		v = unrecorded(err)
		p.rec.record(p.callEvent(registry.KindDenied, c, v))
		p.toClient.write(denial(c, v))
		p.observeRefused(c, v)
		return true
	}
	c.value = nil
	p.forwarding(c, v)
	p.toServer.mu.Lock()
	p.track(k, &inflight{method: "tools/call", call: c, start: time.Now()})
	p.toServer.writeLocked(c.Line)
	p.toServer.mu.Unlock()
	c.Line, c.Args = nil, nil
	return true
}

// unrecorded refuses a call whose record could not be committed: every
// call that runs leaves a record first.
func unrecorded(err error) Verdict {
	return Verdict{Decision: audit.FailClosed, Source: "audit",
		Reason: "aim-mcp could not record the call, so it was not run: " + err.Error()}
}

// handle decides one held call, then forwards it or answers it.
func (p *Proxy) handle(ctx context.Context, h *heldCall, c *Call, k string) {
	defer p.calls.Done()
	defer h.cancel()
	select {
	case <-p.ready:
	case <-ctx.Done():
	}
	p.listing.wait(ctx)
	var v Verdict
	select {
	case <-p.ready:
		v = p.decide(ctx, c)
	default:
		// Given up while setup still runs: the decider and journal are not
		// there to read yet, and there is nothing left to decide.
		v = Verdict{Decision: audit.Cancelled, Reason: "aim-mcp stopped before the call was decided"}
	}
	if v.Allow && p.rec.journal == nil && v.FailOpen {
		p.opt.Report(&UnrecordedError{Tool: c.Tool})
	} else if v.Allow {
		err := p.rec.commit(p.callEvent(registry.KindCall, c, v))
		c.value = nil // decided and recorded: a big argument need not live on
		if err != nil && v.FailOpen {
			p.opt.Report(&UnrecordedError{Tool: c.Tool, Err: err})
		} else if err != nil {
			v = unrecorded(err)
		}
	}
	// Take the server's writer first: a cancel that arrives after the call
	// left the held set must reach the server after the call, not before.
	p.toServer.mu.Lock()
	p.mu.Lock()
	cancelled := h.cancelled
	delete(p.held, k)
	if !cancelled && v.Allow {
		p.forwarding(c, v)
		if _, ok := p.inflight[k]; !ok {
			p.nTracked.Add(1)
		}
		p.inflight[k] = &inflight{method: "tools/call", call: c, start: time.Now()}
	}
	p.mu.Unlock()
	if !cancelled && v.Allow {
		p.toServer.writeLocked(c.Line)
		p.toServer.mu.Unlock()
		// Forwarded: a multi-megabyte request need not live until the
		// answer comes (the id is a copy of its own).
		c.Line, c.Args = nil, nil
		return
	}
	p.toServer.mu.Unlock()
	if cancelled {
		v.Decision, v.Reason = audit.Cancelled, "the client cancelled the call before it was decided"
		if v.Allow {
			// The call record is already committed: close it.
			c.verdict = v
			p.recordOutcome(c, Outcome{Status: audit.CallCancelled})
			return
		}
	}
	// Recorded, or at least queued, before the client hears of it: the
	// trail keeps the order in which the session answered.
	p.rec.record(p.callEvent(registry.KindDenied, c, v))
	if !cancelled {
		p.toClient.write(denial(c, v))
	}
	p.observeRefused(c, v)
}

// forwarding keeps what the observer reads once the call's answer comes.
func (p *Proxy) forwarding(c *Call, v Verdict) {
	if p.opt.Observer != nil {
		c.verdict, c.forwarded = v, time.Now()
	}
}

// observeRefused tells the observer of a call that was never forwarded.
func (p *Proxy) observeRefused(c *Call, v Verdict) {
	if p.opt.Observer != nil {
		p.opt.Observer.CallDone(&Observed{Call: c, Verdict: v, End: time.Now()})
	}
}

func (p *Proxy) decide(ctx context.Context, c *Call) Verdict {
	if (p.down != nil || p.rec.journal == nil) && p.opt.Fallback != nil {
		return p.opt.Fallback.Check(ctx, c)
	}
	if p.down != nil || p.rec.journal == nil {
		reason := "the aim-mcp registry is unavailable"
		if p.down != nil {
			reason += ": " + p.down.Error()
		}
		return Verdict{Decision: audit.FailClosed, Source: "registry", Reason: reason,
			Next: "run `aim-mcp list` in a terminal to see what is wrong"}
	}
	if ctx.Err() != nil {
		return Verdict{Decision: audit.Cancelled}
	}
	if p.decider == nil {
		return Verdict{Allow: true, Decision: audit.Allow, Source: "default"}
	}
	return p.decider.Check(ctx, c)
}

func (p *Proxy) callEvent(kind string, c *Call, v Verdict) registry.Event {
	data := map[string]any{
		"args":        c.RedactedArgs(),
		"args_digest": c.ArgsDigest,
	}
	for k, val := range map[string]string{"risk": v.Risk, "source": v.Source, "reason": v.Reason,
		"approval_id": v.ApprovalID, "approver": v.Approver, "client": c.Client.Name} {
		if val != "" {
			data[k] = val
		}
	}
	if c.Modern {
		data["modern"] = true
	}
	for k, val := range v.Data {
		data[k] = val
	}
	if p.remote != nil && kind == registry.KindCall {
		data["upstream"] = p.remote.callContext()
	}
	return registry.Event{Kind: kind, Tool: c.Tool, Decision: string(v.Decision), RequestID: c.ID, Data: data}
}

// denial is the isError tool result that answers a refused call.
func denial(c *Call, v Verdict) []byte {
	text := fmt.Sprintf("aim-mcp: call to %q was not run: %s", c.Tool, v.Reason)
	if v.Next != "" {
		text += ". " + v.Next
	}
	result := map[string]any{
		"content": []any{map[string]any{"type": "text", "text": text}},
		"isError": true,
		"_meta": map[string]any{"dev.aim-mcp/decision": map[string]any{
			"decision": v.Decision, "risk": v.Risk, "source": v.Source, "approval_id": v.ApprovalID,
		}},
	}
	if c.Modern {
		result["resultType"] = "complete"
	}
	b, _ := marshalNoEscape(response{JSONRPC: "2.0", ID: c.ID, Result: result})
	return append(b, '\n')
}
