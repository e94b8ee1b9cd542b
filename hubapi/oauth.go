package hubapi

import (
	"context"
	"time"
)

// OAuthAuthorization is an application (OAuth client) the caller has
// authorised, with the scopes granted (GET /users/me/authorizations).
type OAuthAuthorization struct {
	ClientID   string    `json:"client_id"`
	ClientName string    `json:"client_name"`
	Scopes     []Scope   `json:"scopes"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// AuthorizationService serves the caller's own OAuth authorizations, like
// the "authorized apps" page of GitHub or Google. Any authenticated caller
// may use it for itself. Errors: ErrUnauthenticated, and those listed.
type AuthorizationService interface {
	// MyAuthorizations lists the applications the caller has authorised.
	MyAuthorizations(ctx context.Context) ([]OAuthAuthorization, error)
	// RevokeMyAuthorization forgets the caller's consent to a client and
	// revokes every token the client holds for the caller.
	// Errors: ErrNotFound.
	RevokeMyAuthorization(ctx context.Context, clientID string) error
}
