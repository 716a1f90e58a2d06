// Package identity owns the Ed25519 keys that give each MCP server an identity:
// generating them, storing them as files only their owner can read, loading
// them (or taking one from AIM_PRIVATE_KEY), signing and verifying records, and
// short fingerprints for display.
//
// A key file holds the base64 of the 32-byte seed and a newline. Files are
// created with O_EXCL and mode 0600 and are never overwritten: losing a key
// would orphan every record it signed.
//
// A record meets this package twice. When the registry appends it to the
// audit chain, the record's hash is signed with its server's [Key] (or that
// key's [Signer], which the proxy uses on its hot path); the registry finds
// the key through a [Store], one file per server id under the home's keys
// directory. When the chain is verified, [Verify] checks the signature
// against the public key the registry stored when the server was registered.
package identity

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/opena2a-org/aim-mcp/internal/private"
)

// EnvPrivateKey names the variable that overrides stored keys, as the AIM SDK names it.
const EnvPrivateKey = "AIM_PRIVATE_KEY"

// ErrExists is returned by Save when a key file is already there.
var ErrExists = errors.New("key file already exists")

// Key is a server's Ed25519 key pair.
type Key struct {
	priv ed25519.PrivateKey
}

// Generate makes a new key from crypto/rand.
func Generate() (*Key, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	return &Key{priv: priv}, nil
}

// ParsePrivateKey reads the base64 (standard or URL, padded or not) of a
// 32-byte seed or a 64-byte Go ed25519 private key (seed followed by public
// key), the two forms the AIM server and SDK hand out. The input is secret, so
// errors never quote it.
func ParsePrivateKey(s string) (*Key, error) {
	b, err := decodeBase64(strings.TrimSpace(s))
	if err != nil {
		return nil, errors.New("malformed private key: not base64")
	}
	switch len(b) {
	case ed25519.SeedSize:
		return &Key{priv: ed25519.NewKeyFromSeed(b)}, nil
	case ed25519.PrivateKeySize:
		k := ed25519.NewKeyFromSeed(b[:ed25519.SeedSize])
		if string(k[ed25519.SeedSize:]) != string(b[ed25519.SeedSize:]) {
			return nil, errors.New("malformed private key: public half does not match the seed")
		}
		return &Key{priv: k}, nil
	default:
		return nil, fmt.Errorf("malformed private key: %d bytes, want 32 or 64", len(b))
	}
}

// ParsePublicKey reads the base64 of a 32-byte Ed25519 public key.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	b, err := decodeBase64(strings.TrimSpace(s))
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("malformed public key %q", s)
	}
	return ed25519.PublicKey(b), nil
}

func decodeBase64(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("not base64")
}

// Public returns the public key.
func (k *Key) Public() ed25519.PublicKey { return k.priv.Public().(ed25519.PublicKey) }

// PublicString is the standard base64 of the public key, the form AIM uses.
func (k *Key) PublicString() string { return base64.StdEncoding.EncodeToString(k.Public()) }

// Seed returns the base64 of the 32-byte seed, the stored form. Callers write
// it only to a key file.
func (k *Key) Seed() string { return base64.StdEncoding.EncodeToString(k.priv.Seed()) }

// PrivateKey exposes the key for request signing.
func (k *Key) PrivateKey() ed25519.PrivateKey { return k.priv }

// Sign signs msg.
func (k *Key) Sign(msg []byte) []byte { return ed25519.Sign(k.priv, msg) }

// String never prints the private key, so a stray %v cannot leak it.
func (k *Key) String() string { return "ed25519:" + Fingerprint(k.Public()) }

// Verify reports whether sig is pub's signature of msg.
func Verify(pub ed25519.PublicKey, msg, sig []byte) bool {
	return len(pub) == ed25519.PublicKeySize && ed25519.Verify(pub, msg, sig)
}

// Fingerprint is a short, stable name for a public key: "SHA256:" and the
// first 16 characters of the unpadded base64 of its SHA-256, like ssh-keygen -l
// but shorter, which is enough to tell a handful of servers apart.
func Fingerprint(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])[:16]
}

// Store is a directory of key files, one per server id.
type Store struct {
	Dir string
	// Warn receives a message when a key file is readable by others; nil discards.
	Warn func(msg string)
}

func (s Store) path(id string) string { return filepath.Join(s.Dir, id+".key") }

// Path is where the key of server id lives.
func (s Store) Path(id string) string { return s.path(id) }

// Save writes k as the key of server id. It never replaces an existing file:
// it returns an error wrapping ErrExists instead.
func (s Store) Save(id string, k *Key) error {
	if err := private.MkdirAll(s.Dir); err != nil {
		return fmt.Errorf("create key directory: %w", err)
	}
	f, err := private.Create(s.path(id))
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("save key %q: %w", s.path(id), ErrExists)
	}
	if err != nil {
		return fmt.Errorf("save key: %w", err)
	}
	_, werr := f.WriteString(k.Seed() + "\n")
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(s.path(id))
		return fmt.Errorf("save key: %w", werr)
	}
	return nil
}

// FromEnv returns the key in AIM_PRIVATE_KEY, nil when it is not set.
func FromEnv() (*Key, error) {
	v := os.Getenv(EnvPrivateKey)
	if v == "" {
		return nil, nil
	}
	k, err := ParsePrivateKey(v)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EnvPrivateKey, err)
	}
	return k, nil
}

// Load reads the key of server id whose registered public key is pub.
// AIM_PRIVATE_KEY, when set, takes the place of the stored key, as the SDK
// guide's private_key argument does, but only when it is that identity:
// a proxy's environment is its server's, and a key meant for the server
// must not sign the server's audit records in place of its own.
func (s Store) Load(id, pub string) (*Key, error) {
	k, err := FromEnv()
	if err != nil {
		return nil, err
	}
	if k != nil {
		if k.PublicString() == pub {
			return k, nil
		}
		if s.Warn != nil {
			s.Warn(EnvPrivateKey + " is not this server's registered key; using the stored key")
		}
	}
	return s.LoadFile(id)
}

// LoadFile reads the stored key of server id, ignoring AIM_PRIVATE_KEY.
func (s Store) LoadFile(id string) (*Key, error) {
	p := s.path(id)
	b, ex, err := private.ReadSmall(p, 256)
	if err != nil {
		return nil, fmt.Errorf("load key: %w", err)
	}
	if ex != nil {
		s.warnExposed(p, ex)
	}
	k, err := ParsePrivateKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("load key %q: %w", p, err)
	}
	return k, nil
}

// Exists reports whether a key file for id is present.
func (s Store) Exists(id string) bool {
	_, err := os.Stat(s.path(id))
	return err == nil
}

// Replace makes the key saved as from the key of id, in one rename: the
// key of id it replaces is gone (a rotation's point).
func (s Store) Replace(from, id string) error {
	if err := os.Rename(s.path(from), s.path(id)); err != nil {
		return fmt.Errorf("replace key: %w", err)
	}
	if d, err := os.Open(s.Dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// Remove deletes the key of server id (uninstall --purge).
func (s Store) Remove(id string) error {
	if err := os.Remove(s.path(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove key: %w", err)
	}
	return nil
}
