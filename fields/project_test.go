package fields_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/hubchantier/hubchantier/fields"
)

// projectionCases give, for one sample chantier, the exact expected member
// set of each selection.
var projectionCases = []struct {
	name string
	expr string
	want string // JSON of the projected sample chantier (id 1)
}{
	{"flat", "id,nom", `{"id":1,"nom":"Résidence \"Les Tilleuls\" <lot A>"}`},
	{"flat without id still has id", "statut,budget_cents", `{"id":1,"statut":"en_cours","budget_cents":125000001}`},
	{"structured scalar kept whole", "adresse", `{"id":1,"adresse":{"rue":"12 rue des Lilas","ville":"Lyon"}}`},
	{"nested by path", "nom,responsable.nom", `{"id":1,"nom":"Résidence \"Les Tilleuls\" <lot A>","responsable":{"id":7,"nom":"Martin"}}`},
	{"nested by group", "responsable(nom,prenom)", `{"id":1,"responsable":{"id":7,"nom":"Martin","prenom":"Léa"}}`},
	{"nested whole", "responsable", `{"id":1,"responsable":{"id":7,"nom":"Martin","prenom":"Léa","email":"lea.martin@example.fr","entreprise":{"id":3,"nom":"BTP Rhône","siret":"12345678901234"}}}`},
	{"two levels", "responsable.entreprise.siret", `{"id":1,"responsable":{"id":7,"entreprise":{"id":3,"siret":"12345678901234"}}}`},
	{"nested list of objects", "taches.titre", `{"id":1,"taches":[{"id":1,"titre":"Fondations"},{"id":2,"titre":"Charpente"}]}`},
	{"nested list whole", "taches", `{"id":1,"taches":[{"id":1,"titre":"Fondations","fait":true},{"id":2,"titre":"Charpente","fait":false}]}`},
	{"mixed", "nom,responsable(email),taches(fait),url", `{"id":1,"nom":"Résidence \"Les Tilleuls\" <lot A>","responsable":{"id":7,"email":"lea.martin@example.fr"},"taches":[{"id":1,"fait":true},{"id":2,"fait":false}],"url":"/api/v1/chantiers/1"}`},
	{"only id", "id", `{"id":1}`},
}

func TestProjectExact(t *testing.T) {
	one := sampleChantier(1)
	for _, tc := range projectionCases {
		sel := mustParse(t, tc.expr, chantierSchema)
		var want any
		if err := json.Unmarshal([]byte(tc.want), &want); err != nil {
			t.Fatal(err)
		}
		t.Run(tc.name+"/single resource", func(t *testing.T) {
			got, err := fields.Append(nil, one, sel)
			if err != nil {
				t.Fatal(err)
			}
			assertJSONEqual(t, got, want)
		})
		t.Run(tc.name+"/bare list", func(t *testing.T) {
			got, err := fields.Append(nil, []chantierDTO{one, one}, sel)
			if err != nil {
				t.Fatal(err)
			}
			assertJSONEqual(t, got, []any{want, want})
		})
		t.Run(tc.name+"/list envelope", func(t *testing.T) {
			page := pageDTO{Data: []chantierDTO{one, one}, Pagination: paginationDTO{NextCursor: "c", HasMore: true}}
			got, err := fields.Append(nil, page, sel)
			if err != nil {
				t.Fatal(err)
			}
			assertJSONEqual(t, got, map[string]any{
				"data":       []any{want, want},
				"pagination": map[string]any{"next_cursor": "c", "has_more": true},
			})
		})
	}
}

func TestProjectAgreesWithNaiveProjection(t *testing.T) {
	page := samplePage(5)
	page.Data[1].Responsable = nil // null nested object
	page.Data[2].Taches = nil      // null nested list
	page.Data[3].Responsable.Entreprise = nil
	exprs := []string{"*", "nom", "responsable", "responsable.nom", "responsable(entreprise)", "responsable.entreprise.nom",
		"taches", "taches.fait", "nom,adresse,taches(titre),responsable(prenom,entreprise(siret))", "url,statut"}
	for _, expr := range exprs {
		t.Run(expr, func(t *testing.T) {
			sel := mustParse(t, expr, chantierSchema)
			got, err := fields.Append(nil, page.Data, sel)
			if err != nil {
				t.Fatal(err)
			}
			assertJSONEqual(t, got, reference(toGeneric(t, page.Data), sel))
		})
	}
}

