// Package rest is the REST adapter of Hub Chantier on gorilla/mux: routes
// of v1 and v2, request decoding, problem+json errors, API-key
// authentication and the OpenAPI documents. Both versions share every
// handler and use case; v2 differs only in its representations (see
// V2Names) and pages by cursor only.
package rest

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/hubchantier/hubchantier/fields"
	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/route"
	"github.com/hubchantier/hubchantier/problem"
)

// API serves /api/v1 or /api/v2.
type API struct {
	o      Options
	log    *slog.Logger
	v2     bool
	base   string                  // "/api/v1" or "/api/v2"
	scopes map[string]hubapi.Scope // "METHOD /api/v1/template" → required scope
	onAuth func(reason string)
}

// Options configure the v1 API.
//
// The use cases come as the hubapi service interfaces, so that REST runs
// over any implementation (service.Service in the server, a fake in
// tests). A nil service leaves its routes out.
type Options struct {
	Chantiers    hubapi.ChantierService
	Pointages    hubapi.PointageService
	Documents    hubapi.DocumentService
	Signalements hubapi.SignalementService
	// Affectations also serves GET /planning.
	Affectations hubapi.AffectationService
	Users        hubapi.UserService
	Stats        hubapi.StatsService
	APIKeys      hubapi.APIKeyService
	// KeySecurity serves the rotation and the allow-list of API keys
	// (PATCH /admin/api-keys/{id}, POST …/rotate) and GET /admin/anomalies
	// (nil: no routes).
	KeySecurity hubapi.APIKeySecurityService
	// RotationLink is the page linked (rel="deprecation") from the answers
	// to a secret replaced by a rotation (default DefaultRotationLink).
	RotationLink string
	// Authorizations serves the caller's OAuth authorizations (nil: no
	// OAuth server, no routes).
	Authorizations hubapi.AuthorizationService
	Webhooks       hubapi.WebhookService
	// Privacy serves the GDPR rights: the caller's export and
	// rectification, and the erasure of a user by an admin (nil: no
	// routes).
	Privacy hubapi.PrivacyService
	// AuditLogs serves GET /admin/audit-logs (v1 only; nil: no route).
	AuditLogs hubapi.AuditLogService
	// Connectors serves /integrations/connectors (v1 only; nil: no
	// routes).
	Connectors hubapi.ConnectorService
	// ConnectorOAuth serves /integrations/{type}/authorize and callback
	// (v1 only; nil: no routes).
	ConnectorOAuth hubapi.ConnectorOAuthService
	// Clients, Factures and Depenses serve the accounting resources (nil:
	// no routes).
	Clients  hubapi.ClientService
	Factures hubapi.FactureService
	Depenses hubapi.DepenseService
	// ConnectorExports serves POST /integrations/connectors/{id}/export
	// (v1 only; nil: no route).
	ConnectorExports hubapi.ConnectorExportService
	// Authenticator resolves bearer tokens to principals (required).
	Authenticator hubapi.Authenticator

	Logger *slog.Logger
	// Middleware runs after authentication and route matching, in order
	// (rate limiting, conditional requests, response cache, ...).
	Middleware []mux.MiddlewareFunc
	// OnAuthFailure is told why a request was refused: missing, malformed,
	// invalid or insufficient_scope (for metrics).
	OnAuthFailure func(reason string)
	// Batch, when set, serves POST /batch (hubapi/batch): any authenticated
	// caller may send one; each operation needs its own route's scope.
	Batch http.Handler
}

// Mount adds /api/v1 to r. Errors are configuration errors.
func Mount(r *mux.Router, o Options) error { return mount(r, o, "/api/v1") }

// MountV2 adds /api/v2 to r: the routes of v1 with the v2 representations.
func MountV2(r *mux.Router, o Options) error { return mount(r, o, "/api/v2") }

// pick returns the v1 or v2 variant.
func pick[T any](a *API, v1, v2 T) T {
	if a.v2 {
		return v2
	}
	return v1
}

