package mcpproxy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Argument names whose values are secrets, matched as substrings of the
// lower-cased name ("apiKey", "X-Auth-Token", "db_password").
var secretKeyWords = []string{"pass", "secret", "token", "apikey", "api_key", "api-key", "auth",
	"credential", "privatekey", "private_key", "private-key", "cookie", "sessionid", "session_id",
	"bearer", "signature"}

// Value prefixes of well-known credentials, whatever the argument's name.
var secretPrefixes = []string{"sk-", "sk_live_", "rk_live_", "ghp_", "gho_", "ghu_", "ghs_", "ghr_",
	"github_pat_", "xoxa-", "xoxb-", "xoxp-", "xoxr-", "xoxs-", "AKIA", "aim_live_", "glpat-",
	"Bearer ", "bearer ", "Basic ", "basic "}

// maxLogged caps a logged string; the digest still covers the whole value.
const maxLogged = 1024

// Redacted is the form of a call's arguments that goes into the audit log:
// secret-looking values replaced, long strings cut. It returns compact JSON.
func Redacted(args []byte) json.RawMessage {
	args = bytes.TrimSpace(args)
	if len(args) == 0 {
		return json.RawMessage("{}")
	}
	v, err := decodeArgs(args)
	if err != nil {
		return json.RawMessage(`"[unparseable arguments]"`)
	}
	return redactedJSON(v)
}

func decodeArgs(args []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(args))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

func redactedJSON(v any) json.RawMessage {
	out, err := marshalNoEscape(redact("", v))
	if err != nil {
		return json.RawMessage(`"[unprintable arguments]"`)
	}
	return out
}

func secretKey(k string) bool {
	k = strings.ToLower(k)
	for _, w := range secretKeyWords {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

func secretValue(s string) bool {
	s = strings.TrimSpace(s)
	if len(s) < 8 {
		return false
	}
	for _, p := range secretPrefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	// JWTs and PEM private keys.
	return (strings.HasPrefix(s, "eyJ") && strings.Count(s, ".") == 2) ||
		(strings.Contains(s, "-----BEGIN") && strings.Contains(s, "PRIVATE KEY-----"))
}

func redact(key string, v any) any {
	if key != "" && secretKey(key) {
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
		if secretValue(v) {
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
