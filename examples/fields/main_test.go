package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hubchantier/hubchantier/fields"
)

func get(t *testing.T, srv *httptest.Server, path string) (int, string, string) {
	t.Helper()
	res, err := http.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, res.Header.Get("Content-Type"), string(b)
}

func TestExampleServer(t *testing.T) {
	srv := httptest.NewServer(NewHandler())
	defer srv.Close()
	tests := []struct {
		name, path string
		status     int
		body       string // exact body, or a substring for problems
	}{
		{"list, flat selection", "/api/v1/chantiers?fields=nom", 200,
			`{"data":[{"id":1,"nom":"Résidence Les Tilleuls"},{"id":2,"nom":"Gare Nord"},{"id":3,"nom":"École Jules Ferry"}],"pagination":{"next_cursor":null}}`},
		{"single, nested group", "/api/v1/chantiers/1?fields=nom,responsable(nom)", 200,
			`{"id":1,"nom":"Résidence Les Tilleuls","responsable":{"id":7,"nom":"Martin"}}`},
		{"single, dotted path", "/api/v1/chantiers/3?fields=responsable.prenom", 200,
			`{"id":3,"responsable":{"id":7,"prenom":"Léa"}}`},
		{"no fields parameter → full representation", "/api/v1/chantiers/1", 200,
			`{"id":1,"nom":"Résidence Les Tilleuls","adresse":"12 rue des Lilas, Lyon","statut":"en_cours","responsable":{"id":7,"nom":"Martin","prenom":"Léa"}}`},
		{"star → full representation", "/api/v1/chantiers/1?fields=*", 200,
			`{"id":1,"nom":"Résidence Les Tilleuls","adresse":"12 rue des Lilas, Lyon","statut":"en_cours","responsable":{"id":7,"nom":"Martin","prenom":"Léa"}}`},
		{"typo → 400 with suggestion", "/api/v1/chantiers/1?fields=responsable.prenon", 400, `"suggestion":"prenom"`},
		{"sensitive field → 400", "/api/v1/chantiers/1?fields=responsable.password_hash", 400, `"type":"https://example.com/problems/unknown-field"`},
		{"malformed → 400", "/api/v1/chantiers?fields=id,,nom", 400, `"offset":3`},
		{"errors pass through", "/api/v1/chantiers/9?fields=nom", 404, `/not-found"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, ct, body := get(t, srv, tt.path)
			if status != tt.status {
				t.Fatalf("status %d: %s", status, body)
			}
			if status == 200 {
				if body != tt.body {
					t.Fatalf("got  %s\nwant %s", body, tt.body)
				}
				return
			}
			if ct != "application/problem+json" || !strings.Contains(body, tt.body) {
				t.Fatalf("got %s %s, want it to contain %s", ct, body, tt.body)
			}
		})
	}
}

func TestExampleLoadsTheResponsableOnlyWhenSelected(t *testing.T) {
	s := newStore()
	without, _ := fields.Parse("nom", ChantierSchema)
	with, _ := fields.Parse("responsable.nom", ChantierSchema)
	if c := s.load(s.chantiers[0], without); c.Responsable != nil {
		t.Fatal("responsable loaded for ?fields=nom")
	}
	if c := s.load(s.chantiers[0], with); c.Responsable == nil {
		t.Fatal("responsable not loaded for ?fields=responsable.nom")
	}
}

func TestExampleRepresentationsMatchTheSchema(t *testing.T) {
	s := newStore()
	var page Page
	for _, c := range s.chantiers {
		page.Data = append(page.Data, s.load(c, ChantierSchema.All()))
	}
	if err := ChantierSchema.Check(page); err != nil {
		t.Fatal(err)
	}
	if sel, _ := fields.Parse("", ChantierSchema); !sel.IsAll() {
		t.Fatal("empty expression must select everything")
	}
}
