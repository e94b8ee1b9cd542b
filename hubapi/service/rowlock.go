package service

import (
	"context"

	"github.com/uptrace/bun"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/store"
)

// rowKind is what a write use case needs to know of a row type: the
// resource its permissions name, the row as hubapi.Can sees it (owner,
// closed), and its version.
type rowKind[T any] struct {
	resource hubapi.Resource
	row      func(*T) *hubapi.Row
	version  func(*T) int64
}

var (
	chantierRows    = rowKind[hubapi.Chantier]{hubapi.ResourceChantiers, chantierRow, func(c *hubapi.Chantier) int64 { return c.Version }}
	pointageRows    = rowKind[hubapi.Pointage]{hubapi.ResourcePointages, pointageRow, func(pt *hubapi.Pointage) int64 { return pt.Version }}
	documentRows    = rowKind[hubapi.Document]{hubapi.ResourceDocuments, documentRow, func(d *hubapi.Document) int64 { return d.Version }}
	signalementRows = rowKind[hubapi.Signalement]{hubapi.ResourceSignalements, signalementRow, func(sg *hubapi.Signalement) int64 { return sg.Version }}
	affectationRows = rowKind[hubapi.Affectation]{hubapi.ResourceAffectations, affectationRow, func(a *hubapi.Affectation) int64 { return a.Version }}
)

// lock reads row id for update in tx, then checks that p may do a on it
// and that it is still at ifVersion (0: whatever its version). Every write
// starts this way, so concurrent writes of one row are serialised and a
// write without a precondition never fails on another's change.
func (k rowKind[T]) lock(ctx context.Context, tx bun.IDB, p *hubapi.Principal, a hubapi.Action, id, ifVersion int64) (*T, error) {
	cur, err := store.GetForUpdate[T](ctx, tx, id)
	if err != nil {
		return nil, err
	}
	if err := hubapi.Can(p, k.resource, a, k.row(cur)); err != nil {
		return nil, err
	}
	if err := checkVersion(k.version(cur), ifVersion); err != nil {
		return nil, err
	}
	noteBefore(ctx, string(k.resource), id, cur)
	return cur, nil
}

// remove is the delete use case of k's rows: the caller may delete some
// rows, the locked row passes lock and check (nil: no further rule), and
// its deletion and event commit together. It returns the deleted row.
func remove[T any](ctx context.Context, s *Service, k rowKind[T], event hubapi.EventType, id, ifVersion int64, check func(*T) error) (*T, error) {
	p, err := allow(ctx, k.resource, hubapi.ActionDelete)
	if err != nil {
		return nil, err
	}
	var gone *T
	err = s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		cur, err := k.lock(ctx, tx, p, hubapi.ActionDelete, id, ifVersion)
		if err != nil {
			return err
		}
		if check != nil {
			if err := check(cur); err != nil {
				return err
			}
		}
		if err := store.DeleteVersioned[T](ctx, tx, id, k.version(cur)); err != nil {
			return err
		}
		gone = cur
		return s.emit(ctx, tx, p, event, string(k.resource), id, nil)
	})
	if err != nil {
		return nil, err
	}
	return gone, nil
}
