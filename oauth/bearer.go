package oauth

import (
	"context"
	"errors"
	"net/http"
	"strings"
)

type tokenKey struct{}

// TokenFrom returns the access token Middleware validated, or nil.
func TokenFrom(ctx context.Context) *Token {
	t, _ := ctx.Value(tokenKey{}).(*Token)
	return t
}

// WithToken returns ctx carrying t.
func WithToken(ctx context.Context, t *Token) context.Context {
	return context.WithValue(ctx, tokenKey{}, t)
}

// BearerToken returns the token of an "Authorization: Bearer <token>"
// header (RFC 6750 §2.1), or "".
func BearerToken(r *http.Request) string {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// Middleware requires a valid access token (see ValidateAccessToken) and
// puts it in the request context (TokenFrom). Refusals are 401 with a
// WWW-Authenticate challenge (RFC 6750 §3).
func (s *Server) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw := BearerToken(r)
		if raw == "" {
			s.cfg.OnFailure("bearer", "missing")
			w.Header().Set("WWW-Authenticate", `Bearer realm="oauth"`)
			writeJSON(w, http.StatusUnauthorized, errorBody("invalid_request", "A bearer access token is required."))
			return
		}
		t, err := s.ValidateAccessToken(r.Context(), raw)
		if err != nil {
			code := "invalid_token"
			if errors.Is(err, ErrRevokedToken) {
				s.cfg.OnFailure("bearer", "revoked")
			} else {
				s.cfg.OnFailure("bearer", code)
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="oauth", error="invalid_token"`)
			writeJSON(w, http.StatusUnauthorized, errorBody(code, "The access token is invalid, expired or revoked."))
			return
		}
		next.ServeHTTP(w, r.WithContext(WithToken(r.Context(), t)))
	})
}
