package server_test

import (
	"bytes"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/internal/apitest"
)

func testChantiers(t *testing.T, env *apitest.Env) {
	admin := env.As(hubapi.RoleAdmin)
	responsable := env.User(hubapi.RoleConducteur)

	t.Run("create with only code, nom and adresse → 201 with defaults, Location and ETag", func(t *testing.T) {
		code := uniq("MIN-")
		r := admin.Post(t, v1+"/chantiers", map[string]any{"code": code, "nom": "Résidence Les Tilleuls", "adresse": "12 rue des Tilleuls"}).Expect(201)
		var c hubapi.Chantier
		r.JSON(&c)
		if loc := r.Header.Get("Location"); loc != idPath("chantiers", c.ID) {
			t.Errorf("Location %q", loc)
		}
		if r.ETag() != `"v1"` || c.Version != 1 {
			t.Errorf("ETag %q, version %d", r.ETag(), c.Version)
		}
		if c.Code != code || c.Statut != hubapi.ChantierOuvert || c.ResponsableID != nil || !c.DateDebut.IsZero() ||
			c.Latitude != nil || c.BudgetCents != 0 || c.Ville != "" {
			t.Errorf("defaults: %+v", c)
		}
		var got hubapi.Chantier
		g := admin.Get(t, r.Header.Get("Location")).Expect(200).JSON(&got)
		if g.ETag() != `"v1"` || got.Nom != "Résidence Les Tilleuls" || !got.CreatedAt.Equal(c.CreatedAt) {
			t.Errorf("read back %+v (ETag %s)", got, g.ETag())
		}
	})

	t.Run("create with every field → 201, values read back", func(t *testing.T) {
		in := map[string]any{
			"code": uniq("FULL-"), "nom": "Gymnase", "adresse": "3 avenue Jean Jaurès", "ville": "Lyon", "code_postal": "69007",
			"statut": "en_cours", "client_nom": "Ville de Lyon", "responsable_id": responsable.ID, "budget_cents": 250000000,
			"date_debut": "2026-01-05", "date_fin": "2026-12-18", "latitude": 45.75, "longitude": 4.84, "description": "Réhabilitation.",
		}
		c := newChantier(t, admin, in)
		var got hubapi.Chantier
		admin.Get(t, idPath("chantiers", c.ID)).Expect(200).JSON(&got)
		if got.ResponsableID == nil || *got.ResponsableID != responsable.ID || got.DateDebut.String() != "2026-01-05" ||
			got.DateFin.String() != "2026-12-18" || *got.Latitude != 45.75 || *got.Longitude != 4.84 ||
			got.BudgetCents != 250000000 || got.Statut != hubapi.ChantierEnCours || got.CodePostal != "69007" {
			t.Errorf("read back %+v", got)
		}
	})

	t.Run("duplicate code → 409", func(t *testing.T) {
		c := newChantier(t, admin, nil)
		admin.Post(t, v1+"/chantiers", map[string]any{"code": c.Code, "nom": "Autre", "adresse": "a"}).Problem(409, "conflict")
		other := newChantier(t, admin, nil)
		admin.Put(t, idPath("chantiers", other.ID), map[string]any{"code": c.Code, "nom": "Autre", "adresse": "a"}).Problem(409, "conflict")
		admin.Patch(t, idPath("chantiers", other.ID), map[string]any{"code": c.Code}).Problem(409, "conflict")
	})

	t.Run("PUT replaces every writable field: omitted optional fields take their defaults", func(t *testing.T) {
		c := newChantier(t, admin, map[string]any{"ville": "Lyon", "statut": "en_cours", "budget_cents": 100, "date_debut": "2026-01-01"})
		var got hubapi.Chantier
		r := admin.Put(t, idPath("chantiers", c.ID), map[string]any{"code": c.Code, "nom": "Nouveau nom", "adresse": "2 rue B"}).Expect(200).JSON(&got)
		if r.ETag() != `"v2"` || got.Version != 2 || got.Nom != "Nouveau nom" || got.Ville != "" || got.Statut != hubapi.ChantierOuvert ||
			got.BudgetCents != 0 || !got.DateDebut.IsZero() || !got.CreatedAt.Equal(c.CreatedAt) {
			t.Errorf("after PUT: %+v (ETag %s)", got, r.ETag())
		}
	})

	t.Run("422 lists every invalid field", func(t *testing.T) {
		cases := []struct {
			name   string
			body   map[string]any
			fields []string
			opts   []apitest.Option
		}{
			{"date_fin before date_debut (a cross-field rule the document cannot express)",
				map[string]any{"date_debut": "2026-05-01", "date_fin": "2026-04-30"}, []string{"date_fin"}, nil},
			{"unknown responsable", map[string]any{"responsable_id": 987654321}, []string{"responsable_id"}, nil},
			{"postal code, latitude, statut and an empty nom",
				map[string]any{"code_postal": "123", "latitude": 91.5, "statut": "demoli", "nom": ""},
				[]string{"code_postal", "latitude", "statut", "nom"}, []apitest.Option{apitest.Invalid()}},
			{"code with a space", map[string]any{"code": "A B"}, []string{"code"}, []apitest.Option{apitest.Invalid()}},
			{"nom longer than 200 characters", map[string]any{"nom": strings.Repeat("é", 201)}, []string{"nom"}, []apitest.Option{apitest.Invalid()}},
			{"negative budget", map[string]any{"budget_cents": -1}, []string{"budget_cents"}, []apitest.Option{apitest.Invalid()}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				body := map[string]any{"code": uniq("V-"), "nom": "n", "adresse": "a"}
				for k, v := range tc.body {
					body[k] = v
				}
				admin.Post(t, v1+"/chantiers", body, tc.opts...).FieldProblem(422, "validation-error", tc.fields...)
			})
		}
	})

	t.Run("a chantier still referenced cannot be deleted → 409", func(t *testing.T) {
		c := newChantier(t, admin, nil)
		newPointage(t, admin, map[string]any{"chantier_id": c.ID})
		admin.Delete(t, idPath("chantiers", c.ID)).Problem(409, "conflict")
		admin.Get(t, idPath("chantiers", c.ID)).Expect(200)
	})

	t.Run("delete → 204, then 404 everywhere", func(t *testing.T) {
		c := newChantier(t, admin, nil)
		admin.Delete(t, idPath("chantiers", c.ID)).Expect(204)
		p := idPath("chantiers", c.ID)
		admin.Get(t, p).Problem(404, "not-found")
		admin.Put(t, p, map[string]any{"code": c.Code, "nom": "n", "adresse": "a"}).Problem(404, "not-found")
		admin.Patch(t, p, map[string]any{"nom": "n"}).Problem(404, "not-found")
		admin.Delete(t, p).Problem(404, "not-found")
	})
}

