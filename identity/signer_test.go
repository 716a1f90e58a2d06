package identity

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"testing"
)

// Signatures from the precomputed-nonce signer are standard Ed25519: they
// verify with crypto/ed25519, fail for another message or key, and never
// repeat a nonce.
func TestSignerVerifies(t *testing.T) {
	k, _ := Generate()
	other, _ := Generate()
	sg := k.Signer(8)
	seenR := map[string]bool{}
	for i := range 200 {
		msg := []byte(fmt.Sprintf("record %d", i))
		sig := sg.Sign(msg)
		if len(sig) != ed25519.SignatureSize {
			t.Fatalf("signature length %d, want %d", len(sig), ed25519.SignatureSize)
		}
		if !ed25519.Verify(k.Public(), msg, sig) {
			t.Fatalf("signature %d does not verify", i)
		}
		if ed25519.Verify(k.Public(), append(msg, '!'), sig) {
			t.Fatalf("signature %d verifies for another message", i)
		}
		if ed25519.Verify(other.Public(), msg, sig) {
			t.Fatalf("signature %d verifies with another key", i)
		}
		if seenR[string(sig[:32])] {
			t.Fatalf("nonce reused at signature %d", i)
		}
		seenR[string(sig[:32])] = true
	}
	if !bytes.Equal(sg.Public(), k.Public()) {
		t.Errorf("Public() differs from the key's")
	}
}

func BenchmarkSign(b *testing.B) {
	k, _ := Generate()
	msg := make([]byte, 32)
	b.Run("crypto/ed25519", func(b *testing.B) {
		for range b.N {
			k.Sign(msg)
		}
	})
	// The latency a call sees: nonces were computed while the proxy idled.
	b.Run("signer", func(b *testing.B) {
		sg := k.Signer(2*b.N + 2)
		for len(sg.nonces) < cap(sg.nonces) {
			sg.fill()
		}
		b.ResetTimer()
		for range b.N {
			sg.Sign(msg)
		}
	})
}
