// Package redact finds secrets in what aim-mcp stores and shows: the
// arguments of tool calls, a server's argv, free text. It replaces them
// with a mask and leaves everything else as it was, so a record stays
// readable while the digest of the real value goes on proving what ran.
//
// What counts as a secret:
//   - every value under a secret-sounding key ("password", "apiKey",
//     "X-Auth-Token", "client_secret", ...), whatever its type;
//   - the value of a header entry whose name is one ({"name":
//     "Authorization","value":...});
//   - inside text: KEY=value and "key":"value" pairs and query parameters
//     with such a key, auth headers ("Authorization: ..."), Bearer and
//     Basic credentials, the password of a URL's user info, and the token
//     formats of common services (cloud keys, VCS and chat tokens, JWTs,
//     PEM private keys).
//
// Text rules are regular expressions, each behind literal keywords that
// must appear first, so text without any of them costs a few substring
// searches.
package redact

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Marker replaces a secret where its size must not show (the audit log).
const Marker = "[REDACTED]"

// Mask turns a secret into what is shown instead.
type Mask func(secret string) string

// Hide is the audit log's mask: Marker alone.
func Hide(string) string { return Marker }

// Sized is the approver's mask: it says how long the hidden value is, so a
// person can tell an empty password from a pasted document.
func Sized(secret string) string { return fmt.Sprintf("[REDACTED %d bytes]", len(secret)) }

// Value returns a copy of a decoded JSON value (maps, slices, strings,
// numbers as encoding/json makes them) with secrets masked. Values are as
// deep as their parser allowed; the walk recurses with them.
func Value(v any, mask Mask) any {
	return Fold(v, mask, 0)
}

// Fold is Value that also folds every string longer than max bytes (max 0:
// none): the first max bytes stay, followed by "…[N bytes]" with the whole
// length. Only what is kept, and a margin, is searched, so a secret cut in
// two is still found whole and a multi-megabyte value costs no more than a
// short one.
func Fold(v any, mask Mask, max int) any {
	if mask == nil {
		mask = Hide
	}
	w := walker{mask: mask, max: max}
	return w.value(v)
}

// FoldMarker is what follows a folded string's kept bytes.
func FoldMarker(n int) string { return fmt.Sprintf("…[%d bytes]", n) }

type walker struct {
	mask Mask
	max  int
}

func (w walker) str(s string) string {
	if w.max <= 0 || len(s) <= w.max {
		return String(s, w.mask)
	}
	margin := min(len(s), w.max+256)
	kept := String(s[:margin], w.mask)
	if len(kept) > w.max {
		cut := w.max
		for cut > 0 && !utf8.RuneStart(kept[cut]) {
			cut--
		}
		kept = kept[:cut]
	}
	return kept + FoldMarker(len(s))
}

func (w walker) value(v any) any {
	mask := w.mask
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		header := headerEntry(v)
		for k, e := range v {
			if Key(k) || (header && k == "value") {
				out[k] = mask(text(e))
				continue
			}
			out[k] = w.value(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = w.value(e)
		}
		return out
	case string:
		return w.str(v)
	}
	return v
}

// headerEntry reports whether m is a name/value pair naming a secret, as
// HTTP header lists and environment lists are written.
func headerEntry(m map[string]any) bool {
	if _, ok := m["value"]; !ok {
		return false
	}
	for _, k := range []string{"name", "key", "header"} {
		if n, ok := m[k].(string); ok && Key(n) {
			return true
		}
	}
	return false
}

// text is the secret's text: a string as is, anything else as JSON.
func text(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// Key reports whether a name (an argument, a header, a flag, a variable)
// sounds like it holds a secret. Counts of model tokens ("max_tokens") and
// authors do not.
func Key(name string) bool {
	k := strings.ToLower(name)
	if strings.Contains(k, "tokens") || strings.Contains(k, "token_count") || strings.Contains(k, "max_token") {
		return false
	}
	for _, w := range secretWords {
		if strings.Contains(k, w) {
			return true
		}
	}
	switch k {
	case "pass", "pw", "sig", "auth":
		return true
	}
	// "auth" as a word of its own ("x-auth", "authToken", "auth_header"),
	// not "author" or "oauth".
	for i := strings.Index(k, "auth"); i >= 0; {
		before := i == 0 || k[i-1] < 'a' || k[i-1] > 'z'
		rest := k[i+4:]
		if before && !strings.HasPrefix(rest, "or") {
			return true
		}
		j := strings.Index(rest, "auth")
		if j < 0 {
			break
		}
		i += 4 + j
	}
	return strings.Contains(k, "authoriz")
}

var secretWords = []string{"password", "passwd", "passphrase", "pwd", "secret", "token", "apikey",
	"api_key", "api-key", "accesskey", "access_key", "access-key", "credential", "privatekey",
	"private_key", "private-key", "cookie", "sessionid", "session_id", "session-id", "bearer",
	"signature", "x-api-key"}

// Argv masks the secrets of a command line: the value of a secret-sounding
// flag (--api-key X, --token=X), and whatever String finds in each word.
func Argv(argv []string, mask Mask) []string {
	if mask == nil {
		mask = Hide
	}
	out := make([]string, len(argv))
	for i := 0; i < len(argv); i++ {
		a := argv[i]
		if name, ok := flagName(a); ok && Key(name) {
			if j := strings.IndexByte(a, '='); j >= 0 {
				out[i] = a[:j+1] + mask(a[j+1:])
				continue
			}
			out[i] = a
			if i+1 < len(argv) && !strings.HasPrefix(argv[i+1], "--") {
				i++
				out[i] = mask(argv[i])
			}
			continue
		}
		out[i] = String(a, mask)
	}
	return out
}

// flagName is the name of a -flag or --flag word, without dashes or value.
func flagName(a string) (string, bool) {
	if len(a) < 2 || a[0] != '-' || a == "--" {
		return "", false
	}
	name := strings.TrimLeft(a, "-")
	if j := strings.IndexByte(name, '='); j >= 0 {
		name = name[:j]
	}
	return name, name != ""
}
