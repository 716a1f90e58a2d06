package poison

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// Tools scans a tools/list result. Where paths start at the result:
// tools[3].inputSchema.properties.path.description.
func (s *Scanner) Tools(result json.RawMessage) []Finding {
	var r struct {
		Tools []map[string]any `json:"tools"`
	}
	if err := json.Unmarshal(result, &r); err != nil {
		return []Finding{unreadable("tools", err)}
	}
	own := make(map[string]bool, len(r.Tools))
	for _, t := range r.Tools {
		if n, ok := t["name"].(string); ok {
			own[n] = true
		}
	}
	var out []Finding
	for i, t := range r.Tools {
		out = append(out, s.tool(fmt.Sprintf("tools[%d]", i), t, own)...)
	}
	return out
}

// Tool scans one tool definition; siblings are the names of the other
// tools of its server (which it may name freely). Where paths start with
// prefix, as "tools[3]".
func (s *Scanner) Tool(prefix string, tool json.RawMessage, siblings []string) []Finding {
	var t map[string]any
	if err := json.Unmarshal(tool, &t); err != nil || t == nil {
		return []Finding{unreadable(prefix, err)}
	}
	return s.ToolValue(prefix, t, siblings)
}

// ToolValue is Tool for a definition already decoded, as encoding/json
// decodes it (numbers in either form: only strings are read), so that a
// caller that decoded it to pin it need not decode it again.
func (s *Scanner) ToolValue(prefix string, t map[string]any, siblings []string) []Finding {
	if t == nil {
		return []Finding{unreadable(prefix, nil)}
	}
	own := make(map[string]bool, len(siblings)+1)
	for _, n := range siblings {
		own[n] = true
	}
	if n, ok := t["name"].(string); ok {
		own[n] = true
	}
	return s.tool(prefix, t, own)
}

// tool scans one decoded tool; own holds the names of its server's tools.
func (s *Scanner) tool(prefix string, t map[string]any, own map[string]bool) []Finding {
	if t == nil {
		return []Finding{unreadable(prefix, nil)}
	}
	name, _ := t["name"].(string)
	sc := s.get(ctxDef, name)
	sc.own = own
	sc.checkName(s, join(prefix, "name"), name)
	var params []param
	for _, k := range sortedKeys(t) {
		if k == "name" {
			continue
		}
		p := join(prefix, k)
		if k == "inputSchema" || k == "outputSchema" {
			sc.schema(p, t[k], 0, &params)
			continue
		}
		sc.value(p, t[k], 0)
	}
	s.finish(sc)
	sc.params(params)
	return s.put(sc)
}

// param is a parameter of a tool, for the checks of parameter names.
type param struct {
	where, name, desc string
}

// schema walks a JSON schema: property names are read as words, every
// string that is not structural (type, format, pattern, $ref) as text.
func (sc *scan) schema(where string, v any, depth int, params *[]param) {
	if depth > MaxDepth {
		sc.add(Finding{Rule: "limit.depth", Severity: Soft, Where: where,
			Why: "the schema is nested deeper than is scanned; the rest was not read"})
		return
	}
	switch v := v.(type) {
	case map[string]any:
		for _, k := range sortedKeys(v) {
			switch k {
			case "type", "format", "pattern", "$ref", "$schema", "$id", "$anchor", "contentEncoding", "contentMediaType", "required":
				continue
			}
			p := join(where, k)
			switch k {
			case "properties", "patternProperties", "$defs", "definitions", "dependentSchemas":
				props, ok := v[k].(map[string]any)
				if !ok {
					continue
				}
				for _, name := range sortedKeys(props) {
					pp := join(p, name)
					if k == "properties" {
						sc.text(pp, name, true)
						desc := ""
						if m, ok := props[name].(map[string]any); ok {
							desc, _ = m["description"].(string)
						}
						*params = append(*params, param{where: pp, name: name, desc: desc})
					}
					sc.schema(pp, props[name], depth+1, params)
				}
			default:
				sc.schema(p, v[k], depth+1, params)
			}
		}
	case []any:
		for i, e := range v {
			sc.schema(fmt.Sprintf("%s[%d]", where, i), e, depth+1, params)
		}
	case string:
		sc.text(where, v, false)
	}
}