func testLists(t *testing.T, env *apitest.Env) {
	admin := env.As(hubapi.RoleAdmin)
	resp := env.User(hubapi.RoleChefChantier)
	ville := uniq("Ville")
	var made []hubapi.Chantier
	for i, statut := range []string{"ouvert", "en_cours", "en_cours", "ferme", "en_cours"} {
		f := map[string]any{"ville": ville, "statut": statut, "nom": fmt.Sprintf("Liste %c", 'E'-i)}
		if i%2 == 0 {
			f["responsable_id"] = resp.ID
		}
		made = append(made, newChantier(t, admin, f))
	}
	byCity := v1 + "/chantiers?ville=" + ville

	t.Run("filters combine", func(t *testing.T) {
		l := list[hubapi.Chantier](t, admin, byCity+"&statut=en_cours")
		if got := ids(l.Data, func(c *hubapi.Chantier) int64 { return c.ID }); !slices.Equal(got, []int64{made[4].ID, made[2].ID, made[1].ID}) {
			t.Errorf("ids %v", got)
		}
		l = list[hubapi.Chantier](t, admin, byCity+"&responsable_id="+itoa(resp.ID)+"&statut=en_cours")
		if got := ids(l.Data, func(c *hubapi.Chantier) int64 { return c.ID }); !slices.Equal(got, []int64{made[4].ID, made[2].ID}) {
			t.Errorf("ids %v", got)
		}
	})

	t.Run("sort on a whitelisted field, then id", func(t *testing.T) {
		l := list[hubapi.Chantier](t, admin, byCity+"&sort=nom")
		var names []string
		for _, c := range l.Data {
			names = append(names, c.Nom)
		}
		if !slices.Equal(names, []string{"Liste A", "Liste B", "Liste C", "Liste D", "Liste E"}) {
			t.Errorf("names %v", names)
		}
		l = list[hubapi.Chantier](t, admin, byCity+"&sort=-statut,id")
		if got := ids(l.Data, func(c *hubapi.Chantier) int64 { return c.ID }); !slices.Equal(got,
			[]int64{made[0].ID, made[3].ID, made[1].ID, made[2].ID, made[4].ID}) {
			t.Errorf("ids %v", got)
		}
	})

	t.Run("offset pagination reports totals", func(t *testing.T) {
		l := list[hubapi.Chantier](t, admin, byCity+"&limit=2&page=2&sort=id")
		p := l.Pagination
		if p.Page != 2 || p.Limit != 2 || p.Total != 5 || p.TotalPages != 3 || !p.HasMore || len(l.Data) != 2 || l.Data[0].ID != made[2].ID {
			t.Errorf("page 2: %+v, %d items", p, len(l.Data))
		}
		l = list[hubapi.Chantier](t, admin, byCity+"&limit=2&page=3&sort=id")
		if l.Pagination.HasMore || len(l.Data) != 1 {
			t.Errorf("page 3: %+v", l.Pagination)
		}
		l = list[hubapi.Chantier](t, admin, byCity+"&limit=2&page=9")
		if len(l.Data) != 0 || l.Data == nil || l.Pagination.Total != 5 {
			t.Errorf("page past the end: %+v, data %v", l.Pagination, l.Data)
		}
		l = list[hubapi.Chantier](t, admin, byCity+"&limit=100")
		if l.Pagination.Limit != 100 || len(l.Data) != 5 {
			t.Errorf("limit 100: %+v", l.Pagination)
		}
		l = list[hubapi.Chantier](t, admin, byCity)
		if l.Pagination.Limit != 20 || l.Pagination.Page != 1 {
			t.Errorf("defaults: %+v", l.Pagination)
		}
	})

	t.Run("bad query parameters → 400 invalid-query naming the parameter", func(t *testing.T) {
		cases := []struct {
			query string
			field string
			opts  []apitest.Option
		}{
			{"limit=0", "limit", []apitest.Option{apitest.Invalid()}},
			{"limit=101", "limit", []apitest.Option{apitest.Invalid()}},
			{"limit=ten", "limit", []apitest.Option{apitest.Invalid()}},
			{"page=0", "page", []apitest.Option{apitest.Invalid()}},
			{"page=-3", "page", []apitest.Option{apitest.Invalid()}},
			{"page=1000001", "page", []apitest.Option{apitest.Invalid()}},
			{"sort=password", "sort", []apitest.Option{apitest.Invalid()}},
			{"sort=nom,-id,code,statut,date_debut", "sort", []apitest.Option{apitest.Invalid()}},
			{"sort=nom,-nom", "sort", []apitest.Option{apitest.Unchecked("no-repeat rule of sort keys is not expressible as a pattern")}},
			// One sort grammar: "-" for descending, no "+" (in a query
			// string "+" decodes to a space).
			{"sort=%2Bnom", "sort", []apitest.Option{apitest.Invalid()}},
			{"sort=+nom", "sort", []apitest.Option{apitest.Invalid()}},
			{"statut=demoli", "statut", []apitest.Option{apitest.Invalid()}},
			{"responsable_id=abc", "responsable_id", []apitest.Option{apitest.Invalid()}},
			{"responsable_id=0", "responsable_id", []apitest.Option{apitest.Invalid()}},
			{"colour=red", "colour", []apitest.Option{apitest.Invalid()}},
			{"page=1&page=2", "page", []apitest.Option{apitest.Invalid()}},
		}
		for _, tc := range cases {
			t.Run(tc.query, func(t *testing.T) {
				p := admin.Get(t, v1+"/chantiers?"+tc.query, tc.opts...).FieldProblem(400, "invalid-query", tc.field)
				if !slices.Contains(p.AllowedParameters, "limit") || !slices.Contains(p.AllowedParameters, "ville") {
					t.Errorf("allowed_parameters %v", p.AllowedParameters)
				}
			})
		}
		admin.Get(t, v1+"/pointages?date_from=2026-13-01", apitest.Invalid()).FieldProblem(400, "invalid-query", "date_from")
		admin.Get(t, v1+"/signalements?gravite=extreme", apitest.Invalid()).FieldProblem(400, "invalid-query", "gravite")
		admin.Get(t, v1+"/documents?categorie=secret", apitest.Invalid()).FieldProblem(400, "invalid-query", "categorie")
		admin.Get(t, v1+"/affectations?sort=minutes", apitest.Invalid()).FieldProblem(400, "invalid-query", "sort")
		admin.Get(t, idPath("chantiers", made[0].ID)+"?colour=red", apitest.Invalid()).FieldProblem(400, "invalid-query", "colour")
		admin.Get(t, v1+"/users/me?colour=red", apitest.Invalid()).FieldProblem(400, "invalid-query", "colour")
		admin.Get(t, v1+"/stats?week=1", apitest.Invalid()).FieldProblem(400, "invalid-query", "week")
		admin.Get(t, v1+"/admin/api-keys?user_id=x", apitest.Invalid()).FieldProblem(400, "invalid-query", "user_id")
	})
}

