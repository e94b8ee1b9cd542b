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

// ConnectorTx runs fn in a transaction whose domain events are recorded
// in the outbox together (one insert for a page of imported rows), audited
// and published after the commit, like a unit of work's (see Atomically):
// the connector syncs commit their records, imports and checkpoint in it.
func (o *Operator) ConnectorTx(ctx context.Context, fn func(ctx context.Context, tx bun.Tx) error) error {
	if unitOfWorkFrom(ctx) != nil {
		return o.tx(ctx, fn)
	}
	pending := &pendingEvents{}
	err := o.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		u := &unitOfWork{tx: tx, pending: pending}
		uctx := context.WithValue(context.WithValue(ctx, unitOfWorkKey{}, u), pendingKey{}, pending)
		if err := fn(uctx, tx); err != nil {
			return err
		}
		if len(u.outboxed) > 0 {
			if err := o.outbox.(outboxMany).EnqueueMany(ctx, tx, u.outboxed); err != nil {
				return fmt.Errorf("recording %d events: %w", len(u.outboxed), err)
			}
		}
		return o.appendAudit(ctx, tx, pending)
	})
	if err != nil {
		return err
	}
	o.flush(ctx, pending)
	return nil
}

// ImportConnectorRecords upserts, in tx, the records of recs whose stream
// is one of imports into the resource of that name, by (connector, vendor
// id). Other records are left to connector_records.
func (o *Operator) ImportConnectorRecords(ctx context.Context, tx bun.Tx, connectorID int64, imports []string, recs []connectors.Record) (ImportStats, error) {
	var st ImportStats
	refs, err := knownRefs(ctx, tx, connectorID, imports, recs)
	if err != nil {
		return st, err
	}
	// by stream, in the order the records came
	var order []string
	byStream := map[string][]connectors.Record{}
	for _, r := range recs {
		if !slices.Contains(imports, r.Stream) {
			continue
		}
		rs, seen := byStream[r.Stream]
		if !seen {
			order = append(order, r.Stream)
		}
		// a vendor id given twice in one call: its last record
		if i := slices.IndexFunc(rs, func(x connectors.Record) bool { return x.ID == r.ID }); i >= 0 {
			rs[i] = r
			continue
		}
		byStream[r.Stream] = append(rs, r)
	}
	for _, stream := range order {
		rs := byStream[stream]
		var err error
		switch hubapi.Resource(stream) {
		case hubapi.ResourceChantiers:
			err = importBatch(ctx, o.deps, tx, chantierKind, connectorID, rs, refs, "code", func(in *hubapi.ChantierInput) string { return in.Code }, true, &st)
		case hubapi.ResourceClients:
			err = importBatch(ctx, o.deps, tx, clientKind, connectorID, rs, refs, "code", func(in *hubapi.ClientInput) string { return in.Code }, false, &st)
		case hubapi.ResourceFactures:
			err = importBatch(ctx, o.deps, tx, factureKind, connectorID, rs, refs, "", nil, false, &st)
		case hubapi.ResourceDepenses:
			err = importBatch(ctx, o.deps, tx, depenseKind, connectorID, rs, refs, "", nil, false, &st)
		}
		if err != nil {
			return st, err
		}
	}
	return st, nil
}

// knownRefs reads the rows the connector maps the records' vendor ids to,
// in one query: "stream\x00vendor id" → row id.
func knownRefs(ctx context.Context, tx bun.IDB, connectorID int64, imports []string, recs []connectors.Record) (map[string]int64, error) {
	var ids []string
	for _, r := range recs {
		if slices.Contains(imports, r.Stream) {
			ids = append(ids, r.ID)
		}
	}
	out := make(map[string]int64, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var rows []hubapi.ExternalRef
	err := tx.NewSelect().Model(&rows).Column("resource", "external_id", "resource_id").
		Where("connector_id = ?", connectorID).Where("resource IN (?)", bun.List(imports)).Where("external_id IN (?)", bun.List(ids)).Scan(ctx)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		out[string(r.Resource)+"\x00"+r.ExternalID] = r.ResourceID
	}
	return out, nil
}

