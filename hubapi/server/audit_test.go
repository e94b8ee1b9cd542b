package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"github.com/hubchantier/hubchantier/audit"
	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/internal/apitest"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

var routeVar = regexp.MustCompile(`\{[^}]*\}`)

// flushAudit appends what the server's audit writer holds.
func flushAudit(t *testing.T, env *apitest.Env) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := env.Server.AuditWriter.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestEveryRouteLeavesAnAuditEvent enumerates the server's router and sends
// one request to each route and method, without credentials: every one
// (refused or not) leaves an event with its method and route template.
func TestEveryRouteLeavesAnAuditEvent(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, db *testenv.DB) {
		env := apitest.Start(t, db, apitest.Config{})
		type sent struct{ method, route string }
		var all []sent
		err := env.Server.Router.Walk(func(r *mux.Route, _ *mux.Router, _ []*mux.Route) error {
			tpl, err := r.GetPathTemplate()
			if err != nil || tpl == "/healthz" || tpl == "/readyz" {
				return nil
			}
			if r.GetHandler() == nil {
				return nil // a subrouter's prefix
			}
			methods, err := r.GetMethods()
			if err != nil {
				methods = []string{http.MethodGet}
			}
			for _, m := range methods {
				all = append(all, sent{m, tpl})
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(all) < 50 {
			t.Fatalf("only %d routes found", len(all))
		}
		for _, s := range all {
			path := routeVar.ReplaceAllString(s.route, "1")
			req, _ := http.NewRequest(s.method, env.URL+path, strings.NewReader("{}"))
			req.Header.Set("Content-Type", "application/json")
			if s.route == "/graphql" && s.method != http.MethodPost {
				req.Header.Set("Accept", "text/html") // the playground's route matches browsers only
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", s.method, path, err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
		flushAudit(t, env)
		evs, _, err := env.Server.Audit.List(context.Background(), audit.Filter{}, audit.Page{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		seen := map[sent]bool{}
		for _, e := range evs {
			seen[sent{e.Method, e.Route}] = true
		}
		for _, s := range all {
			if !seen[s] {
				t.Errorf("%s %s left no audit event", s.method, s.route)
			}
		}

	})
}

// TestAuditOfAChange checks a mutation's two events: the change (written in
// its transaction, with before and after) and the response, both with the
// actor, route and request id; and a refused request's event.
func TestAuditOfAChange(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, db *testenv.DB) {
		env := apitest.Start(t, db, apitest.Config{RateLimits: apitest.LiftedRateLimits})
		c := env.As(hubapi.RoleAdmin)
		ch := newChantier(t, c, nil)
		patched := c.Patch(t, idPath("chantiers", ch.ID), map[string]any{"nom": "Renommé"}, apitest.ContentType("application/merge-patch+json")).Expect(200)
		env.As(hubapi.RoleCompagnon).Delete(t, idPath("chantiers", ch.ID)).Expect(403)
		flushAudit(t, env)
		ctx := context.Background()
		evs, _, err := env.Server.Audit.List(ctx, audit.Filter{ResourceType: "chantiers"}, audit.Page{})
		if err != nil {
			t.Fatal(err)
		}
		var change, response *audit.Event
		for i := range evs {
			e := &evs[i]
			if e.Action == "update_chantier" && e.Stage == audit.StageChange {
				change = e
			}
			if e.Action == "update_chantier" && e.Stage == audit.StageResponse {
				response = e
			}
		}
		if change == nil || response == nil {
			t.Fatalf("events of the update: change %v, response %v", change, response)
		}
		if !strings.Contains(change.Changes, `"Renommé"`) || !strings.Contains(change.Changes, `"before":{`) || !strings.Contains(change.Changes, `"Chantier de test"`) {
			t.Errorf("changes %s", change.Changes)
		}
		if change.RequestID == "" || change.RequestID != response.RequestID || change.RequestID != patched.Header.Get("X-Request-Id") {
			t.Errorf("request ids: change %q response %q header %q", change.RequestID, response.RequestID, patched.Header.Get("X-Request-Id"))
		}
		if change.UserID == 0 || change.APIKeyID == 0 || response.UserID != change.UserID {
			t.Errorf("actor: change user %d key %d, response user %d", change.UserID, change.APIKeyID, response.UserID)
		}
		if response.Route != "/api/v1/chantiers/{id}" || response.Status != 200 || response.Method != "PATCH" || response.BodySHA256 == "" {
			t.Errorf("response event %+v", response)
		}
		refused, _, err := env.Server.Audit.List(ctx, audit.Filter{Status: 403}, audit.Page{})
		if err != nil || len(refused) == 0 || refused[0].Route != "/api/v1/chantiers/{id}" || refused[0].Method != "DELETE" || refused[0].UserID == 0 {
			t.Fatalf("refused delete: %+v, err %v", refused, err)
		}
		if b, err := env.Server.Audit.Verify(ctx, time.Time{}, time.Time{}, ""); err != nil || b != nil {
			t.Fatalf("verify: %v %v", b, err)
		}
	})
}

// auditPage is the body of GET /admin/audit-logs.
type auditPage struct {
	Data       []audit.Event `json:"data"`
	Pagination struct {
		NextCursor *string `json:"next_cursor"`
		HasMore    bool    `json:"has_more"`
	} `json:"pagination"`
}

func TestAdminAuditLogs(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, db *testenv.DB) {
		env := apitest.Start(t, db, apitest.Config{RateLimits: apitest.LiftedRateLimits})
		admin := env.As(hubapi.RoleAdmin)
		for range 3 {
			newChantier(t, admin, nil)
		}
		admin.Get(t, v1+"/admin/api-keys").Expect(200)
		flushAudit(t, env)

		var first auditPage
		r := admin.Get(t, v1+"/admin/audit-logs?action=create_chantier&limit=2").Expect(200).JSON(&first)
		if r.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("Cache-Control %q", r.Header.Get("Cache-Control"))
		}
		if len(first.Data) != 2 || !first.Pagination.HasMore || first.Pagination.NextCursor == nil {
			t.Fatalf("first page: %d events, has_more %v", len(first.Data), first.Pagination.HasMore)
		}
		var rest auditPage
		admin.Get(t, v1+"/admin/audit-logs?action=create_chantier&limit=2&cursor="+*first.Pagination.NextCursor).Expect(200).JSON(&rest)
		// each creation left a change event and a response event
		if n := len(first.Data) + len(rest.Data); n != 4 && !rest.Pagination.HasMore {
			t.Errorf("pages hold %d events of creations", n)
		}
		seen := map[int64]bool{}
		for _, e := range append(first.Data, rest.Data...) {
			if seen[e.ID] || e.Action != "create_chantier" {
				t.Errorf("event %d (%s) repeated or unfiltered", e.ID, e.Action)
			}
			seen[e.ID] = true
		}
		var keys auditPage
		admin.Get(t, v1+"/admin/audit-logs?action=read_api_keys").Expect(200).JSON(&keys)
		if len(keys.Data) != 1 || keys.Data[0].Route != "/api/v1/admin/api-keys" || keys.Data[0].UserID != env.User(hubapi.RoleAdmin).ID {
			t.Errorf("reading key metadata: %+v", keys.Data)
		}

		// meta-audit: every read of the trail is itself recorded, durably
		var meta auditPage
		admin.Get(t, v1+"/admin/audit-logs?action=read_audit_logs&stage=access&limit=100", apitest.Invalid()).Expect(400)
		admin.Get(t, v1+"/admin/audit-logs?action=read_audit_logs&limit=100").Expect(200).JSON(&meta)
		if len(meta.Data) < 4 { // the three reads above and this one
			t.Fatalf("%d read_audit_logs events", len(meta.Data))
		}
		if e := meta.Data[0]; e.Stage != audit.StageAccess || e.UserID != env.User(hubapi.RoleAdmin).ID || !strings.Contains(e.Changes, "read_audit_logs") {
			t.Errorf("meta-audit event %+v", e)
		}

		env.As(hubapi.RoleConducteur).Get(t, v1+"/admin/audit-logs").Expect(403)
		admin.Get(t, v1+"/admin/audit-logs?status=42", apitest.Invalid()).Expect(400)
		admin.Get(t, v1+"/admin/audit-logs?from=2026-12-02&to=2026-12-01", apitest.Unchecked("from after to: a rule between two parameters")).Expect(400)
		admin.Get(t, v1+"/admin/audit-logs?cursor=forged", apitest.Unchecked("a cursor the server did not seal")).Expect(400)
	})
}

