package server

import (
	"log/slog"
	"net/http"
	"runtime/debug"

	"github.com/hubchantier/hubchantier/problem"
)

// recoverer turns a panic into a 500 problem document (RFC 9457) that
// carries the request id as the "request_id" extension member, and logs the
// panic with the same id and the stack (never sent to the client).
//
// http.ErrAbortHandler is re-panicked, as net/http expects (it aborts the
// response silently). A panic after the response has started is logged and
// then turned into http.ErrAbortHandler: a second status line cannot be
// sent, and a silently truncated 200 would look complete to the client.
func recoverer(log *slog.Logger) func(http.Handler) http.Handler {
	if log == nil {
		panic("server: recoverer needs a logger")
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sw := &startedWriter{ResponseWriter: w}
			defer func() {
				v := recover()
				if v == nil {
					return
				}
				if v == http.ErrAbortHandler {
					panic(v)
				}
				id := RequestIDFrom(r.Context())
				log.ErrorContext(r.Context(), "panic", slog.Any("panic", v), slog.String("request_id", id),
					slog.String("stack", string(debug.Stack())))
				if sw.started {
					panic(http.ErrAbortHandler)
				}
				d := problem.New(http.StatusInternalServerError, "internal", "An internal error occurred.")
				if id != "" {
					d = d.With("request_id", id)
				}
				problem.Write(w, r, d)
			}()
			next.ServeHTTP(sw, r)
		})
	}
}

// startedWriter notes whether the response has started.
type startedWriter struct {
	http.ResponseWriter
	started bool
}

func (s *startedWriter) WriteHeader(code int) {
	if code >= 200 || code == http.StatusSwitchingProtocols {
		s.started = true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *startedWriter) Write(b []byte) (int, error) {
	s.started = true
	return s.ResponseWriter.Write(b)
}

func (s *startedWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *startedWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		s.started = true
		f.Flush()
	}
}