func TestProjectCopiesValuesByteForByte(t *testing.T) {
	src := `{ "id" : 1.50e+3 , "nom":"a\"b\\c\u00e9\ud83d\ude00" ,"statut": "x", "budget_cents" : -0.0 }`
	sel := mustParse(t, "nom,budget_cents", chantierSchema)
	got, err := fields.Project(nil, []byte(src), sel)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":1.50e+3,"nom":"a\"b\\c\u00e9\ud83d\ude00","budget_cents":-0.0}`
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestProjectMatchesEscapedMemberNames(t *testing.T) {
	src := `{"\u0069d":1,"n\u006fm":"x","statut":"y"}`
	got, err := fields.Project(nil, []byte(src), mustParse(t, "nom", chantierSchema))
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"\u0069d":1,"n\u006fm":"x"}`; string(got) != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func TestProjectDropsUndeclaredMembersOfPartialSelections(t *testing.T) {
	src := `{"id":1,"nom":"x","password_hash":"$argon2id$","responsable":{"id":2,"nom":"y","api_key_hash":"h"}}`
	got, err := fields.Project(nil, []byte(src), mustParse(t, "nom,responsable.nom", chantierSchema))
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"id":1,"nom":"x","responsable":{"id":2,"nom":"y"}}`; string(got) != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func TestProjectFullSelectionIsIdentity(t *testing.T) {
	src := []byte(`{"data":[{"id":1,"nom":"x"}],"pagination":{}}`)
	for _, sel := range []*fields.Selection{nil, chantierSchema.All(), mustParse(t, "*", chantierSchema)} {
		got, err := fields.Project([]byte("prefix:"), src, sel)
		if err != nil || string(got) != "prefix:"+string(src) {
			t.Fatalf("got %s, %v", got, err)
		}
	}
}

func TestProjectEnvelopes(t *testing.T) {
	sel := mustParse(t, "nom", chantierSchema)
	tests := []struct {
		name, envelope, src, want string
	}{
		{"data first", "data", `{"data":[{"id":1,"nom":"a","statut":"s"}],"pagination":{"next":"x","nom":"kept"}}`,
			`{"data":[{"id":1,"nom":"a"}],"pagination":{"next":"x","nom":"kept"}}`},
		{"data last restarts in envelope mode", "data", `{"pagination":{"next":"x"},"total":3,"data":[{"id":1,"nom":"a","statut":"s"}]}`,
			`{"pagination":{"next":"x"},"total":3,"data":[{"id":1,"nom":"a"}]}`},
		{"null items", "data", `{"data":null,"pagination":{}}`, `{"data":null,"pagination":{}}`},
		{"single object in the envelope", "data", `{"data":{"id":1,"nom":"a","statut":"s"},"meta":1}`, `{"data":{"id":1,"nom":"a"},"meta":1}`},
		{"object without the envelope member is a resource", "data", `{"id":1,"nom":"a","statut":"s"}`, `{"id":1,"nom":"a"}`},
		{"nested envelope path", "result.items", `{"result":{"items":[{"id":1,"nom":"a","statut":"s"}],"count":1},"ok":true}`,
			`{"result":{"items":[{"id":1,"nom":"a"}],"count":1},"ok":true}`},
		{"nested envelope path not an object", "result.items", `{"result":[1],"id":2}`, `{"result":[1],"id":2}`},
		{"no envelope: data is an undeclared member", "", `{"data":[1],"id":1,"nom":"a"}`, `{"id":1,"nom":"a"}`},
		{"top-level list", "data", `[{"id":1,"nom":"a","statut":"s"},null,{"statut":"t"}]`, `[{"id":1,"nom":"a"},null,{}]`},
		{"top-level scalar", "data", `"text"`, `"text"`},
		{"empty object and list", "data", `[{},[]]`, `[{},[]]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := fields.NewProjector(tt.envelope)
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.Project(nil, []byte(tt.src), sel)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestProjectEnvelopeNameDeclaredBySchemaIsAResourceMember(t *testing.T) {
	s := fields.MustSchema(fields.F("id"), fields.F("data"), fields.F("x"))
	got, err := fields.Project(nil, []byte(`{"id":1,"data":[1,2],"x":3}`), mustParse(t, "data", s))
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"id":1,"data":[1,2]}`; string(got) != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func TestNewProjectorRejectsEmptySegments(t *testing.T) {
	for _, env := range []string{".", "a.", ".a", "a..b"} {
		if _, err := fields.NewProjector(env); err == nil {
			t.Errorf("NewProjector(%q) accepted", env)
		}
	}
	if got := fields.MustProjector("result.items").Envelope(); got != "result.items" {
		t.Fatalf("Envelope() = %q", got)
	}
}

func TestProjectRejectsInvalidJSON(t *testing.T) {
	sel := mustParse(t, "nom", chantierSchema)
	for _, src := range []string{
		``, ` `, `{`, `[`, `{"id":1,}`, `{"id" 1}`, `{"id":}`, `{id:1}`, `[1,]`, `[1 2]`, `{"id":1}x`,
		`{"id":tru}`, `{"id":01}`, `{"id":1.}`, `{"id":1e}`, `{"id":-}`, `{"nom":"a\x"}`, `{"nom":"\u12"}`,
		"{\"nom\":\"a\nb\"}", `{"nom":"abc`, `{"statut":[1,2}`, `{"statut":{"a":1]}`, `{"nom":1}}`, `nul`,
		`{"data":[{"id":1},]}`, `{"pagination":{},"data":[{"id":1}`,
	} {
		t.Run(src, func(t *testing.T) {
			got, err := fields.Project([]byte("keep"), []byte(src), sel)
			if !errors.Is(err, fields.ErrInvalidJSON) {
				t.Fatalf("Project(%q) = %s, %v; want ErrInvalidJSON", src, got, err)
			}
			if string(got) != "keep" {
				t.Fatalf("dst was changed on error: %q", got)
			}
			if json.Valid([]byte(src)) {
				t.Fatalf("test input %q is valid JSON", src)
			}
		})
	}
}

func TestProjectRejectsAbsurdNesting(t *testing.T) {
	src := bytes.Repeat([]byte("["), 20000)
	if _, err := fields.Project(nil, src, mustParse(t, "nom", chantierSchema)); !errors.Is(err, fields.ErrInvalidJSON) {
		t.Fatalf("got %v", err)
	}
}

func TestAppendRawMessage(t *testing.T) {
	raw := json.RawMessage(`{"id":1,"nom":"a","statut":"b"}`)
	got, err := fields.Append(nil, raw, mustParse(t, "statut", chantierSchema))
	if err != nil || string(got) != `{"id":1,"statut":"b"}` {
		t.Fatalf("got %s, %v", got, err)
	}
}

func TestAppendReportsEncodingErrors(t *testing.T) {
	if _, err := fields.Append(nil, map[string]any{"x": make(chan int)}, mustParse(t, "nom", chantierSchema)); err == nil {
		t.Fatal("want an encoding error")
	}
}

func TestWriteHelper(t *testing.T) {
	t.Run("writes the projection with headers", func(t *testing.T) {
		rec := httptest.NewRecorder()
		if err := fields.Write(rec, http.StatusOK, sampleChantier(1), mustParse(t, "nom", chantierSchema)); err != nil {
			t.Fatal(err)
		}
		body := rec.Body.String()
		if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" || rec.Header().Get("Content-Length") != strconv.Itoa(len(body)) {
			t.Fatalf("status %d headers %v", rec.Code, rec.Header())
		}
		if body != `{"id":1,"nom":"Résidence \"Les Tilleuls\" \u003clot A\u003e"}` {
			t.Fatalf("body %s", body)
		}
	})
	t.Run("keeps a content type set by the handler", func(t *testing.T) {
		rec := httptest.NewRecorder()
		rec.Header().Set("Content-Type", "application/vnd.hub+json")
		if err := fields.Write(rec, http.StatusCreated, map[string]int{"id": 1}, nil); err != nil {
			t.Fatal(err)
		}
		if rec.Code != 201 || rec.Header().Get("Content-Type") != "application/vnd.hub+json" || rec.Body.String() != `{"id":1}` {
			t.Fatalf("got %d %v %s", rec.Code, rec.Header(), rec.Body)
		}
	})
	t.Run("an encoding error writes nothing", func(t *testing.T) {
		rec := httptest.NewRecorder()
		err := fields.Write(rec, http.StatusOK, func() {}, nil)
		if err == nil || rec.Body.Len() != 0 || len(rec.Header()) != 0 {
			t.Fatalf("err %v, wrote %d bytes, headers %v", err, rec.Body.Len(), rec.Header())
		}
		if p := fields.Problem(err); p.Status != 500 {
			t.Fatalf("Problem status %d, want 500", p.Status)
		}
	})
}

func TestSchemaCheck(t *testing.T) {
	if err := chantierSchema.Check(samplePage(2)); err != nil {
		t.Fatalf("sample page: %v", err)
	}
	if err := chantierSchema.Check(sampleChantier(1)); err != nil {
		t.Fatalf("sample chantier: %v", err)
	}
	type leaky struct {
		chantierDTO
		PasswordHash string `json:"password_hash"`
	}
	if err := chantierSchema.Check([]leaky{{chantierDTO: sampleChantier(1)}}); !errors.Is(err, fields.ErrUndeclared) {
		t.Fatalf("got %v, want ErrUndeclared", err)
	}
	nested := json.RawMessage(`{"data":[{"id":1,"responsable":{"id":2,"entreprise":{"id":3,"iban":"x"}}}]}`)
	err := chantierSchema.Check(nested)
	if !errors.Is(err, fields.ErrUndeclared) || err.Error() != `fields: member not declared in the schema: "responsable.entreprise.iban"` {
		t.Fatalf("got %v", err)
	}
	if err := chantierSchema.Check(json.RawMessage(`{"data":[{"id":1}`)); !errors.Is(err, fields.ErrInvalidJSON) {
		t.Fatalf("got %v, want ErrInvalidJSON", err)
	}
}
