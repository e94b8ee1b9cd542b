package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/gorilla/mux"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/rest"
	"github.com/hubchantier/hubchantier/hubapi/server"
	"github.com/hubchantier/hubchantier/internal/apitest"
	"github.com/hubchantier/hubchantier/internal/testenv"
	"github.com/hubchantier/hubchantier/webhooks"
)

const v2 = "/api/v2"

// v2Chantier is the v2 representation of a chantier.
type v2Chantier struct {
	ID          int64   `json:"id"`
	Code        string  `json:"code"`
	Name        string  `json:"name"`
	Location    string  `json:"location"`
	City        string  `json:"city"`
	PostalCode  string  `json:"postalCode"`
	Status      string  `json:"status"`
	ClientName  string  `json:"clientName"`
	ManagerID   *int64  `json:"managerId"`
	BudgetCents int64   `json:"budgetCents"`
	StartDate   *string `json:"startDate"`
	Version     int64   `json:"version"`
}

// TestAPIv2 drives every v2 operation over HTTP on every test database;
// apitest validates each request and response against the v2 document.
// v2 calls the same use cases as v1: what one version writes, the other
// reads.
func TestAPIv2(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, db *testenv.DB) {
		mail := &mailbox{}
		env := apitest.Start(t, db, apitest.Config{MaxUploadBytes: testMaxUpload, RateLimits: apitest.LiftedRateLimits +
			";POST /api/v2/chantiers=1000000/m;POST /api/v2/documents=1000000/m;POST /api/v2/admin/api-keys=1000000/m;GET /api/v2/stats=1000000/m",
			Configure: func(c *server.Config) { c.Notifier = mail }})
		admin := env.As(hubapi.RoleAdmin)
		cond := env.As(hubapi.RoleConducteur)
		worker := env.As(hubapi.RoleCompagnon)
		condID := env.User(hubapi.RoleConducteur).ID
		workerID := env.User(hubapi.RoleCompagnon).ID

		var c v2Chantier
		t.Run("create with camelCase English members → 201, v2 representation", func(t *testing.T) {
			r := admin.Post(t, v2+"/chantiers", map[string]any{"code": "V2-1", "name": "Tour Alpha", "location": "1 rue A",
				"city": "Lyon", "postalCode": "69001", "managerId": condID, "budgetCents": 1000, "startDate": "2025-03-01"}).Expect(201)
			r.JSON(&c)
			if c.Name != "Tour Alpha" || c.Location != "1 rue A" || c.PostalCode != "69001" || c.Status != "ouvert" ||
				c.ManagerID == nil || *c.ManagerID != condID || c.StartDate == nil || *c.StartDate != "2025-03-01" {
				t.Errorf("created %+v", c)
			}
			if got := r.Header.Get("Location"); got != fmt.Sprintf("%s/chantiers/%d", v2, c.ID) {
				t.Errorf("Location %q", got)
			}
			if r.Header.Get("Deprecation") != "" || r.Header.Get("Sunset") != "" || r.Header.Get("X-API-Deprecation") != "" {
				t.Errorf("v2 carries v1's deprecation headers: %v", r.Header)
			}
			var raw map[string]any
			r.JSON(&raw)
			for _, v1Name := range []string{"nom", "adresse", "code_postal", "statut", "created_at"} {
				if _, ok := raw[v1Name]; ok {
					t.Errorf("v1 member %q in a v2 body", v1Name)
				}
			}
		})

		t.Run("v1 reads what v2 wrote (same use cases)", func(t *testing.T) {
			var v1c hubapi.Chantier
			admin.Get(t, fmt.Sprintf("%s/chantiers/%d", v1, c.ID)).Expect(200).JSON(&v1c)
			if v1c.Nom != c.Name || v1c.Adresse != c.Location || v1c.CodePostal != c.PostalCode {
				t.Errorf("v1 reads %+v", v1c)
			}
		})

		t.Run("v1 member names are unknown in v2 → 400 naming them as sent", func(t *testing.T) {
			p := admin.Post(t, v2+"/chantiers", map[string]any{"code": "V2-X", "nom": "N", "location": "A"}, apitest.Invalid()).
				FieldProblem(400, "unknown-field", "nom")
			_ = p
			admin.Post(t, v2+"/chantiers", map[string]any{"code": "V2-X", "name": "N", "location": "A", "createdAt": "2025-01-01T00:00:00Z"},
				apitest.Invalid()).FieldProblem(400, "unknown-field", "createdAt")
		})

		t.Run("validation errors name v2 members → 422", func(t *testing.T) {
			admin.Post(t, v2+"/chantiers", map[string]any{"code": "V2-Y", "name": "N", "location": "A", "postalCode": "abc"},
				apitest.Invalid()).FieldProblem(422, "validation-error", "postalCode")
			admin.Post(t, v2+"/chantiers", map[string]any{"code": "V2-1", "name": "N", "location": "A"}).Problem(409, "conflict")
		})

		for i := 2; i <= 4; i++ {
			cond.Post(t, v2+"/chantiers", map[string]any{"code": fmt.Sprintf("V2-%d", i), "name": fmt.Sprintf("Site %d", i),
				"location": "x", "status": "en_cours"}).Expect(201)
		}

		t.Run("lists page by cursor only: nextCursor, Link, no page", func(t *testing.T) {
			var page struct {
				Data       []v2Chantier `json:"data"`
				Pagination struct {
					NextCursor *string `json:"nextCursor"`
					PrevCursor *string `json:"prevCursor"`
					HasMore    bool    `json:"hasMore"`
				} `json:"pagination"`
			}
			r := admin.Get(t, v2+"/chantiers?limit=2&sort=code").Expect(200)
			r.JSON(&page)
			if len(page.Data) != 2 || !page.Pagination.HasMore || page.Pagination.NextCursor == nil || page.Data[0].Code != "V2-1" {
				t.Fatalf("first page %+v", page)
			}
			if link := r.Header.Get("Link"); !strings.Contains(link, `rel="next"`) || !strings.Contains(link, "/api/v2/chantiers?") {
				t.Errorf("Link %q", link)
			}
			next := *page.Pagination.NextCursor
			admin.Get(t, v2+"/chantiers?limit=2&sort=code&cursor="+next).Expect(200).JSON(&page)
			if len(page.Data) != 2 || page.Data[0].Code != "V2-3" || page.Pagination.PrevCursor == nil {
				t.Errorf("second page %+v", page)
			}
			admin.Get(t, v2+"/chantiers?page=2", apitest.Invalid()).FieldProblem(400, "invalid-query", "page")
			admin.Get(t, v2+"/chantiers?statut=ouvert", apitest.Invalid()).FieldProblem(400, "invalid-query", "statut")
			admin.Get(t, v2+"/chantiers?limit=0", apitest.Invalid()).FieldProblem(400, "invalid-query", "limit")
			admin.Get(t, v2+"/chantiers?status=en_cours&sort=-name").Expect(200).JSON(&page)
			if len(page.Data) != 3 || page.Data[0].Name != "Site 4" {
				t.Errorf("filtered and sorted by v2 names: %+v", page.Data)
			}
			admin.Get(t, v2+"/chantiers?sort=nom", apitest.Invalid()).FieldProblem(400, "invalid-query", "sort")
		})

		t.Run("fields take v2 names, nested manager included", func(t *testing.T) {
			var one map[string]any
			admin.Get(t, fmt.Sprintf("%s/chantiers/%d?fields=name,manager(lastName)", v2, c.ID)).Expect(200).JSON(&one)
			m, _ := one["manager"].(map[string]any)
			if len(one) != 3 || one["name"] != "Tour Alpha" || m == nil || m["lastName"] != "Test" || len(m) != 2 {
				t.Errorf("selection %v", one)
			}
			var list struct {
				Data []map[string]any `json:"data"`
			}
			admin.Get(t, v2+"/chantiers?fields=postalCode&limit=1&sort=code").Expect(200).JSON(&list)
			if len(list.Data) != 1 || list.Data[0]["postalCode"] != "69001" || len(list.Data[0]) != 2 {
				t.Errorf("list selection %v", list.Data)
			}
			admin.Get(t, v2+"/chantiers?fields=nom", apitest.Unchecked("the document's fields pattern does not list names")).FieldProblem(400, "unknown-field", "fields")
		})

		t.Run("conditional requests: ETag, 304, 412 as in v1", func(t *testing.T) {
			path := fmt.Sprintf("%s/chantiers/%d", v2, c.ID)
			r := admin.Get(t, path).Expect(200)
			tag := r.ETag()
			admin.Get(t, path, apitest.Header("If-None-Match", tag)).Expect(304)
			var after v2Chantier
			admin.Patch(t, path, map[string]any{"clientName": "Client B"}, apitest.IfMatch(tag)).Expect(200).JSON(&after)
			if after.ClientName != "Client B" || after.Version != c.Version+1 {
				t.Errorf("patched %+v", after)
			}
			admin.Patch(t, path, map[string]any{"clientName": "Lost"}, apitest.IfMatch(tag)).Problem(412, "precondition-failed")
			admin.Patch(t, path, map[string]any{"client_nom": "x"}, apitest.Invalid()).FieldProblem(400, "unknown-field", "client_nom")
			admin.Put(t, path, map[string]any{"code": "V2-1", "name": "Tour Alpha", "location": "1 rue A", "status": "en_cours"}).Expect(200).JSON(&after)
			if after.Status != "en_cours" || after.City != "" {
				t.Errorf("replaced %+v", after)
			}
		})

		var pointageID int64
		t.Run("pointages", func(t *testing.T) {
			var p map[string]any
			worker.Post(t, v2+"/pointages", map[string]any{"chantierId": c.ID, "date": "2025-03-03", "minutes": 480, "type": "normal",
				"comment": "Coffrage"}).Expect(201).JSON(&p)
			if p["userId"] != float64(workerID) || p["comment"] != "Coffrage" || p["status"] != "brouillon" {
				t.Errorf("pointage %v", p)
			}
			pointageID = int64(p["id"].(float64))
			path := fmt.Sprintf("%s/pointages/%d", v2, pointageID)
			worker.Patch(t, path, map[string]any{"status": "soumis"}).Expect(200)
			cond.Post(t, path+"/validate", nil).Expect(200).JSON(&p)
			if p["status"] != "valide" {
				t.Errorf("validated %v", p)
			}
			cond.Get(t, fmt.Sprintf("%s/pointages?chantierId=%d&dateFrom=2025-01-01&dateTo=2025-12-31&fields=minutes", v2, c.ID)).Expect(200)
			cond.Get(t, path+"?fields=status").Expect(200)
			worker.Post(t, v2+"/pointages", map[string]any{"chantierId": c.ID, "date": "2025-03-04", "minutes": 0, "type": "normal"},
				apitest.Invalid()).FieldProblem(422, "validation-error", "minutes")
			var other map[string]any
			cond.Post(t, v2+"/pointages", map[string]any{"userId": workerID, "chantierId": c.ID, "date": "2025-03-05", "minutes": 60,
				"type": "nuit"}).Expect(201).JSON(&other)
			opath := fmt.Sprintf("%s/pointages/%d", v2, int64(other["id"].(float64)))
			cond.Put(t, opath, map[string]any{"userId": workerID, "chantierId": c.ID, "date": "2025-03-05", "minutes": 90, "type": "nuit",
				"status": "brouillon", "comment": ""}).Expect(200)
			cond.Delete(t, opath).Expect(204)
		})

		t.Run("documents: upload with v2 part names, content, metadata", func(t *testing.T) {
			var d map[string]any
			cond.Upload(t, v2+"/documents", []apitest.Part{
				{Name: "chantierId", Body: []byte(fmt.Sprint(c.ID))},
				{Name: "category", Body: []byte("plan")},
				{Name: "file", FileName: "plan.txt", ContentType: "text/plain", Body: []byte("Plan")},
			}).Expect(201).JSON(&d)
			if d["name"] != "plan.txt" || d["category"] != "plan" || d["mimeType"] != "text/plain" || d["uploadedBy"] != float64(condID) {
				t.Errorf("document %v", d)
			}
			cond.Upload(t, v2+"/documents", []apitest.Part{
				{Name: "chantier_id", Body: []byte(fmt.Sprint(c.ID))},
				{Name: "file", FileName: "plan.txt", ContentType: "text/plain", Body: []byte("Plan")},
			}, apitest.Unchecked("an unknown part name is not expressible in the multipart schema")).Problem(400, "unknown-field")
			path := fmt.Sprintf("%s/documents/%d", v2, int64(d["id"].(float64)))
			if r := cond.Get(t, path+"/content").Expect(200); string(r.Body) != "Plan" {
				t.Errorf("content %q", r.Body)
			}
			cond.Get(t, fmt.Sprintf("%s/documents?chantierId=%d&category=plan", v2, c.ID)).Expect(200)
			cond.Get(t, path+"?fields=name").Expect(200)
			cond.Patch(t, path, map[string]any{"name": "Plan RDC"}).Expect(200).JSON(&d)
			if d["name"] != "Plan RDC" {
				t.Errorf("patched %v", d)
			}
			cond.Put(t, path, map[string]any{"chantierId": c.ID, "name": "Plan v2", "category": "plan"}).Expect(200)
			cond.Delete(t, path).Expect(204)
		})

		t.Run("signalements", func(t *testing.T) {
			var s map[string]any
			worker.Post(t, v2+"/signalements", map[string]any{"chantierId": c.ID, "title": "Fuite", "severity": "haute"}).Expect(201).JSON(&s)
			if s["title"] != "Fuite" || s["severity"] != "haute" || s["createdBy"] != float64(workerID) {
				t.Errorf("signalement %v", s)
			}
			path := fmt.Sprintf("%s/signalements/%d", v2, int64(s["id"].(float64)))
			admin.Patch(t, path, map[string]any{"status": "resolu", "assignedTo": condID}).Expect(200).JSON(&s)
			if s["resolvedAt"] == nil || s["assignedTo"] != float64(condID) {
				t.Errorf("resolved %v", s)
			}
			admin.Get(t, v2+"/signalements?severity=haute&status=resolu").Expect(200)
			admin.Get(t, path+"?fields=title,status").Expect(200)
			admin.Put(t, path, map[string]any{"chantierId": c.ID, "title": "Fuite", "description": "", "severity": "basse",
				"status": "ferme", "assignedTo": nil}).Expect(200)
			admin.Delete(t, path).Expect(204)
		})

		t.Run("affectations and planning", func(t *testing.T) {
			var a map[string]any
			admin.Post(t, v2+"/affectations", map[string]any{"userId": workerID, "chantierId": c.ID, "date": "2025-03-10",
				"startTime": "08:00", "endTime": "12:00"}).Expect(201).JSON(&a)
			if a["startTime"] != "08:00" || a["endTime"] != "12:00" {
				t.Errorf("affectation %v", a)
			}
			path := fmt.Sprintf("%s/affectations/%d", v2, int64(a["id"].(float64)))
			admin.Patch(t, path, map[string]any{"endTime": "12:30"}).Expect(200)
			admin.Put(t, path, map[string]any{"userId": workerID, "chantierId": c.ID, "date": "2025-03-11", "startTime": "13:00",
				"endTime": "17:00", "note": ""}).Expect(200)
			admin.Get(t, path+"?fields=date").Expect(200)
			admin.Get(t, fmt.Sprintf("%s/affectations?userId=%d&dateFrom=2025-03-01", v2, workerID)).Expect(200)
			var plan struct {
				Data []map[string]any `json:"data"`
			}
			admin.Get(t, fmt.Sprintf("%s/planning?from=2025-03-01&to=2025-03-31&userId=%d", v2, workerID)).Expect(200).JSON(&plan)
			if len(plan.Data) != 1 || plan.Data[0]["startTime"] != "13:00" {
				t.Errorf("planning %v", plan.Data)
			}
			admin.Delete(t, path).Expect(204)
		})

		t.Run("statistics, current user, API keys", func(t *testing.T) {
			var st map[string]any
			cond.Get(t, v2+"/stats").Expect(200).JSON(&st)
			if _, ok := st["chantiersByStatus"].(map[string]any)["en_cours"]; !ok {
				t.Errorf("stats %v", st)
			}
			var me map[string]any
			cond.Get(t, v2+"/users/me").Expect(200).JSON(&me)
			if me["lastName"] != "Test" || me["firstName"] != "conducteur" {
				t.Errorf("me %v", me)
			}
			var sel map[string]any
			cond.Get(t, v2+"/users/me?fields=firstName").Expect(200).JSON(&sel)
			if len(sel) != 2 || sel["firstName"] != "conducteur" {
				t.Errorf("me selection %v", sel)
			}
			var k map[string]any
			admin.Post(t, v2+"/admin/api-keys", map[string]any{"userId": condID, "name": "Paie", "scopes": []string{"stats:read"}}).
				Expect(201).JSON(&k)
			if k["userId"] != float64(condID) || !strings.HasPrefix(k["key"].(string), "hck_") {
				t.Errorf("key %v", k)
			}
			admin.Get(t, fmt.Sprintf("%s/admin/api-keys?userId=%d", v2, condID)).Expect(200)
			admin.Delete(t, fmt.Sprintf("%s/admin/api-keys/%d", v2, int64(k["id"].(float64)))).Expect(204)
			r := cond.Get(t, v2+"/admin/api-keys")
			var p map[string]any
			r.Problem(403, "insufficient-scope")
			r.JSON(&p)
			if p["requiredScope"] != "admin" {
				t.Errorf("403 problem %v", p)
			}
		})

		t.Run("webhook subscriptions, deliveries and attempts with v2 names", func(t *testing.T) { testWebhooksV2(t, env) })

		t.Run("OAuth authorizations with v2 names", func(t *testing.T) { testAuthorizationsV2(t, env) })
		t.Run("GDPR rights with v2 names", func(t *testing.T) { testPrivacyV2(t, env, mail) })
		t.Run("API key security with v2 names", func(t *testing.T) { testKeySecurity(t, env, v2) })

		t.Run("errors of v2 are problems without deprecation headers", func(t *testing.T) {
			r := env.Anonymous().Get(t, v2+"/chantiers", apitest.Invalid())
			r.Problem(401, "unauthorized")
			if r.Header.Get("Deprecation") != "" {
				t.Error("Deprecation on a v2 401")
			}
			admin.Get(t, v2+"/chantiers/999").Problem(404, "not-found")
			admin.Delete(t, fmt.Sprintf("%s/chantiers/%d", v2, c.ID)).Problem(409, "conflict") // still referenced
			admin.Delete(t, fmt.Sprintf("%s/chantiers/%d", v2, c.ID+3)).Expect(204)
		})

		t.Run("the v2 document is served", func(t *testing.T) {
			r := env.Anonymous().Get(t, v2+"/openapi.json").Expect(200)
			var doc struct {
				Info struct {
					Version string `json:"version"`
				} `json:"info"`
			}
			if err := json.Unmarshal(r.Body, &doc); err != nil || doc.Info.Version != "2.0.0" {
				t.Errorf("document version %q (%v)", doc.Info.Version, err)
			}
		})

		t.Run("a batch runs v2 operations with v2 bodies (more in TestBatchV2)", func(t *testing.T) {
			rs := sendBatchV2(t, env, cond, map[string]any{"operations": []any{
				map[string]any{"id": "me", "method": "GET", "path": "/users/me?fields=id,lastName"},
				map[string]any{"method": "GET", "path": fmt.Sprintf("/chantiers/%d?fields=id,name,manager(lastName)", c.ID), "dependsOn": []string{"me"}},
			}})
			wantStatusesV2(t, rs, "200 200")
			if !strings.Contains(string(rs[0].Body), `"lastName"`) || !strings.Contains(string(rs[1].Body), `"manager"`) {
				t.Fatalf("bodies %s / %s", rs[0].Body, rs[1].Body)
			}
		})

		t.Run("clients, factures and depenses", func(t *testing.T) { testFinancesV2(t, env) })

		t.Run("every v2 operation answered a valid request with 2xx", func(t *testing.T) {
			for _, op := range env.CoverageV2().WithoutSuccess() {
				t.Errorf("%s (%s) never answered 2xx", op, op.ID)
			}
		})
	})
}