func mount(r *mux.Router, o Options, base string) error {
	if o.Authenticator == nil {
		return errors.New("rest: Options.Authenticator is required")
	}
	a := &API{o: o, log: o.Logger, base: base, v2: base == "/api/v2", scopes: map[string]hubapi.Scope{}, onAuth: o.OnAuthFailure}
	if a.onAuth == nil {
		a.onAuth = func(string) {}
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	v1 := r.PathPrefix(a.base).Subrouter()
	v1.Use(a.authenticate, a.authorize, checkQuery)
	for _, m := range o.Middleware {
		v1.Use(m)
	}
	allowed := map[string][]string{} // path → methods, in registration order
	var paths []string
	route := func(method, path string, scope hubapi.Scope, h http.HandlerFunc) {
		methods := []string{method}
		if method == http.MethodGet {
			methods = append(methods, http.MethodHead)
		}
		v1.Handle(path, h).Methods(methods...).Name(method + " " + a.base + path)
		a.scopes[method+" "+a.base+path] = scope
		if _, ok := allowed[path]; !ok {
			paths = append(paths, path)
		}
		allowed[path] = append(allowed[path], methods...)
	}
	crud := func(name string, read, write hubapi.Scope, list, get, create, put, patch, del http.HandlerFunc) {
		route(http.MethodGet, "/"+name, read, list)
		route(http.MethodPost, "/"+name, write, create)
		route(http.MethodGet, "/"+name+"/{id}", read, get)
		route(http.MethodPut, "/"+name+"/{id}", write, put)
		route(http.MethodPatch, "/"+name+"/{id}", write, patch)
		route(http.MethodDelete, "/"+name+"/{id}", write, del)
	}

	if s := o.Chantiers; s != nil {
		ch := &resource[hubapi.Chantier, hubapi.ChantierInput]{name: "chantiers", get: s.GetChantier, create: s.CreateChantier,
			update: s.UpdateChantier, patch: s.PatchChantier, remove: s.DeleteChantier,
			id: func(m *hubapi.Chantier) int64 { return m.ID }, version: func(m *hubapi.Chantier) int64 { return m.Version },
			updated: func(m *hubapi.Chantier) time.Time { return m.UpdatedAt }, schema: chantierSchema,
			schemaV2: chantierSchemaV2, dto: chantierDTO,
			view: func(m *hubapi.Chantier, sel *fields.Selection) any {
				if !sel.Has("responsable") {
					return m
				}
				return chantierView{m, m.Responsable}
			}}
		crud("chantiers", hubapi.ScopeChantiersRead, hubapi.ScopeChantiersWrite, a.chantierLister(),
			ch.handleGet(a), ch.handleCreate(a), ch.handlePut(a), ch.handlePatch(a), ch.handleDelete(a))
	}
	if s := o.Pointages; s != nil {
		pt := &resource[hubapi.Pointage, hubapi.PointageInput]{name: "pointages", get: withoutSelection(s.GetPointage),
			create: s.CreatePointage, update: s.UpdatePointage, patch: s.PatchPointage, remove: s.DeletePointage,
			id: func(m *hubapi.Pointage) int64 { return m.ID }, version: func(m *hubapi.Pointage) int64 { return m.Version },
			updated: func(m *hubapi.Pointage) time.Time { return m.UpdatedAt }, schema: pointageSchema,
			schemaV2: pointageSchemaV2, dto: pointageDTO}
		crud("pointages", hubapi.ScopePointagesRead, hubapi.ScopePointagesWrite, a.pointageLister(),
			pt.handleGet(a), pt.handleCreate(a), pt.handlePut(a), pt.handlePatch(a), pt.handleDelete(a))
		route(http.MethodPost, "/pointages/{id}/validate", hubapi.ScopePointagesWrite, a.validatePointage(pt))
	}
	if s := o.Documents; s != nil {
		doc := &resource[hubapi.Document, hubapi.DocumentInput]{name: "documents", get: withoutSelection(s.GetDocument),
			update: s.UpdateDocument, patch: s.PatchDocument, remove: s.DeleteDocument,
			id: func(m *hubapi.Document) int64 { return m.ID }, version: func(m *hubapi.Document) int64 { return m.Version },
			updated: func(m *hubapi.Document) time.Time { return m.UpdatedAt }, schema: documentSchema,
			schemaV2: documentSchemaV2, dto: documentDTO}
		crud("documents", hubapi.ScopeDocumentsRead, hubapi.ScopeDocumentsWrite, a.documentLister(),
			doc.handleGet(a), a.uploadDocument, doc.handlePut(a), doc.handlePatch(a), doc.handleDelete(a))
		route(http.MethodGet, "/documents/{id}/content", hubapi.ScopeDocumentsRead, a.documentContent)
	}
	if s := o.Signalements; s != nil {
		sg := &resource[hubapi.Signalement, hubapi.SignalementInput]{name: "signalements", get: withoutSelection(s.GetSignalement),
			create: s.CreateSignalement, update: s.UpdateSignalement, patch: s.PatchSignalement, remove: s.DeleteSignalement,
			id: func(m *hubapi.Signalement) int64 { return m.ID }, version: func(m *hubapi.Signalement) int64 { return m.Version },
			updated: func(m *hubapi.Signalement) time.Time { return m.UpdatedAt }, schema: signalementSchema,
			schemaV2: signalementSchemaV2, dto: signalementDTO}
		crud("signalements", hubapi.ScopeSignalementsRead, hubapi.ScopeSignalementsWrite, a.signalementLister(),
			sg.handleGet(a), sg.handleCreate(a), sg.handlePut(a), sg.handlePatch(a), sg.handleDelete(a))
	}
	if s := o.Affectations; s != nil {
		af := &resource[hubapi.Affectation, hubapi.AffectationInput]{name: "affectations", get: withoutSelection(s.GetAffectation),
			create: s.CreateAffectation, update: s.UpdateAffectation, patch: s.PatchAffectation, remove: s.DeleteAffectation,
			id: func(m *hubapi.Affectation) int64 { return m.ID }, version: func(m *hubapi.Affectation) int64 { return m.Version },
			updated: func(m *hubapi.Affectation) time.Time { return m.UpdatedAt }, schema: affectationSchema,
			schemaV2: affectationSchemaV2, dto: affectationDTO}
		crud("affectations", hubapi.ScopePlanningRead, hubapi.ScopePlanningWrite, a.affectationLister(),
			af.handleGet(a), af.handleCreate(a), af.handlePut(a), af.handlePatch(a), af.handleDelete(a))
		route(http.MethodGet, "/planning", hubapi.ScopePlanningRead, a.planning)
	}
	a.mountFinance(crud)
	if o.Stats != nil {
		route(http.MethodGet, "/stats", hubapi.ScopeStatsRead, a.stats)
	}
	if o.Users != nil {
		route(http.MethodGet, "/users/me", "", a.me)
	}
	if o.Privacy != nil && o.Users != nil {
		route(http.MethodPatch, "/users/me", "", a.patchMe)
		route(http.MethodGet, "/users/me/export", "", a.exportMe)
		route(http.MethodPost, "/users/me/email/verify", "", a.verifyEmail)
		route(http.MethodDelete, "/admin/users/{id}", hubapi.ScopeAdmin, a.eraseUser)
	}
	if o.Batch != nil {
		route(http.MethodPost, "/batch", "", o.Batch.ServeHTTP)
	}
	if o.Authorizations != nil {
		route(http.MethodGet, "/users/me/authorizations", "", a.listAuthorizations)
		route(http.MethodDelete, "/users/me/authorizations/{client_id}", "", a.revokeAuthorization)
	}
	if o.APIKeys != nil {
		route(http.MethodGet, "/admin/api-keys", hubapi.ScopeAdmin, a.listAPIKeys)
		route(http.MethodPost, "/admin/api-keys", hubapi.ScopeAdmin, a.createAPIKey)
		route(http.MethodDelete, "/admin/api-keys/{id}", hubapi.ScopeAdmin, a.revokeAPIKey)
	}
	if o.KeySecurity != nil && o.APIKeys != nil {
		route(http.MethodPatch, "/admin/api-keys/{id}", hubapi.ScopeAdmin, a.handler(a.patchAPIKey))
		route(http.MethodPost, "/admin/api-keys/{id}/rotate", hubapi.ScopeAdmin, a.handler(a.rotateAPIKey))
		route(http.MethodPost, "/admin/api-keys/{id}/secret", hubapi.ScopeAdmin, a.handler(a.collectAPIKeySecret))
		route(http.MethodGet, "/admin/anomalies", hubapi.ScopeAdmin, a.handler(a.listAnomalies))
	}
	if o.Webhooks != nil {
		a.mountWebhooks(route)
	}
	if o.AuditLogs != nil && !a.v2 {
		route(http.MethodGet, "/admin/audit-logs", hubapi.ScopeAdmin, a.handler(a.listAuditLogs))
	}
	if o.Connectors != nil && !a.v2 {
		a.mountConnectors(route)
	}
	if o.ConnectorOAuth != nil && !a.v2 {
		a.mountConnectorOAuth(route)
	}
	if o.ConnectorExports != nil && !a.v2 {
		route(http.MethodPost, "/integrations/connectors/{id}/export", hubapi.ScopeWebhooksManage, a.handler(a.exportConnector))
	}

	// After every method route: a request whose path exists but whose
	// method does not gets 405 with Allow (RFC 9110 §15.5.6).
	for _, path := range paths {
		allow := strings.Join(allowed[path], ", ")
		v1.Handle(path, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			methodNotAllowed(w, r)
		})).Name("* " + a.base + path)
	}
	v1.NotFoundHandler = http.HandlerFunc(notFound)
	v1.MethodNotAllowedHandler = http.HandlerFunc(methodNotAllowed)
	return nil
}