// importBatch writes the records of one stream into k's resource: a
// record's members go over those of the row the connector maps its vendor
// id to (or, the first time, of the row whose column matchCol equals the
// record's natural key: a row created in the product before its first
// import is adopted, not duplicated); without a row, one is created. New
// rows are inserted together, in one statement (unique: one by one, a
// refused row skipped).
func importBatch[T, In any](ctx context.Context, d *deps, tx bun.Tx, k kind[T, In], connectorID int64, recs []connectors.Record,
	refs map[string]int64, matchCol string, matchKey func(*In) string, unique bool, st *ImportStats) error {
	res := k.rows.resource
	type item struct {
		rec connectors.Record
		in  In
		cur *T
		ref int64 // the mapped row (0: none)
	}
	items := make([]*item, 0, len(recs))
	var keys []string
	for _, r := range recs {
		it := &item{rec: r, ref: refs[r.Stream+"\x00"+r.ID]}
		if it.ref != 0 {
			cur, err := store.GetForUpdate[T](ctx, tx, it.ref)
			switch {
			case errors.Is(err, hubapi.ErrNotFound): // deleted in the product since: imported anew
			case err != nil:
				return err
			default:
				it.cur, it.in = cur, k.input(cur)
			}
		}
		if decodeOnto(r.Data, &it.in) != nil || k.prepare(&it.in) != nil {
			st.Skipped++
			continue
		}
		if it.cur == nil && matchKey != nil {
			if key := matchKey(&it.in); key != "" {
				keys = append(keys, key)
			}
		}
		items = append(items, it)
	}
	if len(keys) > 0 {
		var found []struct {
			ID  int64  `bun:"id"`
			Key string `bun:"key"`
		}
		if err := tx.NewSelect().Model((*T)(nil)).Column("id").ColumnExpr("? AS key", bun.Ident(matchCol)).
			Where("? IN (?)", bun.Ident(matchCol), bun.List(keys)).OrderExpr("id DESC").Scan(ctx, &found); err != nil {
			return err
		}
		byKey := make(map[string]int64, len(found))
		for _, f := range found {
			byKey[f.Key] = f.ID // the lowest id wins
		}
		for _, it := range items {
			if it.cur != nil {
				continue
			}
			id := byKey[matchKey(&it.in)]
			if id == 0 {
				continue
			}
			cur, err := store.GetForUpdate[T](ctx, tx, id)
			if err != nil {
				return err
			}
			it.cur, it.in = cur, k.input(cur)
			if decodeOnto(it.rec.Data, &it.in) != nil || k.prepare(&it.in) != nil {
				it.cur = nil // skipped below
			}
		}
	}
	now := d.now()
	var created []*T
	var createdItems []*item
	var newRefs []hubapi.ExternalRef
	for _, it := range items {
		if err := k.refs(ctx, tx, &it.in); err != nil {
			if errors.Is(err, hubapi.ErrInvalid) {
				st.Skipped++
				continue
			}
			return err
		}
		if it.cur == nil {
			m := new(T)
			k.write(m, it.in, 1, now)
			created, createdItems = append(created, m), append(createdItems, it)
			continue
		}
		id := k.id(it.cur)
		before := k.input(it.cur)
		if err := k.prepare(&before); err == nil && reflect.DeepEqual(before, it.in) {
			st.Unchanged++
		} else {
			noteBefore(ctx, string(res), id, it.cur)
			old := k.rows.version(it.cur)
			k.write(it.cur, it.in, old+1, now)
			if err := store.UpdateVersioned(ctx, tx, it.cur, id, old); err != nil {
				return err
			}
			if err := d.emit(ctx, tx, nil, k.updated, string(res), id, it.cur); err != nil {
				return err
			}
			st.Updated++
		}
		if it.ref != id {
			newRefs = append(newRefs, hubapi.ExternalRef{ConnectorID: connectorID, Resource: res, ExternalID: it.rec.ID, ResourceID: id, CreatedAt: now, UpdatedAt: now})
		}
	}
	if len(created) > 0 {
		ok := make([]bool, len(created))
		if unique {
			for i, m := range created {
				err := insertSavepoint(ctx, tx, m)
				if errors.Is(err, hubapi.ErrConflict) {
					st.Skipped++ // a unique value another row holds
					continue
				} else if err != nil {
					return err
				}
				ok[i] = true
			}
		} else {
			if _, err := tx.NewInsert().Model(&created).Returning("id").Exec(ctx); err != nil {
				return err
			}
			for i := range ok {
				ok[i] = true
			}
		}
		for i, m := range created {
			if !ok[i] {
				continue
			}
			if err := d.emit(ctx, tx, nil, k.created, string(res), k.id(m), m); err != nil {
				return err
			}
			st.Created++
			newRefs = append(newRefs, hubapi.ExternalRef{ConnectorID: connectorID, Resource: res, ExternalID: createdItems[i].rec.ID,
				ResourceID: k.id(m), CreatedAt: now, UpdatedAt: now})
		}
	}
	return store.PutExternalRefs(ctx, tx, newRefs)
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
	cd, err := o.conn()
	if err != nil {
		return FactureExport{}, err
	}
	c, err := store.Get[hubapi.Connector](ctx, o.db, id)
	if err != nil {
		return FactureExport{}, err
	}
	cfg, err := cd.Sealer.Open(c.ConfigKeyID, c.ConfigSealed, ConnectorBinding(id))
	if err != nil {
		return FactureExport{}, keyError(err)
	}
	conn, _, err := cd.Registry.New(c.Type, cd.Options(c.Type))
	if err != nil {
		return FactureExport{}, err
	}
	return exportFactures(ctx, o.deps, cd, c, conn, cfg, from, to)
}

