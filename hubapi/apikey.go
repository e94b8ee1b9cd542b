package hubapi

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"hash/crc32"
	"math/big"
	"strings"
	"time"
)

// APIKey is a credential for the public API. The secret is shown once, at
// creation; only its SHA-256 is stored (the key has 190 bits of entropy, so
// a fast hash is the right choice: nothing to brute-force).
type APIKey struct {
	ID         int64      `bun:"id,pk,autoincrement" json:"id"`
	UserID     int64      `bun:"user_id,notnull" json:"user_id"`
	Name       string     `bun:"name,notnull" json:"name"`
	Prefix     string     `bun:"prefix,notnull" json:"prefix"`
	Hash       string     `bun:"key_hash,notnull" json:"-"`
	Scopes     string     `bun:"scopes,notnull" json:"-"`
	LastUsedAt *time.Time `bun:"last_used_at" json:"last_used_at"`
	ExpiresAt  *time.Time `bun:"expires_at" json:"expires_at"`
	RevokedAt  *time.Time `bun:"revoked_at" json:"revoked_at"`
	CreatedAt  time.Time  `bun:"created_at,notnull" json:"created_at"`
	UpdatedAt  time.Time  `bun:"updated_at,notnull" json:"updated_at"`
	Version    int64      `bun:"version,notnull" json:"version"`
	// Key security (features 5.3 and 5.5): shown by the REST views only
	// when set, so that the v1 representation of other keys is unchanged.
	IPAllowlist          IPAllowlist `bun:"ip_allowlist" json:"-"`
	AutoRotate           bool        `bun:"auto_rotate,notnull" json:"-"`
	RotationIntervalDays int         `bun:"rotation_interval_days,notnull" json:"-"`
	LastRotatedAt        *time.Time  `bun:"last_rotated_at" json:"-"`
	// PreviousHash is the SHA-256 of the secret replaced by the last
	// rotation, accepted until PreviousExpiresAt.
	PreviousHash      *string    `bun:"previous_key_hash" json:"-"`
	PreviousExpiresAt *time.Time `bun:"previous_expires_at" json:"-"`
	// PendingSecretKeyID and PendingSecretSealed hold the secret drawn by
	// an automatic rotation until an admin collects it (once).
	PendingSecretKeyID  *string `bun:"pending_secret_key_id" json:"-"`
	PendingSecretSealed []byte  `bun:"pending_secret_sealed" json:"-"`
}

// ScopeList returns the key's granted scopes.
func (k *APIKey) ScopeList() []Scope {
	s, _ := ParseScopes(k.Scopes)
	return s
}

// Active reports whether the key may authenticate at t.
func (k *APIKey) Active(t time.Time) bool {
	return k.RevokedAt == nil && (k.ExpiresAt == nil || t.Before(*k.ExpiresAt))
}

// APIKeyInput is the body of POST /admin/api-keys.
type APIKeyInput struct {
	UserID    int64      `json:"user_id"`
	Name      string     `json:"name"`
	Scopes    []Scope    `json:"scopes"`
	ExpiresAt *time.Time `json:"expires_at"`
	// IPAllowlist: nil for no restriction (see ParseIPAllowlist).
	IPAllowlist []string `json:"ip_allowlist"`
	// AutoRotate and RotationIntervalDays (default 90) set the automatic
	// rotation.
	AutoRotate           bool `json:"auto_rotate"`
	RotationIntervalDays *int `json:"rotation_interval_days"`
}

// Validate checks the name and the expiry date of the input (the name is
// trimmed first); scopes and user are checked against the store by the
// use case.
func (in *APIKeyInput) Validate() error {
	var v validator
	in.Name = strings.TrimSpace(in.Name)
	checkText(&v, "name", in.Name, 1, 100)
	checkTime(&v, "expires_at", in.ExpiresAt)
	checkRotationInterval(&v, in.RotationIntervalDays)
	if _, err := ParseIPAllowlist(in.IPAllowlist); err != nil {
		v.add("ip_allowlist", "%s", err.(*ValidationError).Fields["ip_allowlist"])
	}
	return v.err()
}

// APIKeyService manages API keys. Every method needs the admin scope held
// by an admin. Errors: ErrUnauthenticated, ErrForbidden, and those listed.
type APIKeyService interface {
	// CreateAPIKey returns the key and its secret, which is never stored.
	// Errors: ErrInvalid (unknown user, scope beyond the user's role).
	CreateAPIKey(ctx context.Context, in APIKeyInput) (*APIKey, string, error)
	// ListAPIKeys lists the keys of one user, or all keys for userID 0.
	ListAPIKeys(ctx context.Context, userID int64) ([]APIKey, error)
	// RevokeAPIKey marks the key revoked. Errors: ErrNotFound.
	RevokeAPIKey(ctx context.Context, id int64) error
}