// value walks any JSON value and reads every string in it.
func (sc *scan) value(where string, v any, depth int) {
	if depth > MaxDepth {
		sc.add(Finding{Rule: "limit.depth", Severity: Soft, Where: where,
			Why: "the message is nested deeper than is scanned; the rest was not read"})
		return
	}
	switch v := v.(type) {
	case map[string]any:
		for _, k := range sortedKeys(v) {
			sc.value(join(where, k), v[k], depth+1)
		}
	case []any:
		for i, e := range v {
			sc.value(fmt.Sprintf("%s[%d]", where, i), e, depth+1)
		}
	case string:
		sc.text(where, v, false)
	}
}

// params checks parameter names: a name that asks for a secret or for the
// conversation, and a catch-all parameter the text tells the model to fill
// with something else (a covert channel).
func (sc *scan) params(ps []param) {
	for _, p := range ps {
		phrase := sc.nameWords(p.name)
		has := func(ws ...string) bool {
			for _, w := range ws {
				if hasWord(phrase, w) {
					return true
				}
			}
			return false
		}
		secret := has("ssh", "rsa", "ed25519", "passwd", "dotenv", "keychain", "cookies", "credentials", "secrets", "passwords") ||
			strings.Contains(phrase, " mcp json ") || strings.Contains(phrase, " private key") || strings.Contains(phrase, " api key")
		reading := has("content", "contents", "reading", "read", "from", "dump", "copy", "text", "data", "output", "of", "file")
		if secret && reading {
			sc.add(Finding{Rule: "param.secret-name", Severity: Hard, Where: p.where, Evidence: Visible(p.name, 140),
				Why: "the parameter's name asks the model to fill it with a secret"})
			continue
		}
		for _, c := range []string{" system prompt ", " conversation history ", " chat history ", " chain of thought ",
			" previous messages ", " full context ", " conversation ", " tools list ", " tool list ", " user messages ", " context window "} {
			if !strings.Contains(phrase, c) {
				continue
			}
			d := strings.ToLower(p.desc)
			if strings.HasPrefix(p.name, "_") || strings.HasSuffix(p.name, "_") || d == "" ||
				containsAny(d, "your ", "you ", "current", "this conversation", "verbatim", "entire", "full ", "complete", "all ") {
				sc.add(Finding{Rule: "param.context-name", Severity: Hard, Where: p.where, Evidence: Visible(p.name, 140),
					Why: "the parameter asks the model to hand over its instructions or the conversation"})
			}
			break
		}
		if sink := sinkName(phrase); sink {
			if p.desc == "" && (has("sidenote") || strings.Contains(phrase, " side note") || has("covert", "hidden")) {
				sc.add(Finding{Rule: "param.sink", Severity: Soft, Where: p.where, Evidence: Visible(p.name, 140),
					Why: "the tool has an unexplained catch-all parameter, a channel for data the person does not see"})
			}
			if sc.fillsParam(strings.Fields(phrase)) {
				sc.add(Finding{Rule: "param.covert", Severity: Hard, Where: p.where, Evidence: Visible(p.name, 140),
					Why: "the tool's text tells the model to put something else in this parameter"})
			}
		}
	}
}

// hasWord reports whether phrase (words between spaces) has the word w.
func hasWord(phrase, w string) bool {
	for off := 0; ; {
		i := strings.Index(phrase[off:], w)
		if i < 0 {
			return false
		}
		i += off
		if i > 0 && phrase[i-1] == ' ' && i+len(w) < len(phrase) && phrase[i+len(w)] == ' ' {
			return true
		}
		off = i + 1
	}
}

