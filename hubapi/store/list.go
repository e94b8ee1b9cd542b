package store

import (
	"github.com/uptrace/bun"

	"github.com/hubchantier/hubchantier/fields"
	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/pagination"
)

// The keyset paging of each resource: its sortable fields (the one
// whitelist of the "sort" parameter, for every adapter), their columns and
// the default order. A sort field's name is its column's name.
var (
	ChantierPages = pagination.Spec[hubapi.Chantier]{
		Resource: "chantiers",
		Columns: map[string]pagination.Column[hubapi.Chantier]{
			"created_at": col("created_at", func(c *hubapi.Chantier) any { return c.CreatedAt }),
			"updated_at": col("updated_at", func(c *hubapi.Chantier) any { return c.UpdatedAt }),
			"nom":        col("nom", func(c *hubapi.Chantier) any { return c.Nom }),
			"code":       col("code", func(c *hubapi.Chantier) any { return c.Code }),
			"statut":     col("statut", func(c *hubapi.Chantier) any { return string(c.Statut) }),
			"date_debut": nullableCol("date_debut", func(c *hubapi.Chantier) any { return c.DateDebut }),
		},
		ID:            col("id", func(c *hubapi.Chantier) any { return c.ID }),
		Default:       "-created_at",
		MaxSortFields: maxSortFields,
	}
	PointagePages = pagination.Spec[hubapi.Pointage]{
		Resource: "pointages",
		Columns: map[string]pagination.Column[hubapi.Pointage]{
			"created_at": col("created_at", func(c *hubapi.Pointage) any { return c.CreatedAt }),
			"updated_at": col("updated_at", func(c *hubapi.Pointage) any { return c.UpdatedAt }),
			"date":       col("date", func(c *hubapi.Pointage) any { return c.Date }),
			"minutes":    col("minutes", func(c *hubapi.Pointage) any { return int64(c.Minutes) }),
		},
		ID:            col("id", func(c *hubapi.Pointage) any { return c.ID }),
		Default:       "-created_at",
		MaxSortFields: maxSortFields,
	}
	DocumentPages = pagination.Spec[hubapi.Document]{
		Resource: "documents",
		Columns: map[string]pagination.Column[hubapi.Document]{
			"created_at": col("created_at", func(c *hubapi.Document) any { return c.CreatedAt }),
			"updated_at": col("updated_at", func(c *hubapi.Document) any { return c.UpdatedAt }),
			"nom":        col("nom", func(c *hubapi.Document) any { return c.Nom }),
			"size":       col("size", func(c *hubapi.Document) any { return c.Size }),
		},
		ID:            col("id", func(c *hubapi.Document) any { return c.ID }),
		Default:       "-created_at",
		MaxSortFields: maxSortFields,
	}
	SignalementPages = pagination.Spec[hubapi.Signalement]{
		Resource: "signalements",
		Columns: map[string]pagination.Column[hubapi.Signalement]{
			"created_at": col("created_at", func(c *hubapi.Signalement) any { return c.CreatedAt }),
			"updated_at": col("updated_at", func(c *hubapi.Signalement) any { return c.UpdatedAt }),
			"gravite":    col("gravite", func(c *hubapi.Signalement) any { return string(c.Gravite) }),
			"statut":     col("statut", func(c *hubapi.Signalement) any { return string(c.Statut) }),
		},
		ID:            col("id", func(c *hubapi.Signalement) any { return c.ID }),
		Default:       "-created_at",
		MaxSortFields: maxSortFields,
	}
	AffectationPages = pagination.Spec[hubapi.Affectation]{
		Resource: "affectations",
		Columns: map[string]pagination.Column[hubapi.Affectation]{
			"created_at": col("created_at", func(c *hubapi.Affectation) any { return c.CreatedAt }),
			"updated_at": col("updated_at", func(c *hubapi.Affectation) any { return c.UpdatedAt }),
			"date":       col("date", func(c *hubapi.Affectation) any { return c.Date }),
		},
		ID:            col("id", func(c *hubapi.Affectation) any { return c.ID }),
		Default:       "-created_at",
		MaxSortFields: maxSortFields,
	}
)

