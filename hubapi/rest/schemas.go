package rest

import (
	"time"

	"github.com/hubchantier/hubchantier/fields"
	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/pagination"
)

// Sparse fieldset schemas: every member of the v1 representations, mapped
// to the column it is read from. Nothing else (password hashes, key hashes,
// storage keys) can ever be selected.
var (
	userSummarySchema = fields.MustSchema(fields.F("id", "id"), fields.F("nom", "nom"), fields.F("prenom", "prenom"))

	chantierSchema = fields.MustSchema(
		fields.F("id", "id"), fields.F("code", "code"), fields.F("nom", "nom"), fields.F("adresse", "adresse"),
		fields.F("ville", "ville"), fields.F("code_postal", "code_postal"), fields.F("statut", "statut"),
		fields.F("client_nom", "client_nom"), fields.F("responsable_id", "responsable_id"),
		fields.F("budget_cents", "budget_cents"), fields.F("date_debut", "date_debut"), fields.F("date_fin", "date_fin"),
		fields.F("latitude", "latitude"), fields.F("longitude", "longitude"), fields.F("description", "description"),
		fields.F("created_at", "created_at"), fields.F("updated_at", "updated_at"), fields.F("version", "version"),
		// The responsable is read in a second query, only when selected.
		fields.Nested("responsable", userSummarySchema, fields.Columns("responsable_id")),
	)
	pointageSchema = fields.MustSchema(
		fields.F("id", "id"), fields.F("user_id", "user_id"), fields.F("chantier_id", "chantier_id"), fields.F("date", "date"),
		fields.F("minutes", "minutes"), fields.F("type", "type"), fields.F("statut", "statut"), fields.F("commentaire", "commentaire"),
		fields.F("created_at", "created_at"), fields.F("updated_at", "updated_at"), fields.F("version", "version"),
	)
	documentSchema = fields.MustSchema(
		fields.F("id", "id"), fields.F("chantier_id", "chantier_id"), fields.F("nom", "nom"), fields.F("categorie", "categorie"),
		fields.F("mime_type", "mime_type"), fields.F("size", "size"), fields.F("sha256", "sha256"), fields.F("uploaded_by", "uploaded_by"),
		fields.F("created_at", "created_at"), fields.F("updated_at", "updated_at"), fields.F("version", "version"),
	)
	signalementSchema = fields.MustSchema(
		fields.F("id", "id"), fields.F("chantier_id", "chantier_id"), fields.F("titre", "titre"), fields.F("description", "description"),
		fields.F("gravite", "gravite"), fields.F("statut", "statut"), fields.F("created_by", "created_by"),
		fields.F("assigned_to", "assigned_to"), fields.F("resolved_at", "resolved_at"),
		fields.F("created_at", "created_at"), fields.F("updated_at", "updated_at"), fields.F("version", "version"),
	)
	affectationSchema = fields.MustSchema(
		fields.F("id", "id"), fields.F("user_id", "user_id"), fields.F("chantier_id", "chantier_id"), fields.F("date", "date"),
		fields.F("heure_debut", "heure_debut"), fields.F("heure_fin", "heure_fin"), fields.F("note", "note"),
		fields.F("created_at", "created_at"), fields.F("updated_at", "updated_at"), fields.F("version", "version"),
	)
	meSchema = fields.MustSchema(
		fields.F("id"), fields.F("email"), fields.F("nom"), fields.F("prenom"), fields.F("role"),
		fields.F("created_at"), fields.F("updated_at"), fields.F("version"), fields.F("scopes"),
	)
)

// FieldSchemas exposes the schemas (OpenAPI generation, tests).
func FieldSchemas() map[string]*fields.Schema {
	return map[string]*fields.Schema{"chantiers": chantierSchema, "pointages": pointageSchema, "documents": documentSchema,
		"signalements": signalementSchema, "affectations": affectationSchema, "users/me": meSchema}
}

func col[T any](sql string, key func(*T) any) pagination.Column[T] {
	return pagination.Column[T]{SQL: "?TableAlias." + sql, Key: key}
}

func nullableCol[T any](sql string, key func(*T) any) pagination.Column[T] {
	return pagination.Column[T]{SQL: "?TableAlias." + sql, Key: key, Nullable: true}
}

func created[T any](f func(*T) time.Time) func(*T) any { return func(m *T) any { return f(m) } }

