package service

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"github.com/hubchantier/hubchantier/fields"
	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/pagination"
)

// The accounting resources (clients, factures, dépenses): nobody owns their
// rows; admins and conducteurs manage them (hubapi.Permissions).

func noOwner[T any](*T) *hubapi.Row { return &hubapi.Row{} }

var (
	clientRows  = rowKind[hubapi.Client]{hubapi.ResourceClients, noOwner[hubapi.Client], func(c *hubapi.Client) int64 { return c.Version }}
	factureRows = rowKind[hubapi.Facture]{hubapi.ResourceFactures, noOwner[hubapi.Facture], func(f *hubapi.Facture) int64 { return f.Version }}
	depenseRows = rowKind[hubapi.Depense]{hubapi.ResourceDepenses, noOwner[hubapi.Depense], func(d *hubapi.Depense) int64 { return d.Version }}
)

// financePagers are the paginators of the accounting resources, built
// once per codec.
type financePagers struct {
	clients  *pagination.Paginator[hubapi.Client]
	factures *pagination.Paginator[hubapi.Facture]
	depenses *pagination.Paginator[hubapi.Depense]
}

func newFinancePagers(c *pagination.Codec) financePagers {
	return financePagers{
		clients:  pagination.MustNew(c, store.ClientPages),
		factures: pagination.MustNew(c, store.FacturePages),
		depenses: pagination.MustNew(c, store.DepensePages),
	}
}

// kind describes one accounting resource to the generic use cases below.
type kind[T any, In any] struct {
	rows                      rowKind[T]
	created, updated, deleted hubapi.EventType
	id                        func(*T) int64
	input                     func(*T) In
	// prepare normalizes and validates an input.
	prepare func(*In) error
	// refs checks that the rows an input names exist.
	refs func(ctx context.Context, tx bun.IDB, in *In) error
	// write copies an input onto a row and sets its version and time.
	write func(m *T, in In, version int64, now time.Time)
}

var clientKind = kind[hubapi.Client, hubapi.ClientInput]{
	rows: clientRows, created: hubapi.EventClientCreated, updated: hubapi.EventClientUpdated, deleted: hubapi.EventClientDeleted,
	id: func(c *hubapi.Client) int64 { return c.ID }, input: (*hubapi.Client).Input,
	prepare: func(in *hubapi.ClientInput) error { in.Normalize(); return in.Validate() },
	refs:    func(context.Context, bun.IDB, *hubapi.ClientInput) error { return nil },
	write: func(c *hubapi.Client, in hubapi.ClientInput, v int64, now time.Time) {
		c.Apply(in)
		c.Version, c.UpdatedAt = v, now
		if c.CreatedAt.IsZero() {
			c.CreatedAt = now
		}
	},
}

var factureKind = kind[hubapi.Facture, hubapi.FactureInput]{
	rows: factureRows, created: hubapi.EventFactureCreated, updated: hubapi.EventFactureUpdated, deleted: hubapi.EventFactureDeleted,
	id: func(f *hubapi.Facture) int64 { return f.ID }, input: (*hubapi.Facture).Input,
	prepare: func(in *hubapi.FactureInput) error { in.Normalize(); return in.Validate() },
	refs: func(ctx context.Context, tx bun.IDB, in *hubapi.FactureInput) error {
		if err := mustExist[hubapi.Chantier](ctx, tx, in.ChantierID, "chantier_id"); err != nil {
			return err
		}
		if in.ClientID != nil {
			return mustExist[hubapi.Client](ctx, tx, *in.ClientID, "client_id")
		}
		return nil
	},
	write: func(f *hubapi.Facture, in hubapi.FactureInput, v int64, now time.Time) {
		f.Apply(in)
		f.Version, f.UpdatedAt = v, now
		if f.CreatedAt.IsZero() {
			f.CreatedAt = now
		}
	},
}

var depenseKind = kind[hubapi.Depense, hubapi.DepenseInput]{
	rows: depenseRows, created: hubapi.EventDepenseCreated, updated: hubapi.EventDepenseUpdated, deleted: hubapi.EventDepenseDeleted,
	id: func(d *hubapi.Depense) int64 { return d.ID }, input: (*hubapi.Depense).Input,
	prepare: func(in *hubapi.DepenseInput) error { in.Normalize(); return in.Validate() },
	refs: func(ctx context.Context, tx bun.IDB, in *hubapi.DepenseInput) error {
		if in.ChantierID != nil {
			return mustExist[hubapi.Chantier](ctx, tx, *in.ChantierID, "chantier_id")
		}
		return nil
	},
	write: func(d *hubapi.Depense, in hubapi.DepenseInput, v int64, now time.Time) {
		d.Apply(in)
		d.Version, d.UpdatedAt = v, now
		if d.CreatedAt.IsZero() {
			d.CreatedAt = now
		}
	},
}

