package oauth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2"

	"github.com/hubchantier/hubchantier/internal/testenv"
	"github.com/hubchantier/hubchantier/oauth"
)

// The whole flow with golang.org/x/oauth2 as the client: PKCE S256, the
// code exchange with client_secret_basic, then a refresh.
func TestFlowWithGolangOAuth2(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, db *testenv.DB) {
		e := newEnv(t, db)
		conf := &oauth2.Config{ClientID: e.conf.ID, ClientSecret: e.secret, RedirectURL: redirectA,
			Scopes: strings.Fields(testScopes),
			Endpoint: oauth2.Endpoint{AuthURL: e.http.URL + "/oauth/authorize", TokenURL: e.http.URL + "/oauth/token",
				AuthStyle: oauth2.AuthStyleInHeader}}
		v := oauth2.GenerateVerifier()
		u := e.login(e.browser(), conf.AuthCodeURL("st4te", oauth2.S256ChallengeOption(v)))
		if u.Query().Get("state") != "st4te" || u.Query().Get("iss") != e.http.URL {
			t.Fatalf("state and iss (RFC 9207) must come back: %s", u.Redacted())
		}
		if got := u.Scheme + "://" + u.Host + u.Path; got != redirectA {
			t.Fatalf("redirected to %s", got)
		}
		ctx := context.Background()
		tok, err := conf.Exchange(ctx, u.Query().Get("code"), oauth2.VerifierOption(v))
		if err != nil {
			t.Fatal(err)
		}
		if tok.RefreshToken == "" || tok.TokenType != "Bearer" || tok.Expiry.Before(time.Now().Add(59*time.Minute)) {
			t.Fatalf("token %+v", tok)
		}
		vt, err := e.srv.ValidateAccessToken(ctx, tok.AccessToken)
		if err != nil {
			t.Fatal(err)
		}
		if vt.Subject != userSubject || vt.ClientID != e.conf.ID || strings.Join(vt.Scopes, " ") != testScopes {
			t.Fatalf("validated %+v", vt)
		}
		// A refresh through the library's TokenSource rotates the refresh token.
		tok.Expiry = time.Now().Add(-time.Minute)
		next, err := conf.TokenSource(ctx, tok).Token()
		if err != nil {
			t.Fatal(err)
		}
		if next.RefreshToken == tok.RefreshToken || next.AccessToken == tok.AccessToken {
			t.Fatal("refresh must rotate both tokens")
		}
	})
}

// RFC 9068: typ at+jwt, ES256 with a kid from the JWKS, and iss, sub, aud,
// client_id, scope, iat, exp, jti (go-oauth2's JWT generator has only aud,
// sub and exp).
func TestAccessTokenIsRFC9068JWT(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t))
	m := e.tokens()
	res, err := http.Get(e.http.URL + "/oauth/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal([]byte(readAll(t, res)), &set); err != nil || len(set.Keys) != 1 {
		t.Fatalf("jwks: %v %v", set, err)
	}
	k := set.Keys[0]
	x, _ := base64.RawURLEncoding.DecodeString(k["x"])
	y, _ := base64.RawURLEncoding.DecodeString(k["y"])
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
	if err != nil {
		t.Fatal(err)
	}
	claims := jwt.MapClaims{}
	tok, err := jwt.ParseWithClaims(m["access_token"].(string), claims, func(*jwt.Token) (any, error) { return pub, nil },
		jwt.WithValidMethods([]string{"ES256"}))
	if err != nil {
		t.Fatal(err)
	}
	if tok.Header["typ"] != "at+jwt" || tok.Header["kid"] != k["kid"] || k["alg"] != "ES256" {
		t.Fatalf("header %v, jwk %v", tok.Header, k)
	}
	for _, c := range []string{"iss", "sub", "aud", "client_id", "scope", "iat", "exp", "jti"} {
		if claims[c] == nil {
			t.Errorf("claim %s missing: %v", c, claims)
		}
	}
	if claims["iss"] != e.http.URL || claims["sub"] != userSubject || claims["client_id"] != e.conf.ID || claims["scope"] != testScopes {
		t.Fatalf("claims %v", claims)
	}
}

