package service

import (
	"context"

	"github.com/uptrace/bun"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/store"
)

// The *Query methods return the authorized, filtered select of a list (no
// order, limit or columns) for adapters that page it themselves: keyset
// pagination, column push-down of sparse fieldsets. The Count* methods count
// the same rows (from the maintained counters when the filters allow). Both
// apply the same rules as the List methods (a compagnon sees only their own
// rows).

// ChantierQuery selects the chantiers the caller may list.
func (s *Service) ChantierQuery(ctx context.Context, f hubapi.ChantierFilter) (*bun.SelectQuery, error) {
	if _, err := caller(ctx, hubapi.ScopeChantiersRead); err != nil {
		return nil, err
	}
	return store.ChantierQuery(s.db.NewSelect().Model((*hubapi.Chantier)(nil)), f), nil
}

// CountChantiers counts the chantiers the caller may list.
func (s *Service) CountChantiers(ctx context.Context, f hubapi.ChantierFilter) (int, error) {
	if _, err := caller(ctx, hubapi.ScopeChantiersRead); err != nil {
		return 0, err
	}
	return store.CountChantiers(ctx, s.db, f)
}

// PointageQuery selects the pointages the caller may list.
func (s *Service) PointageQuery(ctx context.Context, f hubapi.PointageFilter) (*bun.SelectQuery, error) {
	p, err := caller(ctx, hubapi.ScopePointagesRead)
	if err != nil {
		return nil, err
	}
	q := s.db.NewSelect().Model((*hubapi.Pointage)(nil))
	var ok bool
	if f.UserID, ok = ownScope(p, f.UserID); !ok {
		q = q.Where("1 = 0")
	}
	return store.PointageQuery(q, f), nil
}

// CountPointages counts the pointages the caller may list.
func (s *Service) CountPointages(ctx context.Context, f hubapi.PointageFilter) (int, error) {
	p, err := caller(ctx, hubapi.ScopePointagesRead)
	if err != nil {
		return 0, err
	}
	var ok bool
	if f.UserID, ok = ownScope(p, f.UserID); !ok {
		return 0, nil
	}
	return store.CountPointages(ctx, s.db, f)
}

// DocumentQuery selects the documents the caller may list.
func (s *Service) DocumentQuery(ctx context.Context, f hubapi.DocumentFilter) (*bun.SelectQuery, error) {
	if _, err := caller(ctx, hubapi.ScopeDocumentsRead); err != nil {
		return nil, err
	}
	return store.DocumentQuery(s.db.NewSelect().Model((*hubapi.Document)(nil)), f), nil
}

// CountDocuments counts the documents the caller may list.
func (s *Service) CountDocuments(ctx context.Context, f hubapi.DocumentFilter) (int, error) {
	if _, err := caller(ctx, hubapi.ScopeDocumentsRead); err != nil {
		return 0, err
	}
	return store.CountDocuments(ctx, s.db, f)
}

// SignalementQuery selects the signalements the caller may list.
func (s *Service) SignalementQuery(ctx context.Context, f hubapi.SignalementFilter) (*bun.SelectQuery, error) {
	if _, err := caller(ctx, hubapi.ScopeSignalementsRead); err != nil {
		return nil, err
	}
	return store.SignalementQuery(s.db.NewSelect().Model((*hubapi.Signalement)(nil)), f), nil
}

// CountSignalements counts the signalements the caller may list.
func (s *Service) CountSignalements(ctx context.Context, f hubapi.SignalementFilter) (int, error) {
	if _, err := caller(ctx, hubapi.ScopeSignalementsRead); err != nil {
		return 0, err
	}
	return store.CountSignalements(ctx, s.db, f)
}

// AffectationQuery selects the affectations the caller may list.
func (s *Service) AffectationQuery(ctx context.Context, f hubapi.AffectationFilter) (*bun.SelectQuery, error) {
	p, err := caller(ctx, hubapi.ScopePlanningRead)
	if err != nil {
		return nil, err
	}
	q := s.db.NewSelect().Model((*hubapi.Affectation)(nil))
	var ok bool
	if f.UserID, ok = ownScope(p, f.UserID); !ok {
		q = q.Where("1 = 0")
	}
	return store.AffectationQuery(q, f), nil
}

// CountAffectations counts the affectations the caller may list.
func (s *Service) CountAffectations(ctx context.Context, f hubapi.AffectationFilter) (int, error) {
	p, err := caller(ctx, hubapi.ScopePlanningRead)
	if err != nil {
		return 0, err
	}
	var ok bool
	if f.UserID, ok = ownScope(p, f.UserID); !ok {
		return 0, nil
	}
	return store.CountAffectations(ctx, s.db, f)
}

// ownScope narrows a user filter to what the caller may see: a compagnon's
// own rows. ok is false when the filter names another user (nothing to see).
func ownScope(p *hubapi.Principal, userID int64) (scoped int64, ok bool) {
	if !ownOnly(p) {
		return userID, true
	}
	return p.UserID, userID == 0 || userID == p.UserID
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
