package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/server"
	"github.com/hubchantier/hubchantier/internal/apitest"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

// gqlResponse is a GraphQL response.
type gqlResponse struct {
	Status int
	Header http.Header
	Data   map[string]json.RawMessage
	Errors []struct {
		Message    string         `json:"message"`
		Path       []any          `json:"path"`
		Extensions map[string]any `json:"extensions"`
	}
	Extensions struct {
		Cost struct {
			Requested, Actual, Complexity int64
			Remaining                     *int64
		} `json:"cost"`
	} `json:"extensions"`
	Raw []byte
}

func (r *gqlResponse) code(i int) string {
	if i >= len(r.Errors) {
		return ""
	}
	c, _ := r.Errors[i].Extensions["code"].(string)
	return c
}

// gqlDo sends one GraphQL request over HTTP with key (none when empty).
func gqlDo(t *testing.T, env *apitest.Env, key, method string, body map[string]any) *gqlResponse {
	t.Helper()
	var req *http.Request
	var err error
	if method == http.MethodGet {
		q := url.Values{}
		for k, v := range body {
			switch v := v.(type) {
			case string:
				q.Set(k, v)
			default:
				b, _ := json.Marshal(v)
				q.Set(k, string(b))
			}
		}
		req, err = http.NewRequest(http.MethodGet, env.URL+"/graphql?"+q.Encode(), nil)
	} else {
		b, _ := json.Marshal(body)
		req, err = http.NewRequest(method, env.URL+"/graphql", bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
	}
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/graphql-response+json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := &gqlResponse{Status: res.StatusCode, Header: res.Header, Raw: raw}
	if strings.Contains(res.Header.Get("Content-Type"), "json") {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("decode %s: %v", raw, err)
		}
	}
	return out
}

func gql(t *testing.T, env *apitest.Env, key, query string, vars map[string]any) *gqlResponse {
	t.Helper()
	body := map[string]any{"query": query}
	if vars != nil {
		body["variables"] = vars
	}
	return gqlDo(t, env, key, http.MethodPost, body)
}

// sqlCounter counts the statements a database runs for requests (their
// context carries the caller's principal) while it is on, but the audit
// trail's: background work (event and periodic jobs, the audit writer)
// runs at its own pace and is not counted.
type sqlCounter struct {
	on    atomic.Bool
	count atomic.Int64
}

func (c *sqlCounter) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context { return ctx }
func (c *sqlCounter) AfterQuery(ctx context.Context, e *bun.QueryEvent) {
	if c.on.Load() && hubapi.PrincipalFrom(ctx) != nil && !strings.Contains(e.Query, "audit_") {
		c.count.Add(1)
	}
}

// during returns the statements fn runs.
func (c *sqlCounter) during(fn func()) int64 {
	c.count.Store(0)
	c.on.Store(true)
	fn()
	c.on.Store(false)
	return c.count.Load()
}

// startGraphQL starts a server on db with a statement counter.
func startGraphQL(t *testing.T, db *testenv.DB, cfg apitest.Config) (*apitest.Env, *sqlCounter) {
	t.Helper()
	c := &sqlCounter{}
	hooked := *db
	hooked.DB = db.DB.WithQueryHook(c)
	return apitest.Start(t, &hooked, cfg), c
}