func TestCodeReuseFailsAndRevokesItsTokens(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, db *testenv.DB) {
		e := newEnv(t, db)
		code := e.code(redirectA, testScopes)
		st, first := e.exchange(code, redirectA, verifier)
		if st != 200 {
			t.Fatalf("first exchange %d %v", st, first)
		}
		st, m := e.exchange(code, redirectA, verifier)
		wantError(t, st, m, 400, "invalid_grant")
		if _, err := e.srv.ValidateAccessToken(context.Background(), first["access_token"].(string)); !errors.Is(err, oauth.ErrRevokedToken) {
			t.Fatalf("the tokens of a replayed code must be revoked, got %v", err)
		}
		st, m = e.refresh(e.conf.ID, e.secret, first["refresh_token"].(string), "")
		wantError(t, st, m, 400, "invalid_grant")
	})
}

func TestCodeExpiresAfterTenMinutes(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t))
	code := e.code(redirectA, testScopes)
	e.clock.Advance(oauth.CodeTTL + time.Second)
	st, m := e.exchange(code, redirectA, verifier)
	wantError(t, st, m, 400, "invalid_grant")

	e.clock.Advance(-oauth.CodeTTL - time.Second)
	code = e.code(redirectA, testScopes)
	e.clock.Advance(oauth.CodeTTL - time.Minute)
	if st, m := e.exchange(code, redirectA, verifier); st != 200 {
		t.Fatalf("a 9-minute-old code must work: %d %v", st, m)
	}
}

// go-oauth2 answers a missing verifier with a 500 by default.
func TestVerifierWrongOrMissingIsInvalidGrant(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t))
	for name, v := range map[string]string{
		"wrong verifier":     strings.Repeat("a", 43),
		"missing verifier":   "",
		"malformed verifier": "short",
	} {
		t.Run(name, func(t *testing.T) {
			st, m := e.exchange(e.code(redirectA, testScopes), redirectA, v)
			wantError(t, st, m, 400, "invalid_grant")
		})
	}
}

func TestAuthorizeRequiresPKCES256(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t))
	b := e.browser()
	for name, q := range map[string]url.Values{
		"no challenge":     {"code_challenge": {""}},
		"plain method":     {"code_challenge_method": {"plain"}},
		"no method":        {"code_challenge_method": {""}},
		"short challenge":  {"code_challenge": {"abc"}},
		"implicit grant":   {"response_type": {"token"}},
		"unknown scope":    {"scope": {"admin"}},
		"repeated param":   {"state": {"a", "b"}},
		"no response type": {"response_type": {""}},
	} {
		t.Run(name, func(t *testing.T) {
			u, _ := url.Parse(authorizeURL(e.http.URL, e.conf.ID, redirectA, testScopes, challengeOf(verifier), "s"))
			qq := u.Query()
			for k, v := range q {
				qq[k] = v
			}
			u.RawQuery = qq.Encode()
			res, err := b.Get(u.String())
			if err != nil {
				t.Fatal(err)
			}
			readAll(t, res)
			loc := mustLocation(t, res)
			if res.StatusCode != http.StatusFound || !strings.HasPrefix(loc.String(), redirectA+"?") ||
				loc.Query().Get("error") == "" || loc.Query().Get("code") != "" || loc.Fragment != "" {
				t.Fatalf("got %d %s", res.StatusCode, loc.Redacted())
			}
			if loc.Query().Get("iss") != e.http.URL {
				t.Fatalf("iss missing from the error response: %s", loc.Redacted())
			}
		})
	}
}

// go-oauth2's default matches redirect URIs by host suffix. Here a
// mismatch is shown to the user and never redirected to.
func TestRedirectMismatchAtAuthorizeIsNeverRedirected(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t))
	b := e.browser()
	for _, bad := range []string{
		"https://evil-app.example.com/callback", "https://app.example.com.evil.com/callback",
		"https://app.example.com/callback/", "https://app.example.com/callback?x=1",
		"https://app.example.com:8443/callback", "http://app.example.com/callback",
		"https://APP.example.com/callback", "",
	} {
		res, err := b.Get(authorizeURL(e.http.URL, e.conf.ID, bad, testScopes, challengeOf(verifier), "s"))
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(t, res)
		if res.StatusCode != 400 || res.Header.Get("Location") != "" || !strings.Contains(body, "adresse de retour") {
			t.Fatalf("%q: %d Location=%q", bad, res.StatusCode, res.Header.Get("Location"))
		}
	}
	res, err := b.Get(authorizeURL(e.http.URL, "hcc_unknown", redirectA, testScopes, challengeOf(verifier), "s"))
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, res)
	if res.StatusCode != 400 || res.Header.Get("Location") != "" {
		t.Fatalf("unknown client: %d", res.StatusCode)
	}
	if e.fails.get("authorize/invalid_redirect_uri") != 8 {
		t.Fatalf("failures counted: %v", e.fails.n)
	}
}

