package server_test

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gorilla/mux"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/rest"
	"github.com/hubchantier/hubchantier/internal/apitest"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

// TestOpenAPIDescribesEveryRoute compares the routes rest.Mount and
// rest.MountDocs register under /api/v1 with the operations of the
// document, both ways.
type everyService struct {
	hubapi.ConnectorExportService
	hubapi.ClientService
	hubapi.FactureService
	hubapi.DepenseService
	hubapi.ChantierService
	hubapi.PointageService
	hubapi.DocumentService
	hubapi.SignalementService
	hubapi.AffectationService
	hubapi.UserService
	hubapi.StatsService
	hubapi.APIKeyService
	hubapi.AuthorizationService
	hubapi.Authenticator
	hubapi.WebhookService
	hubapi.PrivacyService
	hubapi.AuditLogService
	hubapi.APIKeySecurityService
	hubapi.ConnectorService
	hubapi.ConnectorOAuthService
}

func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	spec, err := apitest.V1()
	if err != nil {
		t.Fatal(err)
	}
	// Routes are registered without calling any use case: services whose
	// methods would panic are enough to list them.
	var s everyService
	r := mux.NewRouter()
	rest.MountDocs(r)
	if err := rest.Mount(r, rest.Options{Chantiers: s, Pointages: s, Documents: s, Signalements: s, Affectations: s,
		Users: s, Stats: s, APIKeys: s, Webhooks: s, Authorizations: s, Privacy: s, AuditLogs: s, KeySecurity: s, Connectors: s, ConnectorOAuth: s, Authenticator: s, Batch: http.NotFoundHandler(),
		Clients: s, Factures: s, Depenses: s, ConnectorExports: s}); err != nil {
		t.Fatal(err)
	}
	var routes []string
	err = r.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		tpl, err := route.GetPathTemplate()
		if err != nil || !strings.HasPrefix(tpl, v1+"/") {
			return nil
		}
		methods, err := route.GetMethods()
		if err != nil {
			return nil // the /api/v1 subrouter itself
		}
		for _, m := range methods {
			if m != "HEAD" { // HEAD mirrors GET
				routes = append(routes, m+" "+tpl)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	for _, op := range spec.Operations() {
		documented = append(documented, op.String())
	}
	slices.Sort(routes)
	for _, rt := range routes {
		if !slices.Contains(documented, rt) {
			t.Errorf("route %s is not in the OpenAPI document", rt)
		}
	}
	for _, op := range documented {
		if !slices.Contains(routes, op) {
			t.Errorf("operation %s has no route", op)
		}
	}
	if len(routes) == 0 {
		t.Fatal("no route found")
	}
}

// TestRateLimitedResponses exhausts a small quota: 429 with Retry-After and
// a problem naming the quota, as documented; other routes and other keys
// keep their own quotas.
func TestRateLimitedResponses(t *testing.T) {
	env := apitest.Start(t, testenv.SQLite(t), apitest.Config{RateLimits: "GET /api/v1/users/me=2/m"})
	c := env.As(hubapi.RoleConducteur)
	for i := 0; i < 2; i++ {
		r := c.Get(t, v1+"/users/me").Expect(200)
		if r.Header.Get("X-RateLimit-Limit") != "2" || r.Header.Get("X-RateLimit-Remaining") != strconv.Itoa(1-i) {
			t.Errorf("request %d: X-RateLimit-Limit %q, Remaining %q", i+1, r.Header.Get("X-RateLimit-Limit"), r.Header.Get("X-RateLimit-Remaining"))
		}
	}
	r := c.Get(t, v1+"/users/me")
	p := r.Problem(429, "rate-limit-exceeded")
	if s, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || s < 1 || s > 60 {
		t.Errorf("Retry-After %q", r.Header.Get("Retry-After"))
	}
	if p.Detail == "" {
		t.Error("no detail")
	}
	c.Get(t, v1+"/chantiers").Expect(200)
	env.As(hubapi.RoleAdmin).Get(t, v1+"/users/me").Expect(200)
}

// FuzzCreateChantierBody posts arbitrary bodies: the server never fails
// with 5xx, and every answer matches the document.
func FuzzCreateChantierBody(f *testing.F) {
	for _, s := range []string{
		`{"code":"F1","nom":"n","adresse":"a"}`,
		`{"code":"F2","nom":"n","adresse":"a","responsable_id":null,"latitude":1e400}`,
		`{"code":"F3","nom":"n","adresse":"a","date_debut":"2026-02-30"}`,
		`{"code":"F4","nom":"\ud800","adresse":"a","budget_cents":-1}`,
		`{"code":[],"nom":{},"adresse":1}`,
		`{"Code":"x"}`, `[]`, `null`, `{`, ``, `{"a":1}{"b":2}`,
	} {
		f.Add([]byte(s))
	}
	env := apitest.Start(f, testenv.SQLite(f), apitest.Config{RateLimits: apitest.LiftedRateLimits})
	admin := env.As(hubapi.RoleAdmin)
	f.Fuzz(func(t *testing.T, body []byte) {
		r := admin.Post(t, v1+"/chantiers", nil, apitest.Raw("application/json", body), apitest.Unchecked("fuzz input"))
		if r.Status >= 500 {
			t.Fatalf("status %d for %q: %s", r.Status, body, r.Body)
		}
	})
}

// FuzzListQuery sends arbitrary query strings to a list: 200 or a 400
// problem, never 5xx, always as documented.
func FuzzListQuery(f *testing.F) {
	for _, s := range []string{
		"", "page=2&limit=5", "sort=-nom,id", "sort=nom,nom", "statut=ouvert&ville=Lyon", "limit=0", "page=99999999999999999999",
		"responsable_id=-1", "x=1", "page=1&page=1", "sort=", "statut=%00", "limit=%20",
	} {
		f.Add(s)
	}
	// The fuzzer sends thousands of requests a minute with one key.
	env := apitest.Start(f, testenv.SQLite(f), apitest.Config{RateLimits: apitest.LiftedRateLimits + ";GET /api/v1/chantiers=1000000/m"})
	admin := env.As(hubapi.RoleAdmin)
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := url.Parse(v1 + "/chantiers?" + raw)
		if err != nil || u.RawQuery != raw || u.Fragment != "" || strings.ContainsAny(raw, " \t\r\n") {
			t.Skip("not a query string")
		}
		r := admin.Get(t, v1+"/chantiers?"+raw, apitest.Unchecked("fuzz input"))
		if r.Status != 200 && r.Status != 400 {
			t.Fatalf("status %d for %q: %s", r.Status, raw, r.Body)
		}
	})
}
