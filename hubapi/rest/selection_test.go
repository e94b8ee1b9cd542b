package rest_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gorilla/mux"

	"github.com/hubchantier/hubchantier/hubapi/rest"
)

// WideSelection judges a routed request by its route's field schema: every
// member or an expanded nested resource is wide; no selection, a narrower
// one, an invalid one, a write and a route without selection are not.
func TestWideSelection(t *testing.T) {
	var got *bool
	r := mux.NewRouter()
	if err := rest.Mount(r, rest.Options{Chantiers: newFakeChantiers(t), Authenticator: fakeAuth{},
		Middleware: []mux.MiddlewareFunc{func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				wide := rest.WideSelection(req)
				got = &wide
				next.ServeHTTP(w, req)
			})
		}}}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, method, target string
		wide                 bool
	}{
		{"list without fields → narrow", "GET", "/api/v1/chantiers", false},
		{"list with a few members → narrow", "GET", "/api/v1/chantiers?fields=id,nom,statut", false},
		{"list with fields=* → wide", "GET", "/api/v1/chantiers?fields=*", true},
		{"list with an empty fields (every member) → wide", "GET", "/api/v1/chantiers?fields=", true},
		{"list expanding responsable → wide", "GET", "/api/v1/chantiers?fields=id,responsable(nom)", true},
		{"list expanding responsable by a dotted path → wide", "GET", "/api/v1/chantiers?fields=nom,responsable.nom", true},
		{"responsable_id is a plain member → narrow", "GET", "/api/v1/chantiers?fields=id,responsable_id", false},
		{"single resource with fields=* → wide", "GET", "/api/v1/chantiers/1?fields=*", true},
		{"HEAD of a list with fields=* → wide", "HEAD", "/api/v1/chantiers?fields=*", true},
		{"unknown member (answered 400) → narrow", "GET", "/api/v1/chantiers?fields=*,nope", false},
		{"repeated fields (answered 400) → narrow", "GET", "/api/v1/chantiers?fields=*&fields=*", false},
		{"a write with fields=* → narrow", "DELETE", "/api/v1/chantiers/1?fields=*", false},
		{"another parameter named like fields → narrow", "GET", "/api/v1/chantiers?sort=-nom&xfields=*", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got = nil
			req := httptest.NewRequest(tc.method, tc.target, nil)
			req.Header.Set("Authorization", "Bearer writer")
			r.ServeHTTP(httptest.NewRecorder(), req)
			if got == nil {
				t.Fatal("the request did not reach the middleware")
			}
			if *got != tc.wide {
				t.Errorf("WideSelection = %v, want %v", *got, tc.wide)
			}
		})
	}
	if rest.WideSelection(httptest.NewRequest("GET", "/api/v1/chantiers?fields=*", nil)) {
		t.Error("an unrouted request is wide")
	}
}
