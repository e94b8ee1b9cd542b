package oauth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/hubchantier/hubchantier/internal/testenv"
	"github.com/hubchantier/hubchantier/oauth"
)

// BenchmarkValidateAccessToken is the bearer check of every API request
// carrying an access token: after the first verification of a token, a
// map lookup, the expiry and the revocation list.
func BenchmarkValidateAccessToken(b *testing.B) {
	e := newEnv(b, testenv.SQLite(b))
	tok := e.tokens()["access_token"].(string)
	ctx := context.Background()
	if _, err := e.srv.ValidateAccessToken(ctx, tok); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.srv.ValidateAccessToken(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBearerMiddleware is the same check through the middleware,
// header parsing and context included.
func BenchmarkBearerMiddleware(b *testing.B) {
	e := newEnv(b, testenv.SQLite(b))
	tok := e.tokens()["access_token"].(string)
	h := e.srv.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, req)
	}
}

// BenchmarkTokenEndpointRefresh is POST /oauth/token with the refresh
// grant over HTTP on SQLite: client authentication, the atomic
// consumption of the refresh token, a new signed JWT and refresh token.
func BenchmarkTokenEndpointRefresh(b *testing.B) {
	e := newEnv(b, testenv.SQLite(b), func(c *oauth.Config) { c.TokenRateLimit.Limit = 1 << 40 })
	rt := e.tokens()["refresh_token"].(string)
	b.ReportAllocs()
	for b.Loop() {
		st, m := e.refresh(e.conf.ID, e.secret, rt, "")
		if st != 200 {
			b.Fatalf("%d %v", st, m)
		}
		rt = m["refresh_token"].(string)
	}
}

// BenchmarkTokenEndpointRefused is a refused token request (unknown
// refresh token): the cost of a client's mistakes.
func BenchmarkTokenEndpointRefused(b *testing.B) {
	e := newEnv(b, testenv.SQLite(b), func(c *oauth.Config) { c.TokenRateLimit.Limit = 1 << 40 })
	f := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {strings.Repeat("x", 43)}}
	b.ReportAllocs()
	for b.Loop() {
		if st, _, _ := e.post("/oauth/token", e.conf.ID, e.secret, f); st != 400 {
			b.Fatal(st)
		}
	}
}