func TestRedirectMismatchAtToken(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t))
	for _, other := range []string{redirectB, "https://evil-app.example.com/callback", "https://app.example.com/callback/"} {
		code := e.code(redirectA, testScopes)
		st, m := e.exchange(code, other, verifier)
		wantError(t, st, m, 400, "invalid_grant")
	}
}

func TestRefreshIsBoundToItsClient(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t))
	rt := e.tokens()["refresh_token"].(string)
	st, m := e.refresh(e.other.ID, e.otherS, rt, "")
	wantError(t, st, m, 400, "invalid_grant")
	// go-oauth2 does not authenticate the client on refresh.
	st, m = e.refresh("", "", rt, "")
	wantError(t, st, m, 401, "invalid_client")
	st, m = e.refresh(e.conf.ID, "", rt, "")
	wantError(t, st, m, 401, "invalid_client")
	st, m = e.refresh(e.conf.ID, e.otherS, rt, "")
	wantError(t, st, m, 401, "invalid_client")
	// None of the refused attempts consumed the token.
	if st, m := e.refresh(e.conf.ID, e.secret, rt, ""); st != 200 {
		t.Fatalf("owner's refresh: %d %v", st, m)
	}
}

func TestRefreshMayOnlyNarrowScopes(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t))
	rt := e.tokens()["refresh_token"].(string)
	for _, wider := range []string{"chantiers:read pointages:read", "admin", "chantiers:read chantiers:write pointages:read"} {
		st, m := e.refresh(e.conf.ID, e.secret, rt, wider)
		wantError(t, st, m, 400, "invalid_scope")
	}
	st, m := e.refresh(e.conf.ID, e.secret, rt, "chantiers:read")
	if st != 200 || m["scope"] != "chantiers:read" {
		t.Fatalf("narrowing: %d %v", st, m)
	}
	vt, err := e.srv.ValidateAccessToken(context.Background(), m["access_token"].(string))
	if err != nil || strings.Join(vt.Scopes, " ") != "chantiers:read" {
		t.Fatalf("narrowed token %+v %v", vt, err)
	}
	// The narrowed grant cannot widen back.
	st, m = e.refresh(e.conf.ID, e.secret, m["refresh_token"].(string), testScopes)
	wantError(t, st, m, 400, "invalid_scope")
}

func TestRefreshReuseRevokesTheFamily(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, db *testenv.DB) {
		e := newEnv(t, db)
		first := e.tokens()
		st, second := e.refresh(e.conf.ID, e.secret, first["refresh_token"].(string), "")
		if st != 200 {
			t.Fatalf("refresh %d %v", st, second)
		}
		st, m := e.refresh(e.conf.ID, e.secret, first["refresh_token"].(string), "")
		wantError(t, st, m, 400, "invalid_grant")
		st, m = e.refresh(e.conf.ID, e.secret, second["refresh_token"].(string), "")
		wantError(t, st, m, 400, "invalid_grant")
		ctx := context.Background()
		for _, m := range []map[string]any{first, second} {
			if _, err := e.srv.ValidateAccessToken(ctx, m["access_token"].(string)); !errors.Is(err, oauth.ErrRevokedToken) {
				t.Fatalf("access token of the family: %v", err)
			}
		}
	})
}

func TestConcurrentCodeExchangeSucceedsOnce(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, db *testenv.DB) {
		e := newEnv(t, db)
		code := e.code(redirectA, testScopes)
		const n = 8
		var wg sync.WaitGroup
		statuses := make([]int, n)
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				statuses[i], _ = e.exchange(code, redirectA, verifier)
			})
		}
		close(start)
		wg.Wait()
		ok := 0
		for _, s := range statuses {
			switch s {
			case 200:
				ok++
			case 400:
			default:
				t.Fatalf("status %d", s)
			}
		}
		if ok != 1 {
			t.Fatalf("%d exchanges succeeded: %v", ok, statuses)
		}
	})
}

