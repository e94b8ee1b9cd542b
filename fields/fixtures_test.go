package fields_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/hubchantier/hubchantier/fields"
)

// The schemas and DTOs below mirror the reference server's v1 chantier: a
// nested user summary (itself with a nested company) and a nested list.

var entrepriseSchema = fields.MustSchema(
	fields.F("id", "id"),
	fields.F("nom", "nom"),
	fields.F("siret", "siret"),
)

var userSchema = fields.MustSchema(
	fields.F("id", "id"),
	fields.F("nom", "nom"),
	fields.F("prenom", "prenom"),
	fields.F("email", "email"),
	fields.Nested("entreprise", entrepriseSchema, fields.Join("Responsable.Entreprise")),
)

var tacheSchema = fields.MustSchema(
	fields.F("id", "id"),
	fields.F("titre", "titre"),
	fields.F("fait", "fait"),
)

var chantierSchema = fields.MustSchema(
	fields.F("id", "id"),
	fields.F("nom", "nom"),
	fields.F("adresse", "rue", "ville"),
	fields.F("statut", "statut"),
	fields.F("budget_cents", "budget_cents"),
	fields.Nested("responsable", userSchema, fields.Join("Responsable"), fields.Columns("responsable_id")),
	fields.Nested("taches", tacheSchema),
	fields.F("url"), // computed in Go: no column
)

type entrepriseDTO struct {
	ID    int64  `json:"id"`
	Nom   string `json:"nom"`
	Siret string `json:"siret"`
}

type userDTO struct {
	ID         int64          `json:"id"`
	Nom        string         `json:"nom"`
	Prenom     string         `json:"prenom"`
	Email      string         `json:"email"`
	Entreprise *entrepriseDTO `json:"entreprise"`
}

type tacheDTO struct {
	ID    int64  `json:"id"`
	Titre string `json:"titre"`
	Fait  bool   `json:"fait"`
}

type adresseDTO struct {
	Rue   string `json:"rue"`
	Ville string `json:"ville"`
}

type chantierDTO struct {
	ID          int64      `json:"id"`
	Nom         string     `json:"nom"`
	Adresse     adresseDTO `json:"adresse"`
	Statut      string     `json:"statut"`
	BudgetCents int64      `json:"budget_cents"`
	Responsable *userDTO   `json:"responsable"`
	Taches      []tacheDTO `json:"taches"`
	URL         string     `json:"url"`
}

type paginationDTO struct {
	NextCursor string `json:"next_cursor"`
	HasMore    bool   `json:"has_more"`
}

type pageDTO struct {
	Data       []chantierDTO `json:"data"`
	Pagination paginationDTO `json:"pagination"`
}

func sampleChantier(id int64) chantierDTO {
	return chantierDTO{
		ID:          id,
		Nom:         "Résidence \"Les Tilleuls\" <lot A>",
		Adresse:     adresseDTO{Rue: "12 rue des Lilas", Ville: "Lyon"},
		Statut:      "en_cours",
		BudgetCents: 125000000 + id,
		Responsable: &userDTO{
			ID: 7, Nom: "Martin", Prenom: "Léa", Email: "lea.martin@example.fr",
			Entreprise: &entrepriseDTO{ID: 3, Nom: "BTP Rhône", Siret: "12345678901234"},
		},
		Taches: []tacheDTO{{ID: 1, Titre: "Fondations", Fait: true}, {ID: 2, Titre: "Charpente"}},
		URL:    "/api/v1/chantiers/1",
	}
}

func samplePage(n int) pageDTO {
	p := pageDTO{Pagination: paginationDTO{NextCursor: "opaque", HasMore: true}}
	for i := range n {
		p.Data = append(p.Data, sampleChantier(int64(i+1)))
	}
	return p
}

func mustParse(t testing.TB, expr string, s *fields.Schema) *fields.Selection {
	t.Helper()
	sel, err := fields.Parse(expr, s)
	if err != nil {
		t.Fatalf("Parse(%q): %v", expr, err)
	}
	return sel
}

// decode turns JSON into generic values for comparisons that ignore member
// order but not members.
func decode(t testing.TB, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("invalid JSON %q: %v", b, err)
	}
	return v
}

func toGeneric(t testing.TB, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, b)
}

func assertJSONEqual(t testing.TB, got []byte, want any) {
	t.Helper()
	g := decode(t, got)
	w := toGeneric(t, want)
	if !reflect.DeepEqual(g, w) {
		wb, _ := json.Marshal(w)
		t.Fatalf("projection mismatch\n got: %s\nwant: %s", got, wb)
	}
}

// reference is the naive projection (decode, filter, re-encode) the streaming
// projector must agree with. It uses only the public Selection API.
func reference(v any, sel *fields.Selection) any {
	if sel.IsAll() {
		return v
	}
	switch x := v.(type) {
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = reference(e, sel)
		}
		return out
	case map[string]any:
		out := map[string]any{}
		for k, val := range x {
			if strings.Contains(k, ".") || !sel.Has(k) {
				continue
			}
			if sub := sel.Sub(k); sub != nil {
				out[k] = reference(val, sub)
			} else {
				out[k] = val
			}
		}
		return out
	}
	return v
}

// referencePage is reference applied to the items of a {"data":[...]} page.
func referencePage(v any, sel *fields.Selection) any {
	page := v.(map[string]any)
	out := map[string]any{}
	for k, val := range page {
		out[k] = val
	}
	out["data"] = reference(page["data"], sel)
	return out
}
