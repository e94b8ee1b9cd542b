package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/server"
	"github.com/hubchantier/hubchantier/internal/apitest"
	"github.com/hubchantier/hubchantier/internal/testenv"
	"github.com/hubchantier/hubchantier/ratelimit"
)

// batchResult is one result of POST /batch.
type batchResult struct {
	ID      string            `json:"id"`
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers"`
	Body    json.RawMessage   `json:"body"`
}

// sendBatch posts a batch and returns its results.
func sendBatch(t *testing.T, c *apitest.Client, batch map[string]any) []batchResult {
	t.Helper()
	var out struct {
		Results []batchResult `json:"results"`
	}
	c.Post(t, v1+"/batch", batch).Expect(200).JSON(&out)
	return out.Results
}

func statuses(rs []batchResult) []int {
	out := make([]int, len(rs))
	for i, r := range rs {
		out[i] = r.Status
	}
	return out
}

func wantStatuses(t *testing.T, rs []batchResult, want ...int) {
	t.Helper()
	if fmt.Sprint(statuses(rs)) != fmt.Sprint(want) {
		for _, r := range rs {
			t.Logf("%s %d %s", r.ID, r.Status, r.Body)
		}
		t.Fatalf("statuses %v, want %v", statuses(rs), want)
	}
}

// eventLog counts the domain events the server publishes in-process.
type eventLog struct {
	mu     sync.Mutex
	events []hubapi.Event
}

func (l *eventLog) Publish(_ context.Context, e hubapi.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

func (l *eventLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.events)
}

