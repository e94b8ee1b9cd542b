package oauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"
	"time"

	"github.com/go-oauth2/oauth2/v4"
	"github.com/go-oauth2/oauth2/v4/models"
)

func testKeys(t testing.TB) *keySet {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &keySet{current: &signingKey{kid: "k1", priv: priv}, public: map[string]*ecdsa.PublicKey{"k1": &priv.PublicKey},
		loadedAt: time.Now()}
}

func testToken(t testing.TB, keys *keySet) string {
	ti := models.NewToken()
	ti.SetScope("chantiers:read")
	ti.SetAccessCreateAt(time.Now())
	ti.SetAccessExpiresIn(time.Hour)
	g := &jwtGenerator{issuer: "https://hub.example.com", audience: "https://hub.example.com", keys: keys}
	access, _, err := g.Token(context.Background(), &oauth2.GenerateBasic{Client: &Client{ID: "hcc_x"}, UserID: "7", TokenInfo: ti}, false)
	if err != nil {
		t.Fatal(err)
	}
	return access
}

// BenchmarkValidateAccessTokenFirstSight is a token this instance has not
// seen yet: ES256 signature verification and the claim checks.
func BenchmarkValidateAccessTokenFirstSight(b *testing.B) {
	keys := testKeys(b)
	tok := testToken(b, keys)
	v := newValidator(keys, "https://hub.example.com", "https://hub.example.com", &revocationList{ids: map[string]time.Time{}}, time.Now)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		v.verified.Clear()
		if _, err := v.validate(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

func TestValidatorAudienceAndIssuer(t *testing.T) {
	keys := testKeys(t)
	tok := testToken(t, keys)
	ctx := context.Background()
	revoked := &revocationList{ids: map[string]time.Time{}}
	for name, v := range map[string]*validator{
		"other issuer":   newValidator(keys, "https://evil.example.com", "https://hub.example.com", revoked, time.Now),
		"other audience": newValidator(keys, "https://hub.example.com", "https://other.example.com", revoked, time.Now),
		"before nbf":     newValidator(keys, "https://hub.example.com", "https://hub.example.com", revoked, func() time.Time { return time.Now().Add(-time.Minute) }),
	} {
		if _, err := v.validate(ctx, tok); err != ErrInvalidToken {
			t.Errorf("%s: %v", name, err)
		}
	}
	ok := newValidator(keys, "https://hub.example.com", "https://hub.example.com", revoked, time.Now)
	if _, err := ok.validate(ctx, tok); err != nil {
		t.Fatal(err)
	}
	// An unknown kid is refused (no key to load: the store is absent, so
	// the reload is skipped as recent).
	other := testKeys(t)
	other.current.kid = "k2"
	other.public = map[string]*ecdsa.PublicKey{"k2": &other.current.priv.PublicKey}
	if _, err := ok.validate(ctx, testToken(t, other)); err != ErrInvalidToken {
		t.Fatalf("unknown kid: %v", err)
	}
}