// Authenticator resolves a presented credential to the principal that
// every use case then authorizes. It checks no caller: it establishes one.
type Authenticator interface {
	// Authenticate resolves a presented secret to a principal.
	// Errors: ErrUnauthenticated (malformed, unknown, revoked or expired).
	Authenticate(ctx context.Context, secret string) (*Principal, error)
}

// OperatorService holds the operations that check no caller: they run with
// the operator's own access (the administration CLI, the server's wiring),
// never on behalf of an API client. Only cmd and the server build it.
type OperatorService interface {
	Authenticator
	// CreateUser creates a user; password may be empty (API-key-only user).
	// Errors: ErrInvalid, ErrConflict (e-mail taken).
	CreateUser(ctx context.Context, u *User, password string) error
	// FindUserByEmail returns ErrNotFound when no user has that e-mail.
	FindUserByEmail(ctx context.Context, email string) (*User, error)
	// IssueAPIKey creates a key for any user, within the user's role.
	// Errors: ErrInvalid.
	IssueAPIKey(ctx context.Context, in APIKeyInput) (*APIKey, string, error)
	// CountActiveAPIKeys counts keys neither revoked nor expired.
	CountActiveAPIKeys(ctx context.Context) (int, error)
	// APIKeysOf lists the keys of a user (never their secrets).
	APIKeysOf(ctx context.Context, userID int64) ([]APIKey, error)
	// RevokeAPIKeyByID revokes a key and publishes EventAPIKeyRevoked.
	// Errors: ErrNotFound.
	RevokeAPIKeyByID(ctx context.Context, id int64) error
	// SetUserDisabled disables a user (none of its keys authenticates any
	// more; publishes EventUserDisabled) or enables it again.
	// Errors: ErrNotFound.
	SetUserDisabled(ctx context.Context, email string, disabled bool) (*User, error)
}

// API key format: "hck_" + 32 base62 characters of randomness + 6 base62
// characters of CRC-32 checksum. The prefix and checksum let secret scanners
// recognise leaked keys offline; the checksum also rejects typos and garbage
// without a database round trip.
const (
	APIKeyPrefix    = "hck_"
	apiKeyRandomLen = 32
	apiKeyCheckLen  = 6
	// APIKeyLen is the length of a well-formed key.
	APIKeyLen = len(APIKeyPrefix) + apiKeyRandomLen + apiKeyCheckLen
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// NewAPIKeySecret returns a new random key.
func NewAPIKeySecret() (string, error) {
	var b strings.Builder
	b.WriteString(APIKeyPrefix)
	max := big.NewInt(int64(len(base62)))
	for i := 0; i < apiKeyRandomLen; i++ {
		n, err := rand.Int(rand.Reader, max)
		if err != nil {
			return "", err
		}
		b.WriteByte(base62[n.Int64()])
	}
	body := b.String()
	return body + checksum62(body), nil
}

func checksum62(s string) string {
	c := uint64(crc32.ChecksumIEEE([]byte(s)))
	out := make([]byte, apiKeyCheckLen)
	for i := apiKeyCheckLen - 1; i >= 0; i-- {
		out[i] = base62[c%62]
		c /= 62
	}
	return string(out)
}

// WellFormedAPIKey reports whether s has the key format and a valid checksum.
func WellFormedAPIKey(s string) bool {
	if len(s) != APIKeyLen || !strings.HasPrefix(s, APIKeyPrefix) {
		return false
	}
	for i := len(APIKeyPrefix); i < len(s); i++ {
		if strings.IndexByte(base62, s[i]) < 0 {
			return false
		}
	}
	n := len(s) - apiKeyCheckLen
	return checksum62(s[:n]) == s[n:]
}

// HashAPIKey returns the stored form of a key: hex SHA-256.
func HashAPIKey(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// APIKeyDisplayPrefix is the non-secret start of a key shown in listings.
func APIKeyDisplayPrefix(secret string) string { return secret[:len(APIKeyPrefix)+4] }

// checkRotationInterval checks an optional rotation_interval_days.
func checkRotationInterval(v *validator, days *int) {
	v.check(days == nil || (*days >= 1 && *days <= MaxRotationIntervalDays), "rotation_interval_days",
		"between 1 and %d", MaxRotationIntervalDays)
}

// Validate checks a patch: the name, the allow-list and the interval.
func (p *APIKeyPatch) Validate() error {
	var v validator
	if p.Name != nil {
		*p.Name = strings.TrimSpace(*p.Name)
		checkText(&v, "name", *p.Name, 1, 100)
	}
	checkRotationInterval(&v, p.RotationIntervalDays)
	if p.IPAllowlistSet {
		if _, err := ParseIPAllowlist(p.IPAllowlist); err != nil {
			v.add("ip_allowlist", "%s", err.(*ValidationError).Fields["ip_allowlist"])
		}
	}
	return v.err()
}
