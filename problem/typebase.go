package problem

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// DefaultTypeBase prefixes type codes when no [WithTypeBase] is in effect:
// "invalid-cursor" is written as the path-absolute reference
// "/problems/invalid-cursor" (see the package documentation for why).
const DefaultTypeBase = "/problems/"

type typeBaseKey struct{}

// WithTypeBase returns a middleware that makes base the prefix of the type
// codes written by [Write] for the requests it serves, e.g.
// "https://example.com/problems/" turns "invalid-cursor" into
// "https://example.com/problems/invalid-cursor". A WithTypeBase nearer the
// handler overrides an outer one.
//
// base must be an absolute URI or a path-absolute reference ending with '/',
// '#' or ':', so that appending a code yields a URI; WithTypeBase panics
// otherwise, when the middleware is built rather than per request.
func WithTypeBase(base string) func(http.Handler) http.Handler {
	if err := checkTypeBase(base); err != nil {
		panic("problem: WithTypeBase(" + base + "): " + err.Error())
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), typeBaseKey{}, base)))
		})
	}
}

func checkTypeBase(base string) error {
	u, err := url.Parse(base)
	switch {
	case err != nil:
		return errors.New("not a URI reference")
	case !u.IsAbs() && !strings.HasPrefix(base, "/"):
		return errors.New("neither an absolute URI nor a path-absolute reference")
	case strings.HasPrefix(base, "//"):
		return errors.New("a network-path reference (//host) is not allowed")
	case !strings.HasSuffix(base, "/") && !strings.HasSuffix(base, "#") && !strings.HasSuffix(base, ":"):
		return errors.New("must end with '/', '#' or ':'")
	}
	return nil
}

// TypeBaseFrom returns the type base set by [WithTypeBase] for ctx, or
// [DefaultTypeBase].
func TypeBaseFrom(ctx context.Context) string {
	if b, ok := ctx.Value(typeBaseKey{}).(string); ok {
		return b
	}
	return DefaultTypeBase
}

// TypeURI returns the "type" member that [Write] sends for typ in ctx: a
// code resolved against the type base, a URI reference (typ contains ':' or
// '/') unchanged, and "about:blank" for an empty typ. Use it when problem
// details travel in another document (a batch response, a log line).
func TypeURI(ctx context.Context, typ string) string {
	return resolve(TypeBaseFrom(ctx), typ)
}

func resolve(base, typ string) string {
	switch {
	case typ == "":
		return "about:blank"
	case strings.ContainsAny(typ, ":/"):
		return typ
	}
	return base + typ
}