// getRow is the read use case of k's rows.
func getRow[T, In any](ctx context.Context, s *Service, k kind[T, In], id int64) (*T, error) {
	p, err := allow(ctx, k.rows.resource, hubapi.ActionRead)
	if err != nil {
		return nil, err
	}
	m, err := store.Get[T](ctx, s.idb(ctx), id)
	if err != nil {
		return nil, err
	}
	if err := hubapi.Can(p, k.rows.resource, hubapi.ActionRead, k.rows.row(m)); err != nil {
		return nil, err
	}
	return m, nil
}

// createRow is the create use case of k's rows.
func createRow[T, In any](ctx context.Context, s *Service, k kind[T, In], in In) (*T, error) {
	p, err := allow(ctx, k.rows.resource, hubapi.ActionCreate)
	if err != nil {
		return nil, err
	}
	if err := k.prepare(&in); err != nil {
		return nil, err
	}
	m := new(T)
	k.write(m, in, 1, s.now())
	if err := hubapi.Can(p, k.rows.resource, hubapi.ActionCreate, k.rows.row(m)); err != nil {
		return nil, err
	}
	err = s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := k.refs(ctx, tx, &in); err != nil {
			return err
		}
		if err := store.Insert(ctx, tx, m); err != nil {
			return err
		}
		return s.emit(ctx, tx, p, k.created, string(k.rows.resource), k.id(m), m)
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// patchRow is the change use case of k's rows: change runs on the current
// fields under the row lock (see PatchChantier).
func patchRow[T, In any](ctx context.Context, s *Service, k kind[T, In], id int64, change func(In) (In, error), ifVersion int64) (*T, error) {
	p, err := allow(ctx, k.rows.resource, hubapi.ActionChange)
	if err != nil {
		return nil, err
	}
	var out *T
	err = s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		cur, err := k.rows.lock(ctx, tx, p, hubapi.ActionChange, id, ifVersion)
		if err != nil {
			return err
		}
		in, err := change(k.input(cur))
		if err != nil {
			return err
		}
		if err := k.prepare(&in); err != nil {
			return err
		}
		if err := k.refs(ctx, tx, &in); err != nil {
			return err
		}
		old := k.rows.version(cur)
		k.write(cur, in, old+1, s.now())
		if err := store.UpdateVersioned(ctx, tx, cur, id, old); err != nil {
			return err
		}
		out = cur
		return s.emit(ctx, tx, p, k.updated, string(k.rows.resource), id, cur)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// updateRow is the replace use case of k's rows.
func updateRow[T, In any](ctx context.Context, s *Service, k kind[T, In], id int64, in In, ifVersion int64) (*T, error) {
	if _, err := allow(ctx, k.rows.resource, hubapi.ActionChange); err != nil {
		return nil, err
	}
	if err := k.prepare(&in); err != nil {
		return nil, err
	}
	return patchRow(ctx, s, k, id, replaceWith(in), ifVersion)
}

// GetClient implements hubapi.ClientService.
func (s *Service) GetClient(ctx context.Context, id int64) (*hubapi.Client, error) {
	return getRow(ctx, s, clientKind, id)
}

// CreateClient implements hubapi.ClientService.
func (s *Service) CreateClient(ctx context.Context, in hubapi.ClientInput) (*hubapi.Client, error) {
	return createRow(ctx, s, clientKind, in)
}

// UpdateClient implements hubapi.ClientService.
func (s *Service) UpdateClient(ctx context.Context, id int64, in hubapi.ClientInput, ifVersion int64) (*hubapi.Client, error) {
	return updateRow(ctx, s, clientKind, id, in, ifVersion)
}

// PatchClient implements hubapi.ClientService.
func (s *Service) PatchClient(ctx context.Context, id int64, change func(hubapi.ClientInput) (hubapi.ClientInput, error), ifVersion int64) (*hubapi.Client, error) {
	return patchRow(ctx, s, clientKind, id, change, ifVersion)
}

// DeleteClient implements hubapi.ClientService.
func (s *Service) DeleteClient(ctx context.Context, id int64, ifVersion int64) error {
	_, err := remove(ctx, s, clientRows, hubapi.EventClientDeleted, id, ifVersion, nil)
	return err
}

// ListClients implements hubapi.ClientService.
func (s *Service) ListClients(ctx context.Context, f hubapi.ClientFilter, pr hubapi.PageRequest, sel *fields.Selection) (*hubapi.Page[hubapi.Client], error) {
	if _, err := allow(ctx, hubapi.ResourceClients, hubapi.ActionRead); err != nil {
		return nil, err
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return page(ctx, listing[hubapi.Client]{pager: s.finance.clients, filter: f,
		query: store.ClientQuery(s.idb(ctx).NewSelect().Model((*hubapi.Client)(nil)), f),
		count: func() (int, error) { return store.CountClients(ctx, s.idb(ctx), f) }}, pr, sel)
}

// GetFacture implements hubapi.FactureService.
func (s *Service) GetFacture(ctx context.Context, id int64) (*hubapi.Facture, error) {
	return getRow(ctx, s, factureKind, id)
}

// CreateFacture implements hubapi.FactureService.
func (s *Service) CreateFacture(ctx context.Context, in hubapi.FactureInput) (*hubapi.Facture, error) {
	return createRow(ctx, s, factureKind, in)
}

// UpdateFacture implements hubapi.FactureService.
func (s *Service) UpdateFacture(ctx context.Context, id int64, in hubapi.FactureInput, ifVersion int64) (*hubapi.Facture, error) {
	return updateRow(ctx, s, factureKind, id, in, ifVersion)
}

// PatchFacture implements hubapi.FactureService.
func (s *Service) PatchFacture(ctx context.Context, id int64, change func(hubapi.FactureInput) (hubapi.FactureInput, error), ifVersion int64) (*hubapi.Facture, error) {
	return patchRow(ctx, s, factureKind, id, change, ifVersion)
}

// DeleteFacture implements hubapi.FactureService.
func (s *Service) DeleteFacture(ctx context.Context, id int64, ifVersion int64) error {
	_, err := remove(ctx, s, factureRows, hubapi.EventFactureDeleted, id, ifVersion, nil)
	return err
}

// ListFactures implements hubapi.FactureService.
func (s *Service) ListFactures(ctx context.Context, f hubapi.FactureFilter, pr hubapi.PageRequest, sel *fields.Selection) (*hubapi.Page[hubapi.Facture], error) {
	if _, err := allow(ctx, hubapi.ResourceFactures, hubapi.ActionRead); err != nil {
		return nil, err
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return page(ctx, listing[hubapi.Facture]{pager: s.finance.factures, filter: f,
		query: store.FactureQuery(s.idb(ctx).NewSelect().Model((*hubapi.Facture)(nil)), f),
		count: func() (int, error) { return store.CountFactures(ctx, s.idb(ctx), f) }}, pr, sel)
}

// GetDepense implements hubapi.DepenseService.
func (s *Service) GetDepense(ctx context.Context, id int64) (*hubapi.Depense, error) {
	return getRow(ctx, s, depenseKind, id)
}

// CreateDepense implements hubapi.DepenseService.
func (s *Service) CreateDepense(ctx context.Context, in hubapi.DepenseInput) (*hubapi.Depense, error) {
	return createRow(ctx, s, depenseKind, in)
}

// UpdateDepense implements hubapi.DepenseService.
func (s *Service) UpdateDepense(ctx context.Context, id int64, in hubapi.DepenseInput, ifVersion int64) (*hubapi.Depense, error) {
	return updateRow(ctx, s, depenseKind, id, in, ifVersion)
}

// PatchDepense implements hubapi.DepenseService.
func (s *Service) PatchDepense(ctx context.Context, id int64, change func(hubapi.DepenseInput) (hubapi.DepenseInput, error), ifVersion int64) (*hubapi.Depense, error) {
	return patchRow(ctx, s, depenseKind, id, change, ifVersion)
}

// DeleteDepense implements hubapi.DepenseService.
func (s *Service) DeleteDepense(ctx context.Context, id int64, ifVersion int64) error {
	_, err := remove(ctx, s, depenseRows, hubapi.EventDepenseDeleted, id, ifVersion, nil)
	return err
}

// ListDepenses implements hubapi.DepenseService.
func (s *Service) ListDepenses(ctx context.Context, f hubapi.DepenseFilter, pr hubapi.PageRequest, sel *fields.Selection) (*hubapi.Page[hubapi.Depense], error) {
	if _, err := allow(ctx, hubapi.ResourceDepenses, hubapi.ActionRead); err != nil {
		return nil, err
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return page(ctx, listing[hubapi.Depense]{pager: s.finance.depenses, filter: f,
		query: store.DepenseQuery(s.idb(ctx).NewSelect().Model((*hubapi.Depense)(nil)), f),
		count: func() (int, error) { return store.CountDepenses(ctx, s.idb(ctx), f) }}, pr, sel)
}