func containsAny(s string, subs ...string) bool {
	for _, x := range subs {
		if strings.Contains(s, x) {
			return true
		}
	}
	return false
}

func sinkName(phrase string) bool {
	return containsAny(phrase, " sidenote ", " side note", " note ", " notes ", " context ", " metadata ", " meta ",
		" extra ", " debug ", " feedback ", " remarks ", " remark ", " comment ", " comments ", " annotation ", " trace ",
		" hidden ", " internal ", " aux ", " memo ", " additional ", " covert ", " info ")
}

// fillsParam reports whether the texts tell the model to fill a parameter
// with file contents, secrets or the conversation: a handing-over verb, then
// within a few words something to hand over, then the parameter's name.
func (sc *scan) fillsParam(words []string) bool {
	d := &sc.d
	l := lex()
	src := []int{l.sets["readV"], l.sets["xferV"], l.sets["convSink"]}
	obj := []int{l.sets["secretPath"], l.sets["secretNoun"], l.sets["convN"], l.sets["contentN"]}
	last := words[len(words)-1]
	for i := range d.toks {
		if d.toks[i].field < 0 || d.tok(i) != last {
			continue
		}
		// The name was written in the text (not the parameter's own
		// name, which is a field of its own words).
		if n := len(words); i+1-n >= 0 {
			if _, ok := d.follows(i+1-n, words); !ok {
				continue
			}
		}
		if sc.near(src, i, 24) && sc.near(obj, i, 20) && !sc.isParamNameField(i) {
			return true
		}
	}
	return false
}

// near reports whether any of the sets matched within n words before i.
func (sc *scan) near(sets []int, i, n int) bool {
	for _, set := range sets {
		for _, s := range sc.hits[set] {
			if s.start < i && s.start >= i-n {
				return true
			}
		}
	}
	return false
}

// isParamNameField reports whether token i is in a field that is a
// parameter's name rather than a text.
func (sc *scan) isParamNameField(i int) bool {
	return sc.d.fields[sc.d.toks[i].field].name
}

// nameWords reads a name as words, " content from reading ssh id rsa ",
// in a scratch doc of the scan.
func (sc *scan) nameWords(name string) string {
	d := &sc.scratch
	d.reset()
	d.add("", name, true)
	b := append(sc.buf[:0], ' ')
	for _, t := range d.toks {
		b = append(b, d.norm[t.a:t.b]...)
		b = append(b, ' ')
	}
	sc.buf = b
	return string(b)
}

// Prompts scans a prompts/list result.
func (s *Scanner) Prompts(result json.RawMessage) []Finding {
	return s.list(result, "prompts", ctxDef)
}

// Resources scans a resources/list or resources/templates/list result.
func (s *Scanner) Resources(result json.RawMessage) []Finding {
	out := s.list(result, "resources", ctxDef)
	return append(out, s.list(result, "resourceTemplates", ctxDef)...)
}

// list scans each element of a list result on its own.
func (s *Scanner) list(result json.RawMessage, key string, ctx context) []Finding {
	var r map[string]json.RawMessage
	if err := json.Unmarshal(result, &r); err != nil {
		return []Finding{unreadable(key, err)}
	}
	var items []map[string]any
	if json.Unmarshal(r[key], &items) != nil {
		return nil
	}
	var out []Finding
	for i, it := range items {
		name, _ := it["name"].(string)
		sc := s.get(ctx, name)
		sc.value(fmt.Sprintf("%s[%d]", key, i), it, 0)
		s.finish(sc)
		out = append(out, s.put(sc)...)
	}
	return out
}

// Content scans what a server returns for the model to read: a tools/call
// result, prompts/get, resources/read. prefix starts the where paths.
func (s *Scanner) Content(prefix string, result json.RawMessage) []Finding {
	var v any
	if err := json.Unmarshal(result, &v); err != nil {
		return []Finding{unreadable(prefix, err)}
	}
	sc := s.get(ctxContent, "")
	sc.value(prefix, v, 0)
	s.finish(sc)
	return s.put(sc)
}