// ExportConnector implements hubapi.ConnectorExportService: the caller
// may change the connector (its owner, an admin); the export runs at once.
func (s *Service) ExportConnector(ctx context.Context, id int64, in hubapi.ConnectorExportInput) (*hubapi.ConnectorExport, error) {
	if _, err := allow(ctx, hubapi.ResourceConnectors, hubapi.ActionChange); err != nil {
		return nil, err
	}
	if err := in.Validate(); err != nil {
		return nil, err
	}
	cd, c, cfg, err := s.openConnector(ctx, hubapi.ActionChange, id)
	if err != nil {
		return nil, err
	}
	conn, _, err := cd.Registry.New(c.Type, cd.Options(c.Type))
	if err != nil {
		return nil, hubapi.Errorf(hubapi.ErrConflict, "connector type %q is not available on this server", c.Type)
	}
	if _, ok := conn.(connectors.Exporter); !ok {
		return nil, hubapi.Errorf(hubapi.ErrConflict, "connectors of type %q do not export", c.Type)
	}
	res, err := exportFactures(ctx, s.deps, cd, c, conn, cfg, in.From, in.To)
	out := &hubapi.ConnectorExport{OK: err == nil, Items: res.Items, Created: res.Stats.Created, Updated: res.Stats.Updated,
		Unchanged: res.Stats.Unchanged, Skipped: res.Stats.Skipped}
	if err != nil {
		var ce *connectors.Error
		if !errors.As(err, &ce) {
			return nil, err
		}
		out.Kind, out.Error = string(ce.Kind), cfg.Redact(ce.Error())
	}
	return out, nil
}

// exportFactures runs the factures export of connector c (see
// ExportConnectorFactures).
func exportFactures(ctx context.Context, d *deps, cd *ConnectorDeps, c *hubapi.Connector, conn connectors.Connector, cfg connectors.Config,
	from, to hubapi.Date) (FactureExport, error) {
	var out FactureExport
	id := c.ID
	req, err := factureItems(ctx, d, c, from, to)
	if err != nil {
		return out, err
	}
	out.Items = len(req.Items)
	log := &hubapi.ConnectorSyncLog{ConnectorID: id, StartedAt: d.now(), Status: hubapi.SyncRunning}
	if err := store.Insert(ctx, d.db, log); err != nil {
		return out, err
	}
	recs, runErr := cd.Runner.Export(ctx, conn, cfg, req)
	if runErr == nil {
		runErr = (&Operator{d}).ConnectorTx(ctx, func(ctx context.Context, tx bun.Tx) error {
			out.Stats, err = (&Operator{d}).ImportConnectorRecords(ctx, tx, id, []string{string(hubapi.ResourceFactures)}, recs)
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
	checkpoint := fmt.Sprintf(`{"export":"factures","from":%q,"to":%q}`, from, to)
	if _, err := d.db.NewUpdate().Model((*hubapi.ConnectorSyncLog)(nil)).Set("completed_at = ?", d.now()).Set("status = ?", status).
		Set("error_details = ?", msg).Set("records_synced = ?", len(recs)).Set("state_checkpoint = ?", checkpoint).
		Where("id = ?", log.ID).Exec(context.WithoutCancel(ctx)); err != nil && runErr == nil {
		runErr = err
	}
	return out, runErr
}

// factureItems groups the validated pointages of the period by chantier.
func factureItems(ctx context.Context, o *deps, c *hubapi.Connector, from, to hubapi.Date) (connectors.ExportRequest, error) {
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
