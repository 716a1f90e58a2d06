package mcpproxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/opena2a-org/aim-mcp/audit"
	"github.com/opena2a-org/aim-mcp/internal/canon"
	"github.com/opena2a-org/aim-mcp/poison"
	"github.com/opena2a-org/aim-mcp/registry"
)

// fromServer routes one server line. Forwarding comes first; what is
// observed is worked out afterwards.
func (p *Proxy) fromServer(line []byte, _ bool) {
	if innerBreak(line) {
		p.splitServerLine(line)
		return
	}
	body := trimLine(line)
	if asksClient(body) && p.refuseRequest(body) {
		return
	}
	if len(body) > 0 && body[0] != '{' && body[0] != '[' {
		p.toClient.write(p.clean(line))
		shown := body
		if len(shown) > 512 {
			shown = shown[:512]
		}
		p.rec.record(registry.Event{Kind: registry.KindNoise, Data: map[string]any{
			"line": string(shown), "size": len(body)}})
		return
	}
	if p.nTracked.Load() == 0 && !bytes.Contains(body, []byte("list_changed")) {
		p.toClient.write(p.clean(line))
		return
	}
	if len(body) == 0 || body[0] != '{' {
		p.toClient.write(p.clean(line))
		return
	}
	m, err := scanMessage(body)
	if errors.Is(err, errTooDeep) {
		p.serverTooDeep(body, m)
		return
	}
	if err != nil || m.hasMethod || !m.hasID {
		p.toClient.write(p.clean(line))
		if err == nil && m.hasMethod {
			if method, _ := decodeString(m.method); method == "notifications/tools/list_changed" {
				p.mu.Lock()
				p.lastList = "" // the next answer is compared in full
				p.mu.Unlock()
				p.observe(func(o ToolsObserver) { o.ToolsChanged(p.ctx) }, nil)
			}
		}
		return
	}
	f, ok := p.untrack(idKey(m.id))
	if ok && f.method == "initialize" {
		// Learn the client's capabilities before the client can act on
		// the answer: its first call may need to ask it something.
		p.observeInit(f, m)
	}
	var result []byte
	var repeat bool
	if ok && f.method == "tools/list" && m.result != nil {
		// The same one-page answer as last time, with no list_changed in
		// between, has nothing new to compare: clients list often.
		sum := canon.Sum(m.result)
		p.mu.Lock()
		repeat = sum == p.lastList && !bytes.Contains(m.result, []byte(`"nextCursor"`))
		p.lastList = sum
		p.mu.Unlock()
		if !repeat {
			// Calls the client makes after it has this answer are decided
			// after the answer is compared with the pins, not before.
			result = bytes.Clone(m.result)
			p.listing.enter()
		}
	}
	if ok && f.method == "tools/list" && m.result != nil {
		line = p.filterTools(line, m)
	}
	if ok && f.method == "tools/call" && p.opt.ScanResults && m.result != nil {
		line = p.scanResult(line, f, m)
	}
	if ok && m.result != nil && scannedAnswers[f.method] {
		line = p.scanAnswer(line, f.method, m)
	}
	if ok && f.method == "initialize" && m.result != nil && bytes.Contains(m.result, []byte(`"instructions"`)) {
		line = p.scanInstructions(line, m)
	}
	p.toClient.write(p.clean(line))
	if !ok {
		return
	}
	if f.method != "tools/call" {
		p.observeRequest(f, m)
	}
	switch f.method {
	case "tools/call":
		p.recordOutcome(f.call, outcomeOf(m, time.Since(f.start)))
	case "tools/list":
		switch {
		case result != nil:
			p.observe(func(o ToolsObserver) { o.ToolsListed(p.ctx, result) }, &p.listing)
			p.rec.record(registry.Event{Kind: registry.KindToolsList, Data: toolsSummary(result)})
		case repeat:
			// Clients list often, and an answer the same as the last
			// says nothing new: counted for session_end, not recorded
			// one by one (each record is a write and a signature).
			p.mu.Lock()
			p.listRepeats++
			p.mu.Unlock()
		}
	case "server/discover":
		p.observeInit(f, m)
	}
}

// asksClient reports whether body spells "elicitation/create" or
// "sampling/createMessage", quotes included: the requests refuseRequest
// looks at. It hops from slash to slash: bytes.Contains, put off by the
// quotes at the start of every JSON line, would search the rest of a
// 64 MiB result the slow way, twice.
func asksClient(body []byte) bool {
	for i := 0; i < len(body); i++ {
		j := bytes.IndexByte(body[i:], '/')
		if j < 0 {
			return false
		}
		i += j
		if bytes.HasSuffix(body[:i], []byte(`"elicitation`)) && bytes.HasPrefix(body[i:], []byte(`/create"`)) ||
			bytes.HasSuffix(body[:i], []byte(`"sampling`)) && bytes.HasPrefix(body[i:], []byte(`/createMessage"`)) {
			return true
		}
	}
	return false
}

