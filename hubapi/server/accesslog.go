package server

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/hubchantier/hubchantier/hubapi/route"
)

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

// accessLog logs one JSON line per request: request id (requestID runs
// first), method, route template (route.Template: never the raw path, which
// may carry ids, nor the query, which may carry cursors), status, size and
// duration. No header, query or body is logged. A request whose handler
// panicked past the recoverer (http.ErrAbortHandler) is logged too.
func accessLog(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			sw := &statusWriter{ResponseWriter: w}
			defer func() {
				// The record is built here rather than by log.LogAttrs,
				// which takes runtime.Callers on every request for a
				// source position that would always be this line; one
				// clock read serves as the record's time and the end of
				// the duration.
				ctx := r.Context()
				h := log.Handler()
				if !h.Enabled(ctx, slog.LevelInfo) {
					return
				}
				status := sw.status
				if status == 0 {
					status = http.StatusOK
				}
				rt := route.Template(r)
				if rt == "" {
					rt = "unmatched"
				}
				end := time.Now()
				rec := slog.NewRecord(end, slog.LevelInfo, "request", 0)
				rec.AddAttrs(slog.String("request_id", RequestIDFrom(ctx)), slog.String("method", r.Method), slog.String("route", rt),
					slog.Int("status", status), slog.Int64("bytes", sw.size),
					slog.Float64("duration_ms", float64(end.Sub(start).Microseconds())/1000))
				_ = h.Handle(ctx, rec)
			}()
			next.ServeHTTP(sw, r)
		})
	}
}
