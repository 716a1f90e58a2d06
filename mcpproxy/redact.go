package mcpproxy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// secretKey matches argument names whose values are secrets.
var secretKey = regexp.MustCompile(`(?i)(pass(word|phrase|wd)?|secret|token|api[-_]?key|apikey|auth|credential|private[-_]?key|cookie|session[-_]?id|bearer|signature)`)

// secretValue matches values that look like credentials whatever their key:
// well-known token prefixes, bearer headers and PEM blocks.
var secretValue = regexp.MustCompile(`^(sk-[A-Za-z0-9_-]{16,}|sk_live_|rk_live_|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_|xox[abprs]-|AKIA[0-9A-Z]{16}|aim_live_|glpat-|eyJ[A-Za-z0-9_-]{10,}\.|(?i:bearer|basic)\s+\S{8,})|-----BEGIN [A-Z ]*PRIVATE KEY-----`)

// maxLogged caps a logged string; the digest still covers the whole value.
const maxLogged = 1024

// Redacted is the form of a call's arguments that goes into the audit log:
// secret-looking values replaced, long strings cut. It returns compact JSON.
func Redacted(args []byte) json.RawMessage {
	args = bytes.TrimSpace(args)
	if len(args) == 0 {
		return json.RawMessage("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(args))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return json.RawMessage(`"[unparseable arguments]"`)
	}
	out, err := marshalNoEscape(redact("", v))
	if err != nil {
		return json.RawMessage(`"[unprintable arguments]"`)
	}
	return out
}

func redact(key string, v any) any {
	if key != "" && secretKey.MatchString(key) {
		if _, isObj := v.(map[string]any); !isObj {
			return "[REDACTED]"
		}
	}
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = redact(k, e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = redact("", e)
		}
		return out
	case string:
		if secretValue.MatchString(strings.TrimSpace(v)) {
			return "[REDACTED]"
		}
		if len(v) > maxLogged {
			return fmt.Sprintf("%s…[%d bytes]", v[:maxLogged], len(v))
		}
	}
	return v
}

func marshalNoEscape(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
