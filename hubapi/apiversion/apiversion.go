// Package apiversion tells the API version of a request from its path and
// carries it in the request context, and writes the deprecation policy of a
// version on its responses: Deprecation (RFC 9745), Sunset (RFC 8594) and
// their links.
package apiversion

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Version is an API version: V1 or V2, or "" outside the API.
type Version string

// The API versions.
const (
	V1 Version = "v1"
	V2 Version = "v2"
)

// Of returns the version whose prefix the path has ("/api/v1" or
// "/api/v1/..."), or "".
func Of(path string) Version {
	for _, v := range []Version{V1, V2} {
		p := "/api/" + string(v)
		if path == p || strings.HasPrefix(path, p+"/") {
			return v
		}
	}
	return ""
}

type ctxKey struct{}

// From returns the version Middleware put in ctx, or "".
func From(ctx context.Context) Version {
	v, _ := ctx.Value(ctxKey{}).(Version)
	return v
}

// With returns ctx carrying v.
func With(ctx context.Context, v Version) context.Context {
	return context.WithValue(ctx, ctxKey{}, v)
}

// Middleware puts the version of the request's path into its context (see
// Of), for the handlers, metrics, rate limits and audit further in.
func Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v := Of(r.URL.Path); v != "" {
			r = r.WithContext(With(r.Context(), v))
		}
		next.ServeHTTP(w, r)
	})
}

// DefaultSunset is when v1 stops being served unless configured otherwise:
// Sat, 31 Dec 2026 23:59:59 GMT (the product specification).
var DefaultSunset = time.Date(2026, time.December, 31, 23, 59, 59, 0, time.UTC)

// DefaultDeprecation is when v1 was deprecated: the release of v2.
var DefaultDeprecation = time.Date(2026, time.December, 1, 0, 0, 0, 0, time.UTC)

// Notice is the X-API-Deprecation value of a deprecated version.
const Notice = "v1 deprecated, migrate to v2"

// Policy is the deprecation of a version.
type Policy struct {
	// Deprecation is when the version was (or will be) deprecated.
	Deprecation time.Time
	// Sunset is when it stops being served; never before Deprecation.
	Sunset time.Time
	// Link is the migration guide, the target of the deprecation and
	// sunset links (a path such as "/docs/migration-v1-v2", or a URL).
	Link string
}

// ErrSunsetBeforeDeprecation reports a policy whose sunset comes before its
// deprecation (RFC 8594 §3: a resource is deprecated before it goes away).
var ErrSunsetBeforeDeprecation = errors.New("apiversion: the sunset is earlier than the deprecation")

// Validate checks the policy.
func (p Policy) Validate() error {
	switch {
	case p.Deprecation.IsZero() || p.Sunset.IsZero():
		return errors.New("apiversion: deprecation and sunset times are required")
	case p.Sunset.Before(p.Deprecation):
		return ErrSunsetBeforeDeprecation
	case p.Link == "" || strings.ContainsAny(p.Link, "<>\" \r\n"):
		return errors.New("apiversion: the migration link must be a URI reference")
	}
	return nil
}

// Headers returns a middleware that writes the policy on every response
// of version v (by Of of the path), whatever its status:
//
//	Deprecation: @1764547200
//	Sunset: Thu, 31 Dec 2026 23:59:59 GMT
//	Link: </docs/migration-v1-v2>; rel="deprecation"; type="text/markdown", </docs/migration-v1-v2>; rel="sunset"; type="text/markdown"
//	X-API-Deprecation: v1 deprecated, migrate to v2
//
// The links are appended to a Link field the handler wrote (pagination's).
// An invalid policy panics here, when the server is built, never per request.
func Headers(v Version, p Policy) func(http.Handler) http.Handler {
	if err := p.Validate(); err != nil {
		panic(err)
	}
	deprecation := "@" + strconv.FormatInt(p.Deprecation.Unix(), 10)
	sunset := p.Sunset.UTC().Format(http.TimeFormat)
	links := `<` + p.Link + `>; rel="deprecation"; type="text/markdown", <` + p.Link + `>; rel="sunset"; type="text/markdown"`
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if Of(r.URL.Path) != v {
				next.ServeHTTP(w, r)
				return
			}
			h := w.Header()
			h.Set("Deprecation", deprecation)
			h.Set("Sunset", sunset)
			h.Set("X-API-Deprecation", Notice)
			next.ServeHTTP(&linkWriter{ResponseWriter: w, links: links}, r)
		})
	}
}

// linkWriter adds the policy's links to the Link field when the response
// header is written, after the handler set its own.
type linkWriter struct {
	http.ResponseWriter
	links string
	done  bool
}

func (lw *linkWriter) addLinks() {
	if lw.done {
		return
	}
	lw.done = true
	h := lw.ResponseWriter.Header()
	if cur := h.Values("Link"); len(cur) > 0 {
		h.Set("Link", strings.Join(cur, ", ")+", "+lw.links)
		return
	}
	h.Set("Link", lw.links)
}

func (lw *linkWriter) WriteHeader(code int) {
	if code >= 200 || code == http.StatusSwitchingProtocols {
		lw.addLinks()
	}
	lw.ResponseWriter.WriteHeader(code)
}

func (lw *linkWriter) Write(b []byte) (int, error) {
	lw.addLinks()
	return lw.ResponseWriter.Write(b)
}

// Flush passes a flush through, the links written first.
func (lw *linkWriter) Flush() {
	lw.addLinks()
	if f, ok := lw.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController the underlying writer.
func (lw *linkWriter) Unwrap() http.ResponseWriter { return lw.ResponseWriter }
