package service

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"time"

	"github.com/uptrace/bun"

	"github.com/hubchantier/hubchantier/connectors"
	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/store"
)

// What connectors sync becomes the product's rows here: the records of a
// stream a connector imports (connectors.Spec.Imports: "chantiers",
// "clients", "factures", "depenses") are upserted into the resource of the
// same name by the vendor's id, through external_refs, in the transaction
// that commits the records and the checkpoint after them. A record
// delivered again (a retried call, a sync resumed after a crash, a rerun)
// finds its row and updates it, or leaves it alone when nothing changed;
// it never makes a second row. Exports (pointages → invoices) hand the
// product's data to the connector and import what it answers the same way.

// ImportStats is what an import did.
type ImportStats struct {
	Created, Updated, Unchanged int
	// Skipped are records whose data the resource refuses (invalid
	// values, a missing reference): kept in connector_records, not as
	// rows.
	Skipped int
}

var chantierKind = kind[hubapi.Chantier, hubapi.ChantierInput]{
	rows: chantierRows, created: hubapi.EventChantierCreated, updated: hubapi.EventChantierUpdated, deleted: hubapi.EventChantierDeleted,
	id: func(c *hubapi.Chantier) int64 { return c.ID }, input: (*hubapi.Chantier).Input,
	prepare: func(in *hubapi.ChantierInput) error { in.Normalize(); return in.Validate() },
	refs: func(ctx context.Context, tx bun.IDB, in *hubapi.ChantierInput) error {
		if in.ResponsableID != nil {
			return mustExist[hubapi.User](ctx, tx, *in.ResponsableID, "responsable_id")
		}
		return nil
	},
	write: func(c *hubapi.Chantier, in hubapi.ChantierInput, v int64, now time.Time) {
		c.Apply(in)
		c.Version, c.UpdatedAt = v, now
		if c.CreatedAt.IsZero() {
			c.CreatedAt = now
		}
	},
}

// ConnectorTx runs fn in a transaction whose domain events are published
// and whose audit events are appended like a use case's (see tx): the
// connector syncs commit their records, imports and checkpoint in it.
func (o *Operator) ConnectorTx(ctx context.Context, fn func(ctx context.Context, tx bun.Tx) error) error {
	return o.tx(ctx, fn)
}

// ImportConnectorRecords upserts, in tx, the records of recs whose stream
// is one of imports into the resource of that name, by (connector, vendor
// id). Other records are left to connector_records.
func (o *Operator) ImportConnectorRecords(ctx context.Context, tx bun.Tx, connectorID int64, imports []string, recs []connectors.Record) (ImportStats, error) {
	var st ImportStats
	for _, r := range recs {
		if !slices.Contains(imports, r.Stream) {
			continue
		}
		var res importResult
		var err error
		switch hubapi.Resource(r.Stream) {
		case hubapi.ResourceChantiers:
			res, err = upsertImported(ctx, o.deps, tx, chantierKind, connectorID, r, matchColumn[hubapi.Chantier]("code", func(in *hubapi.ChantierInput) string { return in.Code }))
		case hubapi.ResourceClients:
			res, err = upsertImported(ctx, o.deps, tx, clientKind, connectorID, r, matchColumn[hubapi.Client]("code", func(in *hubapi.ClientInput) string { return in.Code }))
		case hubapi.ResourceFactures:
			res, err = upsertImported(ctx, o.deps, tx, factureKind, connectorID, r, nil)
		case hubapi.ResourceDepenses:
			res, err = upsertImported(ctx, o.deps, tx, depenseKind, connectorID, r, nil)
		default:
			continue
		}
		if err != nil {
			return st, err
		}
		switch res {
		case imported:
			st.Created++
		case importUpdated:
			st.Updated++
		case importUnchanged:
			st.Unchanged++
		case importSkipped:
			st.Skipped++
		}
	}
	return st, nil
}

type importResult int

const (
	imported importResult = iota
	importUpdated
	importUnchanged
	importSkipped
)

// matchColumn finds an existing row whose column equals the input's
// natural key (a chantier's unique code): a row created in the product
// before its first import is adopted, not duplicated.
func matchColumn[T, In any](column string, key func(*In) string) func(context.Context, bun.IDB, *In) (int64, error) {
	return func(ctx context.Context, db bun.IDB, in *In) (int64, error) {
		k := key(in)
		if k == "" {
			return 0, nil
		}
		var id int64
		err := db.NewSelect().Model((*T)(nil)).Column("id").Where("? = ?", bun.Ident(column), k).OrderExpr("id").Limit(1).Scan(ctx, &id)
		if errors.Is(err, sql.ErrNoRows) {
			return 0, nil
		}
		return id, err
	}
}

