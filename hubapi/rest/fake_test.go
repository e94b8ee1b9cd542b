package rest_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gorilla/mux"

	"github.com/hubchantier/hubchantier/fields"
	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/rest"
	"github.com/hubchantier/hubchantier/pagination"
)

// fakeChantiers is an in-memory hubapi.ChantierService: REST runs over it
// without a database, so these tests pin down what the adapter itself does
// (query parsing, envelopes, headers, error mapping) apart from the use
// cases.
type fakeChantiers struct {
	mu    sync.Mutex
	rows  map[int64]*hubapi.Chantier
	pager *pagination.Paginator[hubapi.Chantier]
	// what the last list call received
	filter hubapi.ChantierFilter
	req    hubapi.PageRequest
	sel    *fields.Selection
	// err, when set, is returned by every call
	err error
}

func newFakeChantiers(t *testing.T) *fakeChantiers {
	codec := pagination.MustNewCodec([][]byte{make32(7)})
	id := pagination.Column[hubapi.Chantier]{SQL: "id", Key: func(c *hubapi.Chantier) any { return c.ID }}
	pager, err := pagination.New(codec, pagination.Spec[hubapi.Chantier]{Resource: "chantiers", ID: id, MaxSortFields: 4,
		Columns: map[string]pagination.Column[hubapi.Chantier]{"nom": {SQL: "nom", Key: func(c *hubapi.Chantier) any { return c.Nom }}}})
	if err != nil {
		t.Fatal(err)
	}
	resp := int64(42)
	return &fakeChantiers{pager: pager, rows: map[int64]*hubapi.Chantier{
		1: {ID: 1, Code: "A", Nom: "Alpha", Adresse: "1 rue", Statut: hubapi.ChantierOuvert, Version: 3, ResponsableID: &resp},
		2: {ID: 2, Code: "B", Nom: "Beta", Adresse: "2 rue", Statut: hubapi.ChantierFerme, Version: 1},
	}}
}

func make32(b byte) []byte {
	k := make([]byte, 32)
	for i := range k {
		k[i] = b + byte(i)
	}
	return k
}

func (f *fakeChantiers) GetChantier(_ context.Context, id int64, sel *fields.Selection) (*hubapi.Chantier, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	c, ok := f.rows[id]
	if !ok {
		return nil, hubapi.ErrNotFound
	}
	out := *c
	if sel.Has("responsable") && c.ResponsableID != nil {
		out.Responsable = &hubapi.UserSummary{ID: *c.ResponsableID, Nom: "Durand", Prenom: "Paul"}
	}
	return &out, nil
}

func (f *fakeChantiers) ListChantiers(_ context.Context, filter hubapi.ChantierFilter, pr hubapi.PageRequest, sel *fields.Selection) (*hubapi.Page[hubapi.Chantier], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.filter, f.req, f.sel = filter, pr, sel
	if f.err != nil {
		return nil, f.err
	}
	// The sort, limit and cursor are checked as a real use case does: by
	// the resource's paginator.
	if _, err := f.pager.NewRequest(pr.Sort, pr.Limit, pr.Cursor); err != nil {
		return nil, err
	}
	items := []hubapi.Chantier{*f.rows[1], *f.rows[2]}
	if pr.Page == 0 {
		return &hubapi.Page[hubapi.Chantier]{Items: items, NextCursor: "next-token", PrevCursor: "prev-token", HasMore: true, Total: -1, Limit: pr.Limit}, nil
	}
	return &hubapi.Page[hubapi.Chantier]{Items: items, NextCursor: "next-token", HasMore: true, Total: 5, Limit: 2, Number: pr.Page}, nil
}

func (f *fakeChantiers) CreateChantier(_ context.Context, in hubapi.ChantierInput) (*hubapi.Chantier, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	if in.Nom == "" {
		return nil, &hubapi.ValidationError{Fields: map[string]string{"nom": "required"}}
	}
	c := &hubapi.Chantier{ID: int64(len(f.rows) + 1), Code: in.Code, Nom: in.Nom, Adresse: in.Adresse, Version: 1}
	f.rows[c.ID] = c
	return c, nil
}

