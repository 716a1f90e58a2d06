// Package httpnote lets a round tripper tell whoever sent a request what it
// did on the way (a refused token refreshed and the request sent again),
// without either importing the other: the sender puts a Note in the
// request's context, the round tripper counts on it. It also says how both
// name a token in what they record: by its Fingerprint.
package httpnote

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"sync/atomic"
)

// Note is what round trippers tell the sender of one request.
type Note struct {
	// AuthRetries counts the times the request was sent again with a new
	// token after the server refused one (a refresh, a login, a step-up).
	AuthRetries atomic.Int32
}

type key struct{}

// With returns ctx carrying a new Note.
func With(ctx context.Context) (context.Context, *Note) {
	n := &Note{}
	return context.WithValue(ctx, key{}, n), n
}

// From returns the Note ctx carries, or nil.
func From(ctx context.Context) *Note {
	n, _ := ctx.Value(key{}).(*Note)
	return n
}

// AuthRetry counts one retry with a new token on ctx's Note, if any.
func AuthRetry(ctx context.Context) {
	if n := From(ctx); n != nil {
		n.AuthRetries.Add(1)
	}
}

// Fingerprint is how records and the login's state name a token, never
// the token itself: "sha256:" and the first 16 hex digits of its SHA-256;
// empty for no token.
func Fingerprint(token string) string {
	if token == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(token))
	return "sha256:" + hex.EncodeToString(sum[:8])
}