// seedChantiers creates n chantiers whose responsables cycle through
// users.
func seedChantiers(t *testing.T, env *apitest.Env, n int, users []*hubapi.User) []*hubapi.Chantier {
	t.Helper()
	admin := env.User(hubapi.RoleAdmin)
	ctx := hubapi.WithPrincipal(context.Background(), &hubapi.Principal{UserID: admin.ID, Role: hubapi.RoleAdmin, Scopes: hubapi.AllScopes})
	out := make([]*hubapi.Chantier, n)
	for i := range n {
		in := hubapi.ChantierInput{Code: uniq("GQ-"), Nom: fmt.Sprintf("Chantier %d", i), Adresse: "1 rue de la Paix", Ville: "Lyon"}
		if len(users) > 0 {
			id := users[i%len(users)].ID
			in.ResponsableID = &id
		}
		c, err := env.Server.Service.CreateChantier(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = c
	}
	return out
}

func TestGraphQL(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, db *testenv.DB) {
		env, sql := startGraphQL(t, db, apitest.Config{RateLimits: apitest.LiftedRateLimits})
		admin := env.Key(hubapi.RoleAdmin)
		users := []*hubapi.User{env.User(hubapi.RoleConducteur), env.User(hubapi.RoleChefChantier), env.User(hubapi.RoleAdmin)}
		seedChantiers(t, env, 60, users)

		t.Run("a page of chantiers with their responsable, then the next page from endCursor", func(t *testing.T) {
			q := `query($after: String) { chantiers(first: 40, after: $after, filter: {ville: "Lyon"}) {
				nodes { id code nom ville statut responsable { id nom prenom } }
				edges { node { id } }
				pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }`
			r := gql(t, env, admin, q, nil)
			if r.Status != 200 || len(r.Errors) != 0 || r.Header.Get("Content-Type") != "application/graphql-response+json" {
				t.Fatalf("status %d, %s", r.Status, r.Raw)
			}
			var page struct {
				Nodes []struct {
					ID, Code, Nom, Ville, Statut string
					Responsable                  *struct{ ID, Nom, Prenom string }
				}
				Edges    []struct{ Node struct{ ID string } }
				PageInfo struct {
					HasNextPage, HasPreviousPage bool
					StartCursor, EndCursor       *string
				}
			}
			if err := json.Unmarshal(r.Data["chantiers"], &page); err != nil {
				t.Fatal(err)
			}
			if len(page.Nodes) != 40 || len(page.Edges) != 40 || !page.PageInfo.HasNextPage || page.PageInfo.EndCursor == nil {
				t.Fatalf("first page: %d nodes, %+v", len(page.Nodes), page.PageInfo)
			}
			for _, n := range page.Nodes {
				if n.Responsable == nil || n.Responsable.Nom == "" || n.Statut != "OUVERT" || n.Ville != "Lyon" {
					t.Fatalf("node %+v", n)
				}
			}
			if r.Extensions.Cost.Requested < 1 || r.Extensions.Cost.Actual < 1 || r.Extensions.Cost.Remaining == nil {
				t.Errorf("extensions.cost: %s", r.Raw[bytes.LastIndex(r.Raw, []byte(`"extensions"`)):])
			}
			r2 := gql(t, env, admin, q, map[string]any{"after": *page.PageInfo.EndCursor})
			if err := json.Unmarshal(r2.Data["chantiers"], &page); err != nil || len(r2.Errors) != 0 {
				t.Fatalf("%v %s", err, r2.Raw)
			}
			if len(page.Nodes) != 20 || page.PageInfo.HasNextPage || !page.PageInfo.HasPreviousPage || page.PageInfo.StartCursor == nil {
				t.Fatalf("second page: %d nodes, %+v", len(page.Nodes), page.PageInfo)
			}
			// and back with last/before
			r3 := gql(t, env, admin, `query($b: String) { chantiers(last: 5, before: $b, filter: {ville: "Lyon"}) { nodes { id } pageInfo { hasNextPage } } }`,
				map[string]any{"b": *page.PageInfo.StartCursor})
			if err := json.Unmarshal(r3.Data["chantiers"], &page); err != nil || len(r3.Errors) != 0 || len(page.Nodes) != 5 || !page.PageInfo.HasNextPage {
				t.Fatalf("backward page: %v %s", err, r3.Raw)
			}
		})

		t.Run("no N+1: the statements of a page selecting responsable do not grow with the page size", func(t *testing.T) {
			q := `query($n: Int) { chantiers(first: $n) { nodes { id nom responsable { nom prenom } } } }`
			count := func(n int) int64 {
				return sql.during(func() {
					if r := gql(t, env, admin, q, map[string]any{"n": n}); len(r.Errors) != 0 {
						t.Fatalf("%s", r.Raw)
					}
				})
			}
			waitForJobs(t, env)
			base := sql.during(func() { gql(t, env, admin, `{ __typename }`, nil) })
			small, large := count(5), count(50)
			if large == 0 {
				t.Fatal("no statement counted: the query hook is not installed")
			}
			t.Logf("statements: %d for a page of 5 chantiers with their responsable, %d for 50; %d for a query without use case", small, large, base)
			if small != large || large-base > 2 {
				t.Errorf("statements: %d for 5 chantiers, %d for 50, %d without any use case", small, large, base)
			}
			// references through the dataloaders: pointages → chantier → responsable
			chantiers := seedChantiers(t, env, 10, users)
			ctx := hubapi.WithPrincipal(context.Background(), &hubapi.Principal{UserID: users[2].ID, Role: hubapi.RoleAdmin, Scopes: hubapi.AllScopes})
			for i, c := range chantiers {
				if _, err := env.Server.Service.CreatePointage(ctx, hubapi.PointageInput{UserID: users[0].ID, ChantierID: c.ID,
					Date: hubapi.NewDate(2026, 3, 2+i), Minutes: 60}); err != nil {
					t.Fatal(err)
				}
			}
			waitForJobs(t, env)
			pq := `query($n: Int) { pointages(first: $n) { nodes { id chantier { code responsable { nom } } } } }`
			pcount := func(n int) int64 {
				return sql.during(func() {
					r := gql(t, env, admin, pq, map[string]any{"n": n})
					if len(r.Errors) != 0 || !bytes.Contains(r.Raw, []byte(`"responsable":{"nom"`)) {
						t.Fatalf("%s", r.Raw)
					}
				})
			}
			s, l := pcount(2), pcount(10)
			t.Logf("pointages → chantier → responsable: %d statements for 2, %d for 10", s, l)
			if s != l || l-base > 3 {
				t.Errorf("pointages with chantier and responsable: %d statements for 2, %d for 10 (base %d)", s, l, base)
			}
		})

		t.Run("limits: depth 6, over-complex, 1,000 aliases, root fields, operations → errors, no statement", func(t *testing.T) {
			aliases := make([]string, 1000)
			for i := range aliases {
				aliases[i] = fmt.Sprintf("a%d: __typename", i)
			}
			roots := make([]string, 11)
			for i := range roots {
				roots[i] = fmt.Sprintf("m%d: me { id }", i)
			}
			big := `chantiers(first: 100) { nodes { id code nom adresse ville codePostal statut clientNom responsableId budgetCents dateDebut dateFin latitude longitude description createdAt updatedAt version responsable { id nom prenom } } }`
			for _, tc := range []struct{ name, query, code string }{
				{"depth 6", `{ pointages { edges { node { chantier { responsable { nom } } } } } }`, "DEPTH_LIMIT_EXCEEDED"},
				{"over-complex", `{ a: ` + big + ` b: ` + big + ` c: ` + big + ` }`, "COMPLEXITY_LIMIT_EXCEEDED"},
				{"1,000 aliases", `{ ` + strings.Join(aliases, " ") + ` }`, "ALIAS_LIMIT_EXCEEDED"},
				{"11 root fields", `{ ` + strings.Join(roots, " ") + ` }`, "ROOT_FIELD_LIMIT_EXCEEDED"},
				{"6 operations", `query a { me { id } } query b { me { id } } query c { me { id } } query d { me { id } } query e { me { id } } query f { me { id } }`, "OPERATION_LIMIT_EXCEEDED"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					// A statement of the server's own background work (jobs,
					// key bookkeeping) may fall into a window: a query that
					// runs a use case does so every time, so three tries.
					var n, base int64
					for try := 0; try < 3; try++ {
						waitForJobs(t, env)
						base = sql.during(func() { gql(t, env, admin, `{ __typename }`, nil) })
						var r *gqlResponse
						n = sql.during(func() {
							body := map[string]any{"query": tc.query}
							if tc.code == "OPERATION_LIMIT_EXCEEDED" {
								body["operationName"] = "a"
							}
							r = gqlDo(t, env, admin, http.MethodPost, body)
						})
						if r.Status != 400 || r.code(0) != tc.code || r.Data != nil {
							t.Fatalf("status %d, %s", r.Status, r.Raw)
						}
						if n <= base {
							break
						}
					}
					if n > base {
						t.Errorf("%d statements, %d for a query that runs no use case", n, base)
					}
				})
			}
			t.Run("depth 5 through nodes is allowed", func(t *testing.T) {
				if r := gql(t, env, admin, `{ pointages(first: 1) { nodes { chantier { responsable { nom } } } } }`, nil); r.Status != 200 || len(r.Errors) != 0 {
					t.Fatalf("%d %s", r.Status, r.Raw)
				}
			})
		})

		t.Run("first and last are 1 to 100; the error names the argument", func(t *testing.T) {
			for _, q := range []struct{ query, arg string }{
				{`{ chantiers(first: 101) { nodes { id } } }`, "first"},
				{`{ chantiers(first: 0) { nodes { id } } }`, "first"},
				{`{ chantiers(last: 5) { nodes { id } } }`, "last"},
				{`{ chantiers(after: "garbage") { nodes { id } } }`, "after"},
				{`{ chantiers(filter: {ville: "a\u0000b"}) { nodes { id } } }`, "filter"},
			} {
				r := gql(t, env, admin, q.query, nil)
				if len(r.Errors) != 1 || r.code(0) != "BAD_USER_INPUT" || r.Errors[0].Extensions["argument"] != q.arg {
					t.Errorf("%s: %s", q.query, r.Raw)
				}
				if bytes.Contains(bytes.ToLower(r.Raw), []byte("select")) || bytes.Contains(r.Raw, []byte("goroutine")) {
					t.Errorf("%s leaks: %s", q.query, r.Raw)
				}
			}
		})

		t.Run("mutations call the use cases; version is the If-Match precondition", func(t *testing.T) {
			code := uniq("GQM-")
			r := gql(t, env, admin, `mutation($in: ChantierInput!) { createChantier(input: $in) { id code version statut } }`,
				map[string]any{"in": map[string]any{"code": code, "nom": "Gymnase", "adresse": "3 avenue Jean Jaurès", "statut": "EN_COURS"}})
			var created struct {
				ID, Code, Statut string
				Version          int
			}
			if err := json.Unmarshal(r.Data["createChantier"], &created); err != nil || created.Version != 1 || created.Statut != "EN_COURS" {
				t.Fatalf("%v %s", err, r.Raw)
			}
			upd := `mutation($id: ID!, $v: Int, $in: ChantierInput!) { updateChantier(id: $id, version: $v, input: $in) { version nom } }`
			in := map[string]any{"code": code, "nom": "Gymnase municipal", "adresse": "3 avenue Jean Jaurès"}
			r = gql(t, env, admin, upd, map[string]any{"id": created.ID, "v": 1, "in": in})
			if len(r.Errors) != 0 || !bytes.Contains(r.Raw, []byte(`"version":2`)) {
				t.Fatalf("%s", r.Raw)
			}
			r = gql(t, env, admin, upd, map[string]any{"id": created.ID, "v": 1, "in": map[string]any{"code": code, "nom": "Stale", "adresse": "a"}})
			if r.code(0) != "PRECONDITION_FAILED" {
				t.Fatalf("stale version: %s", r.Raw)
			}
			r = gql(t, env, admin, upd, map[string]any{"id": created.ID, "in": map[string]any{"code": code, "nom": "x", "adresse": "a", "codePostal": "123"}})
			fieldsJSON, _ := json.Marshal(r.Errors)
			if r.code(0) != "BAD_USER_INPUT" || r.Errors[0].Extensions["argument"] != "input" || !bytes.Contains(fieldsJSON, []byte(`input.codePostal`)) {
				t.Fatalf("invalid input: %s", r.Raw)
			}
			r = gql(t, env, admin, `query($id: ID!) { chantier(id: $id) { nom version } }`, map[string]any{"id": created.ID})
			if !bytes.Contains(r.Raw, []byte(`"nom":"Gymnase municipal","version":2`)) {
				t.Fatalf("read back: %s", r.Raw)
			}
			r = gql(t, env, admin, `mutation($id: ID!) { deleteChantier(id: $id, version: 2) }`, map[string]any{"id": created.ID})
			if len(r.Errors) != 0 {
				t.Fatalf("delete: %s", r.Raw)
			}
			r = gql(t, env, admin, `query($id: ID!) { chantier(id: $id) { id } }`, map[string]any{"id": created.ID})
			if string(r.Data["chantier"]) != "null" {
				t.Fatalf("after delete: %s", r.Raw)
			}
		})

		t.Run("auth: no key → 401; a key without the scope → FORBIDDEN on that field only", func(t *testing.T) {
			if r := gql(t, env, "", `{ me { id } }`, nil); r.Status != 401 {
				t.Fatalf("anonymous: %d %s", r.Status, r.Raw)
			}
			u := env.User(hubapi.RoleConducteur)
			key := env.NewKey(t, u.ID, hubapi.ScopeStatsRead)
			r := gql(t, env, key, `{ me { email } chantiers { nodes { id } } }`, nil)
			if r.Status != 200 || r.code(0) != "FORBIDDEN" || !bytes.Contains(r.Raw, []byte(u.Email)) {
				t.Fatalf("%d %s", r.Status, r.Raw)
			}
		})

		t.Run("GET serves queries; a mutation over GET → 405", func(t *testing.T) {
			r := gqlDo(t, env, admin, http.MethodGet, map[string]any{"query": `{ me { id } }`})
			if r.Status != 200 || len(r.Errors) != 0 {
				t.Fatalf("%d %s", r.Status, r.Raw)
			}
			r = gqlDo(t, env, admin, http.MethodGet, map[string]any{"query": `mutation { deleteChantier(id: 1) }`})
			if r.Status != 405 || r.Header.Get("Allow") != "POST" {
				t.Fatalf("%d %v %s", r.Status, r.Header, r.Raw)
			}
		})

		t.Run("automatic persisted queries: by hash, over GET", func(t *testing.T) {
			q := `{ me { id } }`
			sum := sha256.Sum256([]byte(q))
			ext := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hex.EncodeToString(sum[:])}}
			r := gqlDo(t, env, admin, http.MethodGet, map[string]any{"extensions": ext})
			if r.code(0) != "PERSISTED_QUERY_NOT_FOUND" {
				t.Fatalf("unknown hash: %d %s", r.Status, r.Raw)
			}
			if r := gqlDo(t, env, admin, http.MethodPost, map[string]any{"query": q, "extensions": ext}); len(r.Errors) != 0 {
				t.Fatalf("register: %s", r.Raw)
			}
			if r := gqlDo(t, env, admin, http.MethodGet, map[string]any{"extensions": ext}); r.Status != 200 || len(r.Errors) != 0 || r.Data["me"] == nil {
				t.Fatalf("by hash: %d %s", r.Status, r.Raw)
			}
			bad := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": strings.Repeat("0", 64)}}
			if r := gqlDo(t, env, admin, http.MethodPost, map[string]any{"query": q, "extensions": bad}); len(r.Errors) == 0 {
				t.Fatalf("a hash that does not match the query is accepted: %s", r.Raw)
			}
		})

		t.Run("introspection and the playground are on in development", func(t *testing.T) {
			if r := gql(t, env, admin, `{ __schema { queryType { name } } }`, nil); len(r.Errors) != 0 {
				t.Fatalf("%s", r.Raw)
			}
			req, _ := http.NewRequest(http.MethodGet, env.URL+"/graphql", nil)
			req.Header.Set("Accept", "text/html,application/xhtml+xml")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") || !bytes.Contains(body, []byte("/graphql/assets/graphiql.min.js")) {
				t.Fatalf("playground: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
			}
			res, err = http.Get(env.URL + "/graphql/assets/graphiql.min.js")
			if err != nil {
				t.Fatal(err)
			}
			n, _ := io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != 200 || n < 100000 {
				t.Fatalf("asset: %d, %d bytes", res.StatusCode, n)
			}
		})
	})
}

