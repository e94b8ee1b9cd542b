package service

import (
	"context"

	"github.com/uptrace/bun"

	"github.com/hubchantier/hubchantier/fields"
	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/store"
)

// chantierRow is what the permission rules see of a chantier: nobody owns
// one.
func chantierRow(*hubapi.Chantier) *hubapi.Row { return &hubapi.Row{} }

// GetChantier implements hubapi.ChantierService.
func (s *Service) GetChantier(ctx context.Context, id int64, sel *fields.Selection) (*hubapi.Chantier, error) {
	p, err := allow(ctx, hubapi.ResourceChantiers, hubapi.ActionRead)
	if err != nil {
		return nil, err
	}
	c, err := store.Get[hubapi.Chantier](ctx, s.idb(ctx), id)
	if err != nil {
		return nil, err
	}
	if err := hubapi.Can(p, hubapi.ResourceChantiers, hubapi.ActionRead, chantierRow(c)); err != nil {
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
	p, err := allow(ctx, hubapi.ResourceChantiers, hubapi.ActionCreate)
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
		if err := store.Insert(ctx, tx, c); err != nil {
			return err
		}
		return s.emit(ctx, tx, p, hubapi.EventChantierCreated, "chantiers", c.ID, c)
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// UpdateChantier implements hubapi.ChantierService.
func (s *Service) UpdateChantier(ctx context.Context, id int64, in hubapi.ChantierInput, ifVersion int64) (*hubapi.Chantier, error) {
	if _, err := allow(ctx, hubapi.ResourceChantiers, hubapi.ActionChange); err != nil {
		return nil, err
	}
	in.Normalize()
	if err := in.Validate(); err != nil {
		return nil, err
	}
	return s.PatchChantier(ctx, id, replaceWith(in), ifVersion)
}

// PatchChantier implements hubapi.ChantierService: change runs on the
// current fields under the row lock.
func (s *Service) PatchChantier(ctx context.Context, id int64, change func(hubapi.ChantierInput) (hubapi.ChantierInput, error), ifVersion int64) (*hubapi.Chantier, error) {
	p, err := allow(ctx, hubapi.ResourceChantiers, hubapi.ActionChange)
	if err != nil {
		return nil, err
	}
	var c *hubapi.Chantier
	err = s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		cur, err := chantierRows.lock(ctx, tx, p, hubapi.ActionChange, id, ifVersion)
		if err != nil {
			return err
		}
		in, err := change(cur.Input())
		if err != nil {
			return err
		}
		in.Normalize()
		if err := in.Validate(); err != nil {
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
		if err := store.UpdateVersioned(ctx, tx, cur, id, old); err != nil {
			return err
		}
		return s.emit(ctx, tx, p, hubapi.EventChantierUpdated, "chantiers", c.ID, c)
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// DeleteChantier implements hubapi.ChantierService.
func (s *Service) DeleteChantier(ctx context.Context, id int64, ifVersion int64) error {
	_, err := remove(ctx, s, chantierRows, hubapi.EventChantierDeleted, id, ifVersion, nil)
	return err
}
