package service

import (
	"context"
	"encoding/json"

	"github.com/uptrace/bun"

	"github.com/hubchantier/hubchantier/fields"
	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/pagination"
	"github.com/hubchantier/hubchantier/pagination/bunkeyset"
)

// pagers holds one keyset paginator per listed resource.
type pagers struct {
	chantiers    *pagination.Paginator[hubapi.Chantier]
	pointages    *pagination.Paginator[hubapi.Pointage]
	documents    *pagination.Paginator[hubapi.Document]
	signalements *pagination.Paginator[hubapi.Signalement]
	affectations *pagination.Paginator[hubapi.Affectation]
	webhooks     *pagination.Paginator[hubapi.WebhookSubscription]
	deliveries   *pagination.Paginator[hubapi.WebhookDelivery]
	connectors   *pagination.Paginator[hubapi.Connector]
	syncLogs     *pagination.Paginator[hubapi.ConnectorSyncLog]
}

// newPagers builds the paginators of the store's specs, which are constants:
// an error is a programming error, caught by every test.
func newPagers(c *pagination.Codec) pagers {
	return pagers{
		chantiers:    pagination.MustNew(c, store.ChantierPages),
		pointages:    pagination.MustNew(c, store.PointagePages),
		documents:    pagination.MustNew(c, store.DocumentPages),
		signalements: pagination.MustNew(c, store.SignalementPages),
		affectations: pagination.MustNew(c, store.AffectationPages),
		webhooks:     pagination.MustNew(c, store.WebhookPages),
		deliveries:   pagination.MustNew(c, store.WebhookDeliveryPages),
		connectors:   pagination.MustNew(c, store.ConnectorPages),
		syncLogs:     pagination.MustNew(c, store.ConnectorSyncLogPages),
	}
}

// listing is one list request: the authorized, filtered select of a
// resource (no order, limit or columns) and the count of the same rows.
type listing[T any] struct {
	pager  *pagination.Paginator[T]
	query  *bun.SelectQuery
	filter any // the effective filter: cursors are bound to it
	count  func() (int, error)
}

