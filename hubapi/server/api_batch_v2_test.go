package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/server"
	"github.com/hubchantier/hubchantier/internal/apitest"
	"github.com/hubchantier/hubchantier/internal/testenv"
	"github.com/hubchantier/hubchantier/ratelimit"
)

// batchResultV2 is one result of POST /api/v2/batch.
type batchResultV2 struct {
	ID           string            `json:"id"`
	Status       int               `json:"status"`
	Headers      map[string]string `json:"headers"`
	Body         json.RawMessage   `json:"body"`
	BodyEncoding string            `json:"bodyEncoding"`
}

// sendBatchV2 posts a v2 batch (apitest validates the request and the
// batch response against the v2 document), then validates every result
// against the v2 document as the answer of its operation alone (see
// checkResultsV2).
func sendBatchV2(t *testing.T, env *apitest.Env, c *apitest.Client, batch map[string]any) []batchResultV2 {
	t.Helper()
	var out struct {
		Results []batchResultV2 `json:"results"`
	}
	r := c.Post(t, v2+"/batch", batch).Expect(200)
	r.JSON(&out)
	checkResultsV2(t, env, batch, out.Results)
	// v2 is not deprecated: neither the batch's answer nor a result says so.
	for _, h := range []string{"Deprecation", "Sunset", "X-API-Deprecation"} {
		if r.Header.Get(h) != "" {
			t.Errorf("%s on a v2 batch's answer", h)
		}
		for _, res := range out.Results {
			if res.Headers[h] != "" {
				t.Errorf("%s on result %s of a v2 batch", h, res.ID)
			}
		}
	}
	return out.Results
}

var pathRefRe = regexp.MustCompile(`\{([A-Za-z0-9_-]+)\.body\.id\}`)

// checkResultsV2 validates each result of a v2 batch against the v2
// document: a status the operation documents must be its documented
// answer (headers, media type, body schema); any other (the batch's own
// 424, 504...) must be a problem matching the Problem schema. Paths may use
// {op.body.id} references, resolved here from the results.
func checkResultsV2(t *testing.T, env *apitest.Env, batch map[string]any, rs []batchResultV2) {
	t.Helper()
	ops := batch["operations"].([]any)
	if len(rs) != len(ops) {
		t.Fatalf("%d results for %d operations", len(rs), len(ops))
	}
	byID := map[string]batchResultV2{}
	for _, r := range rs {
		byID[r.ID] = r
	}
	for i, o := range ops {
		op := o.(map[string]any)
		r := rs[i]
		unresolved := false
		path := pathRefRe.ReplaceAllStringFunc(op["path"].(string), func(m string) string {
			var v struct {
				ID int64 `json:"id"`
			}
			target := byID[pathRefRe.FindStringSubmatch(m)[1]]
			if json.Unmarshal(target.Body, &v) != nil || v.ID == 0 {
				unresolved = true
			}
			return fmt.Sprint(v.ID)
		})
		header := http.Header{}
		for k, v := range r.Headers {
			header.Set(k, v)
		}
		body := []byte(r.Body)
		if string(body) == "null" {
			body = nil
		}
		req := httptest.NewRequest(op["method"].(string), v2+path, nil)
		m, err := env.SpecV2.FindOperation(req)
		switch {
		case r.BodyEncoding != "":
			// not the operation's body but its base64 text, and without
			// the fields a batch result does not keep (Content-Disposition)
			if err != nil || !documents(m, r.Status, env) || r.BodyEncoding != "base64" {
				t.Errorf("result %s (%s %s): %d with bodyEncoding %q", r.ID, op["method"], path, r.Status, r.BodyEncoding)
			}
		case err == nil && !unresolved && documents(m, r.Status, env):
			if err := env.SpecV2.CheckResponse(req, m, r.Status, header, body); err != nil {
				t.Errorf("result %s (%s %s): %v", r.ID, op["method"], path, err)
			}
		case r.Status >= 400:
			if err := env.SpecV2.CheckProblem(r.Status, header, body); err != nil {
				t.Errorf("result %s (%s %s): %v", r.ID, op["method"], path, err)
			}
		default:
			t.Errorf("result %s (%s %s): status %d is not documented for the operation", r.ID, op["method"], path, r.Status)
		}
		if bytes.Contains(body, []byte(`"failed_operation"`)) || bytes.Contains(body, []byte(`"chantier_id"`)) {
			t.Errorf("result %s carries a v1 member: %s", r.ID, body)
		}
	}
}

