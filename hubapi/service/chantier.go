package service

import (
	"context"

	"github.com/uptrace/bun"

	"github.com/hubchantier/hubchantier/fields"
	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/store"
)

// GetChantier implements hubapi.ChantierService.
func (s *Service) GetChantier(ctx context.Context, id int64, sel *fields.Selection) (*hubapi.Chantier, error) {
	if _, err := caller(ctx, hubapi.ScopeChantiersRead); err != nil {
		return nil, err
	}
	c, err := store.Get[hubapi.Chantier](ctx, s.db, id)
	if err != nil {
		return nil, err
	}
	if sel.Has("responsable") {
		rows := []hubapi.Chantier{*c}
		if err := s.loadResponsables(ctx, rows); err != nil {
			return nil, err
		}
		c = &rows[0]
	}
	return c, nil
}

// CreateChantier implements hubapi.ChantierService.
func (s *Service) CreateChantier(ctx context.Context, in hubapi.ChantierInput) (*hubapi.Chantier, error) {
	p, err := caller(ctx, hubapi.ScopeChantiersWrite)
	if err != nil {
		return nil, err
	}
	in.Normalize()
	if err := in.Validate(); err != nil {
		return nil, err
	}
	now := s.now()
	c := &hubapi.Chantier{CreatedAt: now, UpdatedAt: now, Version: 1}
	c.Apply(in)
	err = s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if in.ResponsableID != nil {
			if err := mustExist[hubapi.User](ctx, tx, *in.ResponsableID, "responsable_id"); err != nil {
				return err
			}
		}
		return store.Insert(ctx, tx, c)
	})
	if err != nil {
		return nil, err
	}
	s.emit(ctx, p, hubapi.EventChantierCreated, "chantiers", c.ID, c)
	return c, nil
}

// UpdateChantier implements hubapi.ChantierService.
func (s *Service) UpdateChantier(ctx context.Context, id int64, in hubapi.ChantierInput, ifVersion int64) (*hubapi.Chantier, error) {
	p, err := caller(ctx, hubapi.ScopeChantiersWrite)
	if err != nil {
		return nil, err
	}
	in.Normalize()
	if err := in.Validate(); err != nil {
		return nil, err
	}
	var c *hubapi.Chantier
	err = s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		cur, err := store.GetForUpdate[hubapi.Chantier](ctx, tx, id)
		if err != nil {
			return err
		}
		if err := checkVersion(cur.Version, ifVersion); err != nil {
			return err
		}
		if in.ResponsableID != nil {
			if err := mustExist[hubapi.User](ctx, tx, *in.ResponsableID, "responsable_id"); err != nil {
				return err
			}
		}
		old := cur.Version
		cur.Apply(in)
		cur.Version, cur.UpdatedAt = old+1, s.now()
		c = cur
		return store.UpdateVersioned(ctx, tx, cur, id, old)
	})
	if err != nil {
		return nil, err
	}
	s.emit(ctx, p, hubapi.EventChantierUpdated, "chantiers", c.ID, c)
	return c, nil
}

// DeleteChantier implements hubapi.ChantierService.
func (s *Service) DeleteChantier(ctx context.Context, id int64, ifVersion int64) error {
	p, err := caller(ctx, hubapi.ScopeChantiersWrite)
	if err != nil {
		return err
	}
	if err := store.DeleteVersioned[hubapi.Chantier](ctx, s.db, id, ifVersion); err != nil {
		return err
	}
	s.emit(ctx, p, hubapi.EventChantierDeleted, "chantiers", id, nil)
	return nil
}