// page runs a list request: keyset pages from a cursor (or a first keyset
// page when neither cursor nor page number is given), or a legacy offset
// page with its exact total and a cursor to continue by keyset. Only the
// selected columns are read, plus id and the sort keys.
func page[T any](ctx context.Context, l listing[T], pr hubapi.PageRequest, sel *fields.Selection) (*hubapi.Page[T], error) {
	switch {
	case pr.Page < 0:
		return nil, &hubapi.ValidationError{Fields: map[string]string{"page": "must be a positive integer"}}
	case pr.Cursor != "" && pr.Page != 0:
		return nil, &hubapi.ValidationError{Fields: map[string]string{"page": "cannot be combined with cursor"}}
	}
	fp, err := json.Marshal(l.filter)
	if err != nil {
		return nil, err
	}
	req, err := l.pager.NewRequest(pr.Sort, pr.Limit, pr.Cursor, string(fp))
	if err != nil {
		return nil, err
	}
	q := store.SelectColumns(l.query, sel, req.Sort())
	if pr.Page == 0 {
		pg, err := bunkeyset.Fetch(ctx, l.pager, q, req)
		if err != nil {
			return nil, err
		}
		return &hubapi.Page[T]{Items: pg.Data, NextCursor: pg.Pagination.NextCursor, PrevCursor: pg.Pagination.PrevCursor,
			HasMore: pg.Pagination.HasMore, Total: -1, Limit: req.Limit()}, nil
	}
	limit := req.Limit()
	rows := make([]T, 0, limit)
	// The paginator's order (NULL placement included), so that the
	// next_cursor continues exactly after this page.
	if err := bunkeyset.OrderBy(q, l.pager, req).Offset(int64((pr.Page-1)*limit)).Limit(int64(limit)).Scan(ctx, &rows); err != nil {
		return nil, err
	}
	n, err := l.count()
	if err != nil {
		return nil, err
	}
	pages := (n + limit - 1) / limit
	out := &hubapi.Page[T]{Items: rows, Total: n, Limit: limit, Number: pr.Page, HasMore: pr.Page < pages}
	if out.HasMore && len(rows) > 0 {
		if out.NextCursor, err = l.pager.CursorAfter(req, &rows[len(rows)-1]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ListChantiers implements hubapi.ChantierService.
func (s *Service) ListChantiers(ctx context.Context, f hubapi.ChantierFilter, pr hubapi.PageRequest, sel *fields.Selection) (*hubapi.Page[hubapi.Chantier], error) {
	if _, err := allow(ctx, hubapi.ResourceChantiers, hubapi.ActionRead); err != nil {
		return nil, err
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	pg, err := page(ctx, listing[hubapi.Chantier]{pager: s.pages.chantiers, filter: f,
		query: store.ChantierQuery(s.idb(ctx).NewSelect().Model((*hubapi.Chantier)(nil)), f),
		count: func() (int, error) { return store.CountChantiers(ctx, s.idb(ctx), f) }}, pr, sel)
	if err != nil {
		return nil, err
	}
	if sel.Has("responsable") {
		if err := s.loadResponsables(ctx, pg.Items); err != nil {
			return nil, err
		}
	}
	return pg, nil
}

// ListPointages implements hubapi.PointageService; a compagnon's list is
// restricted to their own pointages.
func (s *Service) ListPointages(ctx context.Context, f hubapi.PointageFilter, pr hubapi.PageRequest, sel *fields.Selection) (*hubapi.Page[hubapi.Pointage], error) {
	p, err := allow(ctx, hubapi.ResourcePointages, hubapi.ActionRead)
	if err != nil {
		return nil, err
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	q := s.idb(ctx).NewSelect().Model((*hubapi.Pointage)(nil))
	count := func() (int, error) { return store.CountPointages(ctx, s.idb(ctx), f) }
	var ok bool
	if f.UserID, ok = ownScope(p, hubapi.ResourcePointages, f.UserID); !ok {
		q, count = q.Where("1 = 0"), func() (int, error) { return 0, nil }
	}
	return page(ctx, listing[hubapi.Pointage]{pager: s.pages.pointages, filter: f,
		query: store.PointageQuery(q, f), count: count}, pr, sel)
}

// ListDocuments implements hubapi.DocumentService.
func (s *Service) ListDocuments(ctx context.Context, f hubapi.DocumentFilter, pr hubapi.PageRequest, sel *fields.Selection) (*hubapi.Page[hubapi.Document], error) {
	if _, err := allow(ctx, hubapi.ResourceDocuments, hubapi.ActionRead); err != nil {
		return nil, err
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return page(ctx, listing[hubapi.Document]{pager: s.pages.documents, filter: f,
		query: store.DocumentQuery(s.idb(ctx).NewSelect().Model((*hubapi.Document)(nil)), f),
		count: func() (int, error) { return store.CountDocuments(ctx, s.idb(ctx), f) }}, pr, sel)
}

// ListSignalements implements hubapi.SignalementService.
func (s *Service) ListSignalements(ctx context.Context, f hubapi.SignalementFilter, pr hubapi.PageRequest, sel *fields.Selection) (*hubapi.Page[hubapi.Signalement], error) {
	if _, err := allow(ctx, hubapi.ResourceSignalements, hubapi.ActionRead); err != nil {
		return nil, err
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return page(ctx, listing[hubapi.Signalement]{pager: s.pages.signalements, filter: f,
		query: store.SignalementQuery(s.idb(ctx).NewSelect().Model((*hubapi.Signalement)(nil)), f),
		count: func() (int, error) { return store.CountSignalements(ctx, s.idb(ctx), f) }}, pr, sel)
}

// ListAffectations implements hubapi.AffectationService; a compagnon's list
// is restricted to their own affectations.
func (s *Service) ListAffectations(ctx context.Context, f hubapi.AffectationFilter, pr hubapi.PageRequest, sel *fields.Selection) (*hubapi.Page[hubapi.Affectation], error) {
	p, err := allow(ctx, hubapi.ResourceAffectations, hubapi.ActionRead)
	if err != nil {
		return nil, err
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	q, f, visible := s.affectationQuery(ctx, p, f)
	return page(ctx, listing[hubapi.Affectation]{pager: s.pages.affectations, filter: f, query: q,
		count: func() (int, error) {
			if !visible {
				return 0, nil
			}
			return store.CountAffectations(ctx, s.idb(ctx), f)
		}}, pr, sel)
}

// affectationQuery selects the affectations p may see among f, and returns
// the filter narrowed to them; visible is false when f names another user
// than a compagnon caller (nothing to see).
func (s *Service) affectationQuery(ctx context.Context, p *hubapi.Principal, f hubapi.AffectationFilter) (q *bun.SelectQuery, scoped hubapi.AffectationFilter, visible bool) {
	q = s.idb(ctx).NewSelect().Model((*hubapi.Affectation)(nil))
	if f.UserID, visible = ownScope(p, hubapi.ResourceAffectations, f.UserID); !visible {
		q = q.Where("1 = 0")
	}
	return store.AffectationQuery(q, f), f, visible
}

// ownScope narrows a user filter to the rows of r the caller may read
// (hubapi.Permissions): its own when its read grant is "own". ok is false
// when the filter names another user (nothing to see).
func ownScope(p *hubapi.Principal, r hubapi.Resource, userID int64) (scoped int64, ok bool) {
	if !p.ReadsOwnRowsOnly(r) {
		return userID, true
	}
	return p.UserID, userID == 0 || userID == p.UserID
}

// loadResponsables sets the Responsable of each chantier that has one:
// id, nom and prénom only, in one query.
func (s *Service) loadResponsables(ctx context.Context, rows []hubapi.Chantier) error {
	var ids []int64
	for _, c := range rows {
		if c.ResponsableID != nil {
			ids = append(ids, *c.ResponsableID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	var users []hubapi.UserSummary
	if err := s.idb(ctx).NewSelect().Table("users").Column("id", "nom", "prenom").Where("id IN (?)", bun.List(ids)).Scan(ctx, &users); err != nil {
		return err
	}
	byID := make(map[int64]*hubapi.UserSummary, len(users))
	for i := range users {
		byID[users[i].ID] = &users[i]
	}
	for i := range rows {
		if id := rows[i].ResponsableID; id != nil {
			rows[i].Responsable = byID[*id]
		}
	}
	return nil
}
