package route_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gorilla/mux"

	"github.com/hubchantier/hubchantier/hubapi/route"
)

// The template and name seen by a middleware in front of the router (after
// the handler), by router middleware and by the handler itself.
func TestTemplateAndName(t *testing.T) {
	type seen struct{ outer, inner, handler, name string }
	build := func(got *seen) http.Handler {
		r := mux.NewRouter()
		r.Use(route.Record)
		r.Use(func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				got.inner = route.Template(req)
				next.ServeHTTP(w, req)
			})
		})
		sub := r.PathPrefix("/api/v1").Subrouter()
		sub.HandleFunc("/chantiers/{id}", func(_ http.ResponseWriter, req *http.Request) {
			got.handler, got.name = route.Template(req), route.Name(req)
		}).Methods(http.MethodGet).Name("GET /api/v1/chantiers/{id}")
		// A reader in front of the router, like the access log.
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			r.ServeHTTP(w, req)
			got.outer = route.Template(req)
		})
	}
	for _, tc := range []struct {
		name  string
		track bool
		path  string
		want  seen
	}{
		{"tracked, matched → template everywhere, raw path nowhere", true, "/api/v1/chantiers/42?cursor=x",
			seen{"/api/v1/chantiers/{id}", "/api/v1/chantiers/{id}", "/api/v1/chantiers/{id}", "GET /api/v1/chantiers/{id}"}},
		{"tracked, unmatched → empty template", true, "/nope/42", seen{}},
		{"untracked, matched → inside the router only", false, "/api/v1/chantiers/42",
			seen{"", "/api/v1/chantiers/{id}", "/api/v1/chantiers/{id}", "GET /api/v1/chantiers/{id}"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got seen
			h := build(&got)
			req := httptest.NewRequest(http.MethodGet, tc.path, nil)
			if tc.track {
				h = route.Track(h)
			}
			h.ServeHTTP(httptest.NewRecorder(), req)
			if got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// A route matched without Record (an embedder's own router) is still found.
func TestTemplateWithoutRecord(t *testing.T) {
	r := mux.NewRouter()
	var got string
	r.HandleFunc("/x/{id}", func(_ http.ResponseWriter, req *http.Request) { got = route.Template(req) })
	r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/x/1", nil))
	if got != "/x/{id}" {
		t.Fatalf("got %q", got)
	}
}