// withoutSelection adapts a Get use case that reads no relations to the
// resource's get, which passes the field selection along.
func withoutSelection[T any](get func(ctx context.Context, id int64) (*T, error)) func(context.Context, int64, *fields.Selection) (*T, error) {
	return func(ctx context.Context, id int64, _ *fields.Selection) (*T, error) { return get(ctx, id) }
}

// RouteName returns the "METHOD /template" name of the matched route, or ""
// (see route.Name).
func RouteName(r *http.Request) string { return route.Name(r) }

// RouteTemplate returns the path template of the matched route
// ("/api/v1/chantiers/{id}"), or "" when none matched (see route.Template).
func RouteTemplate(r *http.Request) string { return route.Template(r) }

// Authenticate is the bearer authentication of /api/v1 as a middleware for
// the server's other APIs (/graphql): the same credentials (API keys, and
// whatever else o.Authenticator accepts), the same 401 answers and the
// same OnAuthFailure reasons, with the principal put in the request's
// context. o.Authenticator is required.
func Authenticate(o Options) (func(http.Handler) http.Handler, error) {
	if o.Authenticator == nil {
		return nil, errors.New("rest: Options.Authenticator is required")
	}
	a := &API{o: o, log: o.Logger, onAuth: o.OnAuthFailure}
	if a.onAuth == nil {
		a.onAuth = func(string) {}
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	return a.authenticate, nil
}

// authenticate resolves "Authorization: Bearer <key>" to a principal. A
// batch operation (hubapi.IsBatchOperation) was dispatched in-process with
// the principal of its batch, authenticated once: it keeps it.
func (a *API) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hubapi.IsBatchOperation(r.Context()) && hubapi.PrincipalFrom(r.Context()) != nil {
			next.ServeHTTP(w, r)
			return
		}
		h := r.Header.Get("Authorization")
		scheme, token, ok := strings.Cut(h, " ")
		if h == "" {
			a.onAuth("missing")
			unauthorized(w, r, "")
			return
		}
		if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
			a.onAuth("malformed")
			unauthorized(w, r, "invalid_request")
			return
		}
		p, err := a.o.Authenticator.Authenticate(r.Context(), strings.TrimSpace(token))
		if err != nil {
			switch {
			case errors.Is(err, hubapi.ErrAPIKeyRotated):
				a.onAuth("rotated")
				rotatedKey(w, r)
			case err == hubapi.ErrUnauthenticated:
				a.onAuth("invalid")
				unauthorized(w, r, "invalid_token")
			default:
				a.writeError(w, r, err)
			}
			return
		}
		// The principal is named first, so that the audit event of a
		// refusal below says which key was refused.
		r = r.WithContext(hubapi.WithPrincipal(r.Context(), p))
		// Before the rate limiter (Options.Middleware): a refused request
		// does not use the key's quota.
		if !p.AllowsIP(hubapi.ClientIPFrom(r.Context())) {
			a.onAuth("ip_not_allowed")
			problem.Write(w, r, problem.New(http.StatusForbidden, "ip-not-allowed",
				"This API key may not be used from this address: it is outside the key's IP allow-list."))
			return
		}
		if p.SecretExpiresAt != nil {
			a.deprecatedSecret(w, p)
		}
		next.ServeHTTP(w, r)
	})
}

// authorize checks the matched route's scope before anything else runs.
func (a *API) authorize(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if sc := a.scopes[RouteName(r)]; sc != "" {
			p := hubapi.PrincipalFrom(r.Context())
			if !p.Has(sc) {
				a.onAuth("insufficient_scope")
				d := problem.New(http.StatusForbidden, "insufficient-scope", "This operation needs the "+string(sc)+" scope, which the credential or its owner's role does not grant.")
				w.Header().Set("WWW-Authenticate", `Bearer realm="hubchantier", error="insufficient_scope", scope="`+string(sc)+`"`)
				problem.Write(w, r, d.With(pick(a, "required_scope", v2Name("required_scope")), string(sc)))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func notFound(w http.ResponseWriter, r *http.Request) {
	problem.Write(w, r, problem.New(http.StatusNotFound, "not-found", "No such endpoint."))
}

func methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	problem.Write(w, r, problem.New(http.StatusMethodNotAllowed, "method-not-allowed", "The method is not allowed on this endpoint."))
}
