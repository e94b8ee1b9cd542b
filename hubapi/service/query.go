package service

import (
	"context"

	"github.com/uptrace/bun"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/store"
)

// The *Query methods return the authorized, filtered select of a list (no
// order, limit or columns) for adapters that page it themselves: keyset
// pagination, column push-down of sparse fieldsets. They apply the same
// rules as the List methods (a compagnon sees only their own rows).

// ChantierQuery selects the chantiers the caller may list.
func (s *Service) ChantierQuery(ctx context.Context, f hubapi.ChantierFilter) (*bun.SelectQuery, error) {
	if _, err := caller(ctx, hubapi.ScopeChantiersRead); err != nil {
		return nil, err
	}
	return store.ChantierQuery(s.db.NewSelect().Model((*hubapi.Chantier)(nil)), f), nil
}

// PointageQuery selects the pointages the caller may list.
func (s *Service) PointageQuery(ctx context.Context, f hubapi.PointageFilter) (*bun.SelectQuery, error) {
	p, err := caller(ctx, hubapi.ScopePointagesRead)
	if err != nil {
		return nil, err
	}
	q := s.db.NewSelect().Model((*hubapi.Pointage)(nil))
	if ownOnly(p) {
		if f.UserID != 0 && f.UserID != p.UserID {
			q = q.Where("1 = 0")
		}
		f.UserID = p.UserID
	}
	return store.PointageQuery(q, f), nil
}

// DocumentQuery selects the documents the caller may list.
func (s *Service) DocumentQuery(ctx context.Context, f hubapi.DocumentFilter) (*bun.SelectQuery, error) {
	if _, err := caller(ctx, hubapi.ScopeDocumentsRead); err != nil {
		return nil, err
	}
	return store.DocumentQuery(s.db.NewSelect().Model((*hubapi.Document)(nil)), f), nil
}

// SignalementQuery selects the signalements the caller may list.
func (s *Service) SignalementQuery(ctx context.Context, f hubapi.SignalementFilter) (*bun.SelectQuery, error) {
	if _, err := caller(ctx, hubapi.ScopeSignalementsRead); err != nil {
		return nil, err
	}
	return store.SignalementQuery(s.db.NewSelect().Model((*hubapi.Signalement)(nil)), f), nil
}

// AffectationQuery selects the affectations the caller may list.
func (s *Service) AffectationQuery(ctx context.Context, f hubapi.AffectationFilter) (*bun.SelectQuery, error) {
	p, err := caller(ctx, hubapi.ScopePlanningRead)
	if err != nil {
		return nil, err
	}
	q := s.db.NewSelect().Model((*hubapi.Affectation)(nil))
	if ownOnly(p) {
		if f.UserID != 0 && f.UserID != p.UserID {
			q = q.Where("1 = 0")
		}
		f.UserID = p.UserID
	}
	return store.AffectationQuery(q, f), nil
}

// UserSummaries returns id, nom and prénom of the given users (for nested
// representations such as chantier.responsable), keyed by id.
func (s *Service) UserSummaries(ctx context.Context, ids []int64) (map[int64]hubapi.UserSummary, error) {
	out := map[int64]hubapi.UserSummary{}
	if len(ids) == 0 {
		return out, nil
	}
	var rows []hubapi.UserSummary
	if err := s.db.NewSelect().Table("users").Column("id", "nom", "prenom").Where("id IN (?)", bun.List(ids)).Scan(ctx, &rows); err != nil {
		return nil, err
	}
	for _, u := range rows {
		out[u.ID] = u
	}
	return out, nil
}