func testFieldsAndCursors(t *testing.T, env *apitest.Env) {
	admin := env.As(hubapi.RoleAdmin)
	resp := env.User(hubapi.RoleConducteur)
	ville := uniq("Curseur")
	var made []int64
	for i := 0; i < 5; i++ {
		f := map[string]any{"ville": ville}
		if i == 0 {
			f["responsable_id"] = resp.ID
		}
		made = append(made, newChantier(t, admin, f).ID)
	}
	keys := func(m map[string]any) []string {
		var out []string
		for k := range m {
			out = append(out, k)
		}
		slices.Sort(out)
		return out
	}

	t.Run("fields on a resource: only the members named, and id", func(t *testing.T) {
		var got map[string]any
		r := admin.Get(t, idPath("chantiers", made[0])+"?fields=nom,statut").Expect(200).JSON(&got)
		if k := keys(got); !slices.Equal(k, []string{"id", "nom", "statut"}) {
			t.Errorf("members %v", k)
		}
		if strings.HasPrefix(r.ETag(), `"v`) || r.Header.Get("Last-Modified") == "" {
			t.Errorf("a selection is tagged %q (a version tag would be accepted by If-Match)", r.ETag())
		}
		got = nil
		admin.Get(t, idPath("chantiers", made[0])+"?fields=responsable(nom,prenom)").Expect(200).JSON(&got)
		if r, ok := got["responsable"].(map[string]any); !ok || r["nom"] != resp.Nom || r["prenom"] != resp.Prenom {
			t.Errorf("responsable %v", got["responsable"])
		}
		got = nil
		admin.Get(t, v1+"/users/me?fields=email,role").Expect(200).JSON(&got)
		if k := keys(got); !slices.Equal(k, []string{"email", "id", "role"}) || got["role"] != "admin" {
			t.Errorf("me: %v", got)
		}
	})

	t.Run("fields on a list applies to every item; the envelope stays", func(t *testing.T) {
		var l struct {
			Data       []map[string]any `json:"data"`
			Pagination map[string]any   `json:"pagination"`
		}
		admin.Get(t, v1+"/chantiers?ville="+ville+"&sort=id&fields=code,responsable(nom)").Expect(200).JSON(&l)
		if len(l.Data) != 5 || l.Pagination["total"] != float64(5) {
			t.Fatalf("%d items, pagination %v", len(l.Data), l.Pagination)
		}
		for i, it := range l.Data {
			if k := keys(it); !slices.Equal(k, []string{"code", "id", "responsable"}) {
				t.Errorf("item %d members %v", i, k)
			}
		}
		if l.Data[0]["responsable"] == nil || l.Data[1]["responsable"] != nil {
			t.Errorf("responsables %v, %v", l.Data[0]["responsable"], l.Data[1]["responsable"])
		}
	})

	t.Run("bad fields → 400 naming the problem", func(t *testing.T) {
		admin.Get(t, v1+"/chantiers?fields=nom(", apitest.Unchecked("the fields grammar is not a pattern")).Problem(400, "invalid-fields")
		var p map[string]any
		admin.Get(t, idPath("chantiers", made[0])+"?fields=nomm", apitest.Unchecked("the whitelist of fields is not a pattern")).
			FieldProblem(400, "unknown-field", "fields")
		r := admin.Get(t, v1+"/pointages?fields=password_hash", apitest.Unchecked("the whitelist of fields is not a pattern"))
		r.Problem(400, "unknown-field")
		r.JSON(&p)
		if p["field"] != "password_hash" || p["allowed"] == nil {
			t.Errorf("problem %v", p)
		}
	})

	t.Run("cursor pagination walks every item once, with Link headers", func(t *testing.T) {
		base := v1 + "/chantiers?ville=" + ville + "&sort=id&limit=2"
		var first listEnvelope[hubapi.Chantier]
		var legacy struct {
			Pagination struct {
				NextCursor *string `json:"next_cursor"`
			} `json:"pagination"`
		}
		r := admin.Get(t, base).Expect(200).JSON(&first).JSON(&legacy)
		if legacy.Pagination.NextCursor == nil || !strings.Contains(r.Header.Get("Link"), `rel="next"`) {
			t.Fatalf("page 1: next_cursor %v, Link %q", legacy.Pagination.NextCursor, r.Header.Get("Link"))
		}
		seen := ids(first.Data, func(c *hubapi.Chantier) int64 { return c.ID })
		cursor := *legacy.Pagination.NextCursor
		var prev string
		for pages := 0; cursor != ""; pages++ {
			if pages > 5 {
				t.Fatal("the walk does not end")
			}
			var pg struct {
				Data       []hubapi.Chantier `json:"data"`
				Pagination struct {
					Next    *string `json:"next_cursor"`
					Prev    *string `json:"prev_cursor"`
					HasMore bool    `json:"has_more"`
				} `json:"pagination"`
			}
			admin.Get(t, base+"&cursor="+url.QueryEscape(cursor)).Expect(200).JSON(&pg)
			seen = append(seen, ids(pg.Data, func(c *hubapi.Chantier) int64 { return c.ID })...)
			if pg.Pagination.HasMore != (pg.Pagination.Next != nil) || pg.Pagination.Prev == nil {
				t.Fatalf("pagination %+v", pg.Pagination)
			}
			prev, cursor = *pg.Pagination.Prev, ""
			if pg.Pagination.Next != nil {
				cursor = *pg.Pagination.Next
			}
		}
		if !slices.Equal(seen, made) {
			t.Errorf("walked %v, want %v", seen, made)
		}
		var back listEnvelope[hubapi.Chantier]
		admin.Get(t, base+"&cursor="+url.QueryEscape(prev)).Expect(200).JSON(&back)
		if got := ids(back.Data, func(c *hubapi.Chantier) int64 { return c.ID }); !slices.Equal(got, made[2:4]) {
			t.Errorf("previous page %v, want %v", got, made[2:4])
		}

		t.Run("a cursor is bound to its query → 400", func(t *testing.T) {
			admin.Get(t, v1+"/chantiers?ville="+ville+"&sort=-id&limit=2&cursor="+url.QueryEscape(prev)).Problem(400, "invalid-cursor")
			admin.Get(t, v1+"/chantiers?ville=Ailleurs&sort=id&limit=2&cursor="+url.QueryEscape(prev)).Problem(400, "invalid-cursor")
			admin.Get(t, v1+"/pointages?sort=id&limit=2&cursor="+url.QueryEscape(prev)).Problem(400, "invalid-cursor")
			admin.Get(t, v1+"/chantiers?cursor=garbage").Problem(400, "invalid-cursor")
			admin.Get(t, base+"&page=2&cursor="+url.QueryEscape(prev), apitest.Unchecked("page and cursor exclude each other")).
				FieldProblem(400, "invalid-query", "page")
			admin.Get(t, v1+"/chantiers?cursor=not%20base64", apitest.Invalid()).Problem(400, "invalid-cursor")
		})
	})
}