// outboxJobs counts the event jobs recorded in the outbox.
func outboxJobs(t *testing.T, db *testenv.DB) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(context.Background(), `SELECT count(*) FROM river_job WHERE kind = 'event'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func chantierOp(id, code string) map[string]any {
	op := map[string]any{"method": "POST", "path": "/chantiers",
		"body": map[string]any{"code": code, "nom": "Chantier " + code, "adresse": "1 rue du Batch"}}
	if id != "" {
		op["id"] = id
	}
	return op
}

// TestBatch drives POST /api/v1/batch on every test database, each request
// and response validated against the OpenAPI document.
func TestBatch(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, db *testenv.DB) {
		events := &eventLog{}
		env := apitest.Start(t, db, apitest.Config{RateLimits: apitest.LiftedRateLimits + ";POST /api/v1/batch=1000/m",
			Configure: func(c *server.Config) { c.Publisher = events }})
		admin := env.As(hubapi.RoleAdmin)

		t.Run("best effort: create, reference its id in a path and a body, read it back", func(t *testing.T) {
			code := uniq("B-")
			rs := sendBatch(t, admin, map[string]any{"operations": []any{
				chantierOp("site", code),
				map[string]any{"method": "POST", "path": "/signalements", "body": map[string]any{"titre": "Fuite", "chantier_id": map[string]any{"$ref": "site.body.id"}}},
				map[string]any{"method": "GET", "path": "/chantiers/{site.body.id}?fields=id,code"},
				map[string]any{"method": "PATCH", "path": "/chantiers/{site.body.id}", "headers": map[string]any{"If-Match": "{site.headers.ETag}"},
					"body": map[string]any{"nom": "Renommé"}},
			}})
			wantStatuses(t, rs, 201, 201, 200, 200)
			var ch hubapi.Chantier
			var sg hubapi.Signalement
			_ = json.Unmarshal(rs[0].Body, &ch)
			_ = json.Unmarshal(rs[1].Body, &sg)
			if sg.ChantierID != ch.ID || rs[1].ID != "op2" {
				t.Fatalf("signalement %+v (id %s), chantier %d", sg, rs[1].ID, ch.ID)
			}
			if !strings.Contains(string(rs[2].Body), code) || strings.Contains(string(rs[2].Body), "adresse") {
				t.Fatalf("fields not applied: %s", rs[2].Body)
			}
			if rs[0].Headers["ETag"] == "" || rs[0].Headers["Location"] != fmt.Sprintf("%s/chantiers/%d", v1, ch.ID) {
				t.Fatalf("headers %v", rs[0].Headers)
			}
			var got hubapi.Chantier
			admin.Get(t, idPath("chantiers", ch.ID)).Expect(200).JSON(&got)
			if got.Nom != "Renommé" || got.Version != 2 {
				t.Fatalf("after the batch: %+v", got)
			}
		})

		t.Run("an operation the caller may not perform fails alone with its own 403", func(t *testing.T) {
			compagnon := env.As(hubapi.RoleCompagnon)
			rs := sendBatch(t, compagnon, map[string]any{"operations": []any{
				map[string]any{"method": "GET", "path": "/users/me"},
				chantierOp("", uniq("B-")),
				map[string]any{"method": "GET", "path": "/admin/api-keys"},
				map[string]any{"method": "GET", "path": "/chantiers?limit=1"},
			}})
			wantStatuses(t, rs, 200, 403, 403, 200)
			if !strings.Contains(string(rs[1].Body), "chantiers:write") || !strings.Contains(rs[1].Headers["WWW-Authenticate"], "insufficient_scope") {
				t.Fatalf("403 body %s, headers %v", rs[1].Body, rs[1].Headers)
			}
		})

		t.Run("a stale If-Match fails its operation with 412; a missing one on a precondition route is its own answer", func(t *testing.T) {
			ch := newChantier(t, admin, nil)
			rs := sendBatch(t, admin, map[string]any{"operations": []any{
				map[string]any{"method": "PATCH", "path": fmt.Sprintf("/chantiers/%d", ch.ID), "headers": map[string]any{"If-Match": `"v99"`}, "body": map[string]any{"nom": "x"}},
				map[string]any{"method": "DELETE", "path": fmt.Sprintf("/chantiers/%d", ch.ID), "headers": map[string]any{"If-Match": fmt.Sprintf(`"v%d"`, ch.Version)}},
			}})
			wantStatuses(t, rs, 412, 204)
			admin.Get(t, idPath("chantiers", ch.ID)).Expect(404)
		})

		t.Run("best effort: a failed operation fails the ones that depend on it (424), not the others", func(t *testing.T) {
			code := uniq("B-")
			rs := sendBatch(t, admin, map[string]any{"operations": []any{
				map[string]any{"id": "bad", "method": "POST", "path": "/chantiers", "body": map[string]any{"code": code}},
				chantierOp("good", uniq("B-")),
				map[string]any{"method": "GET", "path": "/chantiers/{bad.body.id}"},
				map[string]any{"method": "GET", "path": "/chantiers/{good.body.id}", "depends_on": []string{"good"}},
			}})
			wantStatuses(t, rs, 422, 201, 424, 200)
		})

		t.Run("atomic: a failure rolls everything back; no event, no outbox job, no cache change", func(t *testing.T) {
			code := uniq("ATOM-")
			listPath := v1 + "/chantiers?limit=100&sort=-id"
			admin.Get(t, listPath).Expect(200)
			if got := admin.Get(t, listPath).Expect(200).Header.Get("Cache-Status"); got != "hubchantier; hit" {
				t.Fatalf("list not cached before the batch: %q", got)
			}
			before, jobsBefore := events.count(), outboxJobs(t, db)
			rs := sendBatch(t, admin, map[string]any{"atomic": true, "operations": []any{
				chantierOp("a", code+"-1"),
				map[string]any{"method": "GET", "path": "/chantiers/{a.body.id}"},
				map[string]any{"method": "PATCH", "path": "/chantiers/{a.body.id}", "body": map[string]any{"nom": "changé"}},
				chantierOp("dup", code+"-1"), // same code: 409
				chantierOp("never", code+"-3"),
			}})
			wantStatuses(t, rs, 424, 424, 424, 409, 424)
			if !strings.Contains(string(rs[0].Body), "rolled back") || !strings.Contains(string(rs[4].Body), "did not run") {
				t.Fatalf("424 bodies: %s / %s", rs[0].Body, rs[4].Body)
			}
			var page struct {
				Data []hubapi.Chantier `json:"data"`
			}
			admin.Get(t, v1+"/chantiers?limit=100&sort=-id", apitest.Header("Cache-Control", "no-cache")).Expect(200).JSON(&page)
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
			if got := admin.Get(t, listPath).Expect(200).Header.Get("Cache-Status"); got != "hubchantier; hit" {
				t.Fatalf("the cached list changed: Cache-Status %q", got)
			}
		})

		// On PostgreSQL the creations of an atomic batch are written
		// together, later; the answers must be those of writing each at
		// once (SQLite's path), wherever the failing write is found.
		t.Run("atomic: a conflict among creations written together fails its own operation, whenever it is found", func(t *testing.T) {
			code := uniq("ATDEF-")
			existing := newChantier(t, admin, nil)
			before, jobsBefore := events.count(), outboxJobs(t, db)
			cases := []struct {
				name string
				ops  []any
				want []int
			}{
				{"found at the commit", []any{chantierOp("a", code+"-1"), chantierOp("b", code+"-2"),
					chantierOp("dup", code+"-1"), chantierOp("never", code+"-4")}, []int{424, 424, 409, 424}},
				{"found before a read", []any{chantierOp("a", code+"-1"), chantierOp("dup", code+"-1"),
					map[string]any{"method": "GET", "path": "/chantiers?limit=1"}}, []int{424, 409, 424}},
				{"against a committed row", []any{chantierOp("a", code+"-1"), chantierOp("dup", existing.Code),
					chantierOp("never", code+"-3")}, []int{424, 409, 424}},
			}
			single := admin.Post(t, v1+"/chantiers", map[string]any{"code": existing.Code, "nom": "n", "adresse": "a"}).Expect(409).Body
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					rs := sendBatch(t, admin, map[string]any{"atomic": true, "operations": tc.ops})
					wantStatuses(t, rs, tc.want...)
					failed := slices.Index(tc.want, 409)
					if string(rs[failed].Body) != strings.TrimSpace(string(single)) {
						t.Fatalf("the failed operation answers %s, alone it answers %s", rs[failed].Body, single)
					}
					for i, r := range rs {
						verb := "was rolled back"
						if i > failed {
							verb = "did not run"
						}
						if i != failed && !strings.Contains(string(r.Body), verb) {
							t.Fatalf("result %d: %s, want %q", i, r.Body, verb)
						}
					}
				})
			}
			var page struct {
				Data []hubapi.Chantier `json:"data"`
			}
			admin.Get(t, v1+"/chantiers?limit=100&sort=-id", apitest.Header("Cache-Control", "no-cache")).Expect(200).JSON(&page)
			for _, c := range page.Data {
				if strings.HasPrefix(c.Code, code) {
					t.Fatalf("rolled-back chantier visible: %+v", c)
				}
			}
			if events.count() != before || outboxJobs(t, db) != jobsBefore {
				t.Fatalf("rolled-back batches left %d events and %d outbox jobs", events.count()-before, outboxJobs(t, db)-jobsBefore)
			}
		})

		t.Run("atomic: creations of several resources written together answer what a read after the commit finds", func(t *testing.T) {
			code := uniq("ATMIX-")
			ops := []any{chantierOp("c1", code+"-1"), chantierOp("c2", code+"-2"),
				map[string]any{"id": "s1", "method": "POST", "path": "/signalements", "body": map[string]any{"titre": "Fuite", "chantier_id": map[string]any{"$ref": "c2.body.id"}}},
				chantierOp("c3", code+"-3"),
				map[string]any{"id": "s2", "method": "POST", "path": "/signalements", "body": map[string]any{"titre": "Chute", "chantier_id": map[string]any{"$ref": "c3.body.id"}}},
			}
			rs := sendBatch(t, admin, map[string]any{"atomic": true, "operations": ops})
			wantStatuses(t, rs, 201, 201, 201, 201, 201)
			ids := map[string]bool{}
			for _, r := range rs {
				var created struct {
					ID int64 `json:"id"`
				}
				_ = json.Unmarshal(r.Body, &created)
				loc := r.Headers["Location"]
				if created.ID == 0 || ids[loc] || !strings.HasSuffix(loc, fmt.Sprintf("/%d", created.ID)) {
					t.Fatalf("result %s: id %d, Location %q", r.ID, created.ID, loc)
				}
				ids[loc] = true
				res := admin.Get(t, loc).Expect(200)
				if strings.TrimSpace(string(res.Body)) != string(r.Body) || res.Header.Get("ETag") != r.Headers["ETag"] {
					t.Fatalf("%s: the batch answered %s (ETag %s), a read finds %s (ETag %s)", r.ID, r.Body, r.Headers["ETag"], res.Body, res.Header.Get("ETag"))
				}
			}
		})

		t.Run("atomic: a success commits every operation, then publishes their events and invalidates the cache", func(t *testing.T) {
			code := uniq("ATOK-")
			listPath := v1 + "/chantiers?limit=5&sort=-id"
			admin.Get(t, listPath).Expect(200)
			before, jobsBefore := events.count(), outboxJobs(t, db)
			rs := sendBatch(t, admin, map[string]any{"atomic": true, "parallel": true, "operations": []any{
				chantierOp("a", code+"-1"),
				chantierOp("b", code+"-2"),
				map[string]any{"method": "PATCH", "path": "/chantiers/{a.body.id}", "body": map[string]any{"nom": "changé"}},
				map[string]any{"method": "GET", "path": "/chantiers/{a.body.id}"},
			}})
			wantStatuses(t, rs, 201, 201, 200, 200)
			if !strings.Contains(string(rs[3].Body), "changé") {
				t.Fatalf("a read in the transaction does not see its writes: %s", rs[3].Body)
			}
			if got := events.count() - before; got != 3 {
				t.Fatalf("%d events, want 3", got)
			}
			if got := outboxJobs(t, db) - jobsBefore; got != 3 {
				t.Fatalf("%d outbox jobs, want 3", got)
			}
			if got := admin.Get(t, listPath).Expect(200).Header.Get("Cache-Status"); got == "hubchantier; hit" {
				t.Fatal("the cached list survived the batch's commit")
			}
		})

		t.Run("parallel: independent operations all run; depends_on orders the others", func(t *testing.T) {
			var ops []any
			for i := range 8 {
				ops = append(ops, chantierOp(fmt.Sprintf("c%d", i), uniq("PAR-")))
			}
			ops = append(ops, map[string]any{"method": "DELETE", "path": "/chantiers/{c0.body.id}", "depends_on": []string{"c7"}})
			ops = append(ops, map[string]any{"method": "GET", "path": "/chantiers/{c0.body.id}", "depends_on": []string{"op9"}})
			rs := sendBatch(t, admin, map[string]any{"parallel": true, "operations": ops})
			wantStatuses(t, rs, 201, 201, 201, 201, 201, 201, 201, 201, 204, 404)
		})

		t.Run("malformed batches → 400 naming the operation", func(t *testing.T) {
			get := func(id string) map[string]any { return map[string]any{"id": id, "method": "GET", "path": "/users/me"} }
			var many []any
			for i := range 101 {
				many = append(many, get(fmt.Sprintf("g%d", i)))
			}
			cases := []struct {
				name      string
				batch     map[string]any
				operation string
				invalid   bool // the document rejects it too
			}{
				{"nested batch", map[string]any{"operations": []any{get("a"), map[string]any{"id": "inner", "method": "POST", "path": "/batch", "body": map[string]any{"operations": []any{}}}}}, "inner", false},
				{"101 operations", map[string]any{"operations": many}, "g100", true},
				{"reference cycle", map[string]any{"operations": []any{
					map[string]any{"id": "x", "method": "GET", "path": "/chantiers/{y.body.id}"},
					map[string]any{"id": "y", "method": "GET", "path": "/chantiers/{x.body.id}"}}}, "x", false},
				{"reference to a later operation", map[string]any{"operations": []any{
					map[string]any{"id": "early", "method": "GET", "path": "/chantiers/{late.body.id}"}, get("late")}}, "early", false},
				{"unknown reference", map[string]any{"operations": []any{
					get("a"), map[string]any{"id": "b", "method": "POST", "path": "/signalements", "body": map[string]any{"titre": "t", "chantier_id": map[string]any{"$ref": "ghost.body.id"}}}}}, "b", false},
				{"credential header", map[string]any{"operations": []any{
					map[string]any{"id": "h", "method": "GET", "path": "/users/me", "headers": map[string]any{"Authorization": "Bearer other"}}}}, "h", false},
				{"path outside the API", map[string]any{"operations": []any{
					map[string]any{"id": "p", "method": "GET", "path": "/../healthz"}}}, "p", false},
			}
			raw := []struct{ name, body, operation, detail string }{
				{"operations twice", `{"atomic":true,"operations":[{"method":"DELETE","path":"/chantiers/1"}],"operations":[{"method":"GET","path":"/users/me"}]}`, "", `"operations" appears more than once`},
				{"a member twice in an operation", `{"operations":[{"id":"d","method":"GET","path":"/users/me","path":"/chantiers"}]}`, "d", `"path" appears more than once`},
				{"a header twice", `{"operations":[{"id":"h","method":"GET","path":"/users/me","headers":{"If-None-Match":"*","if-none-match":"\"v1\""}}]}`, "h", `header "if-none-match" appears more than once`},
			}
			for _, tc := range raw {
				t.Run(tc.name, func(t *testing.T) {
					p := admin.Post(t, v1+"/batch", nil, apitest.Raw("application/json", []byte(tc.body)),
						apitest.Unchecked("the document cannot express duplicate members")).Problem(400, "invalid-batch")
					names := strings.HasPrefix(p.Detail, "operation ")
					if names != (tc.operation != "") || (names && !strings.HasPrefix(p.Detail, "operation "+tc.operation+": ")) || !strings.Contains(p.Detail, tc.detail) {
						t.Fatalf("detail %q, want operation %q and %q", p.Detail, tc.operation, tc.detail)
					}
				})
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					opt := apitest.Unchecked("the document cannot express references between operations")
					if tc.invalid {
						opt = apitest.Invalid()
					}
					p := admin.Post(t, v1+"/batch", tc.batch, opt).Problem(400, "invalid-batch")
					if !strings.Contains(p.Detail, "operation "+tc.operation+":") {
						t.Fatalf("detail %q does not name operation %s", p.Detail, tc.operation)
					}
				})
			}
		})
	})
}

// The batch is one request against POST /batch's quota, and costs its
// number of operations against the batch-operations quota; its operations
// do not count against their own routes.
func TestBatchRateLimits(t *testing.T) {
	db := testenv.SQLite(t)
	env := apitest.Start(t, db, apitest.Config{RateLimits: "POST /api/v1/batch=3/m;GET /api/v1/users/me=2/m",
		Configure: func(c *server.Config) { c.BatchOperationLimits = []ratelimit.Policy{ratelimit.PerMinute(8)} }})
	admin := env.As(hubapi.RoleAdmin)
	me := func(n int) map[string]any {
		ops := make([]any, n)
		for i := range ops {
			ops[i] = map[string]any{"method": "GET", "path": "/users/me"}
		}
		return map[string]any{"operations": ops}
	}
	wantStatuses(t, sendBatch(t, admin, me(5)), 200, 200, 200, 200, 200)  // 5 > GET /users/me's 2/m: not counted there
	admin.Post(t, v1+"/batch", me(4)).Problem(429, "rate-limit-exceeded") // 5 + 4 > 8 operations
	wantStatuses(t, sendBatch(t, admin, me(3)), 200, 200, 200)            // 8 operations
	admin.Post(t, v1+"/batch", me(1)).Problem(429, "rate-limit-exceeded") // 4th batch > 3/m
	admin.Get(t, v1+"/users/me").Expect(200)
}
