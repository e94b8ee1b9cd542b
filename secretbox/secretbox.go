// Package secretbox seals secrets that must be read back (webhook signing
// secrets, connector credentials, vendors' OAuth tokens) with AES-256-GCM
// under a keyring: every sealed value names the key that sealed it, so keys
// rotate by adding a new current key and re-sealing at leisure.
//
// Secrets that are only ever compared (API keys, passwords, OAuth tokens a
// server issues) must be hashed instead: sealing is reversible by whoever
// holds the key.
//
//	ring, err := secretbox.ParseKeyring(os.Getenv("HUB_SECRET_KEYS"))
//	kid, sealed, err := ring.Seal([]byte("whsec_..."), []byte("webhook:42"))
//	plain, err := ring.Open(kid, sealed, []byte("webhook:42"))
//
// The additional data binds a sealed value to its row: a value copied onto
// another row does not open there.
package secretbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the length of a key: AES-256.
const KeySize = 32

// ErrUnknownKey is returned by Open for a key id the keyring does not hold.
var ErrUnknownKey = errors.New("secretbox: unknown key id")

// ErrOpen is returned by Open when the value was altered, sealed under
// another key, or bound to other additional data.
var ErrOpen = errors.New("secretbox: message authentication failed")

// Keyring holds the keys by id; the first key seals, every key opens.
type Keyring struct {
	current string
	aeads   map[string]cipher.AEAD
}

// Key is one keyring entry.
type Key struct {
	ID  string
	Key []byte // KeySize bytes
}

// NewKeyring builds a keyring; keys[0] is the current key.
func NewKeyring(keys ...Key) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, errors.New("secretbox: no key")
	}
	r := &Keyring{current: keys[0].ID, aeads: make(map[string]cipher.AEAD, len(keys))}
	for _, k := range keys {
		if k.ID == "" || strings.ContainsAny(k.ID, ":, \t\n") || len(k.ID) > 64 {
			return nil, fmt.Errorf("secretbox: key id %q: 1 to 64 characters, no ':', ',' or space", k.ID)
		}
		if len(k.Key) != KeySize {
			return nil, fmt.Errorf("secretbox: key %q: %d bytes, want %d", k.ID, len(k.Key), KeySize)
		}
		if _, dup := r.aeads[k.ID]; dup {
			return nil, fmt.Errorf("secretbox: key id %q twice", k.ID)
		}
		block, err := aes.NewCipher(k.Key)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		r.aeads[k.ID] = aead
	}
	return r, nil
}

// ParseKeyring reads "id:base64key,id2:base64key2" (standard or URL-safe
// base64, padded or not); the first key is current. The error never
// contains key material.
func ParseKeyring(s string) (*Keyring, error) {
	var keys []Key
	for i, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		id, enc, ok := strings.Cut(part, ":")
		if !ok {
			return nil, fmt.Errorf("secretbox: entry %d: want id:base64key", i+1)
		}
		key, err := decodeKey(enc)
		if err != nil {
			return nil, fmt.Errorf("secretbox: key %q: not base64 of %d bytes", id, KeySize)
		}
		keys = append(keys, Key{ID: id, Key: key})
	}
	return NewKeyring(keys...)
}

func decodeKey(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == KeySize {
			return b, nil
		}
	}
	return nil, errors.New("bad key")
}

// GenerateKey draws a random key, base64-encoded as ParseKeyring reads it.
func GenerateKey() string {
	b := make([]byte, KeySize)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.StdEncoding.EncodeToString(b)
}

// CurrentKeyID is the id of the key Seal uses.
func (r *Keyring) CurrentKeyID() string { return r.current }

// Seal encrypts plaintext under the current key, bound to ad. The result
// is nonce || ciphertext || tag.
func (r *Keyring) Seal(plaintext, ad []byte) (kid string, sealed []byte, err error) {
	aead := r.aeads[r.current]
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", nil, err
	}
	return r.current, aead.Seal(nonce, nonce, plaintext, ad), nil
}

// Open decrypts a value sealed under key kid with the same ad.
func (r *Keyring) Open(kid string, sealed, ad []byte) ([]byte, error) {
	aead, ok := r.aeads[kid]
	if !ok {
		return nil, ErrUnknownKey
	}
	n := aead.NonceSize()
	if len(sealed) < n+aead.Overhead() {
		return nil, ErrOpen
	}
	plain, err := aead.Open(nil, sealed[:n], sealed[n:], ad)
	if err != nil {
		return nil, ErrOpen
	}
	return plain, nil
}

// Reseal opens a value and seals it again under the current key; it
// returns the value unchanged when kid is already current.
func (r *Keyring) Reseal(kid string, sealed, ad []byte) (string, []byte, error) {
	if kid == r.current {
		return kid, sealed, nil
	}
	plain, err := r.Open(kid, sealed, ad)
	if err != nil {
		return "", nil, err
	}
	defer clear(plain)
	return r.Seal(plain, ad)
}

// Has reports whether the keyring holds a key with id kid.
func (r *Keyring) Has(kid string) bool {
	_, ok := r.aeads[kid]
	return ok
}

// WithOpeners returns a keyring with the keys of r and keys, which open but
// never seal (r's current key stays current): for keys being retired, such
// as a key kept elsewhere that the configured keys replace.
func (r *Keyring) WithOpeners(keys ...Key) (*Keyring, error) {
	out := &Keyring{current: r.current, aeads: make(map[string]cipher.AEAD, len(r.aeads)+len(keys))}
	for id, a := range r.aeads {
		out.aeads[id] = a
	}
	extra, err := NewKeyring(keys...)
	if err != nil {
		return nil, err
	}
	for id, a := range extra.aeads {
		if _, dup := out.aeads[id]; dup {
			return nil, fmt.Errorf("secretbox: key id %q twice", id)
		}
		out.aeads[id] = a
	}
	return out, nil
}