// maxSortFields bounds "sort" (the v1 contract: at most 4 fields).
const maxSortFields = 4

func col[T any](name string, key func(*T) any) pagination.Column[T] {
	return pagination.Column[T]{SQL: "?TableAlias." + name, Key: key}
}

func nullableCol[T any](name string, key func(*T) any) pagination.Column[T] {
	return pagination.Column[T]{SQL: "?TableAlias." + name, Key: key, Nullable: true}
}

// SelectColumns narrows q to the columns a field selection reads, plus id
// and the sort fields' columns (cursors are built from them). A nil or full
// selection reads every column.
func SelectColumns(q *bun.SelectQuery, sel *fields.Selection, sort pagination.Sort) *bun.SelectQuery {
	if sel == nil || sel.IsAll() {
		return q
	}
	want := append([]string{"id"}, sel.Columns()...)
	for _, k := range sort {
		want = append(want, k.Field)
	}
	seen := make(map[string]bool, len(want))
	out := want[:0]
	for _, c := range want {
		if c != "" && !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	return q.Column(out...)
}

// ChantierQuery applies f to a select on chantiers.
func ChantierQuery(q *bun.SelectQuery, f hubapi.ChantierFilter) *bun.SelectQuery {
	if f.Statut != "" {
		q = q.Where("?TableAlias.statut = ?", f.Statut)
	}
	if f.Ville != "" {
		q = q.Where("?TableAlias.ville = ?", f.Ville)
	}
	if f.ResponsableID != 0 {
		q = q.Where("?TableAlias.responsable_id = ?", f.ResponsableID)
	}
	return q
}

// PointageQuery applies f to a select on pointages.
func PointageQuery(q *bun.SelectQuery, f hubapi.PointageFilter) *bun.SelectQuery {
	if f.ChantierID != 0 {
		q = q.Where("?TableAlias.chantier_id = ?", f.ChantierID)
	}
	if f.UserID != 0 {
		q = q.Where("?TableAlias.user_id = ?", f.UserID)
	}
	if f.Statut != "" {
		q = q.Where("?TableAlias.statut = ?", f.Statut)
	}
	if !f.From.IsZero() {
		q = q.Where("?TableAlias.date >= ?", f.From)
	}
	if !f.To.IsZero() {
		q = q.Where("?TableAlias.date <= ?", f.To)
	}
	return q
}

// DocumentQuery applies f to a select on documents.
func DocumentQuery(q *bun.SelectQuery, f hubapi.DocumentFilter) *bun.SelectQuery {
	if f.ChantierID != 0 {
		q = q.Where("?TableAlias.chantier_id = ?", f.ChantierID)
	}
	if f.Categorie != "" {
		q = q.Where("?TableAlias.categorie = ?", f.Categorie)
	}
	return q
}

// SignalementQuery applies f to a select on signalements.
func SignalementQuery(q *bun.SelectQuery, f hubapi.SignalementFilter) *bun.SelectQuery {
	if f.ChantierID != 0 {
		q = q.Where("?TableAlias.chantier_id = ?", f.ChantierID)
	}
	if f.Statut != "" {
		q = q.Where("?TableAlias.statut = ?", f.Statut)
	}
	if f.Gravite != "" {
		q = q.Where("?TableAlias.gravite = ?", f.Gravite)
	}
	return q
}

// AffectationQuery applies f to a select on affectations.
func AffectationQuery(q *bun.SelectQuery, f hubapi.AffectationFilter) *bun.SelectQuery {
	if f.ChantierID != 0 {
		q = q.Where("?TableAlias.chantier_id = ?", f.ChantierID)
	}
	if f.UserID != 0 {
		q = q.Where("?TableAlias.user_id = ?", f.UserID)
	}
	if !f.From.IsZero() {
		q = q.Where("?TableAlias.date >= ?", f.From)
	}
	if !f.To.IsZero() {
		q = q.Where("?TableAlias.date <= ?", f.To)
	}
	return q
}
