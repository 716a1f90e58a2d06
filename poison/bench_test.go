package poison

import (
	"encoding/json"
	"strings"
	"testing"
)

// fiftyTools is a tools/list of 50 real tools: playwright's, github's and
// slack's from the labelled set.
func fiftyTools(b *testing.B) json.RawMessage {
	var tools []json.RawMessage
	for _, r := range readLines[realServer](b, "real.jsonl") {
		if r.Server != "playwright" && r.Server != "github" && r.Server != "slack" && r.Server != "sentry" {
			continue
		}
		var l struct {
			Tools []json.RawMessage `json:"tools"`
		}
		json.Unmarshal(r.listResult(), &l)
		tools = append(tools, l.Tools...)
	}
	tools = tools[:50]
	out, _ := json.Marshal(map[string]any{"tools": tools})
	return out
}

// BenchmarkToolsFirstSeen scans a first-seen tools/list of 50 real tools
// (target: ≤ 1 ms).
func BenchmarkToolsFirstSeen(b *testing.B) {
	list := fiftyTools(b)
	s := New(nil)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if fs := s.Tools(list); len(fs) > 0 {
			b.Fatal(fs)
		}
	}
}

// resultText is a megabyte of real tool results (the labelled set's benign
// results, repeated).
func resultText(b *testing.B) string {
	var parts []string
	for _, s := range readLines[sample](b, "benign.jsonl") {
		if s.Kind != "result" {
			continue
		}
		var r struct {
			Content []struct {
				Text string `json:"text"`
			} `json:"content"`
		}
		json.Unmarshal(s.Data, &r)
		for _, c := range r.Content {
			parts = append(parts, c.Text)
		}
	}
	one := strings.Join(parts, "\n")
	return strings.Repeat(one, (1<<20)/len(one)+1)
}

// BenchmarkResultPrefilter measures the prefilter over a megabyte of real
// results (target: ≥ 200 MB/s).
func BenchmarkResultPrefilter(b *testing.B) {
	text := []byte(resultText(b))
	var w []Window
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		w = Windows(text, w[:0])
	}
	covered := 0
	for _, x := range w {
		covered += x.Hi - x.Lo
	}
	b.ReportMetric(100*float64(covered)/float64(len(text)), "%windowed")
}

// BenchmarkResultScan measures the whole scan of the same results (prefilter
// and the rules on its windows), for the ratio.
func BenchmarkResultScan(b *testing.B) {
	text := resultText(b)
	msg, _ := json.Marshal(map[string]any{"content": []any{map[string]any{"type": "text", "text": text}}})
	s := New(nil)
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	for range b.N {
		s.Content("result", msg)
	}
}
