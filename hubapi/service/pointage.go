package service

import (
	"context"

	"github.com/uptrace/bun"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/store"
)

// pointageRow is what the permission rules see of a pointage: it belongs
// to its user. (A validated pointage is frozen for everybody: a state
// rule, checked apart with ErrConflict.)
func pointageRow(pt *hubapi.Pointage) *hubapi.Row { return &hubapi.Row{Owner: pt.UserID} }

// GetPointage implements hubapi.PointageService. A compagnon gets
// ErrNotFound for another user's pointage (existence is not revealed).
func (s *Service) GetPointage(ctx context.Context, id int64) (*hubapi.Pointage, error) {
	p, err := allow(ctx, hubapi.ResourcePointages, hubapi.ActionRead)
	if err != nil {
		return nil, err
	}
	pt, err := store.Get[hubapi.Pointage](ctx, s.idb(ctx), id)
	if err != nil {
		return nil, err
	}
	if err := hubapi.Can(p, hubapi.ResourcePointages, hubapi.ActionRead, pointageRow(pt)); err != nil {
		return nil, err
	}
	return pt, nil
}

// preparePointage normalizes and validates in, checks that the caller may
// record hours for its user and that the references exist.
func (s *Service) preparePointage(ctx context.Context, tx bun.IDB, p *hubapi.Principal, in *hubapi.PointageInput) error {
	if in.UserID == 0 {
		in.UserID = p.UserID
	}
	in.Normalize()
	if err := in.Validate(); err != nil {
		return err
	}
	if err := hubapi.Can(p, hubapi.ResourcePointages, hubapi.ActionCreate, &hubapi.Row{Owner: in.UserID}); err != nil {
		return err
	}
	if err := mustExist[hubapi.User](ctx, tx, in.UserID, "user_id"); err != nil {
		return err
	}
	return mustExist[hubapi.Chantier](ctx, tx, in.ChantierID, "chantier_id")
}

// CreatePointage implements hubapi.PointageService.
func (s *Service) CreatePointage(ctx context.Context, in hubapi.PointageInput) (*hubapi.Pointage, error) {
	p, err := allow(ctx, hubapi.ResourcePointages, hubapi.ActionCreate)
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
		if err := store.Insert(ctx, tx, pt); err != nil {
			return err
		}
		return s.emit(ctx, tx, p, hubapi.EventPointageCreated, "pointages", pt.ID, pt)
	})
	if err != nil {
		return nil, err
	}
	return pt, nil
}

// UpdatePointage implements hubapi.PointageService.
func (s *Service) UpdatePointage(ctx context.Context, id int64, in hubapi.PointageInput, ifVersion int64) (*hubapi.Pointage, error) {
	return s.PatchPointage(ctx, id, replaceWith(in), ifVersion)
}

// PatchPointage implements hubapi.PointageService.
func (s *Service) PatchPointage(ctx context.Context, id int64, change func(hubapi.PointageInput) (hubapi.PointageInput, error), ifVersion int64) (*hubapi.Pointage, error) {
	p, err := allow(ctx, hubapi.ResourcePointages, hubapi.ActionChange)
	if err != nil {
		return nil, err
	}
	var pt *hubapi.Pointage
	err = s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		cur, err := pointageRows.lock(ctx, tx, p, hubapi.ActionChange, id, ifVersion)
		if err != nil {
			return err
		}
		if cur.Statut == hubapi.PointageValide {
			return hubapi.Errorf(hubapi.ErrConflict, "a validated pointage cannot be modified")
		}
		in, err := change(cur.Input())
		if err != nil {
			return err
		}
		if err := s.preparePointage(ctx, tx, p, &in); err != nil {
			return err
		}
		old := cur.Version
		cur.Apply(in)
		cur.Version, cur.UpdatedAt = old+1, s.now()
		pt = cur
		if err := store.UpdateVersioned(ctx, tx, cur, id, old); err != nil {
			return err
		}
		return s.emit(ctx, tx, p, hubapi.EventPointageUpdated, "pointages", pt.ID, pt)
	})
	if err != nil {
		return nil, err
	}
	return pt, nil
}

// DeletePointage implements hubapi.PointageService.
func (s *Service) DeletePointage(ctx context.Context, id int64, ifVersion int64) error {
	_, err := remove(ctx, s, pointageRows, hubapi.EventPointageDeleted, id, ifVersion, func(cur *hubapi.Pointage) error {
		if cur.Statut == hubapi.PointageValide {
			return hubapi.Errorf(hubapi.ErrConflict, "a validated pointage cannot be deleted")
		}
		return nil
	})
	return err
}

// ValidatePointage implements hubapi.PointageService.
func (s *Service) ValidatePointage(ctx context.Context, id int64, ifVersion int64) (*hubapi.Pointage, error) {
	p, err := allow(ctx, hubapi.ResourcePointages, hubapi.ActionValidate)
	if err != nil {
		return nil, err
	}
	var pt *hubapi.Pointage
	err = s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		cur, err := pointageRows.lock(ctx, tx, p, hubapi.ActionValidate, id, ifVersion)
		if err != nil {
			return err
		}
		if cur.Statut != hubapi.PointageSoumis {
			return hubapi.Errorf(hubapi.ErrConflict, "only a submitted (soumis) pointage can be validated; this one is %s", cur.Statut)
		}
		old := cur.Version
		cur.Statut, cur.Version, cur.UpdatedAt = hubapi.PointageValide, old+1, s.now()
		pt = cur
		if err := store.UpdateVersioned(ctx, tx, cur, id, old); err != nil {
			return err
		}
		return s.emit(ctx, tx, p, hubapi.EventPointageValidated, "pointages", pt.ID, pt)
	})
	if err != nil {
		return nil, err
	}
	return pt, nil
}
