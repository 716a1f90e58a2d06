package oauth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"time"

	"github.com/opena2a-org/aim-mcp/internal/atomicfile"
	"github.com/opena2a-org/aim-mcp/internal/private"
	"github.com/zalando/go-keyring"
)

// Store keeps the secret half of a server's grant: tokens and a client
// secret. The OS keychain is the first choice; where none answers (a
// headless Linux box) a 0600 file under the aim-mcp home takes its place.
type Store interface {
	Get(key string) ([]byte, error) // ErrNoGrant when there is nothing
	Set(key string, value []byte) error
	Delete(key string) error
	Kind() string // "keyring" or "file", for the state file and messages
}

// ErrNoGrant says the store holds nothing for the server.
var ErrNoGrant = errors.New("no grant stored")

// Store kinds, as AIM_MCP_TOKEN_STORE and the state file name them.
const (
	StoreKeyring = "keyring"
	StoreFile    = "file"
)

// OpenStore picks the store: kind "file" or "keyring" as asked, else the
// keychain when it answers within a few seconds, else the file.
func OpenStore(home, kind string) (Store, error) {
	file := fileStore{dir: filepath.Join(dir(home), "tokens")}
	switch kind {
	case StoreFile:
		return file, nil
	case StoreKeyring:
		return keyringStore{home: home}, nil
	case "":
	default:
		return nil, fmt.Errorf("token store %q: want %s or %s", kind, StoreKeyring, StoreFile)
	}
	if keychainAnswers() {
		return keyringStore{home: home}, nil
	}
	return file, nil
}

// keychainAnswers asks the keychain for an entry that does not exist: "not
// found" means it is there. On Linux without a session bus it is not asked
// at all (the library would try to start one).
func keychainAnswers() bool {
	if runtime.GOOS != "darwin" && runtime.GOOS != "windows" && os.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := keyring.Get(keyringService, "aim-mcp probe")
		done <- err
	}()
	select {
	case err := <-done:
		return errors.Is(err, keyring.ErrNotFound) || err == nil
	case <-ctx.Done():
		return false
	}
}

const keyringService = "aim-mcp"

// keyringStore keeps grants in the keychain, under service aim-mcp and a
// user of NAME@HOME-DIGEST: one keychain serves every aim-mcp home.
type keyringStore struct{ home string }

func (keyringStore) Kind() string { return StoreKeyring }

func (k keyringStore) user(server string) string { return storeKey(k.home, server) }

func (k keyringStore) Get(key string) ([]byte, error) {
	s, err := keyring.Get(keyringService, k.user(key))
	if errors.Is(err, keyring.ErrNotFound) {
		return nil, ErrNoGrant
	}
	if err != nil {
		return nil, fmt.Errorf("keychain: %w", err)
	}
	return []byte(s), nil
}

func (k keyringStore) Set(key string, value []byte) error {
	if err := keyring.Set(keyringService, k.user(key), string(value)); err != nil {
		return fmt.Errorf("keychain: %w", err)
	}
	return nil
}

func (k keyringStore) Delete(key string) error {
	err := keyring.Delete(keyringService, k.user(key))
	if err != nil && !errors.Is(err, keyring.ErrNotFound) {
		return fmt.Errorf("keychain: %w", err)
	}
	return nil
}

// fileStore keeps each grant in a file of mode 0600 in a directory of mode
// 0700.
type fileStore struct{ dir string }

func (fileStore) Kind() string { return StoreFile }

func (s fileStore) path(key string) string { return filepath.Join(s.dir, fileName(key)+".json") }

func (s fileStore) Get(key string) ([]byte, error) {
	b, err := os.ReadFile(s.path(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNoGrant
	}
	return b, err
}

func (s fileStore) Set(key string, value []byte) error {
	if err := private.MkdirAll(s.dir); err != nil {
		return err
	}
	return atomicfile.WriteFile(s.path(key), value, 0o600)
}

func (s fileStore) Delete(key string) error {
	err := os.Remove(s.path(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

var plainName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// fileName is a server's name as a file name: itself when it is plain,
// else a digest, so no name reaches outside the directory.
func fileName(name string) string {
	if plainName.MatchString(name) {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	return "x-" + hex.EncodeToString(sum[:8])
}

// dir is where aim-mcp keeps what it knows of its logins.
func dir(home string) string { return filepath.Join(home, "oauth") }

// storeKey names a server's grant in the keychain, which every aim-mcp
// home on the machine shares: the home is part of it.
func storeKey(home, server string) string {
	abs, err := filepath.Abs(home)
	if err != nil {
		abs = home
	}
	sum := sha256.Sum256([]byte(abs))
	return server + "@" + hex.EncodeToString(sum[:6])
}

// grant is the secret half of a login: what the store holds.
type grant struct {
	Resource     string    `json:"resource"`
	Issuer       string    `json:"issuer"`
	TokenURL     string    `json:"token_url"`
	ClientID     string    `json:"client_id"`
	ClientSecret string    `json:"client_secret,omitempty"`
	AuthMethod   string    `json:"auth_method,omitempty"` // token endpoint auth: none, client_secret_post, client_secret_basic
	RedirectURI  string    `json:"redirect_uri,omitempty"`
	Registered   bool      `json:"registered,omitempty"` // the client came from dynamic registration
	AccessToken  string    `json:"access_token,omitempty"`
	TokenType    string    `json:"token_type,omitempty"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	Expiry       time.Time `json:"expiry,omitzero"`
	Issued       time.Time `json:"issued,omitzero"`
	Scopes       []string  `json:"scopes,omitempty"`

	authURL string // the authorization endpoint of a flow in progress; discovered again next time
}

func loadGrant(s Store, key string) (*grant, error) {
	b, err := s.Get(key)
	if err != nil {
		return nil, err
	}
	var g grant
	if err := json.Unmarshal(b, &g); err != nil {
		return nil, fmt.Errorf("the stored grant is unreadable: %w", err)
	}
	return &g, nil
}

func saveGrant(s Store, key string, g *grant) error {
	b, err := json.Marshal(g)
	if err != nil {
		return err
	}
	return s.Set(key, b)
}
