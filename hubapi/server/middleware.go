package server

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/hubchantier/hubchantier/problem"
)

// recoverer turns a panic into a 500 problem and logs it with the request
// id. http.ErrAbortHandler is re-panicked, as net/http expects.
func recoverer(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				if v := recover(); v != nil {
					if v == http.ErrAbortHandler {
						panic(v)
					}
					log.ErrorContext(r.Context(), "panic", slog.Any("panic", v), slog.String("request_id", w.Header().Get("X-Request-Id")),
						slog.String("stack", string(debug.Stack())))
					problem.Write(w, r, problem.New(http.StatusInternalServerError, "internal", "An internal error occurred."))
				}
			}()
			next.ServeHTTP(w, r)
		})
	}
}

var requestIDRe = regexp.MustCompile(`^[A-Za-z0-9._-]{8,64}$`)

// statusWriter records the status and size of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
	size   int64
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.size += int64(n)
	return n, err
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// accessLog assigns a request id (a well-formed incoming X-Request-Id is
// kept) and logs one line per request: method, route template (not the raw
// path: it may carry ids and the query may carry cursors), status, size,
// duration. No header, query or body is logged.
func accessLog(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			id := r.Header.Get("X-Request-Id")
			if !requestIDRe.MatchString(id) {
				var b [12]byte
				_, _ = rand.Read(b[:])
				id = hex.EncodeToString(b[:])
			}
			w.Header().Set("X-Request-Id", id)
			sw := &statusWriter{ResponseWriter: w}
			rt := &routeHolder{}
			next.ServeHTTP(sw, r.WithContext(withRouteHolder(r.Context(), rt)))
			if sw.status == 0 {
				sw.status = http.StatusOK
			}
			route := rt.template
			if route == "" {
				route = "unmatched"
			}
			// The record is built here rather than by log.LogAttrs, which
			// takes runtime.Callers on every request for a source position
			// that would always be this line; one clock read serves as the
			// record's time and the end of the duration.
			ctx := r.Context()
			if h := log.Handler(); h.Enabled(ctx, slog.LevelInfo) {
				end := time.Now()
				rec := slog.NewRecord(end, slog.LevelInfo, "request", 0)
				rec.AddAttrs(slog.String("request_id", id), slog.String("method", r.Method), slog.String("route", route),
					slog.Int("status", sw.status), slog.Int64("bytes", sw.size),
					slog.Float64("duration_ms", float64(end.Sub(start).Microseconds())/1000))
				_ = h.Handle(ctx, rec)
			}
		})
	}
}

// securityHeaders sets conservative headers for a JSON API.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		if !strings.HasPrefix(r.URL.Path, "/docs") {
			h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		}
		if r.TLS != nil {
			h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		next.ServeHTTP(w, r)
	})
}

// cors allows browser calls from an allow-list of exact origins. No
// wildcard, no credentials (the API uses bearer tokens, not cookies).
func cors(origins []string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		if len(origins) == 0 {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			origin := r.Header.Get("Origin")
			if origin == "" || !slices.Contains(origins, origin) {
				next.ServeHTTP(w, r)
				return
			}
			h := w.Header()
			h.Add("Vary", "Origin")
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Expose-Headers", "ETag, Link, Location, Retry-After, X-Request-Id, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, RateLimit, RateLimit-Policy")
			if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
				h.Set("Access-Control-Allow-Methods", "GET, HEAD, POST, PUT, PATCH, DELETE")
				h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since, X-Request-Id")
				h.Set("Access-Control-Max-Age", "600")
				w.WriteHeader(http.StatusNoContent)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// recordRoute stores the matched route template for the access log (mux
// matches routes after the outer middleware ran).
func recordRoute(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rt := routeHolderFrom(r.Context()); rt != nil {
			if cr := mux.CurrentRoute(r); cr != nil {
				rt.template, _ = cr.GetPathTemplate()
			}
		}
		next.ServeHTTP(w, r)
	})
}
