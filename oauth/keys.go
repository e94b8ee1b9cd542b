package oauth

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/uptrace/bun"
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
		der, err := k.st.openKey(ctx, &r)
		if err != nil {
			return err
		}
		parsed, err := x509.ParsePKCS8PrivateKey(der)
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
	sealed, err := sealKey(s.sealer, kid, der)
	if err != nil {
		return "", err
	}
	return kid, s.insertKey(ctx, &keyRow{KID: kid, Alg: signingAlg, PrivateKey: sealed, CreatedAt: s.clock()})
}

// Sealer seals the signing private keys stored in the database
// (secretbox.Keyring implements it). Seal returns the id of the key that
// sealed; Open must open what any key of the keyring sealed.
type Sealer interface {
	Seal(plaintext, ad []byte) (kid string, sealed []byte, err error)
	Open(kid string, sealed, ad []byte) ([]byte, error)
}

// sealedPrefix starts a sealed private_key value:
// "sealed1:" + sealing key id + ":" + AES-GCM output. Key ids never hold
// ':' (secretbox.ParseKeyring splits on it), and a PKCS#8 key in clear
// starts with 0x30 (DER SEQUENCE).
const sealedPrefix = "sealed1:"

// keyAD binds a sealed private key to its row: copied onto another kid,
// it does not open.
func keyAD(kid string) []byte { return []byte("oauth-signing-key:" + kid) }

func sealKey(sl Sealer, kid string, der []byte) ([]byte, error) {
	sk, sealed, err := sl.Seal(der, keyAD(kid))
	if err != nil {
		return nil, fmt.Errorf("oauth: sealing signing key %s: %w", kid, err)
	}
	if sk == "" || strings.Contains(sk, ":") {
		return nil, fmt.Errorf("oauth: sealing key id %q must be non-empty without ':'", sk)
	}
	return append([]byte(sealedPrefix+sk+":"), sealed...), nil
}

// unsealKey returns the PKCS#8 key of a row, and whether it was stored in
// clear.
func unsealKey(sl Sealer, r *keyRow) (der []byte, clear bool, err error) {
	v := r.PrivateKey
	if !bytes.HasPrefix(v, []byte(sealedPrefix)) {
		if len(v) > 0 && v[0] == 0x30 {
			return v, true, nil
		}
		return nil, false, fmt.Errorf("oauth: signing key %s: unknown storage format", r.KID)
	}
	sk, sealed, ok := bytes.Cut(v[len(sealedPrefix):], []byte(":"))
	if !ok {
		return nil, false, fmt.Errorf("oauth: signing key %s: malformed sealed value", r.KID)
	}
	der, err = sl.Open(string(sk), sealed, keyAD(r.KID))
	if err != nil {
		return nil, false, fmt.Errorf("oauth: opening signing key %s: %w", r.KID, err)
	}
	return der, false, nil
}

// openKey returns the PKCS#8 key of a row; a key found in clear (stored
// before keys were sealed) is sealed in place.
func (s *store) openKey(ctx context.Context, r *keyRow) ([]byte, error) {
	der, clear, err := unsealKey(s.sealer, r)
	if err != nil || !clear {
		return der, err
	}
	sealed, err := sealKey(s.sealer, r.KID, der)
	if err != nil {
		return nil, err
	}
	if err := s.updateKey(ctx, r.KID, sealed); err != nil {
		return nil, err
	}
	return der, nil
}

// ResealSigningKeys seals the signing keys in db again under sealer's
// current key (after a rotation of the keyring); keys still in clear are
// sealed. When sealer tells its current key id (CurrentKeyID, as
// secretbox.Keyring does), keys already sealed under it are left as they
// are. It returns how many keys it re-sealed.
func ResealSigningKeys(ctx context.Context, db bun.IDB, sealer Sealer) (int, error) {
	if sealer == nil {
		return 0, errors.New("oauth: a Sealer is required")
	}
	st := &store{db: db, now: time.Now, sealer: sealer}
	rows, err := st.keys(ctx)
	if err != nil {
		return 0, err
	}
	current := ""
	if c, ok := sealer.(interface{ CurrentKeyID() string }); ok {
		current = c.CurrentKeyID()
	}
	n := 0
	for i := range rows {
		der, clear, err := unsealKey(sealer, &rows[i])
		if err != nil {
			return n, err
		}
		if !clear && current != "" && bytes.HasPrefix(rows[i].PrivateKey, []byte(sealedPrefix+current+":")) {
			continue
		}
		sealed, err := sealKey(sealer, rows[i].KID, der)
		if err != nil {
			return n, err
		}
		if err := st.updateKey(ctx, rows[i].KID, sealed); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
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
