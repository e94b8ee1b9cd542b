package oauth_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hubchantier/hubchantier/internal/testenv"
	"github.com/hubchantier/hubchantier/oauth"
)

// FuzzTokenEndpoint posts arbitrary bodies and credentials to the token,
// revocation and introspection endpoints: a client's mistake is never a
// 5xx, and every error is an RFC 6749 §5.2 JSON object.
func FuzzTokenEndpoint(f *testing.F) {
	for _, s := range []string{
		"grant_type=authorization_code&code=abc&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcallback",
		"grant_type=authorization_code&code=abc&redirect_uri=x&code_verifier=" + strings.Repeat("a", 43),
		"grant_type=refresh_token&refresh_token=x&scope=admin",
		"grant_type=refresh_token&refresh_token=x&scope=",
		"grant_type=password&username=a&password=b", "grant_type=client_credentials", "grant_type=%00",
		"grant_type=a&grant_type=b", "token=x&token_type_hint=refresh_token", "%zz", "", "a=" + strings.Repeat("b", 20000),
	} {
		f.Add(s, "basic")
		f.Add(s, "post")
		f.Add(s, "none")
	}
	e := newEnv(f, testenv.SQLite(f), func(c *oauth.Config) { c.TokenRateLimit.Limit = 1 << 40 })
	h := e.srv.Handler()
	f.Fuzz(func(t *testing.T, body, auth string) {
		for _, path := range []string{"/oauth/token", "/oauth/revoke", "/oauth/introspect"} {
			b := body
			if auth == "post" {
				b += "&client_id=" + e.conf.ID + "&client_secret=" + e.secret
			}
			req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(b))
			req.Header = http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
			if auth == "basic" {
				req.SetBasicAuth(e.conf.ID, e.secret)
			} else if auth != "post" {
				req.Header.Set("Authorization", auth)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code >= 500 {
				t.Fatalf("%s %q: %d %s", path, body, w.Code, w.Body)
			}
			if w.Code >= 400 && !strings.Contains(w.Body.String(), `"error":`) {
				t.Fatalf("%s %q: %d without an error member: %s", path, body, w.Code, w.Body)
			}
		}
	})
}

// FuzzAuthorize sends arbitrary query strings to the authorization
// endpoint: never a 5xx, and never a redirect anywhere but a registered
// redirect URI.
func FuzzAuthorize(f *testing.F) {
	e := newEnv(f, testenv.SQLite(f))
	good := strings.TrimPrefix(authorizeURL("", e.conf.ID, redirectA, testScopes, challengeOf(verifier), "s"), "/oauth/authorize?")
	for _, s := range []string{good, good + "&redirect_uri=x", good + "&response_type=token", "client_id=" + e.conf.ID,
		"client_id=%00", "", "redirect_uri=https://evil.example.com", good + "&state=" + strings.Repeat("s", 2000), "%zz"} {
		f.Add(s)
	}
	h := e.srv.Handler()
	f.Fuzz(func(t *testing.T, q string) {
		req := httptest.NewRequest(http.MethodGet, "/oauth/authorize", nil)
		req.URL.RawQuery = q
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%q: %d", q, w.Code)
		}
		if loc := w.Header().Get("Location"); loc != "" && !strings.HasPrefix(loc, redirectA+"?") && !strings.HasPrefix(loc, redirectB+"?") {
			t.Fatalf("%q redirected to %q", q, loc)
		}
	})
}
