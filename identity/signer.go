package identity

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha512"
	"sync"

	"filippo.io/edwards25519"
)

// Signer makes Ed25519 signatures for one key with the expensive half done
// ahead of time. An Ed25519 signature is (R, S) with R = r·B for a secret
// nonce r, and S = r + H(R‖A‖M)·s. RFC 8032 derives r from the message, so
// R can only be computed once the message is known; that scalar
// multiplication is most of the cost. Verification does not care how r was
// chosen, only that it is secret, uniform and never reused, so the Signer
// draws r from crypto/rand and computes R in the background, between
// calls. Signing is then one SHA-512 and a scalar multiply-add: a few
// microseconds instead of ~25 on the proxy's hot path. The signatures are
// ordinary Ed25519 signatures and verify with crypto/ed25519.
type Signer struct {
	s      *edwards25519.Scalar // the secret scalar
	pub    []byte
	nonces chan nonce
	refill sync.Mutex // held while a goroutine is refilling
}

type nonce struct {
	r *edwards25519.Scalar
	R [32]byte
}

// Signer returns a Signer for k that keeps up to depth nonces ready.
func (k *Key) Signer(depth int) *Signer {
	h := sha512.Sum512(k.priv.Seed())
	s, err := edwards25519.NewScalar().SetBytesWithClamping(h[:32])
	if err != nil {
		panic("identity: clamping a 32-byte seed hash cannot fail")
	}
	sg := &Signer{s: s, pub: k.Public(), nonces: make(chan nonce, max(depth, 1))}
	go sg.fill()
	return sg
}

func newNonce() nonce {
	var b [64]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("identity: crypto/rand failed: " + err.Error())
	}
	r, _ := edwards25519.NewScalar().SetUniformBytes(b[:])
	var n nonce
	copy(n.R[:], new(edwards25519.Point).ScalarBaseMult(r).Bytes())
	n.r = r
	return n
}

// fill tops the nonce buffer up; one filler runs at a time.
func (sg *Signer) fill() {
	if !sg.refill.TryLock() {
		return
	}
	defer sg.refill.Unlock()
	for len(sg.nonces) < cap(sg.nonces) {
		select {
		case sg.nonces <- newNonce():
		default:
			return
		}
	}
}

// Sign signs msg. Each nonce is used once: a channel receive hands it to
// exactly one signature.
func (sg *Signer) Sign(msg []byte) []byte {
	var n nonce
	select {
	case n = <-sg.nonces:
	default:
		n = newNonce()
	}
	if len(sg.nonces) < cap(sg.nonces)/2 {
		go sg.fill()
	}
	h := sha512.New()
	h.Write(n.R[:])
	h.Write(sg.pub)
	h.Write(msg)
	k, _ := edwards25519.NewScalar().SetUniformBytes(h.Sum(nil))
	S := edwards25519.NewScalar().MultiplyAdd(k, sg.s, n.r)
	sig := make([]byte, 0, ed25519.SignatureSize)
	sig = append(sig, n.R[:]...)
	return append(sig, S.Bytes()...)
}

// Public returns the signer's public key.
func (sg *Signer) Public() ed25519.PublicKey { return sg.pub }