func TestIntrospectionAndRevocation(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t))
	m := e.tokens()
	at, rt := m["access_token"].(string), m["refresh_token"].(string)
	introspect := func(id, secret, tok string) map[string]any {
		st, m, _ := e.post("/oauth/introspect", id, secret, url.Values{"token": {tok}})
		if st != 200 {
			t.Fatalf("introspect %d %v", st, m)
		}
		return m
	}
	got := introspect(e.conf.ID, e.secret, at)
	if got["active"] != true || got["sub"] != userSubject || got["client_id"] != e.conf.ID || got["scope"] != testScopes {
		t.Fatalf("active token: %v", got)
	}
	if got := introspect(e.other.ID, e.otherS, at); got["active"] != false {
		t.Fatalf("another client's token must be inactive to it: %v", got)
	}
	if st, m, _ := e.post("/oauth/introspect", e.conf.ID, "wrong", url.Values{"token": {at}}); st != 401 || m["error"] != "invalid_client" {
		t.Fatalf("unauthenticated introspection: %d %v", st, m)
	}
	// Another client's revocation request does nothing (and says 200).
	if st, _, _ := e.post("/oauth/revoke", e.other.ID, e.otherS, url.Values{"token": {at}}); st != 200 {
		t.Fatal(st)
	}
	if got := introspect(e.conf.ID, e.secret, at); got["active"] != true {
		t.Fatal("revoked by another client")
	}
	if st, _, _ := e.post("/oauth/revoke", e.conf.ID, e.secret, url.Values{"token": {at}}); st != 200 {
		t.Fatal(st)
	}
	for _, tok := range []string{at, rt} {
		if got := introspect(e.conf.ID, e.secret, tok); len(got) != 1 || got["active"] != false {
			t.Fatalf("revoked token: %v", got)
		}
	}
	if _, err := e.srv.ValidateAccessToken(context.Background(), at); !errors.Is(err, oauth.ErrRevokedToken) {
		t.Fatalf("validate revoked: %v", err)
	}
	if st, _, _ := e.post("/oauth/revoke", e.conf.ID, e.secret, url.Values{"token": {"unknown"}}); st != 200 {
		t.Fatalf("unknown token revocation: %d", st)
	}
}

// go-oauth2 turns on the implicit and password grants by default.
func TestOnlyCodeAndRefreshGrants(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t))
	for _, gt := range []string{"password", "client_credentials", "implicit", "urn:ietf:params:oauth:grant-type:device_code"} {
		st, m, _ := e.post("/oauth/token", e.conf.ID, e.secret, url.Values{"grant_type": {gt}, "username": {userEmail}, "password": {userPassword}})
		wantError(t, st, m, 400, "unsupported_grant_type")
	}
	st, m, _ := e.post("/oauth/token", e.conf.ID, e.secret, url.Values{})
	wantError(t, st, m, 400, "invalid_request")
	if e.fails.get("token/unsupported_grant_type") != 4 {
		t.Fatalf("failures: %v", e.fails.n)
	}
}

func TestPublicClient(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t))
	u := e.login(e.browser(), authorizeURL(e.http.URL, e.public.ID, "com.example.app:/cb", "", challengeOf(verifier), ""))
	code := u.Query().Get("code")
	f := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {"com.example.app:/cb"},
		"code_verifier": {verifier}, "client_id": {e.public.ID}, "client_secret": {"anything"}}
	st, m, _ := e.post("/oauth/token", "", "", f)
	wantError(t, st, m, 401, "invalid_client")
	f.Del("client_secret")
	st, m, _ = e.post("/oauth/token", "", "", f)
	if st != 200 || m["scope"] != "chantiers:read" {
		t.Fatalf("public exchange: %d %v", st, m)
	}
}

func TestConfidentialClientNeedsItsSecret(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t))
	code := e.code(redirectA, testScopes)
	f := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectA}, "code_verifier": {verifier}}
	for _, cred := range [][2]string{{e.conf.ID, ""}, {e.conf.ID, "hcs_wrong"}, {"", ""}, {e.other.ID, e.otherS}} {
		st, m, h := e.post("/oauth/token", cred[0], cred[1], f)
		if cred[0] == e.other.ID {
			wantError(t, st, m, 400, "invalid_grant")
			continue
		}
		wantError(t, st, m, 401, "invalid_client")
		if cred[0] != "" && h.Get("WWW-Authenticate") == "" {
			t.Fatal("401 to Basic needs WWW-Authenticate")
		}
	}
	// client_secret_post works too.
	f.Set("client_id", e.conf.ID)
	f.Set("client_secret", e.secret)
	if st, m, _ := e.post("/oauth/token", "", "", f); st != 200 {
		t.Fatalf("client_secret_post: %d %v", st, m)
	}
}