// A batch leaves its own event and one per operation, each with its route
// and status, under the batch's request id.
func TestBatchOperationsAreAuditedOneByOne(t *testing.T) {
	env := apitest.Start(t, testenv.SQLite(t), apitest.Config{RateLimits: apitest.LiftedRateLimits})
	rs := sendBatch(t, env.As(hubapi.RoleAdmin), map[string]any{"operations": []any{
		map[string]any{"method": "GET", "path": "/users/me"},
		map[string]any{"method": "POST", "path": "/chantiers", "body": map[string]any{"code": uniq("B-"), "nom": "N", "adresse": "A"}},
	}})
	wantStatuses(t, rs, 200, 201)
	flushAudit(t, env)
	evs, _, err := env.Server.Audit.List(context.Background(), audit.Filter{Stage: audit.StageResponse}, audit.Page{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	byRoute := map[string]audit.Event{}
	for _, e := range evs {
		byRoute[e.Method+" "+e.Route] = e
	}
	batch, me, create := byRoute["POST /api/v1/batch"], byRoute["GET /api/v1/users/me"], byRoute["POST /api/v1/chantiers"]
	if batch.ID == 0 || me.ID == 0 || create.ID == 0 {
		t.Fatalf("events: batch %d, me %d, create %d", batch.ID, me.ID, create.ID)
	}
	if me.RequestID != batch.RequestID || create.RequestID != batch.RequestID || create.Status != 201 || create.Action != "create_chantier" ||
		me.UserID != env.User(hubapi.RoleAdmin).ID {
		t.Errorf("operations' events: %+v / %+v (batch %s)", me, create, batch.RequestID)
	}
}

// TestGraphQLOperationsAreAudited checks that each GraphQL operation's
// event names it (graphql_query or graphql_mutation, resource "graphql",
// the operation's name or its root fields), over POST and GET, a refused
// operation included, and that a mutation's use cases add their change
// events beside it.
func TestGraphQLOperationsAreAudited(t *testing.T) {
	env := apitest.Start(t, testenv.SQLite(t), apitest.Config{RateLimits: apitest.LiftedRateLimits})
	admin := env.Key(hubapi.RoleAdmin)
	if r := gql(t, env, admin, `query ChantierList { chantiers(first: 1) { nodes { id } } }`, nil); r.Status != 200 || len(r.Errors) > 0 {
		t.Fatalf("named query: %d %s", r.Status, r.Raw)
	}
	if r := gqlDo(t, env, admin, http.MethodGet, map[string]any{"query": `{ me { id } chantiers(first: 1) { nodes { id } } }`}); r.Status != 200 || len(r.Errors) > 0 {
		t.Fatalf("anonymous GET query: %d %s", r.Status, r.Raw)
	}
	r := gql(t, env, admin, `mutation Open($in: ChantierInput!) { createChantier(input: $in) { id } }`,
		map[string]any{"in": map[string]any{"code": uniq("GQ-"), "nom": "N", "adresse": "A"}})
	if r.Status != 200 || len(r.Errors) > 0 {
		t.Fatalf("mutation: %d %s", r.Status, r.Raw)
	}
	deep := `{ pointages { edges { node { chantier { responsable { nom } } } } } }`
	if r := gql(t, env, admin, deep, nil); r.Status == 200 || r.code(0) != "DEPTH_LIMIT_EXCEEDED" {
		t.Fatalf("a query over the depth limit ran: %s", r.Raw)
	}
	flushAudit(t, env)
	evs, _, err := env.Server.Audit.List(context.Background(), audit.Filter{ResourceType: "graphql"}, audit.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]audit.Event{}
	for _, e := range evs {
		got[e.Action+" "+e.ResourceID] = e
	}
	for _, want := range []string{
		"graphql_query ChantierList", "graphql_query me,chantiers", "graphql_mutation Open", "graphql_query pointages",
	} {
		e, ok := got[want]
		if !ok {
			t.Errorf("no event %q among %v", want, got)
			continue
		}
		if e.Stage != audit.StageResponse || e.Route != "/graphql" || e.UserID != env.User(hubapi.RoleAdmin).ID {
			t.Errorf("%s: %+v", want, e)
		}
	}
	if e := got["graphql_query pointages"]; e.Status == 200 && e.ID != 0 {
		t.Errorf("the refused operation's event has status %d", e.Status)
	}
	changes, _, err := env.Server.Audit.List(context.Background(), audit.Filter{Action: "create_chantier", Stage: audit.StageChange}, audit.Page{})
	if err != nil || len(changes) != 1 || changes[0].RequestID != got["graphql_mutation Open"].RequestID {
		t.Fatalf("the mutation's change event: %+v (err %v)", changes, err)
	}
}

// TestRateLimitedRequestIsAudited checks that a request refused by a quota
// (429, before authentication's use cases run) leaves its event with the
// actor, the route and the status.
func TestRateLimitedRequestIsAudited(t *testing.T) {
	env := apitest.Start(t, testenv.SQLite(t), apitest.Config{RateLimits: apitest.LiftedRateLimits + ";GET /api/v1/users/me=1/m"})
	admin := env.As(hubapi.RoleAdmin)
	admin.Get(t, v1+"/users/me").Expect(200)
	refused := admin.Get(t, v1+"/users/me").Expect(429)
	flushAudit(t, env)
	evs, _, err := env.Server.Audit.List(context.Background(), audit.Filter{Status: 429}, audit.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 {
		t.Fatalf("%d events with status 429, want 1: %+v", len(evs), evs)
	}
	e := evs[0]
	if e.Route != "/api/v1/users/me" || e.Method != "GET" || e.UserID != env.User(hubapi.RoleAdmin).ID || e.APIKeyID == 0 ||
		e.RequestID != refused.Header.Get("X-Request-Id") {
		t.Errorf("the 429's event: %+v", e)
	}
}

// An atomic batch's change events and event jobs are written together in
// its transaction (copied on PostgreSQL): after a batch of 12 creates, the
// chain holds 12 change events of the batch's request, the chain verifies,
// and 12 event jobs name the 12 chantiers created.
func TestAtomicBatchWritesItsEventsInItsTransaction(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		env := apitest.Start(t, tdb, apitest.Config{RateLimits: apitest.LiftedRateLimits})
		ops := make([]any, 12)
		for i := range ops {
			ops[i] = map[string]any{"method": "POST", "path": "/chantiers", "body": map[string]any{"code": uniq("TX-"), "nom": "N", "adresse": "A"}}
		}
		rs := sendBatch(t, env.As(hubapi.RoleAdmin), map[string]any{"atomic": true, "operations": ops})
		ids := map[string]bool{}
		for _, r := range rs {
			var c struct {
				ID int64 `json:"id"`
			}
			if r.Status != 201 || json.Unmarshal(r.Body, &c) != nil || c.ID == 0 {
				t.Fatalf("operation %s: %d %s", r.ID, r.Status, r.Body)
			}
			ids[strconv.FormatInt(c.ID, 10)] = true
		}
		ctx := context.Background()
		evs, _, err := env.Server.Audit.List(ctx, audit.Filter{Stage: audit.StageChange, Action: "create_chantier"}, audit.Page{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, e := range evs {
			if ids[e.ResourceID] {
				got[e.ResourceID] = true
			}
		}
		if len(got) != len(ids) {
			t.Errorf("change events for %d of the %d chantiers", len(got), len(ids))
		}
		if brk, err := env.Server.Audit.Verify(ctx, time.Time{}, time.Time{}, ""); err != nil || brk != nil {
			t.Fatalf("verify: %+v %v", brk, err)
		}
		var jobs []string
		args := "args::text"
		if tdb.Name == "sqlite" {
			args = "json(args)" // River keeps SQLite's binary JSONB
		}
		if err := tdb.NewSelect().TableExpr("river_job").ColumnExpr(args).Where("kind = 'event'").Scan(ctx, &jobs); err != nil {
			t.Fatal(err)
		}
		jobbed := map[string]bool{}
		for _, a := range jobs {
			var e struct {
				Type       string `json:"type"`
				ResourceID int64  `json:"resource_id"`
				Data       struct {
					Nom string `json:"nom"`
				} `json:"data"`
			}
			if err := json.Unmarshal([]byte(a), &e); err != nil {
				t.Fatalf("job args %s: %v", a, err)
			}
			if id := strconv.FormatInt(e.ResourceID, 10); ids[id] && e.Type == "chantier.created" && e.Data.Nom == "N" {
				jobbed[id] = true
			}
		}
		if len(jobbed) != len(ids) {
			t.Errorf("event jobs for %d of the %d chantiers", len(jobbed), len(ids))
		}
	})
}