func testMalformedInput(t *testing.T, env *apitest.Env) {
	admin := env.As(hubapi.RoleAdmin)
	c := newChantier(t, admin, nil)
	item := idPath("chantiers", c.ID)

	bodies := []struct {
		name string
		body string
		code string
		// field named in errors[], if any
		field string
	}{
		{"truncated JSON", `{"code": "X", "nom":`, "malformed-json", ""},
		{"syntax error", `{"code": "X",, }`, "malformed-json", ""},
		{"empty body", ``, "malformed-json", ""},
		{"a JSON array", `[{"code":"X"}]`, "malformed-json", ""},
		{"a JSON string", `"chantier"`, "malformed-json", ""},
		{"wrong type: number for a string", `{"code": 12, "nom": "n", "adresse": "a"}`, "invalid-type", "code"},
		{"wrong type: string for an integer", `{"code": "X", "nom": "n", "adresse": "a", "budget_cents": "100"}`, "invalid-type", "budget_cents"},
		{"wrong type: fractional integer", `{"code": "X", "nom": "n", "adresse": "a", "budget_cents": 1.5}`, "invalid-type", "budget_cents"},
		{"wrong type: object for a string", `{"code": {"a": 1}, "nom": "n", "adresse": "a"}`, "invalid-type", "code"},
		{"unknown member", `{"code": "X", "nom": "n", "adresse": "a", "colour": "red"}`, "unknown-field", "colour"},
		{"malformed date", `{"code": "X", "nom": "n", "adresse": "a", "date_debut": "01/02/2026"}`, "invalid-value", ""},
	}
	for _, tc := range bodies {
		t.Run("POST with "+tc.name+" → 400 "+tc.code, func(t *testing.T) {
			r := admin.Post(t, v1+"/chantiers", nil, apitest.Raw("application/json", []byte(tc.body)), apitest.Invalid())
			if tc.field != "" {
				r.FieldProblem(400, tc.code, tc.field)
			} else {
				r.Problem(400, tc.code)
			}
		})
	}
	t.Run("POST with two objects → 400 malformed-json", func(t *testing.T) {
		body := `{"code":"A","nom":"n","adresse":"a"}{"code":"B"}`
		admin.Post(t, v1+"/chantiers", nil, apitest.Raw("application/json", []byte(body)),
			apitest.Unchecked("kin-openapi decodes the first JSON value and ignores trailing data")).Problem(400, "malformed-json")
	})
	t.Run("member names are case-sensitive: an unknown-case member → 400 unknown-field", func(t *testing.T) {
		// encoding/json matches member names case-insensitively, so
		// "Code" would silently fill code; the API (and the document)
		// only know the exact names.
		body := `{"Code": "` + uniq("CASE-") + `", "nom": "n", "adresse": "a"}`
		admin.Post(t, v1+"/chantiers", nil, apitest.Raw("application/json", []byte(body)), apitest.Invalid()).
			FieldProblem(400, "unknown-field", "Code")
		admin.Patch(t, item, map[string]any{"NOM": "x"}, apitest.Invalid()).FieldProblem(400, "unknown-field", "NOM")
	})
	t.Run("a repeated member → 400 duplicate-field", func(t *testing.T) {
		body := `{"code":"` + uniq("DUP-") + `","nom":"n","adresse":"a","nom":"m"}`
		admin.Post(t, v1+"/chantiers", nil, apitest.Raw("application/json", []byte(body)),
			apitest.Unchecked("a JSON Schema sees only the last of repeated members")).FieldProblem(400, "duplicate-field", "nom")
	})
	t.Run("PUT and PATCH reject malformed bodies too", func(t *testing.T) {
		admin.Put(t, item, nil, apitest.Raw("application/json", []byte(`{"code":`)), apitest.Invalid()).Problem(400, "malformed-json")
		admin.Patch(t, item, nil, apitest.Raw("application/merge-patch+json", []byte(`[1]`)), apitest.Invalid()).Problem(400, "malformed-json")
		admin.Patch(t, item, map[string]any{"colour": "red"}, apitest.Invalid()).FieldProblem(400, "unknown-field", "colour")
		admin.Patch(t, item, map[string]any{"budget_cents": "cher"}, apitest.Invalid()).FieldProblem(400, "invalid-type", "budget_cents")
	})

	t.Run("bad ids → 400 invalid-id", func(t *testing.T) {
		for _, id := range []string{"abc", "0", "-1", "1.5", "99999999999999999999", "1e3"} {
			admin.Get(t, v1+"/chantiers/"+id, apitest.Invalid()).Problem(400, "invalid-id")
		}
		admin.Delete(t, v1+"/pointages/x", apitest.Invalid()).Problem(400, "invalid-id")
		admin.Post(t, v1+"/pointages/0/validate", nil, apitest.Invalid()).Problem(400, "invalid-id")
		admin.Get(t, v1+"/documents/zz/content", apitest.Invalid()).Problem(400, "invalid-id")
		admin.Delete(t, v1+"/admin/api-keys/-5", apitest.Invalid()).Problem(400, "invalid-id")
	})

	t.Run("bad enum values in bodies → 422 naming the field", func(t *testing.T) {
		admin.Patch(t, item, map[string]any{"statut": "demoli"}, apitest.Invalid()).FieldProblem(422, "validation-error", "statut")
		admin.Post(t, v1+"/signalements", map[string]any{"chantier_id": c.ID, "titre": "t", "gravite": "extreme"}, apitest.Invalid()).
			FieldProblem(422, "validation-error", "gravite")
		admin.Post(t, v1+"/pointages", map[string]any{"chantier_id": c.ID, "date": "2026-03-03", "minutes": 60, "type": "sieste"}, apitest.Invalid()).
			FieldProblem(422, "validation-error", "type")
	})

	t.Run("body over 1 MiB → 413", func(t *testing.T) {
		big := fmt.Sprintf(`{"code":"BIG","nom":"n","adresse":"a","description":%q}`, strings.Repeat("x", 1<<20))
		admin.Post(t, v1+"/chantiers", nil, apitest.Raw("application/json", []byte(big)), apitest.Invalid()).Problem(413, "body-too-large")
		admin.Patch(t, item, nil, apitest.Raw("application/merge-patch+json", []byte(big)), apitest.Invalid()).Problem(413, "body-too-large")
		key := fmt.Sprintf(`{"user_id":1,"name":%q,"scopes":["admin"]}`, strings.Repeat("k", 1<<20))
		admin.Post(t, v1+"/admin/api-keys", nil, apitest.Raw("application/json", []byte(key)), apitest.Invalid()).Problem(413, "body-too-large")
	})

	t.Run("wrong content type → 415", func(t *testing.T) {
		body := []byte(`{"code":"X","nom":"n","adresse":"a"}`)
		admin.Post(t, v1+"/chantiers", nil, apitest.Raw("text/plain", body), apitest.Invalid()).Problem(415, "unsupported-media-type")
		admin.Post(t, v1+"/chantiers", nil, apitest.Raw("application/merge-patch+json", body), apitest.Invalid()).Problem(415, "unsupported-media-type")
		admin.Put(t, item, nil, apitest.Raw("application/x-www-form-urlencoded", []byte("code=X")), apitest.Invalid()).Problem(415, "unsupported-media-type")
		admin.Patch(t, item, nil, apitest.Raw("application/xml", []byte("<nom>x</nom>")), apitest.Invalid()).Problem(415, "unsupported-media-type")
		admin.Post(t, v1+"/chantiers", nil, apitest.Header("X-Body", "none"), apitest.Invalid()).Problem(415, "unsupported-media-type")
		admin.Post(t, v1+"/admin/api-keys", nil, apitest.Raw("text/json", []byte(`{}`)), apitest.Invalid()).Problem(415, "unsupported-media-type")
		admin.Post(t, v1+"/documents", map[string]any{"chantier_id": c.ID}, apitest.Invalid()).Problem(415, "unsupported-media-type")
	})

	t.Run("PATCH accepts application/json as a merge patch", func(t *testing.T) {
		var got hubapi.Chantier
		admin.Patch(t, item, map[string]any{"ville": "Nantes"}, apitest.ContentType("application/json")).Expect(200).JSON(&got)
		if got.Ville != "Nantes" {
			t.Errorf("ville %q", got.Ville)
		}
	})

	t.Run("JSON bodies are read as UTF-8 text", func(t *testing.T) {
		var got hubapi.Chantier
		body := []byte(`{"code":"` + uniq("U-") + `","nom":"Maison \u00e9t\u00e9 \ud83c\udfd7","adresse":"a"}`)
		admin.Post(t, v1+"/chantiers", nil, apitest.Raw("application/json; charset=utf-8", body)).Expect(201).JSON(&got)
		if got.Nom != "Maison été 🏗" {
			t.Errorf("nom %q", got.Nom)
		}
		if !bytes.Contains(body, []byte(`\u00e9`)) {
			t.Fatal("test body lost its escapes")
		}
	})
}