func newPaginators(codec *pagination.Codec) (*paginators, error) {
	var p paginators
	var err error
	if p.chantiers, err = pagination.New(codec, pagination.Spec[hubapi.Chantier]{
		Resource: "chantiers",
		Columns: map[string]pagination.Column[hubapi.Chantier]{
			"created_at": col("created_at", created(func(c *hubapi.Chantier) time.Time { return c.CreatedAt })),
			"updated_at": col("updated_at", created(func(c *hubapi.Chantier) time.Time { return c.UpdatedAt })),
			"nom":        col("nom", func(c *hubapi.Chantier) any { return c.Nom }),
			"code":       col("code", func(c *hubapi.Chantier) any { return c.Code }),
			"statut":     col("statut", func(c *hubapi.Chantier) any { return string(c.Statut) }),
			"date_debut": nullableCol("date_debut", func(c *hubapi.Chantier) any { return c.DateDebut }),
		},
		ID:      col("id", func(c *hubapi.Chantier) any { return c.ID }),
		Default: "-created_at",
	}); err != nil {
		return nil, err
	}
	if p.pointages, err = pagination.New(codec, pagination.Spec[hubapi.Pointage]{
		Resource: "pointages",
		Columns: map[string]pagination.Column[hubapi.Pointage]{
			"created_at": col("created_at", created(func(c *hubapi.Pointage) time.Time { return c.CreatedAt })),
			"updated_at": col("updated_at", created(func(c *hubapi.Pointage) time.Time { return c.UpdatedAt })),
			"date":       col("date", func(c *hubapi.Pointage) any { return c.Date }),
			"minutes":    col("minutes", func(c *hubapi.Pointage) any { return int64(c.Minutes) }),
		},
		ID:      col("id", func(c *hubapi.Pointage) any { return c.ID }),
		Default: "-created_at",
	}); err != nil {
		return nil, err
	}
	if p.documents, err = pagination.New(codec, pagination.Spec[hubapi.Document]{
		Resource: "documents",
		Columns: map[string]pagination.Column[hubapi.Document]{
			"created_at": col("created_at", created(func(c *hubapi.Document) time.Time { return c.CreatedAt })),
			"updated_at": col("updated_at", created(func(c *hubapi.Document) time.Time { return c.UpdatedAt })),
			"nom":        col("nom", func(c *hubapi.Document) any { return c.Nom }),
			"size":       col("size", func(c *hubapi.Document) any { return c.Size }),
		},
		ID:      col("id", func(c *hubapi.Document) any { return c.ID }),
		Default: "-created_at",
	}); err != nil {
		return nil, err
	}
	if p.signalements, err = pagination.New(codec, pagination.Spec[hubapi.Signalement]{
		Resource: "signalements",
		Columns: map[string]pagination.Column[hubapi.Signalement]{
			"created_at": col("created_at", created(func(c *hubapi.Signalement) time.Time { return c.CreatedAt })),
			"updated_at": col("updated_at", created(func(c *hubapi.Signalement) time.Time { return c.UpdatedAt })),
			"gravite":    col("gravite", func(c *hubapi.Signalement) any { return string(c.Gravite) }),
			"statut":     col("statut", func(c *hubapi.Signalement) any { return string(c.Statut) }),
		},
		ID:      col("id", func(c *hubapi.Signalement) any { return c.ID }),
		Default: "-created_at",
	}); err != nil {
		return nil, err
	}
	if p.affectations, err = pagination.New(codec, pagination.Spec[hubapi.Affectation]{
		Resource: "affectations",
		Columns: map[string]pagination.Column[hubapi.Affectation]{
			"created_at": col("created_at", created(func(c *hubapi.Affectation) time.Time { return c.CreatedAt })),
			"updated_at": col("updated_at", created(func(c *hubapi.Affectation) time.Time { return c.UpdatedAt })),
			"date":       col("date", func(c *hubapi.Affectation) any { return c.Date }),
		},
		ID:      col("id", func(c *hubapi.Affectation) any { return c.ID }),
		Default: "-created_at",
	}); err != nil {
		return nil, err
	}
	return &p, nil
}

type paginators struct {
	chantiers    *pagination.Paginator[hubapi.Chantier]
	pointages    *pagination.Paginator[hubapi.Pointage]
	documents    *pagination.Paginator[hubapi.Document]
	signalements *pagination.Paginator[hubapi.Signalement]
	affectations *pagination.Paginator[hubapi.Affectation]
}