// upsertImported writes one record of k's resource: the row the
// connector's vendor id maps to (or the row match finds) gets the
// record's members over its current ones; without a row, one is created.
func upsertImported[T, In any](ctx context.Context, d *deps, tx bun.Tx, k kind[T, In], connectorID int64, r connectors.Record,
	match func(context.Context, bun.IDB, *In) (int64, error)) (importResult, error) {
	res := k.rows.resource
	id, err := store.ExternalRefOf(ctx, tx, connectorID, res, r.ID)
	if err != nil {
		return 0, err
	}
	var cur *T
	if id != 0 {
		if cur, err = store.GetForUpdate[T](ctx, tx, id); errors.Is(err, hubapi.ErrNotFound) {
			cur = nil // deleted in the product since: imported anew
		} else if err != nil {
			return 0, err
		}
	}
	var in In
	if cur != nil {
		in = k.input(cur)
	}
	if err := decodeOnto(r.Data, &in); err != nil {
		return importSkipped, nil
	}
	if err := k.prepare(&in); err != nil {
		return importSkipped, nil
	}
	if cur == nil && match != nil {
		mid, err := match(ctx, tx, &in)
		if err != nil {
			return 0, err
		}
		if mid != 0 {
			if cur, err = store.GetForUpdate[T](ctx, tx, mid); err != nil {
				return 0, err
			}
			// the record's members over the adopted row's
			in = k.input(cur)
			if err := decodeOnto(r.Data, &in); err != nil {
				return importSkipped, nil
			}
			if err := k.prepare(&in); err != nil {
				return importSkipped, nil
			}
		}
	}
	if err := k.refs(ctx, tx, &in); err != nil {
		if errors.Is(err, hubapi.ErrInvalid) {
			return importSkipped, nil
		}
		return 0, err
	}
	now := d.now()
	result := imported
	var m *T
	switch {
	case cur == nil:
		m = new(T)
		k.write(m, in, 1, now)
		if err := insertSavepoint(ctx, tx, m); err != nil {
			if errors.Is(err, hubapi.ErrConflict) {
				return importSkipped, nil // a unique value another row holds
			}
			return 0, err
		}
		if err := d.emit(ctx, tx, nil, k.created, string(res), k.id(m), m); err != nil {
			return 0, err
		}
	default:
		m = cur
		before := k.input(cur)
		if err := k.prepare(&before); err == nil && reflect.DeepEqual(before, in) {
			result = importUnchanged
			break
		}
		noteBefore(ctx, string(res), k.id(cur), cur)
		old := k.rows.version(cur)
		k.write(cur, in, old+1, now)
		if err := store.UpdateVersioned(ctx, tx, cur, k.id(cur), old); err != nil {
			return 0, err
		}
		if err := d.emit(ctx, tx, nil, k.updated, string(res), k.id(cur), cur); err != nil {
			return 0, err
		}
		result = importUpdated
	}
	if id != k.id(m) {
		if err := store.PutExternalRef(ctx, tx, &hubapi.ExternalRef{ConnectorID: connectorID, Resource: res, ExternalID: r.ID,
			ResourceID: k.id(m), CreatedAt: now, UpdatedAt: now}); err != nil {
			return 0, err
		}
	}
	return result, nil
}

// insertSavepoint inserts m under a savepoint, so that a refused row (a
// unique value taken) leaves the transaction usable on PostgreSQL.
func insertSavepoint[T any](ctx context.Context, tx bun.Tx, m *T) error {
	if _, err := tx.ExecContext(ctx, "SAVEPOINT import_row"); err != nil {
		return err
	}
	if err := store.Insert(ctx, tx, m); err != nil {
		if _, rerr := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT import_row"); rerr != nil {
			return rerr
		}
		return err
	}
	_, err := tx.ExecContext(ctx, "RELEASE SAVEPOINT import_row")
	return err
}

// decodeOnto decodes a record's members onto in: members it does not
// carry keep their value; an unknown member is an error.
func decodeOnto[In any](data json.RawMessage, in *In) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(in)
}

// FactureExport is an export of the validated pointages of a period as
// invoices, one per chantier (and its client).
type FactureExport struct {
	Items   int
	Records int
	Stats   ImportStats
}