// refuseRequest answers a server's elicitation or sampling request that
// the scanner finds hard (a form asking for a password, a hidden task) with
// an error, instead of passing it to the client, and records why.
func (p *Proxy) refuseRequest(body []byte) bool {
	m, err := scanMessage(body)
	if err != nil || !m.hasMethod || !m.hasID {
		return false
	}
	method, _ := decodeString(m.method)
	var fs []poison.Finding
	switch method {
	case "elicitation/create":
		fs = p.scan.Elicitation(m.params)
	case "sampling/createMessage":
		fs = p.scan.Sampling(m.params)
	}
	var hard []poison.Finding
	for _, f := range fs {
		if f.Severity == poison.Hard {
			hard = append(hard, f)
		}
	}
	if len(hard) == 0 {
		return false
	}
	why := "aim-mcp refused this " + method + " (" + hard[0].Rule + "): " + hard[0].Why
	frame, err := marshalNoEscape(map[string]any{"jsonrpc": "2.0", "id": json.RawMessage(m.id),
		"error": map[string]any{"code": -32600, "message": why}})
	if err != nil {
		return false
	}
	p.toServer.write(append(frame, '\n'))
	p.rec.record(registry.Event{Kind: registry.KindRefused, Decision: "deny", RequestID: json.RawMessage(bytes.Clone(m.id)),
		Data: map[string]any{"method": method, "findings": hard}})
	p.log.Warn("refused a server request", "method", method, "rule", hard[0].Rule)
	return true
}

// scanResult runs the scanner over a tool result (config scan.results).
// A hard finding is recorded and alerted; with scan.result_action block the
// client gets an isError text in its place.
func (p *Proxy) scanResult(line []byte, f *inflight, m message) []byte {
	var hard []poison.Finding
	for _, x := range p.scan.Content("result", m.result) {
		if x.Severity == poison.Hard {
			hard = append(hard, x)
		}
	}
	if len(hard) == 0 {
		return line
	}
	tool := ""
	if f.call != nil {
		tool = f.call.Tool
	}
	decision := "warn"
	if p.opt.BlockResults {
		decision = "deny"
	}
	p.rec.record(registry.Event{Kind: registry.KindRefused, Tool: tool, Decision: decision,
		RequestID: json.RawMessage(bytes.Clone(m.id)), Data: map[string]any{"method": "tools/call", "findings": hard}})
	p.log.Warn("a tool result holds instructions for the model", "tool", tool, "rule", hard[0].Rule)
	if !p.opt.BlockResults {
		return line
	}
	text := "aim-mcp withheld the result of tool " + strconv.Quote(tool) + " (" + hard[0].Rule + "): it " + hard[0].Why +
		". The result is in the audit trail; config scan.result_action decides what such results do."
	frame, err := marshalNoEscape(map[string]any{"jsonrpc": "2.0", "id": json.RawMessage(m.id),
		"result": map[string]any{"content": []any{map[string]any{"type": "text", "text": text}}, "isError": true}})
	if err != nil {
		return line
	}
	return append(frame, '\n')
}

// clean neutralises what the client must never receive from the server:
// terminal escapes and other controls, tag and bidi characters (see
// poison.Neutralise). The change is recorded; the pins and the records keep
// the server's own bytes.
func (p *Proxy) clean(line []byte) []byte {
	out, n := poison.Neutralise(line)
	if n > 0 {
		p.rec.record(registry.Event{Kind: registry.KindNeutralised, Data: map[string]any{
			"characters": n, "size": len(line), "digest": canon.Sum(line)}})
	}
	return out
}

// filterTools gives the decider the say over which tools the client sees.
// It waits for setup (the decider decides), so a quarantined tool is never shown
// for want of a decider; the client's other traffic does not wait.
func (p *Proxy) filterTools(line []byte, m message) []byte {
	<-p.ready
	tf, ok := p.decider.(ToolsFilter)
	if !ok {
		return line
	}
	out, ok := tf.FilterTools(p.ctx, m.result)
	if !ok {
		return line
	}
	b := make([]byte, 0, len(out)+len(m.id)+40)
	b = append(b, `{"jsonrpc":"2.0","id":`...)
	b = append(b, m.id...)
	b = append(b, `,"result":`...)
	b = append(b, out...)
	return append(b, "}\n"...)
}

// observe hands an observation to the decider off the pump, once setup is
// done; g, when given, was entered by the caller and is left afterwards.
func (p *Proxy) observe(f func(ToolsObserver), g *gate) {
	p.observers.Add(1)
	go func() {
		defer p.observers.Done()
		if g != nil {
			defer g.leave()
		}
		<-p.ready
		if o, ok := p.decider.(ToolsObserver); ok {
			f(o)
		}
	}()
}

// gate counts observations in progress; calls wait until there are none.
type gate struct {
	mu   sync.Mutex
	n    int
	zero chan struct{} // closed when n drops to 0
}

func (g *gate) enter() {
	g.mu.Lock()
	if g.n == 0 {
		g.zero = make(chan struct{})
	}
	g.n++
	g.mu.Unlock()
}

func (g *gate) leave() {
	g.mu.Lock()
	if g.n--; g.n == 0 {
		close(g.zero)
	}
	g.mu.Unlock()
}

// busy reports whether an observation is in progress.
func (g *gate) busy() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.n > 0
}

