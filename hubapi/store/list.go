package store

import (
	"github.com/uptrace/bun"

	"github.com/hubchantier/hubchantier/hubapi"
)

// Sortable fields per resource (the REST whitelist is the key set).
var (
	ChantierSort    = Columns{"id": "id", "created_at": "created_at", "updated_at": "updated_at", "nom": "nom", "code": "code", "date_debut": "date_debut", "statut": "statut"}
	PointageSort    = Columns{"id": "id", "created_at": "created_at", "updated_at": "updated_at", "date": "date", "minutes": "minutes"}
	DocumentSort    = Columns{"id": "id", "created_at": "created_at", "updated_at": "updated_at", "nom": "nom", "size": "size"}
	SignalementSort = Columns{"id": "id", "created_at": "created_at", "updated_at": "updated_at", "gravite": "gravite", "statut": "statut"}
	AffectationSort = Columns{"id": "id", "created_at": "created_at", "updated_at": "updated_at", "date": "date"}
)

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