func testConditionalWrites(t *testing.T, env *apitest.Env) {
	admin := env.As(hubapi.RoleAdmin)
	c := newChantier(t, admin, nil)
	p := idPath("chantiers", c.ID)
	full := map[string]any{"code": c.Code, "nom": "n", "adresse": "a"}

	admin.Put(t, p, full, apitest.IfMatch(`"v1"`)).Expect(200) // now v2
	t.Run("stale If-Match → 412 and nothing is written", func(t *testing.T) {
		pr := admin.Put(t, p, map[string]any{"code": c.Code, "nom": "perdu", "adresse": "a"}, apitest.IfMatch(`"v1"`)).Problem(412, "precondition-failed")
		if pr.Precondition != "If-Match" {
			t.Errorf("precondition %q", pr.Precondition)
		}
		admin.Patch(t, p, map[string]any{"nom": "perdu"}, apitest.IfMatch(`"v1"`)).Problem(412, "precondition-failed")
		admin.Delete(t, p, apitest.IfMatch(`"v1"`)).Problem(412, "precondition-failed")
		var got hubapi.Chantier
		if r := admin.Get(t, p).Expect(200).JSON(&got); got.Nom == "perdu" || got.Version != 2 || r.ETag() != `"v2"` {
			t.Errorf("after rejected writes: nom %q version %d", got.Nom, got.Version)
		}
	})
	t.Run("weak or foreign tags never match → 412", func(t *testing.T) {
		admin.Patch(t, p, map[string]any{"nom": "perdu"}, apitest.IfMatch(`W/"v2"`)).Problem(412, "precondition-failed")
		admin.Patch(t, p, map[string]any{"nom": "perdu"}, apitest.IfMatch(`"abc"`)).Problem(412, "precondition-failed")
	})
	t.Run("a matching tag in a list → 200 and a new ETag", func(t *testing.T) {
		r := admin.Patch(t, p, map[string]any{"nom": "gagné"}, apitest.IfMatch(`"v1", "v2"`)).Expect(200)
		if r.ETag() != `"v3"` {
			t.Errorf("ETag %q", r.ETag())
		}
	})
	t.Run("If-Match: * needs an existing resource", func(t *testing.T) {
		admin.Patch(t, p, map[string]any{"nom": "étoile"}, apitest.IfMatch("*")).Expect(200)
		admin.Patch(t, idPath("chantiers", 987654321), map[string]any{"nom": "x"}, apitest.IfMatch("*")).Problem(412, "precondition-failed")
	})
	t.Run("If-None-Match and If-Unmodified-Since guard writes → 412 naming the header", func(t *testing.T) {
		pr := admin.Put(t, p, full, apitest.Header("If-None-Match", "*")).Problem(412, "precondition-failed")
		if pr.Precondition != "If-None-Match" {
			t.Errorf("precondition %q", pr.Precondition)
		}
		pr = admin.Patch(t, p, map[string]any{"nom": "perdu"}, apitest.Header("If-Unmodified-Since", "Mon, 01 Jan 2001 00:00:00 GMT")).
			Problem(412, "precondition-failed")
		if pr.Precondition != "If-Unmodified-Since" {
			t.Errorf("precondition %q", pr.Precondition)
		}
		admin.Patch(t, p, map[string]any{"description": "ok"}, apitest.Header("If-Unmodified-Since", "Fri, 01 Jan 2100 00:00:00 GMT")).Expect(200)
	})
	t.Run("reads revalidate: If-None-Match and If-Modified-Since → 304 without body", func(t *testing.T) {
		r := admin.Get(t, p).Expect(200)
		nm := admin.Get(t, p, apitest.Header("If-None-Match", r.ETag())).Expect(304)
		if len(nm.Body) != 0 || nm.ETag() != r.ETag() {
			t.Errorf("304: %d bytes, ETag %q", len(nm.Body), nm.ETag())
		}
		admin.Get(t, p, apitest.Header("If-Modified-Since", r.Header.Get("Last-Modified"))).Expect(304)
		admin.Get(t, p, apitest.Header("If-None-Match", `"v999"`)).Expect(200)
		l := admin.Get(t, v1+"/chantiers?limit=5").Expect(200)
		if l.ETag() == "" {
			t.Fatal("a list without ETag")
		}
		admin.Get(t, v1+"/chantiers?limit=5", apitest.Header("If-None-Match", l.ETag())).Expect(304)
		s := admin.Get(t, v1+"/stats").Expect(200)
		admin.Get(t, v1+"/stats", apitest.Header("If-None-Match", s.ETag())).Expect(304)
	})
	t.Run("current If-Match on DELETE → 204", func(t *testing.T) {
		var got hubapi.Chantier
		r := admin.Get(t, p).Expect(200).JSON(&got)
		admin.Delete(t, p, apitest.IfMatch(r.ETag())).Expect(204)
	})
}