// wait returns when no observation is in progress, or ctx is done.
func (g *gate) wait(ctx context.Context) {
	g.mu.Lock()
	if g.n == 0 {
		g.mu.Unlock()
		return
	}
	zero := g.zero
	g.mu.Unlock()
	select {
	case <-zero:
	case <-ctx.Done():
	}
}

func outcomeOf(m message, d time.Duration) Outcome {
	o := Outcome{Status: audit.Success, Duration: d}
	switch {
	case m.error != nil:
		o.Status, o.Size, o.Digest = audit.RPCError, len(m.error), canon.Sum(m.error)
		var e struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		}
		json.Unmarshal(m.error, &e)
		o.ErrorCode, o.ErrorText = e.Code, e.Message
	case m.result != nil:
		o.Size, o.Digest = len(m.result), canon.Sum(m.result)
		if rm, err := members(m.result); err == nil {
			if bytes.Equal(rm["isError"], []byte("true")) {
				o.Status = audit.ToolError
			}
			if rt, _ := decodeString(rm["resultType"]); rt == string(audit.InputRequired) {
				o.Status = audit.InputRequired
			}
		}
	}
	return o
}

// observeRequest tells a RequestObserver of a followed request's answer.
func (p *Proxy) observeRequest(f *inflight, m message) {
	ro, ok := p.opt.Observer.(RequestObserver)
	if !ok {
		return
	}
	r := &ObservedRequest{Method: f.method, ID: bytes.Clone(m.id), Start: f.start, End: time.Now(), Error: m.error != nil}
	if r.Error {
		var e struct {
			Code int `json:"code"`
		}
		json.Unmarshal(m.error, &e)
		r.ErrorCode = e.Code
	}
	p.mu.Lock()
	r.Protocol = p.client.Protocol
	p.mu.Unlock()
	ro.RequestDone(r)
}

func (p *Proxy) recordOutcome(c *Call, o Outcome) {
	data := map[string]any{"duration_ms": float64(o.Duration.Microseconds()) / 1000, "size": o.Size}
	if o.Digest != "" {
		data["result_digest"] = o.Digest
	}
	if o.ErrorCode != 0 {
		data["error_code"] = o.ErrorCode
	}
	if o.ErrorText != "" {
		data["error"] = o.ErrorText
	}
	if p.remote != nil {
		data["upstream"] = p.remote.outcomeContext(c.ID)
	}
	p.rec.record(registry.Event{Kind: registry.KindOutcome, Tool: c.Tool, Decision: string(o.Status), RequestID: c.ID, Data: data})
	if obs, ok := p.decider.(OutcomeObserver); ok {
		obs.Outcome(p.ctx, c, o)
	}
	if p.opt.Observer != nil {
		p.opt.Observer.CallDone(&Observed{Call: c, Verdict: c.verdict, Outcome: o, Forwarded: c.forwarded, End: time.Now()})
	}
}

func toolsSummary(result []byte) map[string]any {
	var r struct {
		Tools []struct {
			Name string `json:"name"`
		} `json:"tools"`
		NextCursor string `json:"nextCursor"`
	}
	json.Unmarshal(result, &r)
	names := make([]string, len(r.Tools))
	for i, t := range r.Tools {
		names[i] = t.Name
	}
	return map[string]any{"tools": names, "count": len(names), "digest": canon.Sum(result)}
}

// observeInit records who met whom, and keeps the client's capabilities for
// the calls that follow (elicitation is asked only of clients that offer it).
func (p *Proxy) observeInit(f *inflight, m message) {
	var req struct {
		ProtocolVersion string          `json:"protocolVersion"`
		Capabilities    json.RawMessage `json:"capabilities"`
		ClientInfo      struct {
			Name    string `json:"name"`
			Version string `json:"version"`
		} `json:"clientInfo"`
	}
	json.Unmarshal(f.params, &req)
	var res struct {
		ProtocolVersion   string   `json:"protocolVersion"`
		SupportedVersions []string `json:"supportedVersions"`
		ServerInfo        struct {
			Name    string `json:"name"`
			Version string `json:"version"`
		} `json:"serverInfo"`
	}
	json.Unmarshal(m.result, &res)
	if f.method == "initialize" {
		p.mu.Lock()
		p.client = ClientInfo{Name: req.ClientInfo.Name, Version: req.ClientInfo.Version,
			Protocol: res.ProtocolVersion, Capabilities: req.Capabilities}
		p.mu.Unlock()
	}
	data := map[string]any{
		"method": f.method,
		"client": map[string]string{"name": req.ClientInfo.Name, "version": req.ClientInfo.Version},
		"server": map[string]string{"name": res.ServerInfo.Name, "version": res.ServerInfo.Version},
	}
	if res.ProtocolVersion != "" {
		data["protocol"] = res.ProtocolVersion
	}
	if len(res.SupportedVersions) > 0 {
		data["supported_versions"] = res.SupportedVersions
	}
	if m.error != nil {
		data["error"] = json.RawMessage(m.error)
	}
	p.rec.record(registry.Event{Kind: registry.KindInitialize, Data: data})
}
