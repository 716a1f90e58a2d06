package redact

import (
	"regexp"
	"strings"
	"sync"
)

// rule is one kind of secret in text. The expression runs only when one of
// its keywords occurs in the text (fold: compared without regard to ASCII
// case). group is the submatch that is the secret (0: the whole match);
// key, when set, is the submatch that must pass Key for the match to count.
type rule struct {
	name     string
	keywords []string
	fold     bool
	re       *regexp.Regexp
	group    int
	key      int
}

// rules are written after the token formats that scanners such as
// gitleaks know, kept to the services MCP servers are commonly given keys
// for. Order matters little: a masked secret matches no later rule. They
// are compiled on first use: most aim-mcp processes never redact.
var rules = sync.OnceValue(func() []rule {
	return []rule{
		{name: "pem private key", keywords: []string{"PRIVATE KEY"},
			re: regexp.MustCompile(`-----BEGIN[ A-Z0-9]*PRIVATE KEY-----(?s:.*?)(?:-----END[ A-Z0-9]*PRIVATE KEY-----|$)`)},
		{name: "jwt", keywords: []string{"eyJ"},
			re: regexp.MustCompile(`\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*`)},
		{name: "aws access key", keywords: []string{"AKIA", "ASIA", "ABIA", "ACCA"},
			re: regexp.MustCompile(`\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b`)},
		{name: "github token", keywords: []string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"},
			re: regexp.MustCompile(`\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,})`)},
		{name: "gitlab token", keywords: []string{"glpat-"}, re: regexp.MustCompile(`\bglpat-[A-Za-z0-9_-]{20,}`)},
		{name: "slack token", keywords: []string{"xox"}, re: regexp.MustCompile(`\bxox[abposr]-[A-Za-z0-9-]{10,}`)},
		{name: "slack webhook", keywords: []string{"hooks.slack.com"},
			re: regexp.MustCompile(`hooks\.slack\.com/services/[A-Za-z0-9/_-]+`)},
		{name: "stripe key", keywords: []string{"_live_", "_test_"},
			re: regexp.MustCompile(`\b[rsp]k_(?:live|test)_[A-Za-z0-9]{16,}`)},
		{name: "openai or anthropic key", keywords: []string{"sk-"}, re: regexp.MustCompile(`\bsk-[A-Za-z0-9_-]{20,}`)},
		{name: "google api key", keywords: []string{"AIza"}, re: regexp.MustCompile(`\bAIza[0-9A-Za-z_-]{35}`)},
		{name: "npm token", keywords: []string{"npm_"}, re: regexp.MustCompile(`\bnpm_[A-Za-z0-9]{36}`)},
		{name: "pypi token", keywords: []string{"pypi-"}, re: regexp.MustCompile(`\bpypi-[A-Za-z0-9_-]{50,}`)},
		{name: "hugging face token", keywords: []string{"hf_"}, re: regexp.MustCompile(`\bhf_[A-Za-z0-9]{30,}`)},
		{name: "sendgrid key", keywords: []string{"SG."}, re: regexp.MustCompile(`\bSG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}`)},
		{name: "digitalocean token", keywords: []string{"_v1_"}, re: regexp.MustCompile(`\bdo[por]_v1_[a-f0-9]{64}`)},
		{name: "shopify token", keywords: []string{"shp"}, re: regexp.MustCompile(`\bshp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}`)},
		{name: "aim api key", keywords: []string{"aim_live_"}, re: regexp.MustCompile(`\baim_live_[A-Za-z0-9_-]{8,}`)},
		{name: "auth header", keywords: []string{"authoriz", "api-key", "auth-token", "cookie"}, fold: true,
			re: regexp.MustCompile(`(?i)\b((?:proxy-)?authorization|x-api-key|api-key|x-auth-token|cookie|set-cookie)\s*:\s*([^\r\n"']+)`), group: 2},
		{name: "bearer or basic credential", keywords: []string{"bearer", "basic"}, fold: true,
			re: regexp.MustCompile(`(?i)\b(?:bearer|basic)\s+([A-Za-z0-9._~+/=-]{8,})`), group: 1},
		{name: "url password", keywords: []string{"://"},
			re: regexp.MustCompile(`\b[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*:([^/\s@]+)@`), group: 1},
		{name: "key=value", keywords: []string{"="},
			re: regexp.MustCompile(`([A-Za-z0-9_.-]+)\s*=\s*("[^"]*"|'[^']*'|[^\s&;,"']+)`), group: 2, key: 1},
		{name: "quoted key and value", keywords: []string{`":`, `" :`},
			re: regexp.MustCompile(`"([^"\\]{1,64})"\s*:\s*"((?:[^"\\]|\\.)*)"`), group: 2, key: 1},
	}
})

// String returns s with the secrets the rules find masked.
func String(s string, mask Mask) string {
	if len(s) < 8 {
		return s
	}
	if mask == nil {
		mask = Hide
	}
	var lower string
	rules := rules()
	for i := range rules {
		r := &rules[i]
		if !r.present(s, &lower) {
			continue
		}
		s = r.apply(s, mask)
	}
	return s
}

// present is the keyword prefilter; lower is s in lower case, made once
// and only when a rule that folds case needs it.
func (r *rule) present(s string, lower *string) bool {
	in := s
	if r.fold {
		if *lower == "" {
			*lower = strings.ToLower(s)
		}
		in = *lower
	}
	for _, k := range r.keywords {
		if strings.Contains(in, k) {
			return true
		}
	}
	return false
}

func (r *rule) apply(s string, mask Mask) string {
	ms := r.re.FindAllStringSubmatchIndex(s, -1)
	if ms == nil {
		return s
	}
	var b strings.Builder
	last := 0
	for _, m := range ms {
		if r.key > 0 && !Key(s[m[2*r.key]:m[2*r.key+1]]) {
			continue
		}
		start, end := m[2*r.group], m[2*r.group+1]
		if start < 0 || start == end || strings.HasPrefix(s[start:end], "[REDACTED") {
			continue
		}
		secret := s[start:end]
		if r.key > 0 && len(secret) >= 2 && (secret[0] == '"' || secret[0] == '\'') && secret[len(secret)-1] == secret[0] {
			start, end = start+1, end-1 // keep the quotes
			secret = s[start:end]
		}
		b.WriteString(s[last:start])
		b.WriteString(mask(secret))
		last = end
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}
