package oauth

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-oauth2/oauth2/v4"
	"github.com/golang-jwt/jwt/v5"
)

// accessClaims are the claims of an access token (RFC 9068 §2.2).
type accessClaims struct {
	jwt.RegisteredClaims
	ClientID string `json:"client_id"`
	Scope    string `json:"scope,omitempty"`
}

// jwtGenerator implements oauth2.AccessGenerate: RFC 9068 JWT access
// tokens (typ at+jwt; iss, sub, aud, client_id, scope, iat, exp, jti),
// signed ES256 with a kid, and opaque random refresh tokens.
type jwtGenerator struct {
	issuer   string
	audience string
	keys     *keySet
}

func (g *jwtGenerator) Token(_ context.Context, data *oauth2.GenerateBasic, isGenRefresh bool) (string, string, error) {
	ti := data.TokenInfo
	jti := randomToken(16)
	if e, ok := ti.(oauth2.ExtendableTokenInfo); ok {
		ext := e.GetExtension()
		if ext == nil {
			e.SetExtension(map[string][]string{})
			ext = e.GetExtension()
		}
		ext.Set(extJTI, jti)
	}
	iat := ti.GetAccessCreateAt()
	c := accessClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: g.issuer, Subject: data.UserID, Audience: jwt.ClaimStrings{g.audience},
			IssuedAt: jwt.NewNumericDate(iat), NotBefore: jwt.NewNumericDate(iat),
			ExpiresAt: jwt.NewNumericDate(iat.Add(ti.GetAccessExpiresIn())), ID: jti,
		},
		ClientID: data.Client.GetID(),
		Scope:    ti.GetScope(),
	}
	k := g.keys.signer()
	t := jwt.NewWithClaims(jwt.SigningMethodES256, c)
	t.Header["kid"] = k.kid
	t.Header["typ"] = "at+jwt"
	access, err := t.SignedString(k.priv)
	if err != nil {
		return "", "", err
	}
	refresh := ""
	if isGenRefresh {
		refresh = randomToken(32)
	}
	return access, refresh, nil
}

// Token is a validated access token.
type Token struct {
	// Subject is the user (the Authenticator's subject).
	Subject  string
	ClientID string
	// Scopes granted to the token; the embedder bounds them by what the
	// user may do now (see Config.AllowedScopes).
	Scopes    []string
	ID        string // jti
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// Errors of ValidateAccessToken.
var (
	// ErrInvalidToken: malformed, badly signed, wrong issuer or audience,
	// not yet valid or expired.
	ErrInvalidToken = errors.New("oauth: invalid access token")
	// ErrRevokedToken: revoked before it expired.
	ErrRevokedToken = errors.New("oauth: revoked access token")
)

// validator checks access tokens. A token whose signature was verified
// once is remembered (keyed by the whole token) until it expires, so later
// requests cost a map lookup and the revocation check, never a signature
// verification or a database round trip.
type validator struct {
	keys     *keySet
	parser   *jwt.Parser
	verified sync.Map // token → *Token
	size     atomic.Int64
	revoked  *revocationList
	now      func() time.Time
}

// maxVerified bounds the verified-token cache; past it, the cache is
// emptied (tokens are verified again, once each).
const maxVerified = 100_000

func newValidator(keys *keySet, issuer, audience string, revoked *revocationList, now func() time.Time) *validator {
	return &validator{keys: keys, revoked: revoked, now: now,
		parser: jwt.NewParser(jwt.WithValidMethods([]string{signingAlg}), jwt.WithIssuer(issuer),
			jwt.WithAudience(audience), jwt.WithExpirationRequired(), jwt.WithIssuedAt(),
			jwt.WithTimeFunc(now), jwt.WithLeeway(5*time.Second))}
}

func (v *validator) validate(ctx context.Context, raw string) (*Token, error) {
	if t, ok := v.verified.Load(raw); ok {
		tok := t.(*Token)
		if !v.now().Before(tok.ExpiresAt) {
			v.verified.Delete(raw)
			return nil, ErrInvalidToken
		}
		if v.revoked.has(tok.ID) {
			return nil, ErrRevokedToken
		}
		return tok, nil
	}
	if len(raw) > 4096 || strings.Count(raw, ".") != 2 {
		return nil, ErrInvalidToken
	}
	var c accessClaims
	_, err := v.parser.ParseWithClaims(raw, &c, func(t *jwt.Token) (any, error) {
		if typ, _ := t.Header["typ"].(string); !strings.EqualFold(typ, "at+jwt") {
			return nil, ErrInvalidToken
		}
		kid, _ := t.Header["kid"].(string)
		k := v.keys.publicKey(kid)
		if k == nil && kid != "" && len(kid) <= 64 {
			v.keys.reloadForUnknown(ctx)
			k = v.keys.publicKey(kid)
		}
		if k == nil {
			return nil, ErrInvalidToken
		}
		return k, nil
	})
	if err != nil || c.Subject == "" || c.ClientID == "" || c.ID == "" || c.NotBefore == nil {
		return nil, ErrInvalidToken
	}
	tok := &Token{Subject: c.Subject, ClientID: c.ClientID, Scopes: strings.Fields(c.Scope), ID: c.ID,
		IssuedAt: c.IssuedAt.Time, ExpiresAt: c.ExpiresAt.Time}
	if v.revoked.has(tok.ID) {
		return nil, ErrRevokedToken
	}
	if v.size.Add(1) > maxVerified {
		v.verified.Clear()
		v.size.Store(1)
	}
	v.verified.Store(raw, tok)
	return tok, nil
}

// revocationList holds the ids (jti) of revoked access tokens until they
// expire.
type revocationList struct {
	mu  sync.RWMutex
	ids map[string]time.Time
}

func (l *revocationList) has(jti string) bool {
	l.mu.RLock()
	_, ok := l.ids[jti]
	l.mu.RUnlock()
	return ok
}

func (l *revocationList) add(rs []revokedToken) {
	l.mu.Lock()
	for _, r := range rs {
		l.ids[r.JTI] = r.ExpiresAt
	}
	l.mu.Unlock()
}

// prune forgets tokens that have expired anyway.
func (l *revocationList) prune(now time.Time) {
	l.mu.Lock()
	for id, exp := range l.ids {
		if now.After(exp.Add(time.Minute)) {
			delete(l.ids, id)
		}
	}
	l.mu.Unlock()
}
