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

// The v2 schemas: the same members under their v2 names (V2Names), read
// from the same columns.
var (
	userSummarySchemaV2 = fields.MustSchema(fields.F("id", "id"), fields.F("lastName", "nom"), fields.F("firstName", "prenom"))

	chantierSchemaV2 = fields.MustSchema(
		fields.F("id", "id"), fields.F("code", "code"), fields.F("name", "nom"), fields.F("location", "adresse"),
		fields.F("city", "ville"), fields.F("postalCode", "code_postal"), fields.F("status", "statut"),
		fields.F("clientName", "client_nom"), fields.F("managerId", "responsable_id"),
		fields.F("budgetCents", "budget_cents"), fields.F("startDate", "date_debut"), fields.F("endDate", "date_fin"),
		fields.F("latitude", "latitude"), fields.F("longitude", "longitude"), fields.F("description", "description"),
		fields.F("createdAt", "created_at"), fields.F("updatedAt", "updated_at"), fields.F("version", "version"),
		fields.Nested("manager", userSummarySchemaV2, fields.Columns("responsable_id")),
	)
	pointageSchemaV2 = fields.MustSchema(
		fields.F("id", "id"), fields.F("userId", "user_id"), fields.F("chantierId", "chantier_id"), fields.F("date", "date"),
		fields.F("minutes", "minutes"), fields.F("type", "type"), fields.F("status", "statut"), fields.F("comment", "commentaire"),
		fields.F("createdAt", "created_at"), fields.F("updatedAt", "updated_at"), fields.F("version", "version"),
	)
	documentSchemaV2 = fields.MustSchema(
		fields.F("id", "id"), fields.F("chantierId", "chantier_id"), fields.F("name", "nom"), fields.F("category", "categorie"),
		fields.F("mimeType", "mime_type"), fields.F("size", "size"), fields.F("sha256", "sha256"), fields.F("uploadedBy", "uploaded_by"),
		fields.F("createdAt", "created_at"), fields.F("updatedAt", "updated_at"), fields.F("version", "version"),
	)
	signalementSchemaV2 = fields.MustSchema(
		fields.F("id", "id"), fields.F("chantierId", "chantier_id"), fields.F("title", "titre"), fields.F("description", "description"),
		fields.F("severity", "gravite"), fields.F("status", "statut"), fields.F("createdBy", "created_by"),
		fields.F("assignedTo", "assigned_to"), fields.F("resolvedAt", "resolved_at"),
		fields.F("createdAt", "created_at"), fields.F("updatedAt", "updated_at"), fields.F("version", "version"),
	)
	affectationSchemaV2 = fields.MustSchema(
		fields.F("id", "id"), fields.F("userId", "user_id"), fields.F("chantierId", "chantier_id"), fields.F("date", "date"),
		fields.F("startTime", "heure_debut"), fields.F("endTime", "heure_fin"), fields.F("note", "note"),
		fields.F("createdAt", "created_at"), fields.F("updatedAt", "updated_at"), fields.F("version", "version"),
	)
	meSchemaV2 = fields.MustSchema(
		fields.F("id"), fields.F("email"), fields.F("lastName"), fields.F("firstName"), fields.F("role"),
		fields.F("createdAt"), fields.F("updatedAt"), fields.F("version"), fields.F("scopes"),
	)
)
