package audit

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// Signer signs digests with an Ed25519 key. Anyone holding the public key
// checks a digest (and an exported archive) without the private key.
type Signer struct {
	priv ed25519.PrivateKey
}

// NewSigner returns the signer of an Ed25519 seed (32 bytes).
func NewSigner(seed []byte) (*Signer, error) {
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("audit: signing key must be %d bytes, got %d", ed25519.SeedSize, len(seed))
	}
	return &Signer{priv: ed25519.NewKeyFromSeed(seed)}, nil
}

// PublicKey returns the public key, base64 (standard, padded).
func (sg *Signer) PublicKey() string {
	return base64.StdEncoding.EncodeToString(sg.priv.Public().(ed25519.PublicKey))
}

// KeyID names the key: the first 8 bytes of SHA-256 of the public key, hex.
func (sg *Signer) KeyID() string { return keyID(sg.priv.Public().(ed25519.PublicKey)) }

func keyID(pub ed25519.PublicKey) string {
	h := sha256.Sum256(pub)
	return hex.EncodeToString(h[:8])
}

// Digest is a signed statement that chain Chain had Seq events, the last
// hashing to Hash, at CreatedAt.
type Digest struct {
	bun.BaseModel `bun:"table:audit_digests" json:"-"`
	ID            int64     `bun:"id,pk,autoincrement" json:"id"`
	Chain         string    `bun:"chain,notnull" json:"chain"`
	Seq           int64     `bun:"seq,notnull" json:"seq"`
	Hash          string    `bun:"hash,notnull" json:"hash"`
	CreatedAt     time.Time `bun:"created_at,notnull" json:"created_at"`
	KeyID         string    `bun:"key_id,notnull" json:"key_id"`
	PublicKey     string    `bun:"public_key,notnull" json:"public_key"`
	Signature     string    `bun:"signature,notnull" json:"signature"`
}

// message is what a digest signs: the netstrings of
// "hubchantier-audit-digest-v1", Chain, Seq, Hash and CreatedAt
// (2006-01-02T15:04:05.000000Z).
func (d *Digest) message() []byte {
	c := canon(nil).str("hubchantier-audit-digest-v1").str(d.Chain).int(d.Seq).str(d.Hash).str(d.CreatedAt.UTC().Format(timeLayout))
	h := sha256.Sum256(c)
	return h[:]
}

// ErrBadSignature reports a digest whose signature does not verify.
var ErrBadSignature = errors.New("audit: digest signature does not verify")

// Check verifies d's signature with the public key pub (base64), or with
// the key the digest names when pub is "" (which proves integrity against
// accidents only: give the key you trust).
func (d *Digest) Check(pub string) error {
	if pub == "" {
		pub = d.PublicKey
	}
	raw, err := base64.StdEncoding.DecodeString(pub)
	if err != nil || len(raw) != ed25519.PublicKeySize {
		return fmt.Errorf("audit: invalid public key")
	}
	sig, err := base64.StdEncoding.DecodeString(d.Signature)
	if err != nil || !ed25519.Verify(ed25519.PublicKey(raw), d.message(), sig) {
		return ErrBadSignature
	}
	return nil
}

// Digest signs the current head of every chain that moved since its last
// digest (the periodic digest job) and returns the digests written.
func (s *Store) Digest(ctx context.Context) ([]Digest, error) {
	signer := s.Signer()
	if signer == nil {
		return nil, errors.New("audit: no signing key (WithSigner)")
	}
	var heads []struct {
		Chain string `bun:"chain"`
		Seq   int64  `bun:"seq"`
		Hash  string `bun:"hash"`
	}
	if err := s.db.NewSelect().TableExpr("audit_chain_heads AS h").Column("h.chain", "h.seq", "h.hash").
		Where("h.seq > coalesce((SELECT max(d.seq) FROM audit_digests AS d WHERE d.chain = h.chain), 0)").
		Scan(ctx, &heads); err != nil {
		return nil, err
	}
	var out []Digest
	for _, h := range heads {
		d := Digest{Chain: h.Chain, Seq: h.Seq, Hash: h.Hash, CreatedAt: s.clock(), KeyID: signer.KeyID(), PublicKey: signer.PublicKey()}
		d.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(signer.priv, d.message()))
		if _, err := s.db.NewInsert().Model(&d).Exec(ctx); err != nil {
			return out, err
		}
		out = append(out, d)
	}
	return out, nil
}