// documents reports whether the matched operation documents status.
func documents(m *apitest.Match, status int, env *apitest.Env) bool {
	op := env.SpecV2.Document().Paths.Find(strings.TrimPrefix(m.Operation.Path, v2))
	if op == nil {
		return false
	}
	o := op.GetOperation(m.Operation.Method)
	return o != nil && o.Responses.Status(status) != nil
}

func statusesV2(rs []batchResultV2) string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = fmt.Sprint(r.Status)
	}
	return strings.Join(out, " ")
}

func wantStatusesV2(t *testing.T, rs []batchResultV2, want string) {
	t.Helper()
	if got := statusesV2(rs); got != want {
		for _, r := range rs {
			t.Logf("%s %d %s", r.ID, r.Status, r.Body)
		}
		t.Fatalf("statuses %s, want %s", got, want)
	}
}

func chantierOpV2(id, code string) map[string]any {
	op := map[string]any{"method": "POST", "path": "/chantiers",
		"body": map[string]any{"code": code, "name": "Chantier " + code, "location": "1 rue du Batch"}}
	if id != "" {
		op["id"] = id
	}
	return op
}

// TestBatchV2 drives POST /api/v2/batch on every test database: operations
// of v2 with v2 bodies, camelCase envelope, every response and every
// result validated against the v2 document.
func TestBatchV2(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, db *testenv.DB) {
		events := &eventLog{}
		env := apitest.Start(t, db, apitest.Config{RateLimits: apitest.LiftedRateLimits + ";POST /api/v1/batch=1000/m;POST /api/v2/batch=1000/m",
			Configure: func(c *server.Config) { c.Publisher = events }})
		admin := env.As(hubapi.RoleAdmin)

		t.Run("best effort: v2 bodies, references in a body, a path and a header, dependsOn", func(t *testing.T) {
			code := uniq("B2-")
			rs := sendBatchV2(t, env, admin, map[string]any{"operations": []any{
				chantierOpV2("site", code),
				map[string]any{"method": "POST", "path": "/signalements", "body": map[string]any{"title": "Fuite", "chantierId": map[string]any{"$ref": "site.body.id"}}},
				map[string]any{"method": "GET", "path": "/chantiers/{site.body.id}?fields=id,code,name"},
				map[string]any{"method": "PATCH", "path": "/chantiers/{site.body.id}", "headers": map[string]any{"If-Match": "{site.headers.ETag}"},
					"body": map[string]any{"name": "Renommé", "status": "en_cours"}},
				map[string]any{"id": "me", "method": "GET", "path": "/users/me", "dependsOn": []string{"op4"}},
			}})
			wantStatusesV2(t, rs, "201 201 200 200 200")
			var ch v2Chantier
			var sg struct {
				ChantierID int64  `json:"chantierId"`
				Title      string `json:"title"`
			}
			_ = json.Unmarshal(rs[0].Body, &ch)
			_ = json.Unmarshal(rs[1].Body, &sg)
			if ch.ID == 0 || sg.ChantierID != ch.ID || sg.Title != "Fuite" || rs[1].ID != "op2" {
				t.Fatalf("signalement %s, chantier %s", rs[1].Body, rs[0].Body)
			}
			if rs[0].Headers["Location"] != fmt.Sprintf("%s/chantiers/%d", v2, ch.ID) {
				t.Fatalf("Location %q", rs[0].Headers["Location"])
			}
			if got := string(rs[2].Body); !strings.Contains(got, `"name":"Chantier `+code+`"`) || strings.Contains(got, "location") || strings.Contains(got, "nom") {
				t.Fatalf("v2 fields not applied: %s", got)
			}
			var got v2Chantier
			admin.Get(t, fmt.Sprintf("%s/chantiers/%d", v2, ch.ID)).Expect(200).JSON(&got)
			if got.Name != "Renommé" || got.Status != "en_cours" || got.Version != 2 {
				t.Fatalf("after the batch: %+v", got)
			}
		})

		t.Run("an operation with a v1 member fails alone with v2's own answer", func(t *testing.T) {
			rs := sendBatchV2(t, env, admin, map[string]any{"operations": []any{
				map[string]any{"method": "POST", "path": "/chantiers", "body": map[string]any{"code": uniq("B2-"), "nom": "v1", "adresse": "1 rue"}},
				map[string]any{"method": "GET", "path": "/chantiers?limit=1&statut=ouvert"},
				map[string]any{"method": "GET", "path": "/chantiers?limit=1&status=ouvert"},
			}})
			wantStatusesV2(t, rs, "400 400 200")
			if !strings.Contains(string(rs[0].Body), "unknown-field") || !strings.Contains(string(rs[1].Body), "allowedParameters") {
				t.Fatalf("bodies %s / %s", rs[0].Body, rs[1].Body)
			}
		})

		t.Run("atomic: a failure rolls everything back (424 with failedOperation); nothing stored, no event, no outbox job", func(t *testing.T) {
			code := uniq("ATOM2-")
			before, jobsBefore := events.count(), outboxJobs(t, db)
			rs := sendBatchV2(t, env, admin, map[string]any{"atomic": true, "operations": []any{
				chantierOpV2("a", code+"-1"),
				map[string]any{"method": "GET", "path": "/chantiers/{a.body.id}"},
				map[string]any{"method": "PATCH", "path": "/chantiers/{a.body.id}", "body": map[string]any{"name": "changé"}},
				chantierOpV2("dup", code+"-1"), // same code: 409
				chantierOpV2("never", code+"-3"),
			}})
			wantStatusesV2(t, rs, "424 424 424 409 424")
			for _, i := range []int{0, 4} {
				if !strings.Contains(string(rs[i].Body), `"failedOperation":"dup"`) {
					t.Fatalf("424 body %s", rs[i].Body)
				}
			}
			if !strings.Contains(string(rs[0].Body), "rolled back") || !strings.Contains(string(rs[4].Body), "did not run") {
				t.Fatalf("424 bodies: %s / %s", rs[0].Body, rs[4].Body)
			}
			var page struct {
				Data []v2Chantier `json:"data"`
			}
			admin.Get(t, v2+"/chantiers?limit=100&sort=-id", apitest.Header("Cache-Control", "no-cache")).Expect(200).JSON(&page)
			for _, c := range page.Data {
				if strings.HasPrefix(c.Code, code) {
					t.Fatalf("rolled-back chantier visible: %+v", c)
				}
			}
			if got := events.count(); got != before {
				t.Fatalf("%d events published by a rolled-back batch", got-before)
			}
			if got := outboxJobs(t, db); got != jobsBefore {
				t.Fatalf("%d outbox jobs left by a rolled-back batch", got-jobsBefore)
			}
		})

		t.Run("atomic: a success commits every operation, reads in it see its writes", func(t *testing.T) {
			code := uniq("ATOK2-")
			before := events.count()
			rs := sendBatchV2(t, env, admin, map[string]any{"atomic": true, "operations": []any{
				chantierOpV2("a", code),
				map[string]any{"method": "POST", "path": "/affectations", "body": map[string]any{"chantierId": map[string]any{"$ref": "a.body.id"},
					"userId": env.User(hubapi.RoleCompagnon).ID, "date": "2026-03-09", "startTime": "08:00", "endTime": "17:00"}},
				map[string]any{"method": "GET", "path": "/chantiers/{a.body.id}?fields=id,name"},
			}})
			wantStatusesV2(t, rs, "201 201 200")
			if got := events.count() - before; got != 2 {
				t.Fatalf("%d events, want 2", got)
			}
			var ch v2Chantier
			_ = json.Unmarshal(rs[0].Body, &ch)
			admin.Get(t, fmt.Sprintf("%s/chantiers/%d", v2, ch.ID)).Expect(200)
		})

		t.Run("a document's content comes base64 in bodyEncoding", func(t *testing.T) {
			ch := newChantier(t, admin, nil)
			var doc struct {
				ID int64 `json:"id"`
			}
			admin.Upload(t, v2+"/documents", []apitest.Part{{Name: "chantierId", Body: []byte(fmt.Sprint(ch.ID))},
				{Name: "file", FileName: "plan.txt", ContentType: "text/plain", Body: []byte("plan")}}).Expect(201).JSON(&doc)
			rs := sendBatchV2(t, env, admin, map[string]any{"operations": []any{
				map[string]any{"method": "GET", "path": fmt.Sprintf("/documents/%d/content", doc.ID)}}})
			wantStatusesV2(t, rs, "200")
			if rs[0].BodyEncoding != "base64" || string(rs[0].Body) != `"cGxhbg=="` {
				t.Fatalf("content %s (%q)", rs[0].Body, rs[0].BodyEncoding)
			}
		})

		t.Run("a path of the other version → 400 naming the operation, nothing run", func(t *testing.T) {
			before := events.count()
			for _, tc := range []struct {
				version, path, want string
			}{
				{v2, v1 + "/chantiers", "/api/v1/chantiers is not an operation of this API version"},
				{v1, v2 + "/chantiers", "/api/v2/chantiers is not an operation of this API version"},
				{v2, v2 + "/chantiers", "write /chantiers, not /api/v2/chantiers"},
			} {
				b := map[string]any{"operations": []any{
					chantierOp("first", uniq("X-")),
					map[string]any{"id": "other", "method": "POST", "path": tc.path, "body": map[string]any{"code": uniq("X-")}},
				}}
				r := admin.Post(t, tc.version+"/batch", b, apitest.Unchecked("the document cannot say which paths are of another version"))
				p := r.Problem(400, "invalid-batch")
				var ext struct {
					Operation string `json:"operation"`
				}
				r.JSON(&ext)
				if ext.Operation != "other" || !strings.HasPrefix(p.Detail, "operation other: ") || !strings.Contains(p.Detail, tc.want) {
					t.Fatalf("%s batch with %s: %+v (operation %q)", tc.version, tc.path, p, ext.Operation)
				}
			}
			if events.count() != before {
				t.Fatal("a refused batch ran operations")
			}
		})

		t.Run("the envelope is spelt like its version: depends_on in v2, dependsOn in v1 → 400", func(t *testing.T) {
			get := map[string]any{"id": "a", "method": "GET", "path": "/users/me"}
			p := admin.Post(t, v2+"/batch", map[string]any{"operations": []any{get,
				map[string]any{"method": "GET", "path": "/users/me", "depends_on": []string{"a"}}}}, apitest.Invalid()).Problem(400, "invalid-batch")
			if !strings.Contains(p.Detail, `unknown member "depends_on"`) {
				t.Fatalf("detail %q", p.Detail)
			}
			p = admin.Post(t, v1+"/batch", map[string]any{"operations": []any{get,
				map[string]any{"method": "GET", "path": "/users/me", "dependsOn": []string{"a"}}}}, apitest.Invalid()).Problem(400, "invalid-batch")
			if !strings.Contains(p.Detail, `unknown member "dependsOn"`) {
				t.Fatalf("detail %q", p.Detail)
			}
			p = admin.Post(t, v2+"/batch", map[string]any{"operations": []any{get,
				map[string]any{"id": "b", "method": "GET", "path": "/users/me", "dependsOn": []string{"ghost"}}}},
				apitest.Unchecked("the document cannot express references between operations")).Problem(400, "invalid-batch")
			if p.Detail != `operation b: dependsOn names "ghost", no operation of this batch` {
				t.Fatalf("detail %q", p.Detail)
			}
		})

		t.Run("malformed v2 batches → 400 naming the operation", func(t *testing.T) {
			for name, tc := range map[string]struct {
				batch     map[string]any
				operation string
			}{
				"nested batch": {map[string]any{"operations": []any{map[string]any{"id": "inner", "method": "POST", "path": "/batch", "body": map[string]any{"operations": []any{}}}}}, "inner"},
				"reference cycle": {map[string]any{"operations": []any{
					map[string]any{"id": "x", "method": "GET", "path": "/chantiers/{y.body.id}"},
					map[string]any{"id": "y", "method": "GET", "path": "/chantiers/{x.body.id}"}}}, "x"},
				"unknown reference in a body": {map[string]any{"operations": []any{
					map[string]any{"id": "b", "method": "POST", "path": "/signalements", "body": map[string]any{"title": "t", "chantierId": map[string]any{"$ref": "ghost.body.id"}}}}}, "b"},
			} {
				p := admin.Post(t, v2+"/batch", tc.batch, apitest.Unchecked("the document cannot express references between operations")).Problem(400, "invalid-batch")
				if !strings.HasPrefix(p.Detail, "operation "+tc.operation+":") {
					t.Fatalf("%s: detail %q", name, p.Detail)
				}
			}
		})
	})
}

