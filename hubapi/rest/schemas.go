package rest

import (
	"github.com/hubchantier/hubchantier/fields"
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
