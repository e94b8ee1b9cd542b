// Package route is the one place that knows which gorilla/mux route served a
// request: its path template ("/api/v1/chantiers/{id}") and its name
// ("GET /api/v1/chantiers/{id}"). The access log, the metrics labels, the
// rate limiter, the response cache and the v1 scope check all read it here,
// so they agree, and the template is looked up once per request.
//
// mux matches routes inside the router, after the middleware in front of it
// has run. Track, in front of the router, gives the request an empty record;
// Record, installed with router.Use, fills it when a route matches; the
// middleware in front reads it after the handler returned:
//
//	r := mux.NewRouter()
//	r.Use(route.Record)
//	... routes ...
//	h := accessLog(route.Track(r)) // accessLog calls route.Template(req) at the end
//
// Never a raw path: an unmatched request has the empty template, so ids and
// query strings (cursors) stay out of logs and label values.
package route

import (
	"context"
	"net/http"

	"github.com/gorilla/mux"
)

// record holds the matched route of one request.
type record struct {
	template, name string
	set            bool
}

type recordKey struct{}

// Track gives each request an empty record for Record to fill, so that code
// in front of the router (access log, metrics) can read the route after the
// handler returned. A request that already carries a record keeps it.
func Track(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if recordFrom(r.Context()) != nil {
			next.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), recordKey{}, &record{})))
	})
}

// Record, installed with router.Use, notes the matched route's template and
// name once. Without Track in front it adds its own record, for the
// middleware and handlers inside the router.
func Record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := recordFrom(r.Context())
		if rec == nil {
			rec = &record{}
			r = r.WithContext(context.WithValue(r.Context(), recordKey{}, rec))
		}
		if !rec.set {
			if cr := mux.CurrentRoute(r); cr != nil {
				rec.template, _ = cr.GetPathTemplate()
				rec.name = cr.GetName()
				rec.set = true
			}
		}
		next.ServeHTTP(w, r)
	})
}

func recordFrom(ctx context.Context) *record {
	rec, _ := ctx.Value(recordKey{}).(*record)
	return rec
}

// Template returns the path template of the route that matched r
// ("/api/v1/chantiers/{id}"), or "" when none did (yet).
func Template(r *http.Request) string {
	if rec := recordFrom(r.Context()); rec != nil && rec.set {
		return rec.template
	}
	if cr := mux.CurrentRoute(r); cr != nil { // a router without Record
		if t, err := cr.GetPathTemplate(); err == nil {
			return t
		}
	}
	return ""
}

// Name returns the name of the route that matched r ("GET
// /api/v1/chantiers/{id}" for the v1 routes), or "".
func Name(r *http.Request) string {
	if rec := recordFrom(r.Context()); rec != nil && rec.set {
		return rec.name
	}
	if cr := mux.CurrentRoute(r); cr != nil {
		return cr.GetName()
	}
	return ""
}

// Detach returns ctx with an empty record for the router to fill: a request
// dispatched in-process from inside another (a batch operation) gets its
// own route, never the one of the request that carries it.
func Detach(ctx context.Context) context.Context {
	return context.WithValue(ctx, recordKey{}, &record{})
}