// A v2 batch is one request against POST /api/v2/batch's quota and costs
// its number of operations against the v2 batch-operations quota; v1 and
// v2 batches are counted apart, and a 429 is counted by versioned route.
func TestBatchV2RateLimits(t *testing.T) {
	env := apitest.Start(t, testenv.SQLite(t), apitest.Config{RateLimits: "POST /api/v2/batch=3/m;GET /api/v2/users/me=2/m",
		Configure: func(c *server.Config) { c.BatchOperationLimits = []ratelimit.Policy{ratelimit.PerMinute(8)} }})
	admin := env.As(hubapi.RoleAdmin)
	me := func(n int) map[string]any {
		ops := make([]any, n)
		for i := range ops {
			ops[i] = map[string]any{"method": "GET", "path": "/users/me"}
		}
		return map[string]any{"operations": ops}
	}
	wantStatusesV2(t, sendBatchV2(t, env, admin, me(5)), "200 200 200 200 200")    // 5 > GET /users/me's 2/m: not counted there
	admin.Post(t, v2+"/batch", me(4)).Problem(429, "rate-limit-exceeded")          // 5 + 4 > 8 operations
	wantStatuses(t, sendBatch(t, admin, me(7)), 200, 200, 200, 200, 200, 200, 200) // v1's operations: a quota of their own
	wantStatusesV2(t, sendBatchV2(t, env, admin, me(3)), "200 200 200")            // 8 operations
	r := admin.Post(t, v2+"/batch", me(1))                                         // 4th batch > 3/m
	r.Problem(429, "rate-limit-exceeded")
	if r.Header.Get("X-RateLimit-Limit") != "3" {
		t.Fatalf("X-RateLimit-Limit %q", r.Header.Get("X-RateLimit-Limit"))
	}
	admin.Post(t, v1+"/batch", me(1)).Expect(200) // v1 batches: their own request quota (and 7 + 1 operations)
	admin.Get(t, v2+"/users/me").Expect(200)
	var b strings.Builder
	env.Server.Metrics.WritePrometheus(&b)
	for _, want := range []string{`api_rate_limit_exceeded_total{route="/api/v2/batch (operations)"} 1`, `api_rate_limit_exceeded_total{route="/api/v2/batch"} 1`} {
		if !strings.Contains(b.String(), want+"\n") {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(b.String(), `api_rate_limit_exceeded_total{route="/api/v1/batch`) {
		t.Error("a v2 refusal counted on a v1 route")
	}
}

// The reference server's default quota of v2 batches is v1's: 10 a minute.
func TestBatchV2DefaultQuota(t *testing.T) {
	env := apitest.Start(t, testenv.SQLite(t), apitest.Config{})
	admin := env.As(hubapi.RoleAdmin)
	one := map[string]any{"operations": []any{map[string]any{"method": "GET", "path": "/users/me"}}}
	for range 10 {
		admin.Post(t, v2+"/batch", one).Expect(200)
	}
	r := admin.Post(t, v2+"/batch", one)
	r.Problem(429, "rate-limit-exceeded")
	if r.Header.Get("X-RateLimit-Limit") != "10" {
		t.Fatalf("X-RateLimit-Limit %q", r.Header.Get("X-RateLimit-Limit"))
	}
	admin.Post(t, v1+"/batch", one).Expect(200)
}
