package redact

import (
	"strings"
	"testing"
)

// FuzzString: masking never panics, masks every known secret it is given
// inside any text, and is idempotent.
func FuzzString(f *testing.F) {
	f.Add("export API_KEY=abc123def456", "ghp_"+strings.Repeat("a", 36))
	f.Add("postgres://u:pw@h/d", "AKIAIOSFODNN7EXAMPLE")
	f.Fuzz(func(t *testing.T, text, token string) {
		once := String(text, Hide)
		if String(once, Hide) != once {
			t.Fatalf("String is not idempotent on %q", text)
		}
		secret := "ghp_" + strings.Repeat("Z", 36)
		if got := String(text+" "+secret+" "+token, Hide); strings.Contains(got, secret) {
			t.Fatalf("String(%q) kept the token", text+" "+secret)
		}
	})
}
