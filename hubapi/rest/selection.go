package rest

import (
	"net/http"
	"strings"

	"github.com/hubchantier/hubchantier/fields"
	"github.com/hubchantier/hubchantier/hubapi/route"
)

// selectionSchemas are the field schemas of the v1 routes that take a
// fields parameter, by route name ("GET /api/v1/chantiers"; a GET route also
// serves HEAD under its GET name).
var selectionSchemas = func() map[string]*fields.Schema {
	m := map[string]*fields.Schema{"GET /api/v1/users/me": meSchema}
	for name, s := range map[string]*fields.Schema{
		"chantiers": chantierSchema, "pointages": pointageSchema, "documents": documentSchema,
		"signalements": signalementSchema, "affectations": affectationSchema,
	} {
		m["GET /api/v1/"+name] = s
		m["GET /api/v1/"+name+"/{id}"] = s
	}
	return m
}()

// WideSelection reports whether r, a request routed by the v1 router, asks
// through its fields parameter for a wide representation: every member
// ("*", the empty expression, or each member named) or a nested resource
// (a chantier's responsable, read with another query). The rate limiter
// charges such requests more (product specification 4.2: rate limiting on
// fields=*). A request without fields, with a narrower selection, with an
// invalid expression (answered 400 by the handler) or on a route that takes
// no selection is not wide.
func WideSelection(r *http.Request) bool {
	if !strings.Contains(r.URL.RawQuery, "fields") {
		return false
	}
	s := selectionSchemas[route.Name(r)]
	if s == nil {
		return false
	}
	v, ok := r.URL.Query()["fields"]
	if !ok || len(v) != 1 {
		return false
	}
	sel, err := fields.Parse(v[0], s)
	return err == nil && (sel.IsAll() || len(sel.Subs()) > 0)
}
