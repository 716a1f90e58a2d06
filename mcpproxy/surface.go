package mcpproxy

import (
	"encoding/json"
	"strconv"
	"strings"
	"sync"

	"github.com/opena2a-org/aim-mcp/internal/canon"
	"github.com/opena2a-org/aim-mcp/poison"
	"github.com/opena2a-org/aim-mcp/registry"
)

// Besides its tools, a server tells the model its instructions (in the
// initialize result), its prompts and its resources. They are scanned as
// tool definitions are, and what a hard finding does follows the harm it
// can do:
//   - an instruction, a listed prompt or resource steers the model as soon
//     as the client lists it (line jumping): the poisoned item is left out
//     of what the client receives, as a quarantined tool is;
//   - a prompt's text (prompts/get) goes into the conversation as the
//     person's own words: it is withheld, with an error that says why;
//   - a resource's contents (resources/read) are data, often the user's
//     own files: they follow scan.result_action, as tool results do.
// Each distinct answer is scanned once and recorded once (a refused record
// with the findings); the same answer again is a lookup.

// scannedAnswers are the answers to the client's requests that are
// scanned here (tools/list goes through the pins, tools/call results
// through scanResult).
var scannedAnswers = map[string]bool{
	"prompts/list": true, "resources/list": true, "resources/templates/list": true,
	"prompts/get": true, "resources/read": true,
}

// verdictCache keeps the findings of answers already scanned, by method and
// digest.
type verdictCache struct {
	mu sync.Mutex
	m  map[string][]poison.Finding
}

// maxVerdicts bounds the cache: a server that answers differently every
// time is scanned every time, and memory stays flat.
const maxVerdicts = 256

// get returns the findings of the answer keyed k, scanning it with scan
// when it is new (fresh).
func (c *verdictCache) get(k string, scan func() []poison.Finding) (fs []poison.Finding, fresh bool) {
	c.mu.Lock()
	if v, ok := c.m[k]; ok {
		c.mu.Unlock()
		return v, false
	}
	c.mu.Unlock()
	fs = scan()
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxVerdicts {
		c.m = map[string][]poison.Finding{}
	}
	c.m[k] = fs
	c.mu.Unlock()
	return fs, true
}

func hardOnly(fs []poison.Finding) []poison.Finding {
	var hard []poison.Finding
	for _, f := range fs {
		if f.Severity == poison.Hard {
			hard = append(hard, f)
		}
	}
	return hard
}

// scanAnswer scans the answer m to the client's request method and returns
// the line the client is to receive.
func (p *Proxy) scanAnswer(line []byte, method string, m message) []byte {
	fs, fresh := p.verdicts.get(method+" "+canon.Sum(m.result), func() []poison.Finding {
		switch method {
		case "prompts/list":
			return p.scan.Prompts(m.result)
		case "resources/list", "resources/templates/list":
			return p.scan.Resources(m.result)
		}
		return p.scan.Content("result", m.result)
	})
	hard := hardOnly(fs)
	if len(hard) == 0 {
		return line
	}
	decision := "deny"
	switch method {
	case "resources/read":
		if !p.opt.BlockResults {
			decision = "warn"
		}
	}
	if fresh {
		p.rec.record(registry.Event{Kind: registry.KindRefused, Decision: decision, Tool: hard[0].Tool,
			RequestID: jsonOrNil(m.id), Data: map[string]any{"method": method, "findings": hard}})
		p.log.Warn("a server's answer holds instructions for the model", "method", method, "rule", hard[0].Rule, "where", hard[0].Where)
	}
	if decision == "warn" {
		return line
	}
	switch method {
	case "prompts/list", "resources/list", "resources/templates/list":
		if out, ok := withoutItems(m, hard); ok {
			return out
		}
	}
	what := "prompt"
	if method == "resources/read" {
		what = "resource"
	}
	return rpcError(m.id, -32603, "aim-mcp withheld this "+what+" ("+hard[0].Rule+", in "+hard[0].Where+"): it "+hard[0].Why+
		". It is in the audit trail; ask the user to review the server with `aim-mcp scan`.")
}

// withoutItems is the answer m with the list items that hold a hard
// finding left out (the findings' paths name them: prompts[3].description).
func withoutItems(m message, hard []poison.Finding) ([]byte, bool) {
	drop := map[string]map[int]bool{}
	for _, f := range hard {
		key, rest, ok := strings.Cut(f.Where, "[")
		n, _, ok2 := strings.Cut(rest, "]")
		i, err := strconv.Atoi(n)
		if !ok || !ok2 || err != nil {
			return nil, false // not an item's: withhold the whole answer
		}
		if drop[key] == nil {
			drop[key] = map[int]bool{}
		}
		drop[key][i] = true
	}
	var result map[string]json.RawMessage
	if json.Unmarshal(m.result, &result) != nil {
		return nil, false
	}
	for key, idx := range drop {
		var items []json.RawMessage
		if json.Unmarshal(result[key], &items) != nil {
			return nil, false
		}
		kept := items[:0]
		for i, it := range items {
			if !idx[i] {
				kept = append(kept, it)
			}
		}
		b, err := json.Marshal(kept)
		if err != nil {
			return nil, false
		}
		result[key] = b
	}
	frame, err := marshalNoEscape(map[string]any{"jsonrpc": "2.0", "id": json.RawMessage(m.id), "result": result})
	if err != nil {
		return nil, false
	}
	return append(frame, '\n'), true
}

// scanInstructions scans the instructions of an initialize answer; with a
// hard finding they are left out of what the client receives.
func (p *Proxy) scanInstructions(line []byte, m message) []byte {
	var result map[string]json.RawMessage
	if json.Unmarshal(m.result, &result) != nil || result["instructions"] == nil {
		return line
	}
	var text string
	if json.Unmarshal(result["instructions"], &text) != nil || text == "" {
		return line
	}
	hard := hardOnly(p.scan.Instructions(text))
	if len(hard) == 0 {
		return line
	}
	p.rec.record(registry.Event{Kind: registry.KindRefused, Decision: "deny", RequestID: jsonOrNil(m.id),
		Data: map[string]any{"method": "initialize", "findings": hard}})
	p.log.Warn("the server's instructions hold instructions for the model", "rule", hard[0].Rule)
	delete(result, "instructions")
	frame, err := marshalNoEscape(map[string]any{"jsonrpc": "2.0", "id": json.RawMessage(m.id), "result": result})
	if err != nil {
		return line
	}
	return append(frame, '\n')
}
