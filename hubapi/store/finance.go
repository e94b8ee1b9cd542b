package store

import (
	"context"
	"database/sql"
	"errors"

	"github.com/uptrace/bun"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/pagination"
)

// The keyset paging of the accounting resources.
var (
	ClientPages = pagination.Spec[hubapi.Client]{
		Resource: "clients",
		Columns: map[string]pagination.Column[hubapi.Client]{
			"created_at": col("created_at", func(c *hubapi.Client) any { return c.CreatedAt }),
			"updated_at": col("updated_at", func(c *hubapi.Client) any { return c.UpdatedAt }),
			"nom":        col("nom", func(c *hubapi.Client) any { return c.Nom }),
		},
		ID:            col("id", func(c *hubapi.Client) any { return c.ID }),
		Default:       "-created_at",
		MaxSortFields: maxSortFields,
	}
	FacturePages = pagination.Spec[hubapi.Facture]{
		Resource: "factures",
		Columns: map[string]pagination.Column[hubapi.Facture]{
			"created_at":    col("created_at", func(c *hubapi.Facture) any { return c.CreatedAt }),
			"updated_at":    col("updated_at", func(c *hubapi.Facture) any { return c.UpdatedAt }),
			"date_emission": nullableCol("date_emission", func(c *hubapi.Facture) any { return c.DateEmission }),
			"statut":        col("statut", func(c *hubapi.Facture) any { return string(c.Statut) }),
		},
		ID:            col("id", func(c *hubapi.Facture) any { return c.ID }),
		Default:       "-created_at",
		MaxSortFields: maxSortFields,
	}
	DepensePages = pagination.Spec[hubapi.Depense]{
		Resource: "depenses",
		Columns: map[string]pagination.Column[hubapi.Depense]{
			"created_at":    col("created_at", func(c *hubapi.Depense) any { return c.CreatedAt }),
			"updated_at":    col("updated_at", func(c *hubapi.Depense) any { return c.UpdatedAt }),
			"date":          col("date", func(c *hubapi.Depense) any { return c.Date }),
			"montant_cents": col("montant_cents", func(c *hubapi.Depense) any { return c.MontantCents }),
		},
		ID:            col("id", func(c *hubapi.Depense) any { return c.ID }),
		Default:       "-created_at",
		MaxSortFields: maxSortFields,
	}
)

// ClientQuery applies f to a select on clients.
func ClientQuery(q *bun.SelectQuery, f hubapi.ClientFilter) *bun.SelectQuery {
	if f.Ville != "" {
		q = q.Where("?TableAlias.ville = ?", f.Ville)
	}
	return q
}

// FactureQuery applies f to a select on factures.
func FactureQuery(q *bun.SelectQuery, f hubapi.FactureFilter) *bun.SelectQuery {
	if f.ChantierID != 0 {
		q = q.Where("?TableAlias.chantier_id = ?", f.ChantierID)
	}
	if f.ClientID != 0 {
		q = q.Where("?TableAlias.client_id = ?", f.ClientID)
	}
	if f.Statut != "" {
		q = q.Where("?TableAlias.statut = ?", f.Statut)
	}
	return q
}

// DepenseQuery applies f to a select on dépenses.
func DepenseQuery(q *bun.SelectQuery, f hubapi.DepenseFilter) *bun.SelectQuery {
	if f.ChantierID != 0 {
		q = q.Where("?TableAlias.chantier_id = ?", f.ChantierID)
	}
	if !f.From.IsZero() {
		q = q.Where("?TableAlias.date >= ?", f.From)
	}
	if !f.To.IsZero() {
		q = q.Where("?TableAlias.date <= ?", f.To)
	}
	return q
}

// CountClients counts the clients matching f (the counters when f is
// empty).
func CountClients(ctx context.Context, db bun.IDB, f hubapi.ClientFilter) (int, error) {
	if f == (hubapi.ClientFilter{}) {
		return counter(ctx, db, "clients", "", "")
	}
	return countRows(ctx, ClientQuery(db.NewSelect().Model((*hubapi.Client)(nil)), f))
}

// CountFactures counts the factures matching f (the counters when only
// statut filters).
func CountFactures(ctx context.Context, db bun.IDB, f hubapi.FactureFilter) (int, error) {
	if f.ChantierID == 0 && f.ClientID == 0 {
		return counter(ctx, db, "factures", string(f.Statut), "")
	}
	return countRows(ctx, FactureQuery(db.NewSelect().Model((*hubapi.Facture)(nil)), f))
}

// CountDepenses counts the dépenses matching f (the counters when f is
// empty).
func CountDepenses(ctx context.Context, db bun.IDB, f hubapi.DepenseFilter) (int, error) {
	if f == (hubapi.DepenseFilter{}) {
		return counter(ctx, db, "depenses", "", "")
	}
	return countRows(ctx, DepenseQuery(db.NewSelect().Model((*hubapi.Depense)(nil)), f))
}

// ExternalRefOf returns the row of resource that connector maps vendor id
// externalID to, or 0 when none.
func ExternalRefOf(ctx context.Context, db bun.IDB, connectorID int64, resource hubapi.Resource, externalID string) (int64, error) {
	var id int64
	err := db.NewSelect().Model((*hubapi.ExternalRef)(nil)).Column("resource_id").
		Where("connector_id = ?", connectorID).Where("resource = ?", resource).Where("external_id = ?", externalID).
		Limit(1).Scan(ctx, &id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return id, mapErr(err)
}

// ExternalIDOf returns the vendor id connector maps row resourceID of
// resource to, or "" when none.
func ExternalIDOf(ctx context.Context, db bun.IDB, connectorID int64, resource hubapi.Resource, resourceID int64) (string, error) {
	var id string
	err := db.NewSelect().Model((*hubapi.ExternalRef)(nil)).Column("external_id").
		Where("connector_id = ?", connectorID).Where("resource = ?", resource).Where("resource_id = ?", resourceID).
		Limit(1).Scan(ctx, &id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return id, mapErr(err)
}

// PutExternalRefs maps the refs' vendor ids to their rows (insert or
// replace), in one statement.
func PutExternalRefs(ctx context.Context, db bun.IDB, refs []hubapi.ExternalRef) error {
	if len(refs) == 0 {
		return nil
	}
	_, err := db.NewInsert().Model(&refs).
		On("CONFLICT (connector_id, resource, external_id) DO UPDATE").
		Set("resource_id = EXCLUDED.resource_id").Set("updated_at = EXCLUDED.updated_at").Exec(ctx)
	return mapErr(err)
}

// PutExternalRef maps ref's vendor id to its row (insert or replace).
func PutExternalRef(ctx context.Context, db bun.IDB, ref *hubapi.ExternalRef) error {
	_, err := db.NewInsert().Model(ref).
		On("CONFLICT (connector_id, resource, external_id) DO UPDATE").
		Set("resource_id = EXCLUDED.resource_id").Set("updated_at = EXCLUDED.updated_at").Exec(ctx)
	return mapErr(err)
}
