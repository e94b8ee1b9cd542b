package fields_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/hubchantier/hubchantier/fields"
	"github.com/hubchantier/hubchantier/problem"
)

// The schemas of a resource are declared once, next to the resource.
var (
	userSummary = fields.MustSchema(
		fields.F("id", "id"),
		fields.F("nom", "nom"),
		fields.F("prenom", "prenom"),
	)
	chantiers = fields.MustSchema(
		fields.F("id", "id"),
		fields.F("nom", "nom"),
		fields.F("adresse", "adresse"),
		fields.F("statut", "statut"),
		fields.Nested("responsable", userSummary, fields.Join("Responsable"), fields.Columns("responsable_id")),
	)
)

func ExampleParse() {
	for _, expr := range []string{
		"nom,responsable.nom",
		"responsable(nom),nom,id",
		"responsable(prenom,nom)",
		"adresse,*",
	} {
		sel, err := fields.Parse(expr, chantiers)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("%-40s → %s\n", expr, sel)
	}
	// Output:
	// nom,responsable.nom                      → id,nom,responsable(id,nom)
	// responsable(nom),nom,id                  → id,nom,responsable(id,nom)
	// responsable(prenom,nom)                  → id,responsable
	// adresse,*                                → *
}

func ExampleParse_errors() {
	for _, expr := range []string{"id,,nom", "responsable(nom", "responsable.prenon", "password_hash"} {
		_, err := fields.Parse(expr, chantiers)
		fmt.Println(err)
	}
	// Output:
	// fields: at byte 3: empty field name
	// fields: at byte 15: missing ')' at end of input
	// fields: at byte 12: unknown field "responsable.prenon" (did you mean "prenom"?)
	// fields: at byte 0: unknown field "password_hash"
}

func ExampleSelection_Columns() {
	sel, _ := fields.Parse("nom,responsable.nom", chantiers)
	fmt.Println("columns:", sel.Columns())
	fmt.Println("joins:", sel.Joins())
	fmt.Println("responsable columns:", sel.Sub("responsable").Columns())

	sel, _ = fields.Parse("nom,statut", chantiers)
	fmt.Println("columns:", sel.Columns(), "needs responsable:", sel.Has("responsable"))
	// Output:
	// columns: [id nom responsable_id]
	// joins: [Responsable]
	// responsable columns: [id nom]
	// columns: [id nom statut] needs responsable: false
}

func ExampleWrite() {
	type user struct {
		ID     int64  `json:"id"`
		Nom    string `json:"nom"`
		Prenom string `json:"prenom"`
	}
	type chantier struct {
		ID          int64  `json:"id"`
		Nom         string `json:"nom"`
		Adresse     string `json:"adresse"`
		Statut      string `json:"statut"`
		Responsable *user  `json:"responsable"`
	}
	page := map[string]any{
		"data": []chantier{
			{1, "Les Tilleuls", "12 rue des Lilas, Lyon", "en_cours", &user{7, "Martin", "Léa"}},
			{2, "Gare Nord", "1 place de la Gare, Lille", "termine", nil},
		},
		"pagination": map[string]any{"next_cursor": nil},
	}
	handler := func(w http.ResponseWriter, r *http.Request) {
		sel, err := fields.ParseRequest(r, chantiers)
		if err != nil {
			problem.Write(w, r, fields.Problem(err))
			return
		}
		if err := fields.Write(w, http.StatusOK, page, sel); err != nil {
			problem.Write(w, r, fields.Problem(err))
		}
	}
	rec := httptest.NewRecorder()
	handler(rec, httptest.NewRequest(http.MethodGet, "/api/v1/chantiers?fields=nom,responsable(prenom)", nil))
	fmt.Println(rec.Body.String())
	// Output:
	// {"data":[{"id":1,"nom":"Les Tilleuls","responsable":{"id":7,"prenom":"Léa"}},{"id":2,"nom":"Gare Nord","responsable":null}],"pagination":{"next_cursor":null}}
}

func ExampleMiddleware() {
	legacy := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":1,"nom":"Les Tilleuls","statut":"en_cours","adresse":"Lyon"}`)
	})
	srv := httptest.NewServer(problem.WithTypeBase("https://example.com/problems/")(fields.Middleware(chantiers)(legacy)))
	defer srv.Close()

	for _, q := range []string{"?fields=statut", "?fields=nmo", ""} {
		res, err := http.Get(srv.URL + "/api/v1/chantiers/1" + q)
		if err != nil {
			fmt.Println(err)
			return
		}
		body, _ := io.ReadAll(res.Body)
		_ = res.Body.Close()
		fmt.Println(res.StatusCode, string(body))
	}
	// Output:
	// 200 {"id":1,"statut":"en_cours"}
	// 400 {"allowed":["id","nom","adresse","statut","responsable"],"detail":"Unknown field \"nmo\" at byte 0 of the fields parameter. Did you mean \"nom\"?","errors":[{"field":"fields","message":"Unknown field \"nmo\" at byte 0 of the fields parameter. Did you mean \"nom\"?"}],"field":"nmo","instance":"/api/v1/chantiers/1","offset":0,"status":400,"suggestion":"nom","title":"Bad Request","type":"https://example.com/problems/unknown-field"}
	// 200 {"id":1,"nom":"Les Tilleuls","statut":"en_cours","adresse":"Lyon"}
}

func ExampleSchema_Paths() {
	fmt.Println(chantiers.Paths())
	// Output:
	// [id nom adresse statut responsable responsable.id responsable.nom responsable.prenom]
}
