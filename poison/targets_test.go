package poison

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// The labelled set (testdata/labelled) is built from public material; each
// line names its source. real.jsonl and captured-*.json hold the tool lists
// of real servers (negatives), benign.jsonl real results and server
// requests (negatives), attacks.jsonl the published attacks of every class
// with variants (positives). TestTargets holds the scanner to its targets on
// every run; with -targets it prints the table (scripts/scan-targets.sh).

var printTargets = flag.Bool("targets", false, "print the targets table of the labelled set")

// sample is one labelled item.
type sample struct {
	ID      string              `json:"id"`
	Class   string              `json:"class"`
	Variant string              `json:"variant"`
	Kind    string              `json:"kind"`
	Data    json.RawMessage     `json:"data"`
	Peers   map[string][]string `json:"peers"`
	Source  string              `json:"source"`
}

// realServer is one real server's definitions, tools in a compact form.
type realServer struct {
	Server string `json:"server"`
	Source string `json:"source"`
	Tools  []struct {
		Name        string            `json:"name"`
		Description string            `json:"description"`
		Params      map[string]string `json:"params"`
	} `json:"tools"`
	Prompts []json.RawMessage `json:"prompts"`
}

// listResult turns the compact form into a tools/list result.
func (r realServer) listResult() json.RawMessage {
	var tools []map[string]any
	for _, t := range r.Tools {
		props := map[string]any{}
		for p, d := range t.Params {
			s := map[string]any{"type": "string"}
			if d != "" {
				s["description"] = d
			}
			props[p] = s
		}
		tools = append(tools, map[string]any{"name": t.Name, "description": t.Description,
			"inputSchema": map[string]any{"type": "object", "properties": props}})
	}
	b, _ := json.Marshal(map[string]any{"tools": tools})
	return b
}

func readLines[T any](t testing.TB, name string) []T {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "labelled", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []T
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 4<<20)
	for sc.Scan() {
		var v T
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out = append(out, v)
	}
	return out
}

// realTool is one tool of a real server with what the scan found on it.
type realTool struct {
	server, name, text string
	findings           []Finding
}

// realTools scans every real server's tools/list and groups the findings
// by tool.
func realTools(t testing.TB) []realTool {
	var out []realTool
	add := func(server string, result json.RawMessage) {
		var r struct {
			Tools []json.RawMessage `json:"tools"`
		}
		json.Unmarshal(result, &r)
		fs := New(nil).Tools(result)
		for i, raw := range r.Tools {
			var tl struct {
				Name string `json:"name"`
			}
			json.Unmarshal(raw, &tl)
			prefix := fmt.Sprintf("tools[%d]", i)
			var mine []Finding
			for _, f := range fs {
				if f.Where == prefix || strings.HasPrefix(f.Where, prefix+".") || strings.HasPrefix(f.Where, prefix+"[") {
					mine = append(mine, f)
				}
			}
			var v any
			json.Unmarshal(raw, &v)
			out = append(out, realTool{server: server, name: tl.Name, text: fmt.Sprint(v), findings: mine})
		}
	}
	for _, r := range readLines[realServer](t, "real.jsonl") {
		add(r.Server, r.listResult())
	}
	for _, c := range captured(t) {
		add(c.name, c.Tools)
	}
	return out
}

type capturedServer struct {
	name         string
	Tools        json.RawMessage
	Prompts      json.RawMessage
	Resources    json.RawMessage
	Instructions string
}

