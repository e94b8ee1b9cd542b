package apitest_test

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/hubchantier/hubchantier/hubapi/rest"
	"github.com/hubchantier/hubchantier/internal/apitest"
)

func v1(t testing.TB) *apitest.Spec {
	t.Helper()
	s, err := apitest.V1()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const chantierJSON = `{"id":42,"code":"CH-1","nom":"Tour","adresse":"1 rue A","ville":"","code_postal":"","statut":"ouvert",
"client_nom":"","responsable_id":null,"budget_cents":0,"date_debut":null,"date_fin":null,"latitude":null,"longitude":null,
"description":"","created_at":"2026-03-01T10:00:00.123456Z","updated_at":"2026-03-01T10:00:00Z","version":1}`

func chantier(t testing.TB, edit func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(chantierJSON), &m); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(m)
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func request(method, target, body string) *http.Request {
	r := httptest.NewRequest(method, "http://api.test"+target, strings.NewReader(body))
	r.Header.Set("Authorization", "Bearer hck_test")
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	return r
}

func TestV1DocumentShape(t *testing.T) {
	s := v1(t)
	doc := s.Document()
	ops := s.Operations()
	if len(ops) != 89 {
		t.Errorf("%d operations, want 89 (the 88 routes of rest.Mount and GET /openapi.json)", len(ops))
	}
	for _, op := range ops {
		item := doc.Paths.Find(strings.TrimPrefix(op.Path, "/api/v1"))
		o := item.GetOperation(op.Method)
		t.Run(op.String(), func(t *testing.T) {
			if o.OperationID == "" || o.Summary == "" || o.Description == "" || len(o.Tags) != 1 {
				t.Error("needs an operationId, a summary, a description and one tag")
			}
			public := op.ID == "getOpenApiDocument"
			scope, hasScope := o.Extensions["x-required-scope"].(string)
			// The caller's own account (any valid credential) and the batch.
			self := op.ID == "getCurrentUser" || op.ID == "listMyAuthorizations" || op.ID == "revokeMyAuthorization" || op.ID == "runBatch" ||
				op.ID == "updateCurrentUser" || op.ID == "verifyCurrentUserEmail" || op.ID == "exportCurrentUser"
			if !public && !self && (!hasScope || !strings.Contains(o.Description, "`"+scope+"`")) {
				t.Errorf("x-required-scope %q must be set and named in the description", scope)
			}
			if !public {
				for _, code := range []string{"401", "403", "500"} {
					if o.Responses.Value(code) == nil {
						t.Errorf("no %s response", code)
					}
				}
			}
			for code, r := range o.Responses.Map() {
				if code[0] != '4' && code[0] != '5' || op.ID == "getDocumentContent" && (code == "412" || code == "416") {
					continue
				}
				if r.Value.Content.Get("application/problem+json") == nil || len(r.Value.Content) != 1 {
					t.Errorf("%s response is not application/problem+json only", code)
				}
			}
		})
	}
}

// Every object schema of the document is closed: a member the code adds
// or renames cannot slip through validation.
func TestV1ObjectSchemasAreClosed(t *testing.T) {
	doc := v1(t).Document()
	for name, ref := range doc.Components.Schemas {
		walkObjects(ref.Value, "#/components/schemas/"+name, map[*openapi3.Schema]bool{}, func(path string, s *openapi3.Schema) {
			if s.AdditionalProperties.Has == nil || *s.AdditionalProperties.Has {
				t.Errorf("%s: additionalProperties must be false", path)
			}
		})
	}
}

func walkObjects(s *openapi3.Schema, path string, seen map[*openapi3.Schema]bool, fn func(string, *openapi3.Schema)) {
	if s == nil || seen[s] {
		return
	}
	seen[s] = true
	if s.Type.Is("object") {
		fn(path, s)
	}
	for _, k := range slices.Sorted(maps.Keys(s.Properties)) {
		walkObjects(s.Properties[k].Value, path+"/properties/"+k, seen, fn)
	}
	if s.Items != nil {
		walkObjects(s.Items.Value, path+"/items", seen, fn)
	}
	for i, sub := range append(append(openapi3.SchemaRefs{}, s.AnyOf...), s.OneOf...) {
		walkObjects(sub.Value, fmt.Sprintf("%s/anyOf|oneOf/%d", path, i), seen, fn)
	}
}

func TestCheckResponseCatchesDrift(t *testing.T) {
	s := v1(t)
	get := request("GET", "/api/v1/chantiers/42", "")
	m, err := s.CheckRequest(get, nil)
	if err != nil {
		t.Fatal(err)
	}
	okHeader := http.Header{"Content-Type": {"application/json"}, "Etag": {`"v1"`}, "Last-Modified": {"Sun, 01 Mar 2026 10:00:00 GMT"}}
	problemHeader := http.Header{"Content-Type": {"application/problem+json"}}
	cases := []struct {
		name   string
		status int
		header http.Header
		body   []byte
		ok     bool
	}{
		{"the documented representation passes", 200, okHeader, chantier(t, nil), true},
		{"a new member fails", 200, okHeader, chantier(t, func(m map[string]any) { m["secret"] = "x" }), false},
		{"a missing member fails", 200, okHeader, chantier(t, func(m map[string]any) { delete(m, "version") }), false},
		{"null where not nullable fails", 200, okHeader, chantier(t, func(m map[string]any) { m["ville"] = nil }), false},
		{"an unknown enum value fails", 200, okHeader, chantier(t, func(m map[string]any) { m["statut"] = "demoli" }), false},
		{"a string id fails", 200, okHeader, chantier(t, func(m map[string]any) { m["id"] = "42" }), false},
		{"a malformed timestamp fails", 200, okHeader, chantier(t, func(m map[string]any) { m["created_at"] = "yesterday" }), false},
		{"a malformed date fails", 200, okHeader, chantier(t, func(m map[string]any) { m["date_debut"] = "2026-02-30" }), false},
		{"a missing ETag fails", 200, http.Header{"Content-Type": {"application/json"}, "Last-Modified": okHeader["Last-Modified"]}, chantier(t, nil), false},
		{"a weak ETag fails", 200, http.Header{"Content-Type": {"application/json"}, "Etag": {`W/"v1"`}, "Last-Modified": okHeader["Last-Modified"]}, chantier(t, nil), false},
		{"a malformed Last-Modified fails", 200, http.Header{"Content-Type": {"application/json"}, "Etag": {`"v1"`}, "Last-Modified": {"2026-03-01"}}, chantier(t, nil), false},
		{"an undocumented media type fails", 200, http.Header{"Content-Type": {"text/plain"}, "Etag": {`"v1"`}, "Last-Modified": okHeader["Last-Modified"]}, chantier(t, nil), false},
		{"an undocumented status fails", 418, problemHeader, []byte(`{"type":"about:blank","title":"I'm a teapot","status":418}`), false},
		{"a documented problem passes", 404, problemHeader,
			[]byte(`{"type":"https://hubchantier.fr/problems/not-found","title":"Not Found","status":404,"detail":"x","instance":"/api/v1/chantiers/42"}`), true},
		{"a problem whose status member differs fails", 404, problemHeader, []byte(`{"type":"https://hubchantier.fr/problems/not-found","title":"Not Found","status":400}`), false},
		{"a problem without title fails", 404, problemHeader, []byte(`{"type":"https://hubchantier.fr/problems/not-found","status":404}`), false},
		{"a problem with an unknown member fails", 404, problemHeader, []byte(`{"type":"https://hubchantier.fr/problems/not-found","title":"Not Found","status":404,"stack":"main.go:1"}`), false},
		{"an error as JSON instead of problem+json fails", 404, http.Header{"Content-Type": {"application/json"}}, []byte(`{"error":"not found"}`), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := s.CheckResponse(get, m, tc.status, tc.header, tc.body)
			if (err == nil) != tc.ok {
				t.Errorf("CheckResponse error = %v, want ok=%v", err, tc.ok)
			}
		})
	}

	t.Run("with fields a partial representation passes, without it fails", func(t *testing.T) {
		partial := []byte(`{"id":42,"nom":"Tour","responsable":{"nom":"Martin"}}`)
		h := http.Header{"Content-Type": {"application/json"}, "Etag": {`"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"`}, "Last-Modified": okHeader["Last-Modified"]}
		sel := request("GET", "/api/v1/chantiers/42?fields=nom,responsable(nom)", "")
		ms, err := s.CheckRequest(sel, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.CheckResponse(sel, ms, 200, h, partial); err != nil {
			t.Errorf("selection: %v", err)
		}
		if err := s.CheckResponse(sel, ms, 200, h, []byte(`{"nom":"Tour"}`)); err == nil {
			t.Error("a selection without id passed")
		}
		if err := s.CheckResponse(get, m, 200, h, partial); err == nil {
			t.Error("a partial representation without fields passed")
		}
	})

	t.Run("a body on a response documented without content fails", func(t *testing.T) {
		del := request("DELETE", "/api/v1/chantiers/42", "")
		m, err := s.CheckRequest(del, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.CheckResponse(del, m, 204, http.Header{}, nil); err != nil {
			t.Errorf("empty 204: %v", err)
		}
		if err := s.CheckResponse(del, m, 204, http.Header{}, []byte("{}")); err == nil {
			t.Error("204 with a body passed")
		}
	})
}

func TestCheckRequestCatchesDrift(t *testing.T) {
	s := v1(t)
	create := `{"code":"C1","nom":"Tour","adresse":"1 rue A"}`
	cases := []struct {
		name string
		req  func() *http.Request
		ok   bool
	}{
		{"a valid create passes", func() *http.Request { return request("POST", "/api/v1/chantiers", create) }, true},
		{"an unknown member fails", func() *http.Request {
			return request("POST", "/api/v1/chantiers", `{"code":"C1","nom":"Tour","adresse":"1 rue A","x":1}`)
		}, false},
		{"a missing required member fails", func() *http.Request { return request("POST", "/api/v1/chantiers", `{"code":"C1","nom":"Tour"}`) }, false},
		{"a wrong type fails", func() *http.Request {
			return request("POST", "/api/v1/chantiers", `{"code":"C1","nom":"Tour","adresse":"a","budget_cents":"1"}`)
		}, false},
		{"another media type fails", func() *http.Request {
			r := request("POST", "/api/v1/chantiers", create)
			r.Header.Set("Content-Type", "text/plain")
			return r
		}, false},
		{"no credentials fail", func() *http.Request {
			r := request("GET", "/api/v1/chantiers", "")
			r.Header.Del("Authorization")
			return r
		}, false},
		{"the public document needs no credentials", func() *http.Request {
			r := request("GET", "/api/v1/openapi.json", "")
			r.Header.Del("Authorization")
			return r
		}, true},
		{"declared query parameters pass", func() *http.Request {
			return request("GET", "/api/v1/chantiers?statut=ouvert&limit=5&sort=-nom,id", "")
		}, true},
		{"an undeclared query parameter fails", func() *http.Request { return request("GET", "/api/v1/chantiers?colour=red", "") }, false},
		{"a repeated query parameter fails", func() *http.Request { return request("GET", "/api/v1/chantiers?page=1&page=2", "") }, false},
		{"a limit over 100 fails", func() *http.Request { return request("GET", "/api/v1/chantiers?limit=101", "") }, false},
		{"a sort key off the whitelist fails", func() *http.Request { return request("GET", "/api/v1/chantiers?sort=password", "") }, false},
		{"a non-integer id fails", func() *http.Request { return request("GET", "/api/v1/chantiers/abc", "") }, false},
		{"a merge patch with null on an optional member passes", func() *http.Request {
			r := request("PATCH", "/api/v1/chantiers/1", `{"date_fin":null,"ville":null}`)
			r.Header.Set("Content-Type", "application/merge-patch+json")
			return r
		}, true},
		{"a merge patch with null on a required member fails", func() *http.Request {
			r := request("PATCH", "/api/v1/chantiers/1", `{"nom":null}`)
			r.Header.Set("Content-Type", "application/merge-patch+json")
			return r
		}, false},
		{"a validated statut in a pointage fails", func() *http.Request {
			return request("POST", "/api/v1/pointages", `{"chantier_id":1,"date":"2026-03-02","minutes":60,"statut":"valide"}`)
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.req()
			body, err := io.ReadAll(req.Body)
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.CheckRequest(req, body)
			if (err == nil) != tc.ok {
				t.Errorf("CheckRequest error = %v, want ok=%v", err, tc.ok)
			}
		})
	}
	t.Run("an undocumented path is ErrNoRoute", func(t *testing.T) {
		if _, err := s.CheckRequest(request("GET", "/api/v1/nope", ""), nil); err == nil || !strings.Contains(err.Error(), "no operation") {
			t.Errorf("err = %v", err)
		}
	})
}

func TestCheckProblem(t *testing.T) {
	s := v1(t)
	ph := http.Header{"Content-Type": {"application/problem+json"}}
	valid := `{"type":"https://hubchantier.fr/problems/not-found","title":"Not Found","status":404,"instance":"/x"}`
	if err := s.CheckProblem(404, ph, []byte(valid)); err != nil {
		t.Errorf("valid problem: %v", err)
	}
	for name, tc := range map[string]struct {
		status int
		h      http.Header
		body   string
	}{
		"wrong media type":    {404, http.Header{"Content-Type": {"application/json"}}, valid},
		"status mismatch":     {405, ph, valid},
		"not JSON":            {404, ph, "Not Found"},
		"missing type member": {404, ph, `{"title":"Not Found","status":404}`},
	} {
		if err := s.CheckProblem(tc.status, tc.h, []byte(tc.body)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestLoadSpecRejects(t *testing.T) {
	mutate := func(f func(d map[string]any)) []byte {
		var d map[string]any
		_ = json.Unmarshal(rest.OpenAPIDocument(), &d)
		f(d)
		b, _ := json.Marshal(d)
		return b
	}
	schemas := func(d map[string]any) map[string]any {
		return d["components"].(map[string]any)["schemas"].(map[string]any)
	}
	cases := map[string][]byte{
		"not JSON":          []byte("openapi: [unterminated"),
		"OpenAPI 3.0":       mutate(func(d map[string]any) { d["openapi"] = "3.0.3" }),
		"no Problem schema": mutate(func(d map[string]any) { delete(schemas(d), "Problem") }),
		"a dangling reference": mutate(func(d map[string]any) {
			schemas(d)["ChantierList"].(map[string]any)["properties"].(map[string]any)["data"].(map[string]any)["items"] =
				map[string]any{"$ref": "#/components/schemas/Nope"}
		}),
		"an example that does not match its schema": mutate(func(d map[string]any) {
			p := d["paths"].(map[string]any)["/chantiers"].(map[string]any)["post"].(map[string]any)
			mt := p["requestBody"].(map[string]any)["content"].(map[string]any)["application/json"].(map[string]any)
			mt["examples"].(map[string]any)["example"].(map[string]any)["value"].(map[string]any)["statut"] = "demoli"
		}),
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := apitest.LoadSpec(data); err == nil {
				t.Error("accepted")
			}
		})
	}
	if _, err := apitest.LoadSpec(rest.OpenAPIDocument()); err != nil {
		t.Errorf("the embedded document: %v", err)
	}
}

// A response is checked against the operation its request matched.
func ExampleSpec_CheckResponse() {
	spec, err := apitest.V1()
	if err != nil {
		panic(err)
	}
	req := httptest.NewRequest("GET", "http://api.test/api/v1/users/me", nil)
	req.Header.Set("Authorization", "Bearer hck_example")
	m, err := spec.CheckRequest(req, nil)
	if err != nil {
		panic(err)
	}
	fmt.Println(m.Operation.ID)
	// A representation with a member the document does not know.
	body := []byte(`{"id":1,"email":"a@b.fr","nom":"","prenom":"","role":"admin","password_hash":"x",
		"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z","version":1,"scopes":["admin"]}`)
	err = spec.CheckResponse(req, m, 200, http.Header{"Content-Type": {"application/json"}}, body)
	fmt.Println("rejected:", err != nil)
	// Output:
	// getCurrentUser
	// rejected: true
}

func BenchmarkCheckRequest(b *testing.B) {
	s := v1(b)
	body := []byte(`{"code":"C1","nom":"Tour","adresse":"1 rue A","ville":"Lyon","code_postal":"69003","budget_cents":100,"date_debut":"2026-01-05"}`)
	b.ReportAllocs()
	for b.Loop() {
		req := request("POST", "/api/v1/chantiers", "")
		req.Header.Set("Content-Type", "application/json")
		if _, err := s.CheckRequest(req, body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCheckResponse(b *testing.B) {
	s := v1(b)
	items := make([]json.RawMessage, 20)
	for i := range items {
		items[i] = chantier(b, func(m map[string]any) { m["id"] = i + 1 })
	}
	body, _ := json.Marshal(map[string]any{"data": items, "pagination": map[string]any{"page": 1, "limit": 20, "total": 20, "total_pages": 1, "has_more": false, "next_cursor": nil}})
	req := request("GET", "/api/v1/chantiers", "")
	m, err := s.CheckRequest(req, nil)
	if err != nil {
		b.Fatal(err)
	}
	h := http.Header{"Content-Type": {"application/json"}}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.CheckResponse(req, m, 200, h, body); err != nil {
			b.Fatal(err)
		}
	}
}
