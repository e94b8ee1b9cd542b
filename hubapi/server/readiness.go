package server

import (
	"net/http"
	"sync/atomic"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/problem"
)

// readiness is what /readyz reports besides the database: nil when ready,
// otherwise the reason the instance should get no traffic.
type readiness struct{ reason atomic.Pointer[string] }

// SetUnready makes /readyz answer 503 with reason (e.g. "seeding demo
// data", "shutting down") until SetReady: a load balancer stops sending
// requests, and requests already routed are still served.
func (s *Server) SetUnready(reason string) { s.ready.reason.Store(&reason) }

// SetReady makes /readyz report the database again (the default).
func (s *Server) SetReady() { s.ready.reason.Store(nil) }

// StartingHandler answers while the server is being built (database opened,
// migrations, demo data): /healthz says the process is alive, /readyz and
// every other path answer 503 problem+json with Retry-After, so that a
// health check gets an answer from the moment the port is bound.
func StartingHandler() http.Handler {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"status":"ok"}`))
			return
		}
		w.Header().Set("Retry-After", "5")
		problem.Write(w, r, problem.New(http.StatusServiceUnavailable, "not-ready", "The server is starting."))
	})
	return chain(h, problem.WithTypeBase(hubapi.ProblemTypeBase), securityHeaders)
}

// SwapHandler serves the handler stored last; cmd/hubchantier serves
// StartingHandler through it, then the assembled server once it is built.
type SwapHandler struct{ h atomic.Pointer[http.Handler] }

// NewSwapHandler serves h until Store.
func NewSwapHandler(h http.Handler) *SwapHandler {
	s := &SwapHandler{}
	s.Store(h)
	return s
}

// Store replaces the handler for the requests that follow.
func (s *SwapHandler) Store(h http.Handler) { s.h.Store(&h) }

func (s *SwapHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	(*s.h.Load()).ServeHTTP(w, r)
}