// TestOpenAPIV2DescribesEveryRoute compares the routes of rest.MountV2 (and
// the v2 document's route) with the operations of the v2 document, both
// ways.
func TestOpenAPIV2DescribesEveryRoute(t *testing.T) {
	spec, err := apitest.V2()
	if err != nil {
		t.Fatal(err)
	}
	var s everyService
	r := mux.NewRouter()
	rest.MountDocs(r)
	if err := rest.MountV2(r, rest.Options{Chantiers: s, Pointages: s, Documents: s, Signalements: s, Affectations: s,
		Users: s, Stats: s, APIKeys: s, Webhooks: s, Authorizations: s, Privacy: s, KeySecurity: s, Authenticator: s, Batch: http.NotFoundHandler(),
		Clients: s, Factures: s, Depenses: s}); err != nil {
		t.Fatal(err)
	}
	var routes []string
	_ = r.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		tpl, err := route.GetPathTemplate()
		if err != nil || !strings.HasPrefix(tpl, v2+"/") {
			return nil
		}
		methods, err := route.GetMethods()
		if err != nil {
			return nil
		}
		for _, m := range methods {
			if m != http.MethodHead {
				routes = append(routes, m+" "+tpl)
			}
		}
		return nil
	})
	var documented []string
	for _, op := range spec.Operations() {
		documented = append(documented, op.String())
	}
	for _, rt := range routes {
		if !slices.Contains(documented, rt) {
			t.Errorf("route %s is not in the v2 document", rt)
		}
	}
	for _, op := range documented {
		if !slices.Contains(routes, op) {
			t.Errorf("v2 operation %s has no route", op)
		}
	}
	if len(routes) < 30 {
		t.Fatalf("only %d v2 routes", len(routes))
	}
}

