package oauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"
)

// signingAlg is the one algorithm the server signs with and accepts
// (RFC 7518 §3.4, ECDSA P-256 SHA-256).
const signingAlg = "ES256"

type signingKey struct {
	kid  string
	priv *ecdsa.PrivateKey
}

// keySet holds the signing key and every public key whose tokens may still
// be alive: a rotated key stays published (and accepted) until the last
// token it signed has expired.
type keySet struct {
	st       *store
	keep     time.Duration // how long a retired key stays published
	mu       sync.RWMutex
	current  *signingKey
	public   map[string]*ecdsa.PublicKey
	jwks     []byte
	loadedAt time.Time
	reload   sync.Mutex
}

// load reads the keys from the database, creating the first one if there
// is none, and drops keys retired for longer than keep.
func (k *keySet) load(ctx context.Context) error {
	k.reload.Lock()
	defer k.reload.Unlock()
	now := k.st.clock()
	if err := k.st.deleteKeysRetiredBefore(ctx, now.Add(-k.keep)); err != nil {
		return err
	}
	rows, err := k.st.keys(ctx)
	if err != nil {
		return err
	}
	active := false
	for _, r := range rows {
		active = active || r.RetiredAt == nil
	}
	if !active {
		if _, err := k.st.newKey(ctx); err != nil {
			return err
		}
		if rows, err = k.st.keys(ctx); err != nil {
			return err
		}
	}
	public := map[string]*ecdsa.PublicKey{}
	var current *signingKey
	type jwk struct {
		Kty string `json:"kty"`
		Crv string `json:"crv"`
		X   string `json:"x"`
		Y   string `json:"y"`
		Kid string `json:"kid"`
		Alg string `json:"alg"`
		Use string `json:"use"`
	}
	set := struct {
		Keys []jwk `json:"keys"`
	}{Keys: []jwk{}}
	for _, r := range rows {
		if r.Alg != signingAlg {
			continue
		}
		parsed, err := x509.ParsePKCS8PrivateKey(r.PrivateKey)
		if err != nil {
			return fmt.Errorf("oauth: signing key %s: %w", r.KID, err)
		}
		priv, ok := parsed.(*ecdsa.PrivateKey)
		if !ok {
			return fmt.Errorf("oauth: signing key %s is not an ECDSA key", r.KID)
		}
		public[r.KID] = &priv.PublicKey
		if r.RetiredAt == nil {
			current = &signingKey{kid: r.KID, priv: priv} // rows are oldest first: the newest wins
		}
		ek, err := priv.PublicKey.ECDH()
		if err != nil {
			return err
		}
		b := ek.Bytes() // 0x04 || X || Y
		set.Keys = append(set.Keys, jwk{Kty: "EC", Crv: "P-256", X: base64.RawURLEncoding.EncodeToString(b[1:33]),
			Y: base64.RawURLEncoding.EncodeToString(b[33:]), Kid: r.KID, Alg: signingAlg, Use: "sig"})
	}
	if current == nil {
		return errors.New("oauth: no usable signing key")
	}
	doc, _ := json.Marshal(set)
	k.mu.Lock()
	k.current, k.public, k.jwks, k.loadedAt = current, public, doc, time.Now()
	k.mu.Unlock()
	return nil
}

func (k *keySet) signer() *signingKey {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.current
}

func (k *keySet) publicKey(kid string) *ecdsa.PublicKey {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.public[kid]
}

func (k *keySet) document() []byte {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.jwks
}

// reloadForUnknown reloads the keys when a token names a kid not known
// here (another instance rotated), at most once a second.
func (k *keySet) reloadForUnknown(ctx context.Context) {
	k.mu.RLock()
	recent := time.Since(k.loadedAt) < time.Second
	k.mu.RUnlock()
	if !recent {
		_ = k.load(ctx)
	}
}

// newKey generates and stores a new active key.
func (s *store) newKey(ctx context.Context) (string, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return "", err
	}
	kid := randomToken(12)
	return kid, s.insertKey(ctx, &keyRow{KID: kid, Alg: signingAlg, PrivateKey: der, CreatedAt: s.clock()})
}

// RotateSigningKey creates a new signing key and retires the others: new
// tokens are signed with the new key at once on this instance and, on the
// others, at their next key reload (KeyReload) or as soon as they see a
// token signed with it. Retired public keys stay in the JWKS document, and
// their tokens stay valid, until every token they signed has expired.
func (s *Server) RotateSigningKey(ctx context.Context) (kid string, err error) {
	kid, err = s.st.newKey(ctx)
	if err != nil {
		return "", err
	}
	if err := s.st.retireKeys(ctx, kid); err != nil {
		return "", err
	}
	return kid, s.keys.load(ctx)
}
