package service

import (
	"context"
	"errors"
	"strconv"

	"github.com/uptrace/bun"
	"golang.org/x/crypto/bcrypt"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/store"
)

// dummyHash is compared against when the e-mail is unknown, so that a
// login takes as long whether the user exists or not.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("not a password of anyone"), bcrypt.DefaultCost)

// CheckPassword returns the user with that e-mail and password, for the
// OAuth login page. Errors: ErrUnauthenticated (unknown e-mail, no
// password set, wrong password, disabled user).
func (s *Operator) CheckPassword(ctx context.Context, email, password string) (*hubapi.User, error) {
	if len(password) > 72 || len(email) > 254 {
		return nil, hubapi.ErrUnauthenticated
	}
	u, err := s.FindUserByEmail(ctx, email)
	if err != nil {
		if errors.Is(err, hubapi.ErrNotFound) {
			_ = bcrypt.CompareHashAndPassword(dummyHash, []byte(password))
			return nil, hubapi.ErrUnauthenticated
		}
		return nil, err
	}
	if u.PasswordHash == "" {
		_ = bcrypt.CompareHashAndPassword(dummyHash, []byte(password))
		return nil, hubapi.ErrUnauthenticated
	}
	if bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(password)) != nil || u.DisabledAt != nil {
		return nil, hubapi.ErrUnauthenticated
	}
	return u, nil
}

// OAuthPrincipal returns the principal of an OAuth access token: the
// token's user, with the token's scopes bounded by the user's role now,
// and the client. The user is read at most once per authentication cache
// period (and again at once after a disablement, see ForgetUser), so that
// bearer requests cost no database round trip. Errors:
// ErrUnauthenticated (unknown or disabled user, malformed subject).
func (s *Operator) OAuthPrincipal(ctx context.Context, subject, clientID string, scopes []string) (*hubapi.Principal, error) {
	id, err := strconv.ParseInt(subject, 10, 64)
	if err != nil || id <= 0 {
		return nil, hubapi.ErrUnauthenticated
	}
	user, err := s.oauthUser(ctx, id)
	if err != nil {
		return nil, err
	}
	granted := make([]hubapi.Scope, 0, len(scopes))
	for _, sc := range scopes {
		granted = append(granted, hubapi.Scope(sc))
	}
	return &hubapi.Principal{UserID: user.UserID, Email: user.Email, Role: user.Role, ClientID: clientID,
		Scopes: hubapi.EffectiveScopes(user.Role, granted)}, nil
}

// oauthUser returns the user of a token from the authentication cache, or
// from the database.
func (s *Operator) oauthUser(ctx context.Context, id int64) (*hubapi.Principal, error) {
	key := "user:" + strconv.FormatInt(id, 10)
	now := s.now()
	cached := s.authCacheUsable()
	if cached {
		if v, ok := s.auth.Load(key); ok {
			e := v.(authEntry)
			if now.Before(e.until) {
				return e.p, nil
			}
			s.auth.Delete(key)
		}
	}
	gen := s.authGen.Load()
	u, err := store.Get[hubapi.User](ctx, s.db, id)
	if err != nil {
		if errors.Is(err, hubapi.ErrNotFound) {
			return nil, hubapi.ErrUnauthenticated
		}
		return nil, err
	}
	if u.DisabledAt != nil {
		return nil, hubapi.ErrUnauthenticated
	}
	p := &hubapi.Principal{UserID: u.ID, Email: u.Email, Role: u.Role}
	if cached {
		s.auth.Store(key, authEntry{p: p, until: now.Add(authCacheTTL)})
		if s.authGen.Load() != gen || !s.authCacheUsable() {
			s.auth.Delete(key)
		}
	}
	return p, nil
}

// SetPassword sets or replaces a user's password (the OAuth login page);
// it is stored as a bcrypt hash. Errors: ErrInvalid (length), ErrNotFound.
func (s *Operator) SetPassword(ctx context.Context, userID int64, password string) error {
	if len(password) < 12 || len(password) > 72 {
		return &hubapi.ValidationError{Fields: map[string]string{"password": "between 12 and 72 bytes"}}
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return err
	}
	return s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewUpdate().Model((*hubapi.User)(nil)).Set("password_hash = ?", string(h)).
			Set("updated_at = ?", s.now()).Set("version = version + 1").Where("id = ?", userID).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return hubapi.ErrNotFound
		}
		// the event says that the password changed, never what it is
		s.recordChange(ctx, "set_password", "users", userID, map[string]any{"password_set": true})
		return nil
	})
}
