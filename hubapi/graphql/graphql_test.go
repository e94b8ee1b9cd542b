package graphql_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/fields"
	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/graphql"
)

// fake serves chantiers from memory and counts every use case call.
type fake struct {
	hubapi.ChantierService // methods not overridden panic
	calls                  atomic.Int64
	refCalls               atomic.Int64
	err                    error // returned by ListChantiers when set
	panics                 bool
	loadResponsables       bool
	mu                     sync.Mutex
	lastSel                *fields.Selection
	chantiers              []hubapi.Chantier
}

func newFake(n int) *fake {
	f := &fake{}
	for i := range n {
		id := int64(i%3 + 1)
		f.chantiers = append(f.chantiers, hubapi.Chantier{ID: int64(i + 1), Code: fmt.Sprintf("C%d", i+1), Nom: "n", Statut: hubapi.ChantierOuvert, ResponsableID: &id, Version: 1,
			CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), UpdatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)})
	}
	return f
}

func (f *fake) ListChantiers(_ context.Context, _ hubapi.ChantierFilter, p hubapi.PageRequest, sel *fields.Selection) (*hubapi.Page[hubapi.Chantier], error) {
	f.calls.Add(1)
	f.mu.Lock()
	f.lastSel = sel
	f.mu.Unlock()
	if f.panics {
		panic("boom: SELECT * FROM users")
	}
	if f.err != nil {
		return nil, f.err
	}
	n := min(p.Limit, len(f.chantiers))
	items := append([]hubapi.Chantier(nil), f.chantiers[:n]...)
	if f.loadResponsables && sel.Has("responsable") {
		// as service.ListChantiers does: one batch with the page
		for i := range items {
			items[i].Responsable = &hubapi.UserSummary{ID: *items[i].ResponsableID, Nom: fmt.Sprintf("U%d", *items[i].ResponsableID)}
		}
	}
	return &hubapi.Page[hubapi.Chantier]{Items: items, NextCursor: "next", Total: -1, Limit: p.Limit}, nil
}

func (f *fake) GetChantier(_ context.Context, id int64, _ *fields.Selection) (*hubapi.Chantier, error) {
	f.calls.Add(1)
	for i := range f.chantiers {
		if f.chantiers[i].ID == id {
			c := f.chantiers[i]
			return &c, nil
		}
	}
	return nil, hubapi.ErrNotFound
}

func (f *fake) UserSummaries(_ context.Context, ids []int64) (map[int64]*hubapi.UserSummary, error) {
	f.refCalls.Add(1)
	out := map[int64]*hubapi.UserSummary{}
	for _, id := range ids {
		out[id] = &hubapi.UserSummary{ID: id, Nom: fmt.Sprintf("U%d", id)}
	}
	return out, nil
}

func (f *fake) ChantiersByID(_ context.Context, ids []int64) (map[int64]*hubapi.Chantier, error) {
	f.refCalls.Add(1)
	return map[int64]*hubapi.Chantier{}, nil
}

type response struct {
	status int
	header http.Header
	body   []byte
	Data   map[string]json.RawMessage
	Errors []struct {
		Message    string
		Extensions map[string]any
	}
}

func (r *response) code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

func post(t testing.TB, h http.Handler, body any) *response {
	t.Helper()
	b, _ := json.Marshal(body)
	req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/graphql-response+json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	r := &response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
	_ = json.Unmarshal(r.body, r)
	return r
}

