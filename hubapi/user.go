package hubapi

import (
	"context"
	"net/mail"
	"strings"
	"time"
)

// User is a person of the company. Users are managed by admins through the
// CLI; the API exposes the caller itself (GET /users/me).
type User struct {
	ID           int64  `bun:"id,pk,autoincrement" json:"id"`
	Email        string `bun:"email,notnull" json:"email"`
	Nom          string `bun:"nom,notnull" json:"nom"`
	Prenom       string `bun:"prenom,notnull" json:"prenom"`
	Role         Role   `bun:"role,notnull" json:"role"`
	PasswordHash string `bun:"password_hash,notnull" json:"-"`
	// DisabledAt, when set, is when the user was disabled: none of the
	// user's API keys authenticates while it is set.
	DisabledAt *time.Time `bun:"disabled_at" json:"-"`
	// PendingEmail is the address the user asked to switch to, until they
	// prove they read it (PrivacyService.VerifyMyEmail); "" when none.
	PendingEmail string `bun:"pending_email,notnull" json:"-"`
	// EmailTokenHash is the SHA-256 (hex) of the verification token sent
	// to PendingEmail, valid until EmailTokenExpiresAt.
	EmailTokenHash      string     `bun:"email_token_hash,notnull" json:"-"`
	EmailTokenExpiresAt *time.Time `bun:"email_token_expires_at" json:"-"`
	// ErasedAt, when set, is when the user was anonymised (GDPR erasure).
	ErasedAt  *time.Time `bun:"erased_at" json:"-"`
	CreatedAt time.Time  `bun:"created_at,notnull" json:"created_at"`
	UpdatedAt time.Time  `bun:"updated_at,notnull" json:"updated_at"`
	Version   int64      `bun:"version,notnull" json:"version"`
}

// Validate checks the user's fields.
func (u *User) Validate() error {
	var v validator
	u.Email = strings.TrimSpace(strings.ToLower(u.Email))
	if a, err := mail.ParseAddress(u.Email); err != nil || a.Address != u.Email || len(u.Email) > 254 {
		v.add("email", "must be a valid e-mail address")
	}
	if TextProblem(u.Email) != "" {
		v.add("email", "must be a valid e-mail address")
	}
	checkText(&v, "nom", u.Nom, 0, 100)
	checkText(&v, "prenom", u.Prenom, 0, 100)
	v.check(u.Role.Valid(), "role", "must be one of admin, conducteur, chef_chantier, compagnon")
	return v.err()
}

// UserService serves the caller's own account.
type UserService interface {
	// Me returns the caller; any authenticated caller may, whatever its
	// scopes. Errors: ErrUnauthenticated.
	Me(ctx context.Context) (*User, error)
}

// UserSummary is the public face of a user nested in other resources
// (chantier.responsable): no e-mail, no role.
type UserSummary struct {
	ID     int64  `bun:"id" json:"id"`
	Nom    string `bun:"nom" json:"nom"`
	Prenom string `bun:"prenom" json:"prenom"`
}
