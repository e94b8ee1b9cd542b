package service

import (
	"context"

	"github.com/uptrace/bun"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/store"
)

// GetPointage implements hubapi.PointageService. A compagnon gets
// ErrNotFound for another user's pointage (existence is not revealed).
func (s *Service) GetPointage(ctx context.Context, id int64) (*hubapi.Pointage, error) {
	p, err := caller(ctx, hubapi.ScopePointagesRead)
	if err != nil {
		return nil, err
	}
	pt, err := store.Get[hubapi.Pointage](ctx, s.db, id)
	if err != nil {
		return nil, err
	}
	if ownOnly(p) && pt.UserID != p.UserID {
		return nil, hubapi.ErrNotFound
	}
	return pt, nil
}

func (s *Service) preparePointage(ctx context.Context, tx bun.IDB, p *hubapi.Principal, in *hubapi.PointageInput) error {
	if in.UserID == 0 {
		in.UserID = p.UserID
	}
	in.Normalize()
	if err := in.Validate(); err != nil {
		return err
	}
	if ownOnly(p) && in.UserID != p.UserID {
		return hubapi.Errorf(hubapi.ErrForbidden, "a compagnon records only their own pointages")
	}
	if err := mustExist[hubapi.User](ctx, tx, in.UserID, "user_id"); err != nil {
		return err
	}
	return mustExist[hubapi.Chantier](ctx, tx, in.ChantierID, "chantier_id")
}

// CreatePointage implements hubapi.PointageService.
func (s *Service) CreatePointage(ctx context.Context, in hubapi.PointageInput) (*hubapi.Pointage, error) {
	p, err := caller(ctx, hubapi.ScopePointagesWrite)
	if err != nil {
		return nil, err
	}
	now := s.now()
	pt := &hubapi.Pointage{CreatedAt: now, UpdatedAt: now, Version: 1}
	err = s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := s.preparePointage(ctx, tx, p, &in); err != nil {
			return err
		}
		pt.Apply(in)
		return store.Insert(ctx, tx, pt)
	})
	if err != nil {
		return nil, err
	}
	s.emit(ctx, p, hubapi.EventPointageCreated, "pointages", pt.ID, pt)
	return pt, nil
}

// loadOwnPointage loads a pointage the caller may write.
func loadOwnPointage(ctx context.Context, tx bun.IDB, p *hubapi.Principal, id, ifVersion int64) (*hubapi.Pointage, error) {
	cur, err := store.GetForUpdate[hubapi.Pointage](ctx, tx, id)
	if err != nil {
		return nil, err
	}
	if ownOnly(p) && cur.UserID != p.UserID {
		return nil, hubapi.ErrNotFound
	}
	if err := checkVersion(cur.Version, ifVersion); err != nil {
		return nil, err
	}
	return cur, nil
}

// UpdatePointage implements hubapi.PointageService.
func (s *Service) UpdatePointage(ctx context.Context, id int64, in hubapi.PointageInput, ifVersion int64) (*hubapi.Pointage, error) {
	p, err := caller(ctx, hubapi.ScopePointagesWrite)
	if err != nil {
		return nil, err
	}
	var pt *hubapi.Pointage
	err = s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		cur, err := loadOwnPointage(ctx, tx, p, id, ifVersion)
		if err != nil {
			return err
		}
		if cur.Statut == hubapi.PointageValide {
			return hubapi.Errorf(hubapi.ErrConflict, "a validated pointage cannot be modified")
		}
		if err := s.preparePointage(ctx, tx, p, &in); err != nil {
			return err
		}
		old := cur.Version
		cur.Apply(in)
		cur.Version, cur.UpdatedAt = old+1, s.now()
		pt = cur
		return store.UpdateVersioned(ctx, tx, cur, id, old)
	})
	if err != nil {
		return nil, err
	}
	s.emit(ctx, p, hubapi.EventPointageUpdated, "pointages", pt.ID, pt)
	return pt, nil
}

// DeletePointage implements hubapi.PointageService.
func (s *Service) DeletePointage(ctx context.Context, id int64, ifVersion int64) error {
	p, err := caller(ctx, hubapi.ScopePointagesWrite)
	if err != nil {
		return err
	}
	err = s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		cur, err := loadOwnPointage(ctx, tx, p, id, ifVersion)
		if err != nil {
			return err
		}
		if cur.Statut == hubapi.PointageValide {
			return hubapi.Errorf(hubapi.ErrConflict, "a validated pointage cannot be deleted")
		}
		return store.DeleteVersioned[hubapi.Pointage](ctx, tx, id, cur.Version)
	})
	if err != nil {
		return err
	}
	s.emit(ctx, p, hubapi.EventPointageDeleted, "pointages", id, nil)
	return nil
}

// ValidatePointage implements hubapi.PointageService.
func (s *Service) ValidatePointage(ctx context.Context, id int64, ifVersion int64) (*hubapi.Pointage, error) {
	p, err := caller(ctx, hubapi.ScopePointagesWrite)
	if err != nil {
		return nil, err
	}
	if ownOnly(p) {
		return nil, hubapi.Errorf(hubapi.ErrForbidden, "only admins, conducteurs and chefs de chantier validate pointages")
	}
	var pt *hubapi.Pointage
	err = s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		cur, err := loadOwnPointage(ctx, tx, p, id, ifVersion)
		if err != nil {
			return err
		}
		if cur.Statut != hubapi.PointageSoumis {
			return hubapi.Errorf(hubapi.ErrConflict, "only a submitted (soumis) pointage can be validated; this one is %s", cur.Statut)
		}
		old := cur.Version
		cur.Statut, cur.Version, cur.UpdatedAt = hubapi.PointageValide, old+1, s.now()
		pt = cur
		return store.UpdateVersioned(ctx, tx, cur, id, old)
	})
	if err != nil {
		return nil, err
	}
	s.emit(ctx, p, hubapi.EventPointageValidated, "pointages", pt.ID, pt)
	return pt, nil
}