func newHandler(t testing.TB, f *fake, o graphql.Options) http.Handler {
	t.Helper()
	o.Chantiers, o.References = f, f
	h, err := graphql.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestLimitsRunNoResolver(t *testing.T) {
	fragments := "fragment F0 on Query { __typename }\n"
	for i := 1; i <= 20; i++ {
		fragments += fmt.Sprintf("fragment F%d on Query { ...F%d ...F%d }\n", i, i-1, i-1)
	}
	aliases := make([]string, 1000)
	for i := range aliases {
		aliases[i] = fmt.Sprintf("a%d: __typename", i)
	}
	for _, tc := range []struct {
		name, query, code string
		status            int
	}{
		{"depth 6", `{ chantiers { edges { node { responsable { nom } } } } a: chantiers { edges { node { x: responsable { y: nom } } } } }`, "", 200},
		{"depth 6 through a fragment", `query { ...Q } fragment Q on Query { chantiers { nodes { ...C } } } fragment C on Chantier { responsable { nom } }`, "", 200},
		{"over-complex", `{ a: chantiers(first: 100) { nodes { id code nom adresse ville codePostal statut clientNom responsable { id nom prenom } } } b: chantiers(first: 100) { nodes { id code nom adresse ville codePostal statut clientNom responsable { id nom prenom } } } c: chantiers(first: 100) { nodes { id code nom adresse ville codePostal statut clientNom responsable { id nom prenom } } } d: chantiers(first: 100) { nodes { id code nom adresse ville codePostal statut clientNom responsable { id nom prenom } } } }`, "COMPLEXITY_LIMIT_EXCEEDED", 400},
		{"1,000 aliases", `{ ` + strings.Join(aliases, " ") + ` }`, "ALIAS_LIMIT_EXCEEDED", 400},
		{"fragments that double 20 times", `query { ...F20 } ` + fragments, "COMPLEXITY_LIMIT_EXCEEDED", 400},
		{"over the token limit", `{ ` + strings.Repeat("__typename ", 6000) + ` }`, "GRAPHQL_PARSE_FAILED", 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(5)
			r := post(t, newHandler(t, f, graphql.Options{}), map[string]any{"query": tc.query})
			if tc.status == 200 {
				// depth 4 and 5 pass
				if r.status != 200 || len(r.Errors) != 0 {
					t.Fatalf("%d %s", r.status, r.body)
				}
				return
			}
			if r.status != tc.status || r.code() != tc.code || r.Data != nil {
				t.Fatalf("%d %s", r.status, r.body)
			}
			if n := f.calls.Load() + f.refCalls.Load(); n != 0 {
				t.Errorf("%d use case calls", n)
			}
		})
	}
	t.Run("depth 6 → DEPTH_LIMIT_EXCEEDED, nothing runs", func(t *testing.T) {
		f := newFake(5)
		h := newHandler(t, f, graphql.Options{Limits: graphql.Limits{MaxDepth: 3}})
		r := post(t, h, map[string]any{"query": `{ chantiers { nodes { responsable { nom } } } }`})
		if r.status != 400 || r.code() != "DEPTH_LIMIT_EXCEEDED" || f.calls.Load() != 0 {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
}

func TestReferencesAreBatched(t *testing.T) {
	f := newFake(50)
	h := newHandler(t, f, graphql.Options{})
	// the fake's list does not load responsables: every one goes through
	// the loader
	r := post(t, h, map[string]any{"query": `{ chantiers(first: 50) { nodes { id responsable { nom } } } }`})
	if r.status != 200 || len(r.Errors) != 0 || !bytes.Contains(r.body, []byte(`"responsable":{"nom":"U3"}`)) {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if n := f.refCalls.Load(); n < 1 || n > 2 {
		t.Errorf("%d batch reads for 50 chantiers", n)
	}
	if got := f.lastSel.String(); !strings.Contains(got, "responsable") || strings.Contains(got, "code") {
		t.Errorf("selection pushed down: %q", got)
	}
}

func TestErrorsLeakNothing(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    *fake
		code string
	}{
		{"a driver error", &fake{err: errors.New(`pq: relation "chantiers" SELECT secret FROM users`)}, "INTERNAL"},
		{"a panic", &fake{panics: true}, "INTERNAL"},
		{"an unavailable database", &fake{err: fmt.Errorf("dial tcp 10.0.0.3:5432: %w", hubapi.ErrUnavailable)}, "SERVICE_UNAVAILABLE"},
		{"a forbidden list", &fake{err: hubapi.Errorf(hubapi.ErrForbidden, "the credential lacks the chantiers:read scope")}, "FORBIDDEN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := post(t, newHandler(t, tc.f, graphql.Options{}), map[string]any{"query": `{ chantiers { nodes { id } } }`})
			if r.status != 200 || r.code() != tc.code {
				t.Fatalf("%d %s", r.status, r.body)
			}
			for _, leak := range []string{"SELECT", "pq:", "10.0.0.3", "boom", "goroutine", ".go:"} {
				if bytes.Contains(r.body, []byte(leak)) {
					t.Errorf("response contains %q: %s", leak, r.body)
				}
			}
		})
	}
}

func TestTransport(t *testing.T) {
	f := newFake(3)
	h := newHandler(t, f, graphql.Options{})
	t.Run("PUT → 405 with Allow", func(t *testing.T) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPut, "/graphql", nil))
		if rec.Code != 405 || rec.Header().Get("Allow") != "GET, POST" {
			t.Fatalf("%d %v", rec.Code, rec.Header())
		}
	})
	t.Run("a body over 1 MiB is refused", func(t *testing.T) {
		big := `{"query":"{ __typename }","variables":{"x":"` + strings.Repeat("a", graphql.MaxBodyBytes) + `"}}`
		req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(big))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code < 400 || rec.Code >= 500 {
			t.Fatalf("%d %.200s", rec.Code, rec.Body.String())
		}
	})
	t.Run("introspection off: __schema is refused, suggestions are off", func(t *testing.T) {
		r := post(t, h, map[string]any{"query": `{ __schema { types { name } } }`})
		if len(r.Errors) == 0 {
			t.Fatalf("%s", r.body)
		}
		r = post(t, h, map[string]any{"query": `{ chantier(id: 1) { nomm } }`})
		if len(r.Errors) == 0 || bytes.Contains(r.body, []byte("Did you mean")) {
			t.Fatalf("%s", r.body)
		}
	})
	t.Run("chantier(id) of a missing chantier is null", func(t *testing.T) {
		r := post(t, h, map[string]any{"query": `{ chantier(id: "99") { id } }`})
		if r.status != 200 || len(r.Errors) != 0 || string(r.Data["chantier"]) != "null" {
			t.Fatalf("%s", r.body)
		}
	})
	t.Run("an id that is not a positive integer points at the argument", func(t *testing.T) {
		r := post(t, h, map[string]any{"query": `query($id: ID!) { chantier(id: $id) { id } }`, "variables": map[string]any{"id": "-3"}})
		if len(r.Errors) == 0 || !bytes.Contains(r.body, []byte("id")) || f.calls.Load() > 1 {
			t.Fatalf("%s", r.body)
		}
	})
	t.Run("a document that does not parse: 400 without data, or 200 with application/json", func(t *testing.T) {
		for _, tc := range []struct {
			accept, ct string
			status     int
		}{
			{"application/graphql-response+json", "application/graphql-response+json", 400},
			{"application/json", "application/json", 200},
			{"", "application/json", 200},
			{"*/*", "application/json", 200},
			{"text/html, application/graphql-response+json;q=0.9", "application/graphql-response+json", 400},
		} {
			req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{"query":"{ chantiers { "}`))
			req.Header.Set("Content-Type", "application/json")
			if tc.accept != "" {
				req.Header.Set("Accept", tc.accept)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			var body map[string]json.RawMessage
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != tc.status ||
				rec.Header().Get("Content-Type") != tc.ct || body["errors"] == nil {
				t.Errorf("Accept %q: %d %s %s", tc.accept, rec.Code, rec.Header().Get("Content-Type"), rec.Body.String())
			}
			if _, ok := body["data"]; ok {
				t.Errorf("Accept %q: a request error carries data: %s", tc.accept, rec.Body.String())
			}
		}
		req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{"query":`))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 400 || !json.Valid(rec.Body.Bytes()) {
			t.Errorf("a body that is not JSON: %d %s", rec.Code, rec.Body.String())
		}
	})
	t.Run("a GET that cannot be read: 400 in GraphQL's format", func(t *testing.T) {
		for _, target := range []string{
			"/graphql?%",
			"/graphql?query=%7B+__typename+%7D&variables=%7B",
			"/graphql?query=%7B+__typename+%7D&extensions=nope",
		} {
			for _, accept := range []string{"", "application/graphql-response+json"} {
				req := httptest.NewRequest(http.MethodGet, target, nil)
				if accept != "" {
					req.Header.Set("Accept", accept)
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				var body map[string]json.RawMessage
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != 400 ||
					!strings.HasPrefix(rec.Header().Get("Content-Type"), "application/") || body["errors"] == nil {
					t.Errorf("GET %s (Accept %q): %d %q %s", target, accept, rec.Code, rec.Header().Get("Content-Type"), rec.Body.String())
				}
			}
		}
	})
	t.Run("services not given answer NOT_SERVED", func(t *testing.T) {
		r := post(t, h, map[string]any{"query": `{ me { id } }`})
		if r.code() != "NOT_SERVED" {
			t.Fatalf("%s", r.body)
		}
	})
}

