package redact

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain text, nothing secret here", "plain text, nothing secret here"},
		{"export API_KEY=abc123def456 && run", "export API_KEY=[REDACTED] && run"},
		{`PASSWORD="hunter2 two" ./x`, `PASSWORD="[REDACTED]" ./x`},
		{"max_tokens=100 count=3", "max_tokens=100 count=3"},
		{"postgres://admin:s3cr3t@db.internal:5432/app", "postgres://admin:[REDACTED]@db.internal:5432/app"},
		{"https://api.example.com/v1?user=bob&access_token=abcdef123&x=1", "https://api.example.com/v1?user=bob&access_token=[REDACTED]&x=1"},
		{"curl -H 'Authorization: Bearer abcdefghijk' https://x", "curl -H 'Authorization: [REDACTED]' https://x"},
		{"use Bearer abcdefghijklmnop", "use Bearer [REDACTED]"},
		{"key AKIAIOSFODNN7EXAMPLE in text", "key [REDACTED] in text"},
		{"ghp_" + strings.Repeat("a", 36), Marker},
		{"token is sk-proj-" + strings.Repeat("Ab1", 10), "token is [REDACTED]"},
		{"xoxb-1234567890-abcdefghij", Marker},
		{"AIza" + strings.Repeat("x", 35), Marker},
		{"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig_nature", Marker},
		{"-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----", Marker},
		{`{"user":"bob","password":"x y z"}`, `{"user":"bob","password":"[REDACTED]"}`},
		{"the author=Jane wrote", "the author=Jane wrote"},
	}
	for _, tc := range tests {
		if got := String(tc.in, Hide); got != tc.want {
			t.Errorf("String(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestKey(t *testing.T) {
	yes := []string{"password", "apiKey", "X-Auth-Token", "client_secret", "Authorization", "auth",
		"authToken", "GITHUB_TOKEN", "db_password", "privateKey", "Cookie", "AWS_SECRET_ACCESS_KEY", "sig"}
	no := []string{"author", "max_tokens", "path", "oauth_client_id", "name", "passage", "bypass", "tokens_used"}
	for _, k := range yes {
		if !Key(k) {
			t.Errorf("Key(%q) = false, want true", k)
		}
	}
	for _, k := range no {
		if Key(k) {
			t.Errorf("Key(%q) = true, want false", k)
		}
	}
}

func TestValue(t *testing.T) {
	in := `{
		"headers": [{"name": "Authorization", "value": "Basic dXNlcjpwYXNz"}, {"name": "Accept", "value": "text/html"}],
		"env": [{"key": "OPENAI_API_KEY", "value": 12345}],
		"credentials": {"user": "bob", "pass": "x"},
		"apiKey": 42,
		"token": ["a", "b"],
		"command": "DATABASE_PASSWORD=hunter22 psql",
		"url": "mysql://root:toor@localhost/db",
		"author": "Jane",
		"max_tokens": 100,
		"nested": [{"deeper": {"secret": null}}]
	}`
	var v any
	if err := json.Unmarshal([]byte(in), &v); err != nil {
		t.Fatal(err)
	}
	got := Value(v, Sized)
	want := map[string]any{
		"headers":     []any{map[string]any{"name": "Authorization", "value": "[REDACTED 18 bytes]"}, map[string]any{"name": "Accept", "value": "text/html"}},
		"env":         []any{map[string]any{"key": "OPENAI_API_KEY", "value": "[REDACTED 5 bytes]"}},
		"credentials": "[REDACTED 25 bytes]",
		"apiKey":      "[REDACTED 2 bytes]",
		"token":       "[REDACTED 9 bytes]",
		"command":     "DATABASE_PASSWORD=[REDACTED 8 bytes] psql",
		"url":         "mysql://root:[REDACTED 4 bytes]@localhost/db",
		"author":      "Jane",
		"max_tokens":  float64(100),
		"nested":      []any{map[string]any{"deeper": map[string]any{"secret": "[REDACTED 4 bytes]"}}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Value (-want +got):\n%s", diff)
	}
}

func TestArgv(t *testing.T) {
	in := []string{"npx", "-y", "server", "--api-key", "abc123", "--token=xyz789", "--verbose",
		"--db", "postgres://u:pw12345@h/d", "-e", "GITHUB_TOKEN=ghx", "--header", "Authorization: Bearer abcdefghij", "--no-auth", "--port", "80"}
	want := []string{"npx", "-y", "server", "--api-key", Marker, "--token=" + Marker, "--verbose",
		"--db", "postgres://u:" + Marker + "@h/d", "-e", "GITHUB_TOKEN=" + Marker, "--header", "Authorization: " + Marker, "--no-auth", "--port", "80"}
	if diff := cmp.Diff(want, Argv(in, nil)); diff != "" {
		t.Errorf("Argv (-want +got):\n%s", diff)
	}
}

// TestIdempotent: masking what was masked changes nothing, so records and
// rows redacted before are shown as they are.
func TestIdempotent(t *testing.T) {
	for _, s := range []string{"API_KEY=abc123def456", "postgres://a:bcdefgh@h", "Authorization: Bearer abcdefghijk"} {
		for _, m := range []Mask{Hide, Sized} {
			once := String(s, m)
			if twice := String(once, m); twice != once {
				t.Errorf("String(String(%q)) = %q, want %q", s, twice, once)
			}
		}
	}
}

func BenchmarkString(b *testing.B) {
	cases := map[string]string{
		"path":    "/home/user/projects/aim-mcp/README.md",
		"prose":   strings.Repeat("The quick brown fox jumps over the lazy dog. ", 20),
		"command": "cd /srv && DATABASE_URL=postgres://app:pw@db/app ./migrate --verbose",
		"code":    strings.Repeat("func f(x int) int { return x * 2 }\n", 25),
	}
	for name, s := range cases {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(s)))
			for b.Loop() {
				String(s, Hide)
			}
		})
	}
}

// BenchmarkStringNoPrefilter runs every rule's expression on the same
// texts: the ratio to BenchmarkString is what the keyword prefilter saves.
func BenchmarkStringNoPrefilter(b *testing.B) {
	cases := map[string]string{
		"path":    "/home/user/projects/aim-mcp/README.md",
		"prose":   strings.Repeat("The quick brown fox jumps over the lazy dog. ", 20),
		"command": "cd /srv && DATABASE_URL=postgres://app:pw@db/app ./migrate --verbose",
		"code":    strings.Repeat("func f(x int) int { return x * 2 }\n", 25),
	}
	for name, s := range cases {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(s)))
			for b.Loop() {
				rules := rules()
				for i := range rules {
					rules[i].apply(s, Hide)
				}
			}
		})
	}
}