// Instructions scans the instructions of an initialize result.
func (s *Scanner) Instructions(text string) []Finding {
	sc := s.get(ctxDef, "")
	sc.text("instructions", text, false)
	s.finish(sc)
	return s.put(sc)
}

// Sampling scans the params of a sampling/createMessage request.
func (s *Scanner) Sampling(params json.RawMessage) []Finding {
	var p struct {
		Messages     []any  `json:"messages"`
		SystemPrompt string `json:"systemPrompt"`
	}
	if err := json.Unmarshal(params, &p); err != nil {
		return []Finding{unreadable("params", err)}
	}
	sc := s.get(ctxSampling, "")
	if p.SystemPrompt != "" {
		sc.text("params.systemPrompt", p.SystemPrompt, false)
	}
	for i, m := range p.Messages {
		sc.value(fmt.Sprintf("params.messages[%d]", i), m, 0)
	}
	s.finish(sc)
	return s.put(sc)
}

// Elicitation scans the params of an elicitation/create request. The
// specification forbids a form that asks for passwords, API keys, tokens or
// payment details; URL mode is the way to ask for those.
func (s *Scanner) Elicitation(params json.RawMessage) []Finding {
	var p struct {
		Mode            string         `json:"mode"`
		Message         string         `json:"message"`
		RequestedSchema map[string]any `json:"requestedSchema"`
	}
	if err := json.Unmarshal(params, &p); err != nil {
		return []Finding{unreadable("params", err)}
	}
	sc := s.get(ctxElicit, "")
	sc.text("params.message", p.Message, false)
	var ps []param
	sc.schema("params.requestedSchema", p.RequestedSchema, 0, &ps)
	s.finish(sc)
	if p.Mode != "url" {
		props, _ := p.RequestedSchema["properties"].(map[string]any)
		for _, name := range sortedKeys(props) {
			m, _ := props[name].(map[string]any)
			title, _ := m["title"].(string)
			desc, _ := m["description"].(string)
			format, _ := m["format"].(string)
			wo, _ := m["writeOnly"].(bool)
			if format == "password" || wo || secretField(name+" "+title+" "+unasked(desc)) {
				sc.add(Finding{Rule: "elicit.secret", Severity: Hard, Where: join("params.requestedSchema.properties", name),
					Evidence: Visible(strings.TrimSpace(name+": "+title+" "+desc), 140),
					Why:      "the form asks the person for a password, key, token or payment detail, which the MCP specification forbids"})
			}
		}
	}
	return s.put(sc)
}

// negated matches a clause that tells the person what NOT to give ("do not
// give us your phone number, pin, or other sensitive info"): up to the end of
// its clause.
// Compiled on first use, like the scanner's other tables: a proxy starts
// before it has anything to scan.
var negated = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?i)\b(?:do not|don't|dont|never|not|no need to)\b[^.;:()!?]{0,160}`)
})

// unasked is a field's description without the clauses that tell the person
// what not to give: a secret named there is not being asked for.
func unasked(desc string) string { return negated().ReplaceAllString(desc, " ") }

// secretField reports whether a form field asks for a secret.
func secretField(text string) bool {
	var d doc
	d.add("", text, true)
	h := lex().hits(&d, nil)
	return len(h[lex().sets["elicitSecret"]]) > 0
}

func unreadable(where string, err error) Finding {
	msg := "not a JSON object"
	if err != nil {
		msg = err.Error()
	}
	return Finding{Rule: "limit.unreadable", Severity: Soft, Where: where, Why: "the message could not be read (" + msg + ")"}
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	if key == "" || strings.ContainsAny(key, ".[] ") {
		return prefix + "[" + fmt.Sprintf("%q", key) + "]"
	}
	return prefix + "." + key
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