func TestGraphQLProduction(t *testing.T) {
	for _, tc := range []struct {
		name          string
		introspection bool
	}{{"introspection off", false}, {"introspection enabled", true}} {
		t.Run(tc.name, func(t *testing.T) {
			env := apitest.Start(t, testenv.SQLite(t), apitest.Config{Configure: func(c *server.Config) {
				c.Env = server.EnvProduction
				c.GraphQLIntrospection = tc.introspection
			}})
			r := gql(t, env, env.Key(hubapi.RoleAdmin), `{ __schema { queryType { name } } }`, nil)
			if tc.introspection != (len(r.Errors) == 0) {
				t.Fatalf("%s", r.Raw)
			}
			// no playground: a browser reaches the API, which wants a key
			req, _ := http.NewRequest(http.MethodGet, env.URL+"/graphql", nil)
			req.Header.Set("Accept", "text/html")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != 401 {
				t.Fatalf("playground in production: %d", res.StatusCode)
			}
			if res, err := http.Get(env.URL + "/graphql/assets/graphiql.min.js"); err != nil || res.StatusCode != 404 {
				t.Fatalf("assets in production: %v %v", err, res.StatusCode)
			}
		})
	}
}

func TestGraphQLCostChargedToRateLimit(t *testing.T) {
	env, sql := startGraphQL(t, testenv.SQLite(t), apitest.Config{RateLimits: "* /graphql=7/m"})
	key := env.Key(hubapi.RoleAdmin)
	seedChantiers(t, env, 3, nil)
	// 100 chantiers × 19 fields: over 1,000 points → 2 units or more
	q := `{ chantiers(first: 100) { nodes { id code nom adresse ville codePostal statut clientNom responsableId budgetCents dateDebut dateFin latitude longitude description createdAt updatedAt version } } }`
	r := gql(t, env, key, q, nil)
	c := r.Extensions.Cost
	if len(r.Errors) != 0 || c.Requested < 2 || c.Remaining == nil || *c.Remaining != 7-c.Requested {
		t.Fatalf("%s", r.Raw)
	}
	if c.Actual >= c.Requested {
		t.Errorf("3 of 100 chantiers returned: actual %d, requested %d", c.Actual, c.Requested)
	}
	if r.Header.Get("X-RateLimit-Remaining") != fmt.Sprint(*c.Remaining) {
		t.Errorf("X-RateLimit-Remaining %q, extensions.cost.remaining %d", r.Header.Get("X-RateLimit-Remaining"), *c.Remaining)
	}
	// what is left is less than the query costs: refused before it runs
	for *c.Remaining >= c.Requested {
		r = gql(t, env, key, q, nil)
		c.Remaining = r.Extensions.Cost.Remaining
	}
	var refused *gqlResponse
	n := sql.during(func() { refused = gql(t, env, key, q, nil) })
	if refused.Status != 429 || refused.code(0) != "RATE_LIMITED" || refused.Header.Get("Retry-After") == "" || refused.Data != nil {
		t.Fatalf("%d %v %s", refused.Status, refused.Header, refused.Raw)
	}
	if base := sql.during(func() { gql(t, env, key, `{ __typename }`, nil) }); n > base {
		t.Errorf("a refused query ran %d statements", n)
	}
}

