// Package graphql is the GraphQL adapter of Hub Chantier on gqlgen
// (schema-first; the executable schema in generated/ is produced from
// schema.graphqls by go generate). Every field calls the same use cases as
// REST through the hubapi service interfaces; the package never reads the
// store itself.
//
// The handler follows GraphQL over HTTP: POST, and GET for queries only,
// answered as application/graphql-response+json (or application/json when
// the client asks for it). Every query is checked against Limits before any
// resolver runs, and its cost is charged to the rate limiter of the
// request (ratelimit.SetCost) and reported in extensions.cost.
// Authentication is the server's: the handler expects the principal in the
// request's context and leaves 401 to the middleware in front of it.
package graphql

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/graphql/generated"
)

// Options configure the GraphQL handler. A nil service leaves its fields
// answering a NOT_SERVED error.
type Options struct {
	Chantiers    hubapi.ChantierService
	Pointages    hubapi.PointageService
	Documents    hubapi.DocumentService
	Signalements hubapi.SignalementService
	Affectations hubapi.AffectationService
	Users        hubapi.UserService
	Stats        hubapi.StatsService
	// References batch the reference fields (chantier.responsable,
	// pointage.chantier, ...); required.
	References hubapi.ReferenceService

	// Limits bound every query; zero fields take the defaults.
	Limits Limits
	// Introspection allows __schema and __type queries (off in production
	// unless enabled).
	Introspection bool
	// PersistedQueries is the number of automatic persisted queries kept
	// in memory (0: DefaultPersistedQueries; negative: off).
	PersistedQueries int
	Logger           *slog.Logger
}

// DefaultPersistedQueries is the size of the automatic persisted query
// cache, per instance (a client whose hash is not known sends the query
// again, as the protocol has it).
const DefaultPersistedQueries = 1000

// MaxBodyBytes bounds the request body of POST /graphql.
const MaxBodyBytes = 1 << 20

// Handler serves GraphQL over HTTP (mount it at /graphql, behind the
// authentication and rate limit middleware).
type Handler struct {
	srv  *handler.Server
	refs hubapi.ReferenceService
}

// New checks o and builds the handler.
func New(o Options) (*Handler, error) {
	if o.References == nil {
		return nil, errors.New("graphql: Options.References is required")
	}
	lim, err := o.Limits.withDefaults()
	if err != nil {
		return nil, err
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	cfg := generated.Config{Resolvers: &resolver{o: &o}}
	setComplexity(&cfg.Complexity)
	es := generated.NewExecutableSchema(cfg)

	srv := handler.New(es)
	// application/graphql-response+json when the client accepts it;
	// application/json (the legacy media type, always 200) for "*/*" or no
	// Accept, as GraphQL over HTTP recommends.
	srv.AddTransport(transport.GET{})
	srv.AddTransport(postTransport{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	srv.SetParserTokenLimit(lim.MaxTokens)
	srv.SetErrorPresenter(presenter(log))
	srv.SetRecoverFunc(recoverer(log))
	if o.Introspection {
		srv.Use(extension.Introspection{})
	} else {
		// "Did you mean ...?" would tell the schema that introspection
		// hides.
		srv.SetDisableSuggestion(true)
	}
	if n := o.PersistedQueries; n >= 0 {
		if n == 0 {
			n = DefaultPersistedQueries
		}
		srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](n)})
	}
	srv.Use(auditOperation{})
	srv.Use(&guard{limits: lim, es: es})
	return &Handler{srv: srv, refs: o.References}, nil
}

// ServeHTTP serves one GraphQL request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		writeRequestError(w, http.StatusMethodNotAllowed, "GraphQL is served over GET (queries) and POST.")
		return
	}
	if r.Method == http.MethodPost && !(postTransport{}).Supports(r) {
		// No transport would take it: gqlgen would answer 400 without a
		// media type.
		writeRequestError(w, http.StatusUnsupportedMediaType, "A POST body must be a GraphQL request in application/json.")
		return
	}
	if r.Method == http.MethodGet {
		// gqlgen would answer 400 without a media type, echoing the
		// parser's error.
		if _, err := url.ParseQuery(r.URL.RawQuery); err != nil {
			writeRequestError(w, http.StatusBadRequest, "The query string could not be parsed.")
			return
		}
	}
	if r.Method == http.MethodPost {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				writeRequestError(w, http.StatusRequestEntityTooLarge, "The request body is over 1 MiB.")
			} else {
				writeRequestError(w, http.StatusBadRequest, "The request body could not be read.")
			}
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	st := &requestState{header: w.Header(), get: r.Method == http.MethodGet}
	ctx := withState(r.Context(), st)
	ctx = withLoaders(ctx, newLoaders(h.refs))
	sw := &statusWriter{ResponseWriter: w, st: st}
	h.srv.ServeHTTP(sw, r.WithContext(ctx))
}

// writeRequestError answers a request that never reached GraphQL.
func writeRequestError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/graphql-response+json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(`{"errors":[{"message":` + quoteJSON(msg) + `}]}`))
}

// statusWriter gives a request error found by the guard (a limit, the rate
// limiter) its status, where gqlgen would answer 200.
type statusWriter struct {
	http.ResponseWriter
	st    *requestState
	wrote bool
}

func (w *statusWriter) WriteHeader(code int) {
	if w.wrote {
		return
	}
	w.wrote = true
	if w.Header().Get("Content-Type") == "" {
		// Every answer of gqlgen is a GraphQL response in JSON, even
		// those it writes before its headers.
		w.Header().Set("Content-Type", "application/graphql-response+json")
	}
	if code == http.StatusNotAcceptable && w.st.get {
		// gqlgen's answer to a mutation over GET: GraphQL over HTTP
		// wants 405 and the method that is allowed.
		code = http.StatusMethodNotAllowed
		w.Header().Set("Allow", http.MethodPost)
	}
	if code == http.StatusUnprocessableEntity && strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
		// gqlgen answers a document that does not parse or validate 422;
		// with application/json, GraphQL over HTTP wants 200.
		code = http.StatusOK
	}
	if s := w.st.status; s != 0 && code == http.StatusOK {
		if s == http.StatusTooManyRequests || s == http.StatusServiceUnavailable ||
			w.Header().Get("Content-Type") == "application/graphql-response+json" {
			code = s
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

type stateKey struct{}

func withState(ctx context.Context, st *requestState) context.Context {
	return context.WithValue(ctx, stateKey{}, st)
}

func stateFrom(ctx context.Context) *requestState {
	st, _ := ctx.Value(stateKey{}).(*requestState)
	return st
}