func (f *fakeChantiers) UpdateChantier(_ context.Context, id int64, in hubapi.ChantierInput, ifVersion int64) (*hubapi.Chantier, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.rows[id]
	if !ok {
		return nil, hubapi.ErrNotFound
	}
	if ifVersion != 0 && ifVersion != c.Version {
		return nil, hubapi.ErrPrecondition
	}
	c.Apply(in)
	c.Version++
	return c, nil
}

// PatchChantier applies change to the current fields under the fake's
// lock, as the use case does under the row lock.
func (f *fakeChantiers) PatchChantier(_ context.Context, id int64, change func(hubapi.ChantierInput) (hubapi.ChantierInput, error), ifVersion int64) (*hubapi.Chantier, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	c, ok := f.rows[id]
	if !ok {
		return nil, hubapi.ErrNotFound
	}
	if ifVersion != 0 && ifVersion != c.Version {
		return nil, hubapi.ErrPrecondition
	}
	in, err := change(c.Input())
	if err != nil {
		return nil, err
	}
	c.Apply(in)
	c.Version++
	out := *c
	return &out, nil
}

func (f *fakeChantiers) DeleteChantier(_ context.Context, id int64, _ int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	if _, ok := f.rows[id]; !ok {
		return hubapi.ErrNotFound
	}
	delete(f.rows, id)
	return nil
}

// fakeAuth knows two tokens: "reader" (chantiers:read) and "writer"
// (chantiers:read and chantiers:write).
type fakeAuth struct{}

func (fakeAuth) Authenticate(_ context.Context, token string) (*hubapi.Principal, error) {
	switch token {
	case "reader":
		return &hubapi.Principal{UserID: 1, Role: hubapi.RoleCompagnon, Scopes: []hubapi.Scope{hubapi.ScopeChantiersRead}}, nil
	case "writer":
		return &hubapi.Principal{UserID: 2, Role: hubapi.RoleConducteur, Scopes: []hubapi.Scope{hubapi.ScopeChantiersRead, hubapi.ScopeChantiersWrite}}, nil
	}
	return nil, hubapi.ErrUnauthenticated
}

func mountFake(t *testing.T) (*httptest.Server, *fakeChantiers) {
	t.Helper()
	fake := newFakeChantiers(t)
	r := mux.NewRouter()
	if err := rest.Mount(r, rest.Options{Chantiers: fake, Authenticator: fakeAuth{}}); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(r)
	t.Cleanup(ts.Close)
	return ts, fake
}

