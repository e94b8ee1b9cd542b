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
	chantierFields = newFieldSet([]pair{
		{"id", "id"}, {"code", "code"}, {"nom", "nom"}, {"adresse", "adresse"},
		{"ville", "ville"}, {"codePostal", "code_postal"}, {"statut", "statut"},
		{"clientNom", "client_nom"}, {"responsableId", "responsable_id"},
		{"responsable", "responsable_id"},
		{"budgetCents", "budget_cents"}, {"dateDebut", "date_debut"}, {"dateFin", "date_fin"},
		{"latitude", "latitude"}, {"longitude", "longitude"}, {"description", "description"},
		{"createdAt", "created_at"}, {"updatedAt", "updated_at"}, {"version", "version"},
	}...)
	pointageFields = newFieldSet([]pair{
		{"id", "id"}, {"userId", "user_id"}, {"chantierId", "chantier_id"}, {"chantier", "chantier_id"},
		{"date", "date"}, {"minutes", "minutes"}, {"type", "type"}, {"statut", "statut"},
		{"commentaire", "commentaire"}, {"createdAt", "created_at"}, {"updatedAt", "updated_at"},
		{"version", "version"},
	}...)
	documentFields = newFieldSet([]pair{
		{"id", "id"}, {"chantierId", "chantier_id"}, {"chantier", "chantier_id"}, {"nom", "nom"},
		{"categorie", "categorie"}, {"mimeType", "mime_type"}, {"size", "size"}, {"sha256", "sha256"},
		{"uploadedBy", "uploaded_by"}, {"createdAt", "created_at"}, {"updatedAt", "updated_at"},
		{"version", "version"},
	}...)
	signalementFields = newFieldSet([]pair{
		{"id", "id"}, {"chantierId", "chantier_id"}, {"chantier", "chantier_id"}, {"titre", "titre"},
		{"description", "description"}, {"gravite", "gravite"}, {"statut", "statut"},
		{"createdBy", "created_by"}, {"assignedTo", "assigned_to"}, {"resolvedAt", "resolved_at"},
		{"createdAt", "created_at"}, {"updatedAt", "updated_at"}, {"version", "version"},
	}...)
	affectationFields = newFieldSet([]pair{
		{"id", "id"}, {"userId", "user_id"}, {"chantierId", "chantier_id"}, {"chantier", "chantier_id"},
		{"date", "date"}, {"heureDebut", "heure_debut"}, {"heureFin", "heure_fin"}, {"note", "note"},
		{"createdAt", "created_at"}, {"updatedAt", "updated_at"}, {"version", "version"},
	}...)
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
			if n, ok := fs.names[f.Name]; ok && !seen[n] {
				seen[n] = true
				names = append(names, n)
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

type pair = [2]string

// fieldSet is a field schema and the set of its names.
type fieldSet struct {
	schema *fields.Schema
	names  map[string]string // GraphQL field → selection name
}

// newFieldSet builds the schema of {GraphQL field, column} pairs; the
// selection names are the snake_case forms of the GraphQL names.
func newFieldSet(pairs ...pair) *fieldSet {
	out := &fieldSet{names: map[string]string{}}
	fs := make([]fields.Field, len(pairs))
	for i, p := range pairs {
		name := snake(p[0])
		out.names[p[0]] = name
		fs[i] = fields.F(name, p[1])
	}
	out.schema = fields.MustSchema(fs...)
	return out
}

// snake turns a camelCase GraphQL name into snake_case.
func snake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				b.WriteByte('_')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
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

// responsableSelection asks a Get use case for the responsable.
var responsableSelection = func() *fields.Selection {
	sel, err := fields.Parse("id,responsable", chantierFields.schema)
	if err != nil {
		panic(err)
	}
	return sel
}()

// selectsField reports whether the field being resolved selects name
// (fragments included).
func selectsField(ctx context.Context, name string) bool {
	fc := gql.GetFieldContext(ctx)
	oc := gql.GetOperationContext(ctx)
	if fc == nil || oc == nil {
		return false
	}
	for _, f := range gql.CollectFields(oc, fc.Field.Selections, nil) {
		if f.Name == name {
			return true
		}
	}
	return false
}
