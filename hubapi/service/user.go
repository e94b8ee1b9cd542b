package service

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/store"
)

// CreateUser implements hubapi.OperatorService. The password, when given,
// is stored as a bcrypt hash.
func (s *Operator) CreateUser(ctx context.Context, u *hubapi.User, password string) error {
	if err := u.Validate(); err != nil {
		return err
	}
	if password != "" {
		if len(password) < 12 || len(password) > 72 {
			return &hubapi.ValidationError{Fields: map[string]string{"password": "between 12 and 72 bytes"}}
		}
		h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
		if err != nil {
			return err
		}
		u.PasswordHash = string(h)
	}
	now := s.now()
	u.CreatedAt, u.UpdatedAt, u.Version = now, now, 1
	return store.Insert(ctx, s.db, u)
}

// FindUserByEmail implements hubapi.OperatorService.
func (s *Operator) FindUserByEmail(ctx context.Context, email string) (*hubapi.User, error) {
	u := new(hubapi.User)
	err := s.db.NewSelect().Model(u).Where("email = ?", strings.ToLower(strings.TrimSpace(email))).Limit(1).Scan(ctx)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, hubapi.ErrNotFound
		}
		return nil, err
	}
	return u, nil
}

// Me implements hubapi.UserService.
func (s *Service) Me(ctx context.Context) (*hubapi.User, error) {
	p, err := allow(ctx, hubapi.ResourceUsers, hubapi.ActionRead)
	if err != nil {
		return nil, err
	}
	if err := hubapi.Can(p, hubapi.ResourceUsers, hubapi.ActionRead, &hubapi.Row{Owner: p.UserID}); err != nil {
		return nil, err
	}
	return store.Get[hubapi.User](ctx, s.db, p.UserID)
}
