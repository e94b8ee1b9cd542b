package service

import (
	"context"

	"github.com/uptrace/bun"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/store"
)

// MaxPlanningDays bounds GET /planning ranges.
const MaxPlanningDays = 92

// GetAffectation implements hubapi.AffectationService. A compagnon sees
// only their own affectations.
func (s *Service) GetAffectation(ctx context.Context, id int64) (*hubapi.Affectation, error) {
	p, err := caller(ctx, hubapi.ScopePlanningRead)
	if err != nil {
		return nil, err
	}
	a, err := store.Get[hubapi.Affectation](ctx, s.db, id)
	if err != nil {
		return nil, err
	}
	if ownOnly(p) && a.UserID != p.UserID {
		return nil, hubapi.ErrNotFound
	}
	return a, nil
}

func prepareAffectation(ctx context.Context, tx bun.IDB, in *hubapi.AffectationInput) error {
	in.Normalize()
	if err := in.Validate(); err != nil {
		return err
	}
	if err := mustExist[hubapi.User](ctx, tx, in.UserID, "user_id"); err != nil {
		return err
	}
	return mustExist[hubapi.Chantier](ctx, tx, in.ChantierID, "chantier_id")
}

// CreateAffectation implements hubapi.AffectationService.
func (s *Service) CreateAffectation(ctx context.Context, in hubapi.AffectationInput) (*hubapi.Affectation, error) {
	p, err := caller(ctx, hubapi.ScopePlanningWrite)
	if err != nil {
		return nil, err
	}
	now := s.now()
	a := &hubapi.Affectation{CreatedAt: now, UpdatedAt: now, Version: 1}
	err = s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := prepareAffectation(ctx, tx, &in); err != nil {
			return err
		}
		a.Apply(in)
		return store.Insert(ctx, tx, a)
	})
	if err != nil {
		return nil, err
	}
	s.emit(ctx, p, hubapi.EventAffectationCreated, "affectations", a.ID, a)
	return a, nil
}

// UpdateAffectation implements hubapi.AffectationService.
func (s *Service) UpdateAffectation(ctx context.Context, id int64, in hubapi.AffectationInput, ifVersion int64) (*hubapi.Affectation, error) {
	p, err := caller(ctx, hubapi.ScopePlanningWrite)
	if err != nil {
		return nil, err
	}
	var a *hubapi.Affectation
	err = s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		cur, err := store.GetForUpdate[hubapi.Affectation](ctx, tx, id)
		if err != nil {
			return err
		}
		if err := checkVersion(cur.Version, ifVersion); err != nil {
			return err
		}
		if err := prepareAffectation(ctx, tx, &in); err != nil {
			return err
		}
		old := cur.Version
		cur.Apply(in)
		cur.Version, cur.UpdatedAt = old+1, s.now()
		a = cur
		return store.UpdateVersioned(ctx, tx, cur, id, old)
	})
	if err != nil {
		return nil, err
	}
	s.emit(ctx, p, hubapi.EventAffectationUpdated, "affectations", a.ID, a)
	return a, nil
}

// DeleteAffectation implements hubapi.AffectationService.
func (s *Service) DeleteAffectation(ctx context.Context, id int64, ifVersion int64) error {
	p, err := caller(ctx, hubapi.ScopePlanningWrite)
	if err != nil {
		return err
	}
	if err := store.DeleteVersioned[hubapi.Affectation](ctx, s.db, id, ifVersion); err != nil {
		return err
	}
	s.emit(ctx, p, hubapi.EventAffectationDeleted, "affectations", id, nil)
	return nil
}

// Planning implements hubapi.AffectationService.
func (s *Service) Planning(ctx context.Context, from, to hubapi.Date, userID int64) ([]hubapi.Affectation, error) {
	p, err := caller(ctx, hubapi.ScopePlanningRead)
	if err != nil {
		return nil, err
	}
	var v = map[string]string{}
	switch {
	case from.IsZero() || to.IsZero():
		v["from"] = "from and to are required (YYYY-MM-DD)"
	case to.Before(from):
		v["to"] = "must not be before from"
	case from.AddDays(MaxPlanningDays).Before(to):
		v["to"] = "the range is at most 92 days"
	}
	if len(v) > 0 {
		return nil, &hubapi.ValidationError{Fields: v}
	}
	q, _, _ := s.affectationQuery(p, hubapi.AffectationFilter{UserID: userID, From: from, To: to})
	var items []hubapi.Affectation
	if err := q.OrderExpr("?TableAlias.date, ?TableAlias.heure_debut, ?TableAlias.id").Limit(10000).Scan(ctx, &items); err != nil {
		return nil, err
	}
	if items == nil {
		items = []hubapi.Affectation{}
	}
	return items, nil
}