func TestLoginConsentAndRememberedConsent(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t))
	b := e.browser()
	authURL := authorizeURL(e.http.URL, e.conf.ID, redirectA, "chantiers:read", challengeOf(verifier), "s1")
	res, _ := b.Get(authURL)
	body := readAll(t, res)
	csp := res.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script") || strings.Contains(body, "<script") {
		t.Fatalf("CSP %q", csp)
	}
	if !strings.Contains(body, "Appli Chantier") || !strings.Contains(body, "Mot de passe") {
		t.Fatal(body)
	}
	f := formOf(body)
	// Without the CSRF token: refused.
	bad := url.Values{}
	for k, v := range f {
		bad[k] = v
	}
	bad.Set("csrf", "forged")
	bad.Set("action", "login")
	bad.Set("email", userEmail)
	bad.Set("password", userPassword)
	res, _ = b.PostForm(e.http.URL+"/oauth/authorize", bad)
	readAll(t, res)
	if res.StatusCode != 400 {
		t.Fatalf("forged CSRF: %d", res.StatusCode)
	}
	// Wrong password: the login page again, 401.
	f.Set("action", "login")
	f.Set("email", userEmail)
	f.Set("password", "wrong password!")
	res, _ = b.PostForm(e.http.URL+"/oauth/authorize", f)
	body = readAll(t, res)
	if res.StatusCode != 401 || !strings.Contains(body, "incorrect") {
		t.Fatalf("wrong password: %d", res.StatusCode)
	}
	// Deny: access_denied to the client.
	f.Set("password", userPassword)
	res, _ = b.PostForm(e.http.URL+"/oauth/authorize", f)
	body = readAll(t, res)
	f = formOf(body)
	f.Set("action", "deny")
	res, _ = b.PostForm(e.http.URL+"/oauth/authorize", f)
	readAll(t, res)
	if loc := mustLocation(t, res); loc.Query().Get("error") != "access_denied" || loc.Query().Get("state") != "s1" {
		t.Fatalf("deny: %s", loc.Redacted())
	}
	// Approve once; the next request for the same scopes skips the pages.
	u := e.login(b, authURL)
	if u.Query().Get("code") == "" {
		t.Fatal("no code")
	}
	res, _ = b.Get(authURL)
	readAll(t, res)
	if res.StatusCode != http.StatusFound || mustLocation(t, res).Query().Get("code") == "" {
		t.Fatalf("remembered consent: %d", res.StatusCode)
	}
	// Wider scopes need a new consent.
	res, _ = b.Get(authorizeURL(e.http.URL, e.conf.ID, redirectA, testScopes, challengeOf(verifier), "s1"))
	body = readAll(t, res)
	if res.StatusCode != 200 || !strings.Contains(body, "Autoriser") {
		t.Fatalf("wider scopes: %d", res.StatusCode)
	}
	auths, err := e.srv.Authorizations(context.Background(), userSubject)
	if err != nil || len(auths) != 1 || auths[0].ClientID != e.conf.ID {
		t.Fatalf("authorizations %v %v", auths, err)
	}
}

func TestRevokeAuthorizationRevokesTokens(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t))
	m := e.tokens()
	ctx := context.Background()
	if err := e.srv.RevokeAuthorization(ctx, userSubject, e.conf.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.srv.ValidateAccessToken(ctx, m["access_token"].(string)); !errors.Is(err, oauth.ErrRevokedToken) {
		t.Fatal(err)
	}
	st, r := e.refresh(e.conf.ID, e.secret, m["refresh_token"].(string), "")
	wantError(t, st, r, 400, "invalid_grant")
	if err := e.srv.RevokeAuthorization(ctx, userSubject, e.conf.ID); !errors.Is(err, oauth.ErrNotFound) {
		t.Fatal(err)
	}
}