// testWebhooksV2 drives every v2 webhook route: camelCase members in
// bodies, selections, filters and field errors; no v1 member in any answer.
func testWebhooksV2(t *testing.T, env *apitest.Env) {
	_, key := env.NewUser(t, hubapi.RoleConducteur)
	alice, admin := env.WithKey(key), env.As(hubapi.RoleAdmin)
	// noV1 fails on a v1 member name anywhere in body but in a delivery's
	// payload (the event as receivers get it, the same in both versions).
	noV1 := func(t *testing.T, body []byte) {
		t.Helper()
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatal(err)
		}
		var walk func(v any)
		walk = func(v any) {
			switch x := v.(type) {
			case map[string]any:
				for k, e := range x {
					if _, renamed := rest.V2Names[k]; renamed {
						t.Errorf("v1 member %q in a v2 body: %s", k, body)
					}
					if k != "payload" {
						walk(e)
					}
				}
			case []any:
				for _, e := range x {
					walk(e)
				}
			}
		}
		walk(v)
	}
	var sub map[string]any
	r := alice.Post(t, v2+"/webhooks", map[string]any{"url": publicTarget, "eventTypes": []string{"chantier.created"},
		"description": "ERP"}).Expect(201)
	r.JSON(&sub)
	noV1(t, r.Body)
	if sub["eventTypes"].([]any)[0] != "chantier.created" || !strings.HasPrefix(sub["secret"].(string), webhooks.SecretPrefix) ||
		sub["userId"] == nil || sub["createdAt"] == nil {
		t.Fatalf("created %v", sub)
	}
	id := int64(sub["id"].(float64))
	path := fmt.Sprintf("%s/webhooks/%d", v2, id)
	if r.Header.Get("Location") != path {
		t.Errorf("Location %q", r.Header.Get("Location"))
	}
	alice.Post(t, v2+"/webhooks", map[string]any{"url": publicTarget, "event_types": []string{"*"}}, apitest.Invalid()).
		FieldProblem(400, "unknown-field", "event_types")
	alice.Post(t, v2+"/webhooks", map[string]any{"url": publicTarget, "eventTypes": []string{"chantier.exploded"}}, apitest.Invalid()).
		FieldProblem(422, "validation-error", "eventTypes")

	var l struct{ Data []map[string]any }
	r = admin.Get(t, fmt.Sprintf("%s/webhooks?userId=%d&fields=id,eventTypes", v2, int64(sub["userId"].(float64)))).Expect(200)
	r.JSON(&l)
	if len(l.Data) != 1 || len(l.Data[0]) != 2 || l.Data[0]["eventTypes"] == nil {
		t.Errorf("list by userId with fields: %v", l.Data)
	}
	alice.Get(t, v2+"/webhooks?user_id=1", apitest.Invalid()).Problem(400, "invalid-query")
	var got map[string]any
	r = alice.Get(t, path).Expect(200)
	r.JSON(&got)
	noV1(t, r.Body)
	if _, ok := got["secret"]; ok || got["disabledReason"] != nil || got["failingSince"] != nil {
		t.Errorf("GET %v", got)
	}
	alice.Patch(t, path, map[string]any{"eventTypes": []string{"*"}}, apitest.IfMatch(r.ETag())).Expect(200).JSON(&got)
	if got["eventTypes"].([]any)[0] != "*" || got["version"] != float64(2) {
		t.Errorf("patched %v", got)
	}
	r = alice.Post(t, path+"/rotate-secret", nil).Expect(200)
	r.JSON(&got)
	if got["previousSecretExpiresAt"] == nil || got["secret"] == sub["secret"] {
		t.Errorf("rotated %v", got)
	}

	var ping map[string]any
	r = alice.Post(t, path+"/test", nil).Expect(202)
	r.JSON(&ping)
	noV1(t, r.Body)
	if ping["eventType"] != "ping" || ping["subscriptionId"] != float64(id) || ping["messageId"] == "" || ping["attemptLog"] == nil {
		t.Fatalf("ping %v", ping)
	}
	var again map[string]any
	alice.Post(t, fmt.Sprintf("%s/deliveries/%d/redeliver", path, int64(ping["id"].(float64))), nil).Expect(202).JSON(&again)
	if again["messageId"] != ping["messageId"] {
		t.Errorf("redelivered %v of %v", again, ping)
	}
	var log struct{ Data []map[string]any }
	r = alice.Get(t, path+"/deliveries?fields=id,status,eventType,attemptLog").Expect(200)
	r.JSON(&log)
	noV1(t, r.Body)
	// The subscription takes every type: events of other subtests may be
	// in its log too, beside the one ping.
	var pings []map[string]any
	for _, d := range log.Data {
		if len(d) != 4 {
			t.Errorf("delivery %v: want the 4 members selected", d)
		}
		if d["eventType"] == "ping" {
			pings = append(pings, d)
		}
	}
	if len(pings) != 1 || pings[0]["status"] != "pending" {
		t.Errorf("delivery log %v", log.Data)
	}
	r = alice.Get(t, path+"/deliveries").Expect(200)
	noV1(t, r.Body)
	alice.Delete(t, path).Expect(204)
	alice.Get(t, path).Problem(404, "not-found")
}

