package graphql

import (
	"context"
	"strings"

	gql "github.com/99designs/gqlgen/graphql"

	"github.com/hubchantier/hubchantier/fields"
)

// Field schemas of the listed types: each GraphQL field that reads columns,
// mapped to them, so that a list reads only what the query selects (the
// same push-down as REST's ?fields=). A reference (responsable, chantier)
// needs its id column; "responsable" also asks the use case to load the
// responsables of the page in one query.
var (
	chantierFields = newFieldSet(
		fields.F("id", "id"), fields.F("code", "code"), fields.F("nom", "nom"), fields.F("adresse", "adresse"),
		fields.F("ville", "ville"), fields.F("codePostal", "code_postal"), fields.F("statut", "statut"),
		fields.F("clientNom", "client_nom"), fields.F("responsableId", "responsable_id"),
		fields.F("responsable", "responsable_id"),
		fields.F("budgetCents", "budget_cents"), fields.F("dateDebut", "date_debut"), fields.F("dateFin", "date_fin"),
		fields.F("latitude", "latitude"), fields.F("longitude", "longitude"), fields.F("description", "description"),
		fields.F("createdAt", "created_at"), fields.F("updatedAt", "updated_at"), fields.F("version", "version"),
	)
	pointageFields = newFieldSet(
		fields.F("id", "id"), fields.F("userId", "user_id"), fields.F("chantierId", "chantier_id"), fields.F("chantier", "chantier_id"),
		fields.F("date", "date"), fields.F("minutes", "minutes"), fields.F("type", "type"), fields.F("statut", "statut"),
		fields.F("commentaire", "commentaire"), fields.F("createdAt", "created_at"), fields.F("updatedAt", "updated_at"),
		fields.F("version", "version"),
	)
	documentFields = newFieldSet(
		fields.F("id", "id"), fields.F("chantierId", "chantier_id"), fields.F("chantier", "chantier_id"), fields.F("nom", "nom"),
		fields.F("categorie", "categorie"), fields.F("mimeType", "mime_type"), fields.F("size", "size"), fields.F("sha256", "sha256"),
		fields.F("uploadedBy", "uploaded_by"), fields.F("createdAt", "created_at"), fields.F("updatedAt", "updated_at"),
		fields.F("version", "version"),
	)
	signalementFields = newFieldSet(
		fields.F("id", "id"), fields.F("chantierId", "chantier_id"), fields.F("chantier", "chantier_id"), fields.F("titre", "titre"),
		fields.F("description", "description"), fields.F("gravite", "gravite"), fields.F("statut", "statut"),
		fields.F("createdBy", "created_by"), fields.F("assignedTo", "assigned_to"), fields.F("resolvedAt", "resolved_at"),
		fields.F("createdAt", "created_at"), fields.F("updatedAt", "updated_at"), fields.F("version", "version"),
	)
	affectationFields = newFieldSet(
		fields.F("id", "id"), fields.F("userId", "user_id"), fields.F("chantierId", "chantier_id"), fields.F("chantier", "chantier_id"),
		fields.F("date", "date"), fields.F("heureDebut", "heure_debut"), fields.F("heureFin", "heure_fin"), fields.F("note", "note"),
		fields.F("createdAt", "created_at"), fields.F("updatedAt", "updated_at"), fields.F("version", "version"),
	)
)

// nodeSelection returns the field selection of a connection's nodes (under
// nodes and edges.node, fragments included), in the terms of schema: the
// columns a list use case reads. A query that selects no node field reads
// the ids only.
func nodeSelection(ctx context.Context, fs *fieldSet) *fields.Selection {
	fc := gql.GetFieldContext(ctx)
	oc := gql.GetOperationContext(ctx)
	if fc == nil || oc == nil {
		return nil
	}
	seen := map[string]bool{"id": true}
	names := []string{"id"}
	add := func(set []gql.CollectedField) {
		for _, f := range set {
			if !seen[f.Name] && fs.names[f.Name] {
				seen[f.Name] = true
				names = append(names, f.Name)
			}
		}
	}
	for _, f := range gql.CollectFields(oc, fc.Field.Selections, nil) {
		switch f.Name {
		case "nodes":
			add(gql.CollectFields(oc, f.Selections, nil))
		case "edges":
			for _, e := range gql.CollectFields(oc, f.Selections, nil) {
				if e.Name == "node" {
					add(gql.CollectFields(oc, e.Selections, nil))
				}
			}
		}
	}
	sel, err := fields.Parse(strings.Join(names, ","), fs.schema)
	if err != nil {
		// The schemas name fields of the GraphQL schema only, filtered by
		// Has above: reading every column is the safe answer.
		return nil
	}
	return sel
}

// fieldSet is a field schema and the set of its names.
type fieldSet struct {
	schema *fields.Schema
	names  map[string]bool
}

func newFieldSet(fs ...fields.Field) *fieldSet {
	s := fields.MustSchema(fs...)
	out := &fieldSet{schema: s, names: map[string]bool{}}
	for _, n := range s.Names() {
		out.names[n] = true
	}
	return out
}

// selectsNodeField reports whether the connection field being resolved
// selects name on its nodes.
func selectsNodeField(ctx context.Context, name string) bool {
	fc := gql.GetFieldContext(ctx)
	oc := gql.GetOperationContext(ctx)
	if fc == nil || oc == nil {
		return false
	}
	has := func(set []gql.CollectedField) bool {
		for _, f := range set {
			if f.Name == name {
				return true
			}
		}
		return false
	}
	for _, f := range gql.CollectFields(oc, fc.Field.Selections, nil) {
		switch f.Name {
		case "nodes":
			if has(gql.CollectFields(oc, f.Selections, nil)) {
				return true
			}
		case "edges":
			for _, e := range gql.CollectFields(oc, f.Selections, nil) {
				if e.Name == "node" && has(gql.CollectFields(oc, e.Selections, nil)) {
					return true
				}
			}
		}
	}
	return false
}