func TestRevokedClientIsRefused(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t))
	m := e.tokens()
	ctx := context.Background()
	if err := e.srv.RevokeClient(ctx, e.conf.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.srv.ValidateAccessToken(ctx, m["access_token"].(string)); !errors.Is(err, oauth.ErrRevokedToken) {
		t.Fatal(err)
	}
	st, r := e.refresh(e.conf.ID, e.secret, m["refresh_token"].(string), "")
	wantError(t, st, r, 401, "invalid_client")
	clients, _ := e.srv.Clients(ctx)
	if len(clients) != 3 || clients[0].RevokedAt == nil {
		t.Fatalf("%+v", clients[0])
	}
}

// A second server instance on the same database refuses a token revoked
// on the first one, without a database round trip per request: the
// revocation reaches it by polling (here, no broadcaster).
func TestRevocationReachesAnotherInstanceByPolling(t *testing.T) {
	db := testenv.SQLite(t)
	a := newEnv(t, db)
	m := a.tokens()
	at := m["access_token"].(string)
	ctx := context.Background()
	c := newSecondInstance(t, a)
	if _, err := c.ValidateAccessToken(ctx, at); err != nil {
		t.Fatal(err)
	}
	if st, _, _ := a.post("/oauth/revoke", a.conf.ID, a.secret, url.Values{"token": {at}}); st != 200 {
		t.Fatal(st)
	}
	deadline := time.Now().Add(time.Second)
	for {
		_, err := c.ValidateAccessToken(ctx, at)
		if errors.Is(err, oauth.ErrRevokedToken) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still accepted after 1 s: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// newSecondInstance starts another Server with a's issuer on a's database.
func newSecondInstance(t *testing.T, a *env) *oauth.Server {
	t.Helper()
	srv, err := oauth.New(context.Background(), oauth.Config{DB: a.db.DB, Issuer: a.http.URL, Scopes: allScopes, Sealer: testSealer,
		SessionKey: []byte(strings.Repeat("k", 32)), RevocationPoll: 200 * time.Millisecond,
		Authenticator: oauth.AuthenticatorFunc(func(context.Context, string, string) (string, error) {
			return "", oauth.ErrBadCredentials
		})})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

func TestReceiveRevocation(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t))
	var got [][]byte
	var mu sync.Mutex
	pub := broadcasterFunc(func(_ context.Context, p []byte) error {
		mu.Lock()
		got = append(got, p)
		mu.Unlock()
		return nil
	})
	a := newEnvOnSchema(t, e.db, func(c *oauth.Config) { c.Broadcaster = pub; c.RevocationPoll = time.Hour })
	m := a.tokens()
	c := newSecondInstance(t, a)
	if st, _, _ := a.post("/oauth/revoke", a.conf.ID, a.secret, url.Values{"token": {m["refresh_token"].(string)}}); st != 200 {
		t.Fatal(st)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 {
		t.Fatalf("%d broadcasts", len(got))
	}
	if err := c.ReceiveRevocation(got[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ValidateAccessToken(context.Background(), m["access_token"].(string)); !errors.Is(err, oauth.ErrRevokedToken) {
		t.Fatal(err)
	}
	if err := c.ReceiveRevocation([]byte("{")); err == nil {
		t.Fatal("malformed message accepted")
	}
}

type broadcasterFunc func(ctx context.Context, p []byte) error

func (f broadcasterFunc) Publish(ctx context.Context, p []byte) error { return f(ctx, p) }

func TestSigningKeyRotationKeepsLiveTokens(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t))
	ctx := context.Background()
	old := e.tokens()["access_token"].(string)
	kid, err := e.srv.RotateSigningKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.srv.ValidateAccessToken(ctx, old); err != nil {
		t.Fatalf("token of the retired key: %v", err)
	}
	fresh := e.tokens()["access_token"].(string)
	tok, _, _ := jwt.NewParser().ParseUnverified(fresh, jwt.MapClaims{})
	if tok.Header["kid"] != kid {
		t.Fatalf("new tokens must use the new key: %v", tok.Header)
	}
	// Another instance learns the new key from the token itself.
	c := newSecondInstance(t, e)
	if _, err := c.ValidateAccessToken(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	res, _ := http.Get(e.http.URL + "/oauth/jwks.json")
	if n := strings.Count(readAll(t, res), `"kid"`); n != 2 {
		t.Fatalf("jwks has %d keys, want the retired one too", n)
	}
	// A restart after the retired key's tokens have expired drops it.
	e.clock.Advance(oauth.AccessTokenTTL + 10*time.Minute)
	d, err := oauth.New(ctx, oauth.Config{DB: e.db.DB, Issuer: e.http.URL, Scopes: allScopes, Now: e.clock.Now, Sealer: testSealer,
		SessionKey: []byte(strings.Repeat("k", 32)), Authenticator: oauth.AuthenticatorFunc(nil)})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	rec := newRecorder()
	d.Handler().ServeHTTP(rec, mustRequest(http.MethodGet, "/oauth/jwks.json"))
	if n := strings.Count(rec.Body.String(), `"kid"`); n != 1 {
		t.Fatalf("jwks has %d keys after expiry", n)
	}
}

func TestBearerValidationRefusesForgeries(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t))
	good := e.tokens()["access_token"].(string)
	parts := strings.Split(good, ".")
	claims, _ := base64.RawURLEncoding.DecodeString(parts[1])
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"at+jwt"}`)) + "." + parts[1] + "."
	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{})
	var mc jwt.MapClaims
	_ = json.Unmarshal(claims, &mc)
	hs.Claims = mc
	hs.Header["typ"] = "at+jwt"
	hsTok, _ := hs.SignedString([]byte("secret"))
	wrongTyp := retyped(t, good, "JWT")
	ctx := context.Background()
	for name, tok := range map[string]string{
		"alg none": none, "HS256": hsTok, "garbage": "abc", "tampered": parts[0] + "." + parts[1] + "x." + parts[2],
		"typ JWT": wrongTyp, "empty": "", "dots": "..",
	} {
		if _, err := e.srv.ValidateAccessToken(ctx, tok); !errors.Is(err, oauth.ErrInvalidToken) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Expired: the clock moves past exp.
	e.clock.Advance(oauth.AccessTokenTTL + time.Minute)
	if _, err := e.srv.ValidateAccessToken(ctx, good); !errors.Is(err, oauth.ErrInvalidToken) {
		t.Errorf("expired: %v", err)
	}
	// Middleware: 401 with a challenge.
	h := e.srv.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(oauth.TokenFrom(r.Context()).Subject))
	}))
	rec := newRecorder()
	req := mustRequest(http.MethodGet, "/")
	req.Header.Set("Authorization", "Bearer "+good)
	h.ServeHTTP(rec, req)
	if rec.Code != 401 || !strings.Contains(rec.Header().Get("WWW-Authenticate"), "invalid_token") {
		t.Fatalf("expired through middleware: %d", rec.Code)
	}
}

// retyped re-signs nothing: it swaps the header, so the signature fails
// or the typ check does.
func retyped(t *testing.T, tok, typ string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	h, _ := base64.RawURLEncoding.DecodeString(parts[0])
	var m map[string]any
	_ = json.Unmarshal(h, &m)
	m["typ"] = typ
	b, _ := json.Marshal(m)
	return base64.RawURLEncoding.EncodeToString(b) + "." + parts[1] + "." + parts[2]
}

func TestMiddlewarePutsTheTokenInContext(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t))
	good := e.tokens()["access_token"].(string)
	h := e.srv.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(oauth.TokenFrom(r.Context()).Subject))
	}))
	for auth, want := range map[string]int{"Bearer " + good: 200, "": 401, "Bearer nope": 401, "Basic " + good: 401} {
		rec := newRecorder()
		req := mustRequest(http.MethodGet, "/")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		h.ServeHTTP(rec, req)
		if rec.Code != want || want == 200 && rec.Body.String() != userSubject {
			t.Errorf("%.20q: %d %s", auth, rec.Code, rec.Body)
		}
	}
}

func TestMetadata(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t))
	res, err := http.Get(e.http.URL + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal([]byte(readAll(t, res)), &m)
	if m["issuer"] != e.http.URL || m["token_endpoint"] != e.http.URL+"/oauth/token" ||
		m["jwks_uri"] != e.http.URL+"/oauth/jwks.json" || m["revocation_endpoint"] == nil || m["introspection_endpoint"] == nil ||
		m["authorization_response_iss_parameter_supported"] != true {
		t.Fatalf("%v", m)
	}
	if cm, _ := json.Marshal(m["code_challenge_methods_supported"]); string(cm) != `["S256"]` {
		t.Fatalf("challenge methods %s", cm)
	}
	if gt, _ := json.Marshal(m["grant_types_supported"]); string(gt) != `["authorization_code","refresh_token"]` {
		t.Fatalf("grants %s", gt)
	}
}

func TestTokenEndpointRateLimitPerClient(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t), func(c *oauth.Config) { c.TokenRateLimit.Limit = 10 })
	f := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"nope"}}
	for i := range 10 {
		if st, _, _ := e.post("/oauth/token", e.conf.ID, e.secret, f); st != 400 {
			t.Fatalf("request %d: %d", i, st)
		}
	}
	if st, _, h := e.post("/oauth/token", e.conf.ID, e.secret, f); st != 429 || h.Get("Retry-After") == "" {
		t.Fatalf("11th request: %d", st)
	}
	// Another client has its own quota.
	if st, _, _ := e.post("/oauth/token", e.other.ID, e.otherS, f); st != 400 {
		t.Fatalf("other client: %d", st)
	}
	if e.fails.get("token/rate_limited") != 1 {
		t.Fatalf("%v", e.fails.n)
	}
}

func TestCreateClientValidation(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t))
	ctx := context.Background()
	for name, in := range map[string]oauth.ClientInput{
		"no name":        {RedirectURIs: []string{redirectA}, Scopes: []string{"admin"}},
		"http remote":    {Name: "x", RedirectURIs: []string{"http://app.example.com/cb"}, Scopes: []string{"admin"}},
		"fragment":       {Name: "x", RedirectURIs: []string{"https://app.example.com/cb#x"}, Scopes: []string{"admin"}},
		"relative":       {Name: "x", RedirectURIs: []string{"/cb"}, Scopes: []string{"admin"}},
		"javascript":     {Name: "x", RedirectURIs: []string{"javascript:alert(1)"}, Scopes: []string{"admin"}},
		"unknown scope":  {Name: "x", RedirectURIs: []string{redirectA}, Scopes: []string{"root"}},
		"no scopes":      {Name: "x", RedirectURIs: []string{redirectA}},
		"no redirect":    {Name: "x", Scopes: []string{"admin"}},
		"bare scheme":    {Name: "x", RedirectURIs: []string{"myapp:/cb"}, Scopes: []string{"admin"}},
		"https w/o host": {Name: "x", RedirectURIs: []string{"https:/cb"}, Scopes: []string{"admin"}},
	} {
		var ve *oauth.ValidationError
		if _, _, err := e.srv.CreateClient(ctx, in); !errors.As(err, &ve) || ve.Error() == "" {
			t.Errorf("%s: %v", name, err)
		}
	}
	c, secret, err := e.srv.CreateClient(ctx, oauth.ClientInput{Name: "Local", RedirectURIs: []string{"http://127.0.0.1:9999/cb"},
		Scopes: []string{"admin", "admin"}})
	if err != nil || !strings.HasPrefix(secret, "hcs_") || len(c.Scopes) != 1 {
		t.Fatalf("%+v %v", c, err)
	}
	var n int
	if err := e.db.NewSelect().Table("oauth_clients").ColumnExpr("count(*)").
		Where("secret_hash = ? OR secret_hash LIKE ?", secret, "%"+secret[4:20]+"%").Scan(ctx, &n); err != nil || n != 0 {
		t.Fatalf("secret stored in clear (%d, %v)", n, err)
	}
}

// Nothing stored is a usable token or code: only hashes.
func TestStorageHoldsOnlyHashes(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t))
	code := e.code(redirectA, testScopes)
	st, m := e.exchange(code, redirectA, verifier)
	if st != 200 {
		t.Fatal(st)
	}
	ctx := context.Background()
	for _, tc := range []struct{ table, col, value string }{
		{"oauth_authorization_codes", "code_hash", code},
		{"oauth_tokens", "access_token_hash", m["access_token"].(string)},
		{"oauth_tokens", "refresh_token_hash", m["refresh_token"].(string)},
	} {
		var stored string
		if err := e.db.NewSelect().Table(tc.table).Column(tc.col).Limit(1).Scan(ctx, &stored); err != nil {
			t.Fatal(err)
		}
		if stored == tc.value || strings.Contains(stored, tc.value) || len(stored) != 64 {
			t.Fatalf("%s.%s holds %q", tc.table, tc.col, stored)
		}
	}
}
