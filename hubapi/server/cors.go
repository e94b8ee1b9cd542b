package server

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Headers of the CORS answers.
const (
	corsExposeHeaders = "ETag, Link, Location, Retry-After, X-Request-Id, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, RateLimit, RateLimit-Policy"
	corsAllowMethods  = "GET, HEAD, POST, PUT, PATCH, DELETE"
	corsAllowHeaders  = "Authorization, Content-Type, If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since, X-Request-Id"
)

// errWildcardOrigin explains why "*" is not an allowed origin.
var errWildcardOrigin = errors.New(`"*" is refused: requests carry credentials (bearer tokens), so any web page could call the API with a user's token; list the exact origins (https://app.example.com)`)

// NormalizeOrigin returns the serialized form of a web origin (RFC 6454 §6.2,
// the form browsers send in Origin): scheme and host lower-cased, the
// default port of http and https dropped, a trailing slash dropped. An
// origin with a path, query, fragment or user information is refused, and
// so is "*".
func NormalizeOrigin(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "*" {
		return "", errWildcardOrigin
	}
	u, err := url.Parse(s)
	q := redactUserinfo(s)
	switch {
	case err != nil || u.Opaque != "" || u.Scheme == "" || u.Host == "":
		return "", fmt.Errorf("origin %q is not scheme://host[:port]", q)
	case u.User != nil:
		return "", fmt.Errorf("origin %q has user information", q)
	case u.Path != "" && u.Path != "/":
		return "", fmt.Errorf("origin %q has a path", q)
	case u.RawQuery != "" || u.ForceQuery:
		return "", fmt.Errorf("origin %q has a query", q)
	case u.Fragment != "" || strings.Contains(s, "#"):
		return "", fmt.Errorf("origin %q has a fragment", q)
	}
	scheme, host, port := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname()), u.Port()
	if host == "" {
		return "", fmt.Errorf("origin %q has no host", q)
	}
	if scheme == "http" && port == "80" || scheme == "https" && port == "443" {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host, nil
}

// cors implements the CORS protocol of the Fetch Standard
// (https://fetch.spec.whatwg.org/#http-cors-protocol) for an allow-list of
// exact origins, compared in their normalized form (NormalizeOrigin). No
// wildcard and no Access-Control-Allow-Credentials: the API authenticates
// with bearer tokens, not cookies. With no origin listed it does nothing.
//
// Once origins are listed, every response carries Vary: Origin, allowed
// origin or not, preflight or not, so that a shared cache never serves one
// origin's answer (with or without Access-Control-Allow-Origin) to another.
// A preflight (OPTIONS with Access-Control-Request-Method) from an allowed
// origin is answered 204 here; any other request goes on to the handler.
func cors(origins []string) (func(http.Handler) http.Handler, error) {
	allowed := make(map[string]bool, len(origins))
	for _, o := range origins {
		n, err := NormalizeOrigin(o)
		if err != nil {
			return nil, err
		}
		allowed[n] = true
	}
	return func(next http.Handler) http.Handler {
		if len(allowed) == 0 {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h.Add("Vary", "Origin")
			origin := r.Header.Get("Origin")
			if origin == "" {
				next.ServeHTTP(w, r)
				return
			}
			n, err := NormalizeOrigin(origin)
			if err != nil || !allowed[n] {
				next.ServeHTTP(w, r)
				return
			}
			h.Set("Access-Control-Allow-Origin", n)
			h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
			if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
				h.Set("Access-Control-Allow-Methods", corsAllowMethods)
				h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
				h.Set("Access-Control-Max-Age", "600")
				w.WriteHeader(http.StatusNoContent)
				return
			}
			next.ServeHTTP(w, r)
		})
	}, nil
}

// redactUserinfo hides what precedes an '@' (a user name and password) in
// an origin quoted by an error.
func redactUserinfo(s string) string {
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		if j := strings.Index(s, "://"); j >= 0 && j < i {
			return s[:j+3] + "…@" + s[i+1:]
		}
		return "…@" + s[i+1:]
	}
	return s
}
