package oauth

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/opena2a-org/aim-mcp/internal/atomicfile"
	"github.com/opena2a-org/aim-mcp/internal/private"
)

// state is the public half of a login, in a file beside the store: what
// list and status show, and the callback port that must stay the same.
// It holds no secret, so reading it never asks the keychain.
type state struct {
	URL          string    `json:"url"`
	Store        string    `json:"store,omitempty"`
	Issuer       string    `json:"issuer,omitempty"`
	ClientID     string    `json:"client_id,omitempty"`
	Scopes       []string  `json:"scopes,omitempty"`
	Fingerprint  string    `json:"token_fingerprint,omitempty"`
	Expiry       time.Time `json:"expiry,omitzero"`
	Refreshable  bool      `json:"refreshable,omitempty"`
	LoggedIn     bool      `json:"logged_in,omitempty"`
	Lost         string    `json:"lost,omitempty"` // why a login stopped working
	CallbackPort int       `json:"callback_port,omitempty"`
	Updated      time.Time `json:"updated,omitzero"`
}

func statePath(home, server string) string {
	return filepath.Join(dir(home), fileName(server)+".json")
}

func loadState(home, server string) (state, error) {
	var s state
	b, err := os.ReadFile(statePath(home, server))
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, err
	}
	return s, json.Unmarshal(b, &s)
}

func saveState(home, server string, s state) error {
	if err := private.MkdirAll(dir(home)); err != nil {
		return err
	}
	s.Updated = time.Now().UTC()
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(statePath(home, server), append(b, '\n'), 0o600)
}

// Login states, as list and status show them.
const (
	StateNone     = "none"      // never logged in, or logged out
	StateLoggedIn = "logged in" // a token that works or can be refreshed
	StateExpired  = "expired"   // it worked once; now it needs aim-mcp login again
)

// Status is what aim-mcp knows of a server's login, read without touching
// the keychain.
type Status struct {
	State    string
	URL      string
	Issuer   string
	ClientID string
	Scopes   []string
	Expiry   time.Time
	Store    string
	Reason   string // why it expired, when it did
}

// LoginStatus says whether the server named server in home is logged in.
func LoginStatus(home, server string, now time.Time) Status {
	s, err := loadState(home, server)
	if err != nil {
		return Status{State: StateNone, Reason: err.Error()}
	}
	st := Status{URL: s.URL, Issuer: s.Issuer, ClientID: s.ClientID, Scopes: s.Scopes, Expiry: s.Expiry, Store: s.Store}
	switch {
	case s.Lost != "":
		st.State, st.Reason = StateExpired, s.Lost
	case !s.LoggedIn:
		st.State = StateNone
	case !s.Refreshable && !s.Expiry.IsZero() && now.After(s.Expiry):
		st.State, st.Reason = StateExpired, "the token expired and the server gave no refresh token"
	default:
		st.State = StateLoggedIn
	}
	return st
}