// ExportConnectorFactures runs the "factures" export of connector id for
// the validated pointages dated from..to: one item per chantier with its
// validated minutes, its vendor reference (the affaire it was imported
// from) and its client's (the client named like the chantier's
// client_nom). The invoices the connector answers are imported as
// factures by (connector, item key), so running it again updates them.
// The run is written in the connector's sync log. It checks no caller:
// the jobs and the server's wiring call it.
func (o *Operator) ExportConnectorFactures(ctx context.Context, id int64, from, to hubapi.Date) (FactureExport, error) {
	var out FactureExport
	cd, err := o.conn()
	if err != nil {
		return out, err
	}
	c, err := store.Get[hubapi.Connector](ctx, o.db, id)
	if err != nil {
		return out, err
	}
	cfg, err := cd.Sealer.Open(c.ConfigKeyID, c.ConfigSealed, ConnectorBinding(id))
	if err != nil {
		return out, keyError(err)
	}
	conn, _, err := cd.Registry.New(c.Type, cd.Options(c.Type))
	if err != nil {
		return out, err
	}
	req, err := o.factureItems(ctx, c, from, to)
	if err != nil {
		return out, err
	}
	out.Items = len(req.Items)
	log := &hubapi.ConnectorSyncLog{ConnectorID: id, StartedAt: o.now(), Status: hubapi.SyncRunning}
	if err := store.Insert(ctx, o.db, log); err != nil {
		return out, err
	}
	recs, runErr := cd.Runner.Export(ctx, conn, cfg, req)
	if runErr == nil {
		runErr = o.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
			out.Stats, err = o.ImportConnectorRecords(ctx, tx, id, []string{string(hubapi.ResourceFactures)}, recs)
			return err
		})
	}
	out.Records = len(recs)
	status, msg := hubapi.SyncSucceeded, (*string)(nil)
	if runErr != nil {
		status = hubapi.SyncFailed
		m := runErr.Error()
		msg = &m
	}
	done := o.now()
	checkpoint := fmt.Sprintf(`{"export":"factures","from":%q,"to":%q}`, from, to)
	if _, err := o.db.NewUpdate().Model((*hubapi.ConnectorSyncLog)(nil)).Set("completed_at = ?", done).Set("status = ?", status).
		Set("error_details = ?", msg).Set("records_synced = ?", len(recs)).Set("state_checkpoint = ?", checkpoint).
		Where("id = ?", log.ID).Exec(context.WithoutCancel(ctx)); err != nil && runErr == nil {
		runErr = err
	}
	return out, runErr
}

// factureItems groups the validated pointages of the period by chantier.
func (o *Operator) factureItems(ctx context.Context, c *hubapi.Connector, from, to hubapi.Date) (connectors.ExportRequest, error) {
	req := connectors.ExportRequest{Kind: "factures", From: from.Time(), To: to.Time()}
	var sums []struct {
		ChantierID int64 `bun:"chantier_id"`
		Minutes    int64 `bun:"minutes"`
	}
	err := o.db.NewSelect().Model((*hubapi.Pointage)(nil)).ColumnExpr("chantier_id, SUM(minutes) AS minutes").
		Where("statut = ?", hubapi.PointageValide).Where("date >= ?", from).Where("date <= ?", to).
		Group("chantier_id").Order("chantier_id").Scan(ctx, &sums)
	if err != nil {
		return req, err
	}
	for _, s := range sums {
		ch, err := store.Get[hubapi.Chantier](ctx, o.db, s.ChantierID)
		if err != nil {
			return req, err
		}
		affaire, err := store.ExternalIDOf(ctx, o.db, c.ID, hubapi.ResourceChantiers, ch.ID)
		if err != nil {
			return req, err
		}
		item := map[string]any{"chantier_id": ch.ID, "chantier_code": ch.Code, "chantier_nom": ch.Nom, "affaire_code": affaire, "minutes": s.Minutes,
			"client_id": nil, "tiers_numero": ""}
		if ch.ClientNom != "" {
			var cl hubapi.Client
			err := o.db.NewSelect().Model(&cl).Where("nom = ?", ch.ClientNom).OrderExpr("id").Limit(1).Scan(ctx)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return req, err
			}
			if err == nil {
				item["client_id"] = cl.ID
				tiers, err := store.ExternalIDOf(ctx, o.db, c.ID, hubapi.ResourceClients, cl.ID)
				if err != nil {
					return req, err
				}
				if tiers == "" && cl.ExternalSource != nil && *cl.ExternalSource == c.Type && cl.ExternalID != nil {
					tiers = *cl.ExternalID
				}
				item["tiers_numero"] = tiers
			}
		}
		data, _ := json.Marshal(item)
		req.Items = append(req.Items, connectors.ExportItem{Key: from.String() + "/" + to.String() + "/" + strconv.FormatInt(ch.ID, 10), Data: data})
	}
	return req, nil
}
