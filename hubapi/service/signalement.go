package service

import (
	"context"

	"github.com/uptrace/bun"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/store"
)

// signalementRow is what the permission rules see of a signalement: it
// belongs to its author and is closed once resolved or closed.
func signalementRow(sg *hubapi.Signalement) *hubapi.Row {
	return &hubapi.Row{Owner: sg.CreatedBy, Closed: sg.Statut.Closed()}
}

// GetSignalement implements hubapi.SignalementService.
func (s *Service) GetSignalement(ctx context.Context, id int64) (*hubapi.Signalement, error) {
	p, err := allow(ctx, hubapi.ResourceSignalements, hubapi.ActionRead)
	if err != nil {
		return nil, err
	}
	sg, err := store.Get[hubapi.Signalement](ctx, s.idb(ctx), id)
	if err != nil {
		return nil, err
	}
	if err := hubapi.Can(p, hubapi.ResourceSignalements, hubapi.ActionRead, signalementRow(sg)); err != nil {
		return nil, err
	}
	return sg, nil
}

func checkSignalementRefs(ctx context.Context, tx bun.IDB, in *hubapi.SignalementInput) error {
	if err := mustExist[hubapi.Chantier](ctx, tx, in.ChantierID, "chantier_id"); err != nil {
		return err
	}
	if in.AssignedTo != nil {
		return mustExist[hubapi.User](ctx, tx, *in.AssignedTo, "assigned_to")
	}
	return nil
}

// CreateSignalement implements hubapi.SignalementService. A signalement
// created resolved or closed is also a validation (resolve) by its author.
func (s *Service) CreateSignalement(ctx context.Context, in hubapi.SignalementInput) (*hubapi.Signalement, error) {
	p, err := allow(ctx, hubapi.ResourceSignalements, hubapi.ActionCreate)
	if err != nil {
		return nil, err
	}
	in.Normalize()
	if err := in.Validate(); err != nil {
		return nil, err
	}
	row := &hubapi.Row{Owner: p.UserID}
	if err := hubapi.Can(p, hubapi.ResourceSignalements, hubapi.ActionCreate, row); err != nil {
		return nil, err
	}
	if in.Statut.Closed() {
		if err := hubapi.Can(p, hubapi.ResourceSignalements, hubapi.ActionValidate, row); err != nil {
			return nil, err
		}
	}
	now := s.now()
	sg := &hubapi.Signalement{CreatedBy: p.UserID, CreatedAt: now, UpdatedAt: now, Version: 1}
	sg.Apply(in, now)
	err = s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := checkSignalementRefs(ctx, tx, &in); err != nil {
			return err
		}
		if err := store.Insert(ctx, tx, sg); err != nil {
			return err
		}
		if err := s.emit(ctx, tx, p, hubapi.EventSignalementCreated, "signalements", sg.ID, sg); err != nil {
			return err
		}
		if sg.Gravite == hubapi.GraviteUrgente {
			return s.emit(ctx, tx, p, hubapi.EventSignalementUrgent, "signalements", sg.ID, sg)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return sg, nil
}

// UpdateSignalement implements hubapi.SignalementService.
func (s *Service) UpdateSignalement(ctx context.Context, id int64, in hubapi.SignalementInput, ifVersion int64) (*hubapi.Signalement, error) {
	if _, err := allow(ctx, hubapi.ResourceSignalements, hubapi.ActionChange); err != nil {
		return nil, err
	}
	in.Normalize()
	if err := in.Validate(); err != nil {
		return nil, err
	}
	return s.PatchSignalement(ctx, id, replaceWith(in), ifVersion)
}

// PatchSignalement implements hubapi.SignalementService. Moving the
// statut into or out of resolu/ferme is a validation (resolve or reopen)
// on top of the change.
func (s *Service) PatchSignalement(ctx context.Context, id int64, change func(hubapi.SignalementInput) (hubapi.SignalementInput, error), ifVersion int64) (*hubapi.Signalement, error) {
	p, err := allow(ctx, hubapi.ResourceSignalements, hubapi.ActionChange)
	if err != nil {
		return nil, err
	}
	var sg *hubapi.Signalement
	var becameUrgent bool
	err = s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		cur, err := signalementRows.lock(ctx, tx, p, hubapi.ActionChange, id, ifVersion)
		if err != nil {
			return err
		}
		row := signalementRow(cur)
		in, err := change(cur.Input())
		if err != nil {
			return err
		}
		in.Normalize()
		if err := in.Validate(); err != nil {
			return err
		}
		if in.Statut.Closed() != cur.Statut.Closed() {
			if err := hubapi.Can(p, hubapi.ResourceSignalements, hubapi.ActionValidate, row); err != nil {
				return err
			}
		}
		if err := checkSignalementRefs(ctx, tx, &in); err != nil {
			return err
		}
		becameUrgent = cur.Gravite != hubapi.GraviteUrgente && in.Gravite == hubapi.GraviteUrgente
		old, now := cur.Version, s.now()
		cur.Apply(in, now)
		cur.Version, cur.UpdatedAt = old+1, now
		sg = cur
		if err := store.UpdateVersioned(ctx, tx, cur, id, old); err != nil {
			return err
		}
		if err := s.emit(ctx, tx, p, hubapi.EventSignalementUpdated, "signalements", sg.ID, sg); err != nil {
			return err
		}
		if becameUrgent {
			return s.emit(ctx, tx, p, hubapi.EventSignalementUrgent, "signalements", sg.ID, sg)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return sg, nil
}

// DeleteSignalement implements hubapi.SignalementService.
func (s *Service) DeleteSignalement(ctx context.Context, id int64, ifVersion int64) error {
	_, err := remove(ctx, s, signalementRows, hubapi.EventSignalementDeleted, id, ifVersion, nil)
	return err
}
