package service

import (
	"context"

	"github.com/uptrace/bun"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/store"
)

// MaxPlanningDays bounds GET /planning ranges.
const MaxPlanningDays = 92

// affectationRow is what the permission rules see of an affectation: it
// belongs to the user it plans.
func affectationRow(a *hubapi.Affectation) *hubapi.Row { return &hubapi.Row{Owner: a.UserID} }

// GetAffectation implements hubapi.AffectationService. A compagnon sees
// only their own affectations.
func (s *Service) GetAffectation(ctx context.Context, id int64) (*hubapi.Affectation, error) {
	p, err := allow(ctx, hubapi.ResourceAffectations, hubapi.ActionRead)
	if err != nil {
		return nil, err
	}
	a, err := store.Get[hubapi.Affectation](ctx, s.idb(ctx), id)
	if err != nil {
		return nil, err
	}
	if err := hubapi.Can(p, hubapi.ResourceAffectations, hubapi.ActionRead, affectationRow(a)); err != nil {
		return nil, err
	}
	return a, nil
}

// prepareAffectation normalizes and validates in, checks that the caller
// may plan its user and that the references exist.
func prepareAffectation(ctx context.Context, tx bun.IDB, p *hubapi.Principal, in *hubapi.AffectationInput) error {
	in.Normalize()
	if err := in.Validate(); err != nil {
		return err
	}
	if err := hubapi.Can(p, hubapi.ResourceAffectations, hubapi.ActionCreate, &hubapi.Row{Owner: in.UserID}); err != nil {
		return err
	}
	if err := mustExist[hubapi.User](ctx, tx, in.UserID, "user_id"); err != nil {
		return err
	}
	return mustExist[hubapi.Chantier](ctx, tx, in.ChantierID, "chantier_id")
}

// CreateAffectation implements hubapi.AffectationService.
func (s *Service) CreateAffectation(ctx context.Context, in hubapi.AffectationInput) (*hubapi.Affectation, error) {
	p, err := allow(ctx, hubapi.ResourceAffectations, hubapi.ActionCreate)
	if err != nil {
		return nil, err
	}
	now := s.now()
	a := &hubapi.Affectation{CreatedAt: now, UpdatedAt: now, Version: 1}
	err = s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := prepareAffectation(ctx, tx, p, &in); err != nil {
			return err
		}
		a.Apply(in)
		if err := store.Insert(ctx, tx, a); err != nil {
			return err
		}
		return s.emit(ctx, tx, p, hubapi.EventAffectationCreated, "affectations", a.ID, a)
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// UpdateAffectation implements hubapi.AffectationService.
func (s *Service) UpdateAffectation(ctx context.Context, id int64, in hubapi.AffectationInput, ifVersion int64) (*hubapi.Affectation, error) {
	return s.PatchAffectation(ctx, id, replaceWith(in), ifVersion)
}

// PatchAffectation implements hubapi.AffectationService.
func (s *Service) PatchAffectation(ctx context.Context, id int64, change func(hubapi.AffectationInput) (hubapi.AffectationInput, error), ifVersion int64) (*hubapi.Affectation, error) {
	p, err := allow(ctx, hubapi.ResourceAffectations, hubapi.ActionChange)
	if err != nil {
		return nil, err
	}
	var a *hubapi.Affectation
	err = s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		cur, err := affectationRows.lock(ctx, tx, p, hubapi.ActionChange, id, ifVersion)
		if err != nil {
			return err
		}
		in, err := change(cur.Input())
		if err != nil {
			return err
		}
		if err := prepareAffectation(ctx, tx, p, &in); err != nil {
			return err
		}
		old := cur.Version
		cur.Apply(in)
		cur.Version, cur.UpdatedAt = old+1, s.now()
		a = cur
		if err := store.UpdateVersioned(ctx, tx, cur, id, old); err != nil {
			return err
		}
		return s.emit(ctx, tx, p, hubapi.EventAffectationUpdated, "affectations", a.ID, a)
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// DeleteAffectation implements hubapi.AffectationService.
func (s *Service) DeleteAffectation(ctx context.Context, id int64, ifVersion int64) error {
	_, err := remove(ctx, s, affectationRows, hubapi.EventAffectationDeleted, id, ifVersion, nil)
	return err
}

// Planning implements hubapi.AffectationService.
func (s *Service) Planning(ctx context.Context, from, to hubapi.Date, userID int64) ([]hubapi.Affectation, error) {
	p, err := allow(ctx, hubapi.ResourceAffectations, hubapi.ActionRead)
	if err != nil {
		return nil, err
	}
	// Field names are the v1 query parameters.
	var v = map[string]string{}
	for name, d := range map[string]hubapi.Date{"from": from, "to": to} {
		switch {
		case d.IsZero():
			v[name] = "required (YYYY-MM-DD)"
		case !d.InRange():
			v[name] = "must be between 1900-01-01 and 2200-12-31"
		}
	}
	switch {
	case len(v) > 0:
	case userID < 0:
		v["user_id"] = "must be a positive id"
	case to.Before(from):
		v["to"] = "must not be before from"
	case from.AddDays(MaxPlanningDays).Before(to):
		v["to"] = "the range is at most 92 days"
	}
	if len(v) > 0 {
		return nil, &hubapi.ValidationError{Fields: v}
	}
	q, _, _ := s.affectationQuery(ctx, p, hubapi.AffectationFilter{UserID: userID, From: from, To: to})
	var items []hubapi.Affectation
	if err := q.OrderExpr("?TableAlias.date, ?TableAlias.heure_debut, ?TableAlias.id").Limit(10000).Scan(ctx, &items); err != nil {
		return nil, err
	}
	if items == nil {
		items = []hubapi.Affectation{}
	}
	return items, nil
}