func captured(t testing.TB) []capturedServer {
	files, _ := filepath.Glob(filepath.Join("testdata", "labelled", "captured-*.json"))
	var out []capturedServer
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var c struct {
			Tools        json.RawMessage `json:"tools"`
			Prompts      json.RawMessage `json:"prompts"`
			Resources    json.RawMessage `json:"resources"`
			Instructions string          `json:"instructions"`
		}
		if err := json.Unmarshal(b, &c); err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "captured-"), ".json")
		wrap := func(k string, v json.RawMessage) json.RawMessage {
			if len(v) == 0 || string(v) == "null" {
				v = json.RawMessage("[]")
			}
			return json.RawMessage(`{"` + k + `":` + string(v) + `}`)
		}
		out = append(out, capturedServer{name: name, Tools: wrap("tools", c.Tools), Prompts: wrap("prompts", c.Prompts),
			Resources: wrap("resources", c.Resources), Instructions: c.Instructions})
	}
	return out
}

// triggerRE marks real tools whose text holds words a keyword list trips on.
var triggerRE = regexp.MustCompile(`(?i)\b(important|must|ignore|token|never|always|secret|password|key|credential|do not|instructions?)\b|[~/]\w|[^\x00-\x7F]`)

// scanSample runs the scanner on one labelled sample.
func scanSample(s sample) []Finding {
	sc := New(&Options{Peers: s.Peers})
	switch s.Kind {
	case "tool":
		return sc.Tool("tools[0]", s.Data, nil)
	case "tools":
		return sc.Tools(s.Data)
	case "result":
		return sc.Content("result", s.Data)
	case "prompt_get", "resource_read":
		return sc.Content("result", s.Data)
	case "prompts":
		return sc.Prompts(s.Data)
	case "resources":
		return sc.Resources(s.Data)
	case "instructions":
		var v struct {
			Instructions string `json:"instructions"`
		}
		json.Unmarshal(s.Data, &v)
		return sc.Instructions(v.Instructions)
	case "sampling":
		return sc.Sampling(s.Data)
	case "elicitation":
		return sc.Elicitation(s.Data)
	}
	panic("unknown kind " + s.Kind)
}

// targets are the figures the scanner is held to.
type targets struct {
	attacks, detected  int
	byClass            map[string][2]int // detected, total
	missed             []string
	tools, fp, hard    int
	trigger, triggerFP int
	fpNames            []string
	content, contentFP int
	contentFPIDs       []string
	servers            map[string]bool
}

func measure(t testing.TB) targets {
	g := targets{byClass: map[string][2]int{}, servers: map[string]bool{}}
	for _, s := range readLines[sample](t, "attacks.jsonl") {
		g.attacks++
		c := g.byClass[s.Class]
		c[1]++
		if fs := scanSample(s); len(fs) > 0 && !onlyLimits(fs) {
			g.detected++
			c[0]++
		} else {
			g.missed = append(g.missed, s.ID)
		}
		g.byClass[s.Class] = c
	}
	for _, rt := range realTools(t) {
		g.servers[rt.server] = true
		g.tools++
		trig := triggerRE.MatchString(rt.text)
		if trig {
			g.trigger++
		}
		if len(rt.findings) > 0 {
			g.fp++
			if trig {
				g.triggerFP++
			}
			var rules []string
			for _, f := range rt.findings {
				rules = append(rules, string(f.Severity)+" "+f.Rule)
			}
			g.fpNames = append(g.fpNames, rt.server+"/"+rt.name+" ("+strings.Join(rules, ", ")+")")
			if HasHard(rt.findings) {
				g.hard++
			}
		}
	}
	var content []sample
	content = append(content, readLines[sample](t, "benign.jsonl")...)
	for _, c := range captured(t) {
		content = append(content, sample{ID: c.name + "/prompts", Kind: "prompts", Data: c.Prompts},
			sample{ID: c.name + "/resources", Kind: "resources", Data: c.Resources})
		if c.Instructions != "" {
			d, _ := json.Marshal(map[string]string{"instructions": c.Instructions})
			content = append(content, sample{ID: c.name + "/instructions", Kind: "instructions", Data: d})
		}
	}
	for _, r := range readLines[realServer](t, "real.jsonl") {
		if len(r.Prompts) > 0 {
			d, _ := json.Marshal(map[string]any{"prompts": r.Prompts})
			content = append(content, sample{ID: r.Server + "/prompts", Kind: "prompts", Data: d})
		}
	}
	for _, s := range content {
		g.content++
		if fs := scanSample(s); len(fs) > 0 {
			g.contentFP++
			g.contentFPIDs = append(g.contentFPIDs, s.ID+" ("+fs[0].Rule+")")
		}
	}
	return g
}