// testAuthorizationsV2 lists and revokes the caller's OAuth authorizations
// through v2: clientId and clientName, the client id staying the path's.
func testAuthorizationsV2(t *testing.T, env *apitest.Env) {
	u := newPasswordUser(t, env.Server, hubapi.RoleCompagnon)
	tok, client := oauthAccessToken(t, env.URL, env.Server.OAuth(), u.Email, "chantiers:read")
	c := env.WithAuthorization("Bearer " + tok.AccessToken)
	var list struct{ Data []map[string]any }
	r := c.Get(t, v2+"/users/me/authorizations").Expect(200)
	r.JSON(&list)
	if len(list.Data) != 1 || list.Data[0]["clientId"] != client.ID || list.Data[0]["clientName"] != "Appli test" ||
		list.Data[0]["createdAt"] == nil || len(list.Data[0]) != 5 {
		t.Fatalf("authorizations %v", list.Data)
	}
	c.Get(t, v2+"/users/me/authorizations?client_id=x", apitest.Invalid()).Problem(400, "invalid-query")
	env.As(hubapi.RoleConducteur).Delete(t, v2+"/users/me/authorizations/"+client.ID).Problem(404, "not-found")
	key := env.NewKey(t, u.ID, hubapi.ScopeChantiersRead)
	env.WithKey(key).Delete(t, v2+"/users/me/authorizations/"+client.ID).Expect(204)
	c.Get(t, v2+"/users/me").Problem(401, "unauthorized")
	env.WithKey(key).Get(t, v2+"/users/me/authorizations").Expect(200).JSON(&list)
	if len(list.Data) != 0 {
		t.Errorf("after revocation %v", list.Data)
	}
}
