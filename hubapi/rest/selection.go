package rest

import (
	"net/http"
	"strings"

	"github.com/hubchantier/hubchantier/fields"
	"github.com/hubchantier/hubchantier/hubapi/route"
)

// selectionSchemas are the field schemas of the routes that take a fields
// parameter, by route name ("GET /api/v1/chantiers"; a GET route also
// serves HEAD under its GET name).
var selectionSchemas = func() map[string]*fields.Schema {
	m := map[string]*fields.Schema{"GET /api/v1/users/me": meSchema, "GET /api/v2/users/me": meSchemaV2}
	for name, s := range map[string][2]*fields.Schema{
		"chantiers": {chantierSchema, chantierSchemaV2}, "pointages": {pointageSchema, pointageSchemaV2},
		"documents": {documentSchema, documentSchemaV2}, "signalements": {signalementSchema, signalementSchemaV2},
		"affectations": {affectationSchema, affectationSchemaV2},
		"clients":      financeSchemas["clients"], "factures": financeSchemas["factures"], "depenses": financeSchemas["depenses"],
	} {
		m["GET /api/v1/"+name], m["GET /api/v1/"+name+"/{id}"] = s[0], s[0]
		m["GET /api/v2/"+name], m["GET /api/v2/"+name+"/{id}"] = s[1], s[1]
	}
	return m
}()

// WideSelection reports whether r, a request routed by the API, asks
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