type problemBody struct {
	Type    string `json:"type"`
	Status  int    `json:"status"`
	Detail  string `json:"detail"`
	Allowed []string
	Errors  []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

func asProblem(t *testing.T, res *http.Response, body []byte) problemBody {
	t.Helper()
	if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, body %s", ct, body)
	}
	var p problemBody
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestListOverFakeService(t *testing.T) {
	ts, fake := mountFake(t)

	t.Run("offset page: filter and page request reach the use case; envelope with total and next_cursor", func(t *testing.T) {
		res, body := do(t, ts, "reader", "GET", "/api/v1/chantiers?statut=ouvert&ville=Lyon&page=2&limit=2&sort=-nom", "")
		if res.StatusCode != 200 {
			t.Fatalf("%d %s", res.StatusCode, body)
		}
		if fake.filter != (hubapi.ChantierFilter{Statut: hubapi.ChantierOuvert, Ville: "Lyon"}) {
			t.Errorf("filter %+v", fake.filter)
		}
		if fake.req != (hubapi.PageRequest{Page: 2, Limit: 2, Sort: "-nom"}) {
			t.Errorf("page request %+v", fake.req)
		}
		var got struct {
			Data       []map[string]any `json:"data"`
			Pagination map[string]any   `json:"pagination"`
		}
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatal(err)
		}
		want := map[string]any{"page": 2.0, "limit": 2.0, "total": 5.0, "total_pages": 3.0, "has_more": true, "next_cursor": "next-token"}
		for k, v := range want {
			if got.Pagination[k] != v {
				t.Errorf("pagination.%s = %v, want %v", k, got.Pagination[k], v)
			}
		}
		if len(got.Data) != 2 || got.Data[0]["nom"] != "Alpha" {
			t.Errorf("data %v", got.Data)
		}
		if link := res.Header.Get("Link"); !strings.Contains(link, "cursor=next-token") || !strings.Contains(link, `rel="next"`) {
			t.Errorf("Link %q", link)
		}
	})

	t.Run("cursor page: no page number; keyset envelope and Link both ways", func(t *testing.T) {
		cur, _ := pagination.MustNewCodec([][]byte{make32(7)}).Encode(pagination.Cursor{Values: []any{int64(1)}}, pagination.NewFingerprint("chantiers", "id"))
		res, body := do(t, ts, "reader", "GET", "/api/v1/chantiers?limit=2&cursor="+cur, "")
		if res.StatusCode != 200 {
			t.Fatalf("%d %s", res.StatusCode, body)
		}
		if fake.req.Page != 0 || fake.req.Cursor != cur {
			t.Errorf("page request %+v", fake.req)
		}
		var got struct {
			Pagination map[string]any `json:"pagination"`
		}
		_ = json.Unmarshal(body, &got)
		if got.Pagination["next_cursor"] != "next-token" || got.Pagination["prev_cursor"] != "prev-token" || got.Pagination["total"] != nil {
			t.Errorf("pagination %v", got.Pagination)
		}
		if link := res.Header.Get("Link"); !strings.Contains(link, `rel="prev"`) {
			t.Errorf("Link %q", link)
		}
	})

	t.Run("sort refused by the resource's spec → 400 invalid-query naming sort", func(t *testing.T) {
		for _, sort := range []string{"password", "nom,nom", "%2Bnom", "+nom", "nom,id,nom,id,nom"} {
			res, body := do(t, ts, "reader", "GET", "/api/v1/chantiers?sort="+sort, "")
			p := asProblem(t, res, body)
			if res.StatusCode != 400 || !strings.HasSuffix(p.Type, "/invalid-query") || len(p.Errors) != 1 || p.Errors[0].Field != "sort" {
				t.Errorf("sort=%s: %d %s", sort, res.StatusCode, body)
			}
		}
	})

	t.Run("forged cursor → 400 invalid-cursor", func(t *testing.T) {
		res, body := do(t, ts, "reader", "GET", "/api/v1/chantiers?cursor=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "")
		if p := asProblem(t, res, body); res.StatusCode != 400 || !strings.HasSuffix(p.Type, "/invalid-cursor") {
			t.Errorf("%d %s", res.StatusCode, body)
		}
	})

	t.Run("bad parameters never reach the use case", func(t *testing.T) {
		fake.req = hubapi.PageRequest{Sort: "untouched"}
		res, body := do(t, ts, "reader", "GET", "/api/v1/chantiers?limit=0&statut=demoli&cursor=x&page=2", "")
		p := asProblem(t, res, body)
		var names []string
		for _, e := range p.Errors {
			names = append(names, e.Field)
		}
		slices.Sort(names)
		if res.StatusCode != 400 || !slices.Equal(names, []string{"limit", "page", "statut"}) || fake.req.Sort != "untouched" {
			t.Errorf("%d %s (use case saw %+v)", res.StatusCode, body, fake.req)
		}
	})

	t.Run("fields: the selection reaches the use case and projects the page", func(t *testing.T) {
		res, body := do(t, ts, "reader", "GET", "/api/v1/chantiers?fields=id,nom", "")
		if res.StatusCode != 200 || fake.sel == nil || !fake.sel.Has("nom") || fake.sel.Has("code") {
			t.Fatalf("%d %s sel=%v", res.StatusCode, body, fake.sel)
		}
		if strings.Contains(string(body), `"code"`) || !strings.Contains(string(body), `"nom":"Alpha"`) {
			t.Errorf("projection: %s", body)
		}
	})
}

func TestResourceOverFakeService(t *testing.T) {
	ts, fake := mountFake(t)

	t.Run("get with responsable(nom): the use case loads it, REST nests it", func(t *testing.T) {
		res, body := do(t, ts, "reader", "GET", "/api/v1/chantiers/1?fields=nom,responsable(nom)", "")
		if res.StatusCode != 200 || string(body) != `{"id":1,"nom":"Alpha","responsable":{"id":42,"nom":"Durand"}}` {
			t.Fatalf("%d %s", res.StatusCode, body)
		}
	})
	t.Run("get → ETag of the version", func(t *testing.T) {
		res, body := do(t, ts, "reader", "GET", "/api/v1/chantiers/1", "")
		if res.StatusCode != 200 || res.Header.Get("ETag") != `"v3"` || strings.Contains(string(body), "responsable\"") {
			t.Fatalf("%d %s %v", res.StatusCode, body, res.Header)
		}
	})
	t.Run("create → 201, Location, ETag", func(t *testing.T) {
		res, body := do(t, ts, "writer", "POST", "/api/v1/chantiers", `{"code":"C","nom":"Gamma","adresse":"3 rue"}`)
		if res.StatusCode != 201 || res.Header.Get("Location") != "/api/v1/chantiers/3" || res.Header.Get("ETag") != `"v1"` {
			t.Fatalf("%d %s %v", res.StatusCode, body, res.Header)
		}
	})
	t.Run("stale If-Match → 412, nothing written", func(t *testing.T) {
		res, body := do(t, ts, "writer", "PUT", "/api/v1/chantiers/2", `{"code":"B","nom":"Changed","adresse":"a"}`, "If-Match", `"v9"`)
		if res.StatusCode != 412 || fake.rows[2].Nom != "Beta" {
			t.Fatalf("%d %s", res.StatusCode, body)
		}
	})
	t.Run("use-case errors map to their problems", func(t *testing.T) {
		cases := []struct {
			err    error
			status int
			typ    string
		}{
			{hubapi.ErrNotFound, 404, "not-found"},
			{hubapi.Errorf(hubapi.ErrForbidden, "not yours"), 403, "forbidden"},
			{hubapi.Errorf(hubapi.ErrConflict, "still referenced"), 409, "conflict"},
			{&hubapi.ValidationError{Fields: map[string]string{"nom": "required"}}, 422, "validation-error"},
			{hubapi.ErrUnauthenticated, 401, "unauthorized"},
		}
		for _, tc := range cases {
			fake.err = tc.err
			res, body := do(t, ts, "writer", "DELETE", "/api/v1/chantiers/1", "")
			if p := asProblem(t, res, body); res.StatusCode != tc.status || !strings.HasSuffix(p.Type, "/"+tc.typ) {
				t.Errorf("%v → %d %s", tc.err, res.StatusCode, body)
			}
		}
		fake.err = nil
	})
	t.Run("authentication and scopes come before the use case", func(t *testing.T) {
		res, _ := do(t, ts, "nobody", "GET", "/api/v1/chantiers/1", "")
		if res.StatusCode != 401 || !strings.Contains(res.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Errorf("unknown token: %d %v", res.StatusCode, res.Header)
		}
		res, body := do(t, ts, "reader", "DELETE", "/api/v1/chantiers/1", "")
		if res.StatusCode != 403 || fake.rows[1] == nil {
			t.Errorf("reader deleting: %d %s", res.StatusCode, body)
		}
	})
	t.Run("a service left out has no routes", func(t *testing.T) {
		res, body := do(t, ts, "writer", "GET", "/api/v1/pointages", "")
		if p := asProblem(t, res, body); res.StatusCode != 404 || !strings.HasSuffix(p.Type, "/not-found") {
			t.Errorf("%d %s", res.StatusCode, body)
		}
	})
}