func TestNewChecksOptions(t *testing.T) {
	if _, err := graphql.New(graphql.Options{}); err == nil {
		t.Error("no References accepted")
	}
	f := newFake(0)
	if _, err := graphql.New(graphql.Options{References: f, Limits: graphql.Limits{MaxDepth: -1}}); err == nil {
		t.Error("a negative limit accepted")
	}
}

// FuzzQuery sends arbitrary documents and variables: never a 5xx, never a
// panic, and always a JSON answer.
func FuzzQuery(f *testing.F) {
	for _, s := range []string{
		`{ chantiers(first: 3) { nodes { id responsable { nom } } pageInfo { endCursor } } }`,
		`query($n: Int) { chantiers(first: $n) { edges { node { id } } } }`,
		`{ chantier(id: "1") { id nom } }`, `mutation { deleteChantier(id: 1) }`, `{`, ``, `{ a: __typename b: __typename }`,
		`query { ...F } fragment F on Query { ...F }`, `{ chantiers(first: -1, last: 1000) { nodes { id } } }`,
		`subscription { x }`, `{ __schema { types { fields { type { ofType { ofType { name } } } } } } }`,
	} {
		f.Add(s, `{"n": 2}`)
	}
	fk := newFake(5)
	h, err := graphql.New(graphql.Options{Chantiers: fk, References: fk, Introspection: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, query, vars string) {
		body := `{"query":` + jsonString(query) + `,"variables":` + vars + `}`
		req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%d for %q: %s", rec.Code, body, rec.Body.String())
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("not JSON for %q: %s", body, rec.Body.String())
		}
	})
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
