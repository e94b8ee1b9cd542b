package service

import (
	"context"

	"github.com/uptrace/bun"

	"github.com/hubchantier/hubchantier/hubapi"
)

// maxBatch bounds the ids of one batch read (a dataloader's batch is
// bounded by the page sizes of a response; this is a guard).
const maxBatch = 1000

// UserSummaries implements hubapi.ReferenceService.
func (s *Service) UserSummaries(ctx context.Context, ids []int64) (map[int64]*hubapi.UserSummary, error) {
	if _, err := allow(ctx, hubapi.ResourceChantiers, hubapi.ActionRead); err != nil {
		return nil, err
	}
	out := make(map[int64]*hubapi.UserSummary, len(ids))
	for len(ids) > 0 {
		n := min(len(ids), maxBatch)
		var users []hubapi.UserSummary
		if err := s.db.NewSelect().Table("users").Column("id", "nom", "prenom").Where("id IN (?)", bun.List(ids[:n])).Scan(ctx, &users); err != nil {
			return nil, err
		}
		for i := range users {
			out[users[i].ID] = &users[i]
		}
		ids = ids[n:]
	}
	return out, nil
}

// ChantiersByID implements hubapi.ReferenceService.
func (s *Service) ChantiersByID(ctx context.Context, ids []int64) (map[int64]*hubapi.Chantier, error) {
	p, err := allow(ctx, hubapi.ResourceChantiers, hubapi.ActionRead)
	if err != nil {
		return nil, err
	}
	out := make(map[int64]*hubapi.Chantier, len(ids))
	for len(ids) > 0 {
		n := min(len(ids), maxBatch)
		var rows []hubapi.Chantier
		if err := s.db.NewSelect().Model(&rows).Where("id IN (?)", bun.List(ids[:n])).Scan(ctx); err != nil {
			return nil, err
		}
		for i := range rows {
			if hubapi.Can(p, hubapi.ResourceChantiers, hubapi.ActionRead, chantierRow(&rows[i])) == nil {
				out[rows[i].ID] = &rows[i]
			}
		}
		ids = ids[n:]
	}
	return out, nil
}