// introspectionQuery is the query GraphiQL sends to draw its docs.
const introspectionQuery = `query IntrospectionQuery {
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types { ...FullType }
    directives { name description locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } }`

// TestGraphQLEveryFieldAndMutation reads every field of every type, runs
// every mutation and the introspection query GraphiQL sends: each answers
// without error and with the values the use cases hold.
func TestGraphQLEveryFieldAndMutation(t *testing.T) {
	env := apitest.Start(t, testenv.SQLite(t), apitest.Config{RateLimits: apitest.LiftedRateLimits})
	admin := env.Key(hubapi.RoleAdmin)
	worker := env.User(hubapi.RoleCompagnon)
	boss := env.User(hubapi.RoleConducteur)
	ctx := hubapi.WithPrincipal(context.Background(), &hubapi.Principal{UserID: env.User(hubapi.RoleAdmin).ID, Role: hubapi.RoleAdmin, Scopes: hubapi.AllScopes})
	svc := env.Server.Service
	c := seedChantiers(t, env, 1, []*hubapi.User{boss})[0]
	p, err := svc.CreatePointage(ctx, hubapi.PointageInput{UserID: worker.ID, ChantierID: c.ID, Date: hubapi.NewDate(2026, 3, 2), Minutes: 90, Commentaire: "coffrage"})
	if err != nil {
		t.Fatal(err)
	}
	d, err := svc.CreateDocument(ctx, hubapi.DocumentInput{ChantierID: c.ID, Nom: "plan.pdf", Categorie: "plan"},
		hubapi.Upload{MimeType: "application/pdf", Body: strings.NewReader("%PDF-1.4 plan")})
	if err != nil {
		t.Fatal(err)
	}
	s, err := svc.CreateSignalement(ctx, hubapi.SignalementInput{ChantierID: c.ID, Titre: "Fuite", Description: "toiture", Gravite: hubapi.GraviteHaute})
	if err != nil {
		t.Fatal(err)
	}
	a, err := svc.CreateAffectation(ctx, hubapi.AffectationInput{UserID: worker.ID, ChantierID: c.ID, Date: hubapi.NewDate(2026, 3, 3), HeureDebut: "08:00", HeureFin: "12:00", Note: "dalle"})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]any{"cid": c.ID, "pid": p.ID, "did": d.ID, "sid": s.ID, "aid": a.ID}

	t.Run("every field of every type", func(t *testing.T) {
		q := `query($cid: ID!, $pid: ID!, $did: ID!, $sid: ID!, $aid: ID!) {
			chantier(id: $cid) { ...C }
			chantiers(first: 5, orderBy: [{field: CODE, direction: DESC}, {field: CREATED_AT}], filter: {statut: OUVERT, ville: "Lyon"}) {
				edges { node { ...C } } nodes { id } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } }
			pointage(id: $pid) { ...P }
			pointages(first: 5, filter: {chantierId: $cid, statut: BROUILLON, from: "2026-03-01", to: "2026-03-31"}) {
				edges { node { ...P } } nodes { id } pageInfo { hasNextPage } }
			document(id: $did) { ...D }
			documents(first: 5, filter: {chantierId: $cid, categorie: "plan"}) { edges { node { ...D } } nodes { id } pageInfo { endCursor } }
			signalement(id: $sid) { ...S }
			signalements(first: 5, filter: {chantierId: $cid, statut: OUVERT, gravite: HAUTE}) { edges { node { ...S } } nodes { id } pageInfo { startCursor } }
			affectation(id: $aid) { ...A }
			affectations(first: 5, filter: {chantierId: $cid, from: "2026-03-01", to: "2026-03-31"}) { edges { node { ...A } } nodes { id } pageInfo { hasPreviousPage } }
		}
		fragment C on Chantier { id code nom adresse ville codePostal statut clientNom responsableId responsable { id nom prenom }
			budgetCents dateDebut dateFin latitude longitude description createdAt updatedAt version }
		fragment P on Pointage { id userId chantierId chantier { id code } date minutes type statut commentaire createdAt updatedAt version }
		fragment D on Document { id chantierId chantier { nom } nom categorie mimeType size sha256 uploadedBy createdAt updatedAt version }
		fragment S on Signalement { id chantierId chantier { nom } titre description gravite statut createdBy assignedTo resolvedAt createdAt updatedAt version }
		fragment A on Affectation { id userId chantierId chantier { nom } date heureDebut heureFin note createdAt updatedAt version }`
		r := gql(t, env, admin, q, ids)
		if r.Status != 200 || len(r.Errors) != 0 {
			t.Fatalf("%d %s", r.Status, r.Raw)
		}
		for _, want := range []string{`"responsable":{"id":"` + fmt.Sprint(boss.ID), `"commentaire":"coffrage"`, `"type":"NORMAL"`,
			`"mimeType":"application/pdf"`, `"gravite":"HAUTE"`, `"heureDebut":"08:00"`, `"date":"2026-03-03"`, `"categorie":"plan"`} {
			if !bytes.Contains(r.Raw, []byte(want)) {
				t.Errorf("no %s in %s", want, r.Raw)
			}
		}
		for _, k := range []string{"chantiers", "pointages", "documents", "signalements", "affectations"} {
			var page struct{ Nodes []struct{ ID string } }
			if err := json.Unmarshal(r.Data[k], &page); err != nil || len(page.Nodes) != 1 {
				t.Errorf("%s: %v %s", k, err, r.Data[k])
			}
		}
		r = gql(t, env, admin, `{ me { id email nom prenom role createdAt } stats { chantiersTotal chantiersParStatut { key count } heuresSemaine heuresMois signalementsOuverts signalementsOuvertsParGravite { key count } semaine mois } }`, nil)
		if r.Status != 200 || len(r.Errors) != 0 || !bytes.Contains(r.Raw, []byte(`"role":"admin"`)) || !bytes.Contains(r.Raw, []byte(`{"key":"ouvert","count":`)) {
			t.Fatalf("%s", r.Raw)
		}
	})

	t.Run("the introspection query of GraphiQL", func(t *testing.T) {
		r := gql(t, env, admin, introspectionQuery, nil)
		if r.Status != 200 || len(r.Errors) != 0 || !bytes.Contains(r.Raw, []byte(`"name":"ChantierConnection"`)) {
			t.Fatalf("%d %.500s", r.Status, r.Raw)
		}
	})

	t.Run("every mutation", func(t *testing.T) {
		run := func(q string, vars map[string]any, field string, out any) {
			t.Helper()
			r := gql(t, env, admin, q, vars)
			if r.Status != 200 || len(r.Errors) != 0 {
				t.Fatalf("%s: %d %s", field, r.Status, r.Raw)
			}
			if out != nil {
				if err := json.Unmarshal(r.Data[field], out); err != nil {
					t.Fatalf("%s: %v %s", field, err, r.Raw)
				}
			}
		}
		type obj struct {
			ID      string
			Version int
		}
		var pt obj
		pin := map[string]any{"userId": worker.ID, "chantierId": c.ID, "date": "2026-03-04", "minutes": 120, "type": "NUIT", "statut": "SOUMIS", "commentaire": "nuit"}
		run(`mutation($in: PointageInput!) { createPointage(input: $in) { id version type } }`, map[string]any{"in": pin}, "createPointage", &pt)
		pin["minutes"] = 150
		run(`mutation($id: ID!, $in: PointageInput!, $v: Int) { updatePointage(id: $id, input: $in, version: $v) { id version minutes } }`,
			map[string]any{"id": pt.ID, "in": pin, "v": pt.Version}, "updatePointage", &pt)
		run(`mutation($id: ID!, $v: Int) { validatePointage(id: $id, version: $v) { id version statut } }`, map[string]any{"id": pt.ID, "v": pt.Version}, "validatePointage", &pt)
		var other obj
		run(`mutation($in: PointageInput!) { createPointage(input: $in) { id version } }`, map[string]any{"in": pin}, "createPointage", &other)
		run(`mutation($id: ID!, $v: Int) { deletePointage(id: $id, version: $v) }`, map[string]any{"id": other.ID, "v": other.Version}, "deletePointage", nil)

		var sg obj
		sin := map[string]any{"chantierId": c.ID, "titre": "Chute", "description": "échafaudage", "gravite": "URGENTE", "statut": "OUVERT", "assignedTo": boss.ID}
		run(`mutation($in: SignalementInput!) { createSignalement(input: $in) { id version } }`, map[string]any{"in": sin}, "createSignalement", &sg)
		sin["statut"] = "EN_COURS"
		run(`mutation($id: ID!, $in: SignalementInput!, $v: Int) { updateSignalement(id: $id, input: $in, version: $v) { id version statut } }`,
			map[string]any{"id": sg.ID, "in": sin, "v": sg.Version}, "updateSignalement", &sg)
		run(`mutation($id: ID!, $v: Int) { deleteSignalement(id: $id, version: $v) }`, map[string]any{"id": sg.ID, "v": sg.Version}, "deleteSignalement", nil)

		var af obj
		ain := map[string]any{"userId": worker.ID, "chantierId": c.ID, "date": "2026-03-05", "heureDebut": "13:00", "heureFin": "17:00", "note": "finitions"}
		run(`mutation($in: AffectationInput!) { createAffectation(input: $in) { id version } }`, map[string]any{"in": ain}, "createAffectation", &af)
		ain["heureFin"] = "18:00"
		run(`mutation($id: ID!, $in: AffectationInput!, $v: Int) { updateAffectation(id: $id, input: $in, version: $v) { id version heureFin } }`,
			map[string]any{"id": af.ID, "in": ain, "v": af.Version}, "updateAffectation", &af)
		run(`mutation($id: ID!, $v: Int) { deleteAffectation(id: $id, version: $v) }`, map[string]any{"id": af.ID, "v": af.Version}, "deleteAffectation", nil)

		var ch obj
		cin := map[string]any{"code": uniq("GQA-"), "nom": "Collège", "adresse": "5 rue Haute", "ville": "Lyon", "codePostal": "69001",
			"statut": "OUVERT", "clientNom": "Métropole", "responsableId": boss.ID, "budgetCents": 1000000, "dateDebut": "2026-04-01",
			"dateFin": "2026-09-30", "latitude": 45.76, "longitude": 4.83, "description": "Extension"}
		run(`mutation($in: ChantierInput!) { createChantier(input: $in) { id version responsable { nom } } }`, map[string]any{"in": cin}, "createChantier", &ch)
		cin["statut"] = "EN_COURS"
		run(`mutation($id: ID!, $in: ChantierInput!) { updateChantier(id: $id, input: $in) { id version responsable { prenom } } }`,
			map[string]any{"id": ch.ID, "in": cin}, "updateChantier", &ch)
		if ch.Version != 2 {
			t.Errorf("chantier version %d after one update", ch.Version)
		}
		r := gql(t, env, admin, `mutation($id: ID!) { validatePointage(id: $id, version: 99) { id } }`, map[string]any{"id": pt.ID})
		if r.code(0) != "PRECONDITION_FAILED" && r.code(0) != "CONFLICT" && r.code(0) != "BAD_USER_INPUT" {
			t.Errorf("validate a validated pointage with a stale version: %s", r.Raw)
		}
		r = gql(t, env, admin, `mutation { deleteSignalement(id: "999999") }`, nil)
		if r.code(0) != "NOT_FOUND" {
			t.Errorf("delete a missing signalement: %s", r.Raw)
		}
		r = gql(t, env, admin, `mutation { deleteChantier(id: 1, version: 0) }`, nil)
		if r.code(0) != "BAD_USER_INPUT" || r.Errors[0].Extensions["argument"] != "version" {
			t.Errorf("version 0: %s", r.Raw)
		}
	})
}

// waitForJobs waits until the background jobs (the webhook fan-out of
// earlier writes' events) are done, so that only a query's own statements
// are counted.
func waitForJobs(t *testing.T, env *apitest.Env) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var pending int
		if err := env.Server.DB.NewRaw("SELECT count(*) FROM river_job WHERE state NOT IN ('completed', 'discarded', 'cancelled')").
			Scan(context.Background(), &pending); err != nil {
			t.Fatal(err)
		}
		if pending == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d jobs still pending", pending)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
