package identity

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStoreSaveLoad(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	var warned []string
	s := Store{Dir: dir, Warn: func(m string) { warned = append(warned, m) }}
	k, _ := Generate()
	if err := s.Save("srv", k); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(s.Path("srv"))
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %04o, want 0600", st.Mode().Perm())
	}
	dst, _ := os.Stat(dir)
	if dst.Mode().Perm() != 0o700 {
		t.Errorf("key dir mode %04o, want 0700", dst.Mode().Perm())
	}
	// Never overwritten.
	other, _ := Generate()
	if err := s.Save("srv", other); !errors.Is(err, ErrExists) {
		t.Fatalf("second Save = %v, want ErrExists", err)
	}
	got, err := s.Load("srv", k.PublicString())
	if err != nil {
		t.Fatal(err)
	}
	if !got.Public().Equal(k.Public()) {
		t.Error("loaded key differs from the saved one")
	}
	if len(warned) != 0 {
		t.Errorf("warnings for a 0600 key: %v", warned)
	}
	os.Chmod(s.Path("srv"), 0o644)
	s.LoadFile("srv")
	if len(warned) != 1 || !strings.Contains(warned[0], "0644") {
		t.Errorf("warnings for a 0644 key = %v, want one naming the mode", warned)
	}
	if strings.Contains(k.String(), k.Seed()) {
		t.Error("String() shows the private key")
	}
}

func TestPrivateKeyFormats(t *testing.T) {
	k, _ := Generate()
	seed := k.priv.Seed()
	full := []byte(k.priv)
	for _, tt := range []struct {
		name string
		in   string
	}{
		{"seed std", base64.StdEncoding.EncodeToString(seed)},
		{"seed raw url", base64.RawURLEncoding.EncodeToString(seed)},
		{"64-byte key", base64.StdEncoding.EncodeToString(full)},
		{"with newline", base64.StdEncoding.EncodeToString(seed) + "\n"},
	} {
		got, err := ParsePrivateKey(tt.in)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if !got.Public().Equal(k.Public()) {
			t.Errorf("%s: another key", tt.name)
		}
	}
	bad := append([]byte(nil), full...)
	bad[63] ^= 1
	for _, in := range []string{"", "not base64!", base64.StdEncoding.EncodeToString(seed[:31]), base64.StdEncoding.EncodeToString(bad)} {
		_, err := ParsePrivateKey(in)
		if err == nil {
			t.Errorf("ParsePrivateKey(%q) succeeded, want an error", in)
		} else if in != "" && len(in) > 8 && strings.Contains(err.Error(), in) {
			t.Errorf("error quotes the secret input: %v", err)
		}
	}
}

// AIM_PRIVATE_KEY stands in for the stored key only when it is the
// registered identity.
func TestEnvKey(t *testing.T) {
	dir := t.TempDir()
	var warned []string
	s := Store{Dir: dir, Warn: func(m string) { warned = append(warned, m) }}
	stored, _ := Generate()
	s.Save("srv", stored)
	env, _ := Generate()
	t.Setenv(EnvPrivateKey, env.Seed())

	got, err := s.Load("srv", env.PublicString())
	if err != nil || !got.Public().Equal(env.Public()) {
		t.Fatalf("Load with the env key registered = %v, %v; want the env key", got, err)
	}
	got, err = s.Load("srv", stored.PublicString())
	if err != nil || !got.Public().Equal(stored.Public()) {
		t.Fatalf("Load with another key registered = %v, %v; want the stored key", got, err)
	}
	if len(warned) != 1 {
		t.Errorf("warnings = %v, want one about the mismatch", warned)
	}
	t.Setenv(EnvPrivateKey, "garbage")
	if _, err := s.Load("srv", stored.PublicString()); err == nil {
		t.Error("Load with a malformed AIM_PRIVATE_KEY succeeded")
	}
}

func TestFingerprint(t *testing.T) {
	a, _ := Generate()
	b, _ := Generate()
	fa, fb := Fingerprint(a.Public()), Fingerprint(b.Public())
	if fa == fb || !strings.HasPrefix(fa, "SHA256:") || len(fa) != len("SHA256:")+16 {
		t.Errorf("fingerprints %q, %q: want distinct SHA256:+16 chars", fa, fb)
	}
	if Fingerprint(a.Public()) != fa {
		t.Error("fingerprint not stable")
	}
	sig := a.Sign([]byte("m"))
	if !Verify(a.Public(), []byte("m"), sig) || Verify(b.Public(), []byte("m"), sig) || Verify(ed25519.PublicKey{1}, []byte("m"), sig) {
		t.Error("Verify accepts the wrong key or rejects the right one")
	}
}
