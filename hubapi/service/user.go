package service

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/uptrace/bun"
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
	return s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := store.Insert(ctx, tx, u); err != nil {
			return err
		}
		s.recordChange(ctx, "create_user", "users", u.ID, u)
		return nil
	})
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
	return store.Get[hubapi.User](ctx, s.idb(ctx), p.UserID)
}

// SetUserDisabled implements hubapi.OperatorService (the CLI). Disabling
// forgets the user's cached authentications here and announces it to the
// other instances (EventUserDisabled).
func (s *Operator) SetUserDisabled(ctx context.Context, email string, disabled bool) (*hubapi.User, error) {
	u, err := s.FindUserByEmail(ctx, email)
	if err != nil {
		return nil, err
	}
	now := s.now()
	var changed bool
	err = s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		q := tx.NewUpdate().Model((*hubapi.User)(nil)).Set("updated_at = ?", now).Set("version = version + 1").
			Where("id = ?", u.ID)
		action := "enable_user"
		if disabled {
			q = q.Set("disabled_at = ?", now).Where("disabled_at IS NULL")
			action = "disable_user"
		} else {
			q = q.Set("disabled_at = NULL").Where("disabled_at IS NOT NULL")
		}
		res, err := q.Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n > 0 {
			changed = true
			s.recordChange(ctx, action, "users", u.ID, map[string]any{"disabled": disabled})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if changed {
		u.UpdatedAt = now
		u.Version++
		u.DisabledAt = nil
		if disabled {
			u.DisabledAt = &now
		}
	}
	if disabled {
		s.ForgetUser(u.ID)
		s.announce(ctx, nil, hubapi.EventUserDisabled, "users", u.ID)
	}
	return u, nil
}