func onlyLimits(fs []Finding) bool {
	for _, f := range fs {
		if !strings.HasPrefix(f.Rule, "limit.") {
			return false
		}
	}
	return true
}

func pct(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}

// TestTargets holds the scanner to the targets on the labelled set: recall
// at least 90% overall and 75% in every class; findings on at most 1% of
// real tools and 5% of real tools with trigger words; hard findings on at
// most 1% of real tools.
func TestTargets(t *testing.T) {
	g := measure(t)
	if *printTargets {
		fmt.Print(g.table())
	}
	if len(g.servers) < 30 {
		t.Errorf("the labelled set has tools of %d servers, want at least 30", len(g.servers))
	}
	if r := pct(g.detected, g.attacks); r < 90 {
		t.Errorf("recall %.1f%%, want ≥ 90%%; missed: %v", r, g.missed)
	}
	for c, n := range g.byClass {
		if r := pct(n[0], n[1]); r < 75 {
			t.Errorf("recall of class %s %.1f%%, want ≥ 75%%", c, r)
		}
	}
	if r := pct(g.fp, g.tools); r > 1 {
		t.Errorf("findings on %.1f%% of real tools, want ≤ 1%%: %v", r, g.fpNames)
	}
	if r := pct(g.triggerFP, g.trigger); r > 5 {
		t.Errorf("findings on %.1f%% of real tools with trigger words, want ≤ 5%%: %v", r, g.fpNames)
	}
	if r := pct(g.hard, g.tools); r > 1 {
		t.Errorf("hard findings on %.1f%% of real tools, want ≤ 1%%: %v", r, g.fpNames)
	}
	if g.contentFP > 0 {
		t.Errorf("findings on real results, prompts and requests: %v", g.contentFPIDs)
	}
}

func (g targets) table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "| measure | value | target |\n|---|---|---|\n")
	fmt.Fprintf(&b, "| recall, all attacks | %.1f%% (%d of %d) | ≥ 90%% |\n", pct(g.detected, g.attacks), g.detected, g.attacks)
	classes := make([]string, 0, len(g.byClass))
	for c := range g.byClass {
		classes = append(classes, c)
	}
	sort.Strings(classes)
	for _, c := range classes {
		n := g.byClass[c]
		fmt.Fprintf(&b, "| recall, %s | %.0f%% (%d of %d) | ≥ 75%% |\n", c, pct(n[0], n[1]), n[0], n[1])
	}
	fmt.Fprintf(&b, "| findings on real tools (%d servers) | %.1f%% (%d of %d) | ≤ 1%% |\n", len(g.servers), pct(g.fp, g.tools), g.fp, g.tools)
	fmt.Fprintf(&b, "| findings on real tools with trigger words | %.1f%% (%d of %d) | ≤ 5%% |\n", pct(g.triggerFP, g.trigger), g.triggerFP, g.trigger)
	fmt.Fprintf(&b, "| hard findings on real tools | %.1f%% (%d of %d) | ≤ 1%% |\n", pct(g.hard, g.tools), g.hard, g.tools)
	fmt.Fprintf(&b, "| findings on real results, prompts, resources, requests | %d of %d | — |\n", g.contentFP, g.content)
	if len(g.fpNames) > 0 {
		slices.Sort(g.fpNames)
		fmt.Fprintf(&b, "\nfindings on real tools: %s\n", strings.Join(g.fpNames, "; "))
	}
	if len(g.missed) > 0 {
		fmt.Fprintf(&b, "missed attacks: %s\n", strings.Join(g.missed, ", "))
	}
	return b.String()
}
