package cache_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/gorilla/mux"

	"github.com/hubchantier/hubchantier/hubapi/cache"
)

// The cache behind authorization on a gorilla/mux router: Router.Use runs
// it after route matching, so RouteFunc can read the route template.
func Example() {
	c, err := cache.New(cache.Config{
		Routes: map[string]cache.Route{
			"/api/v1/chantiers": {TTL: 5 * time.Minute, DependsOn: []string{"chantiers"}},
			"/api/v1/stats":     {TTL: time.Minute, DependsOn: []string{"chantiers", "pointages", "signalements"}},
		},
		RouteFunc: func(r *http.Request) string {
			if route := mux.CurrentRoute(r); route != nil {
				tmpl, _ := route.GetPathTemplate()
				return tmpl
			}
			return ""
		},
		// The principal's visibility, set in the context by authentication
		// in a real server (role and sorted scopes).
		VaryFunc: func(r *http.Request) string { return r.Header.Get("X-Demo-Role") },
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	version := 1
	router := mux.NewRouter()
	router.HandleFunc("/api/v1/chantiers", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"version":%d}`, version)
	}).Methods(http.MethodGet)
	router.Use(c.Middleware)

	show := func() {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodGet, "/api/v1/chantiers?limit=100", nil)
		r.Header.Set("X-Demo-Role", "admin|chantiers:read")
		router.ServeHTTP(w, r)
		body, _ := io.ReadAll(w.Body)
		fmt.Printf("%s %s\n", w.Header().Get("Cache-Status"), body)
	}
	show()
	show()
	version = 2 // a mutation, then its invalidation
	if err := c.Invalidate(context.Background(), "chantiers"); err != nil {
		log.Print(err) // broadcast failed: other instances catch up at the TTL
	}
	show()
	// Output:
	// hubchantier; fwd=miss {"version":1}
	// hubchantier; hit {"version":1}
	// hubchantier; fwd=miss {"version":2}
}