func testMergePatch(t *testing.T, env *apitest.Env) {
	admin := env.As(hubapi.RoleAdmin)
	resp := env.User(hubapi.RoleConducteur)
	c := newChantier(t, admin, map[string]any{
		"ville": "Lille", "code_postal": "59000", "statut": "en_cours", "responsable_id": resp.ID, "budget_cents": 500,
		"date_debut": "2026-02-01", "date_fin": "2026-09-30", "latitude": 50.63, "longitude": 3.06, "description": "d",
	})
	p := idPath("chantiers", c.ID)

	t.Run("members present replace, absent members are kept", func(t *testing.T) {
		var got hubapi.Chantier
		admin.Patch(t, p, map[string]any{"nom": "Renommé", "budget_cents": 900}).Expect(200).JSON(&got)
		if got.Nom != "Renommé" || got.BudgetCents != 900 || got.Ville != "Lille" || got.Statut != hubapi.ChantierEnCours ||
			got.DateFin.String() != "2026-09-30" || got.ResponsableID == nil || got.Version != 2 {
			t.Errorf("after patch: %+v", got)
		}
	})
	t.Run("null clears optional fields and resets defaults", func(t *testing.T) {
		var got hubapi.Chantier
		admin.Patch(t, p, map[string]any{"date_fin": nil, "responsable_id": nil, "latitude": nil, "longitude": nil,
			"ville": nil, "statut": nil, "budget_cents": nil}).Expect(200).JSON(&got)
		if !got.DateFin.IsZero() || got.ResponsableID != nil || got.Latitude != nil || got.Longitude != nil ||
			got.Ville != "" || got.Statut != hubapi.ChantierOuvert || got.BudgetCents != 0 {
			t.Errorf("after null patch: %+v", got)
		}
		if got.DateDebut.String() != "2026-02-01" || got.CodePostal != "59000" || got.Nom != "Renommé" {
			t.Errorf("untouched fields changed: %+v", got)
		}
	})
	t.Run("null on a required field → 422", func(t *testing.T) {
		admin.Patch(t, p, map[string]any{"nom": nil}, apitest.Invalid()).FieldProblem(422, "validation-error", "nom")
	})
	t.Run("an empty patch keeps everything and bumps the version", func(t *testing.T) {
		var before, after hubapi.Chantier
		admin.Get(t, p).Expect(200).JSON(&before)
		admin.Patch(t, p, map[string]any{}).Expect(200).JSON(&after)
		if after.Version != before.Version+1 || after.Nom != before.Nom {
			t.Errorf("before %+v after %+v", before, after)
		}
	})
	t.Run("merge patch on other resources: null clears assigned_to", func(t *testing.T) {
		s := newSignalement(t, admin, map[string]any{"chantier_id": c.ID, "assigned_to": resp.ID, "description": "x"})
		var got hubapi.Signalement
		admin.Patch(t, idPath("signalements", s.ID), map[string]any{"assigned_to": nil, "titre": "Nouveau"}).Expect(200).JSON(&got)
		if got.AssignedTo != nil || got.Titre != "Nouveau" || got.Description != "x" {
			t.Errorf("after patch: %+v", got)
		}
	})
}
