package server

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/gorilla/mux"

	"github.com/hubchantier/hubchantier/hubapi/graphql"
	"github.com/hubchantier/hubchantier/hubapi/rest"
)

// GraphQLPath is where the GraphQL API is served.
const GraphQLPath = "/graphql"

// mountGraphQL serves /graphql: the same authentication as /api/v1, then
// the rate limiter (the guard of the handler charges each query's cost to
// it), then GraphQL over HTTP. In development, a browser asking for HTML
// gets the playground instead.
func (s *Server) mountGraphQL(r *mux.Router, cfg Config, log *slog.Logger, limit mux.MiddlewareFunc) error {
	svc := s.Service
	h, err := graphql.New(graphql.Options{Chantiers: svc, Pointages: svc, Documents: svc, Signalements: svc,
		Affectations: svc, Users: svc, Stats: svc, References: svc,
		Introspection: !cfg.Production() || cfg.GraphQLIntrospection, Logger: log})
	if err != nil {
		return err
	}
	auth, err := rest.Authenticate(rest.Options{Authenticator: bearerAuthenticator{keys: s.Operator, oauth: s.OAuth, op: s.Operator}, Logger: log, OnAuthFailure: s.Metrics.AuthFailure})
	if err != nil {
		return err
	}
	api := auth(limit(h))
	if !cfg.Production() {
		pg := graphql.Playground()
		r.Handle(GraphQLPath, pg).Methods(http.MethodGet, http.MethodHead).MatcherFunc(wantsHTML).Name("GET " + GraphQLPath)
		r.Handle(graphql.PlaygroundAssets+"{name}", pg).Methods(http.MethodGet, http.MethodHead).
			Name("GET " + graphql.PlaygroundAssets + "{name}")
	}
	r.Handle(GraphQLPath, api).Methods(http.MethodGet).Name("GET " + GraphQLPath)
	r.Handle(GraphQLPath, api).Methods(http.MethodPost).Name("POST " + GraphQLPath)
	return nil
}

// wantsHTML matches a browser's navigation: an Accept header that names
// text/html.
func wantsHTML(r *http.Request, _ *mux.RouteMatch) bool {
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}
