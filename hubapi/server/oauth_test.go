package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/server"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/internal/apitest"
	"github.com/hubchantier/hubchantier/internal/testenv"
	"github.com/hubchantier/hubchantier/oauth"
)

const oauthPassword = "mot de passe solide 2026"

var hiddenField = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`)

// oauthAccessToken runs the authorization code flow on the server at base
// as the user (log in, approve) with golang.org/x/oauth2 as the client,
// and returns the tokens.
func oauthAccessToken(t *testing.T, base string, o *oauth.Server, email string, scopes ...string) (*oauth2.Token, *oauth.Client) {
	t.Helper()
	tok, c, _ := oauthFlow(t, base, o, email, scopes...)
	return tok, c
}

// oauthFlow is oauthAccessToken that also returns the client's secret.
func oauthFlow(t *testing.T, base string, o *oauth.Server, email string, scopes ...string) (*oauth2.Token, *oauth.Client, string) {
	t.Helper()
	ctx := context.Background()
	c, secret, err := o.CreateClient(ctx, oauth.ClientInput{Name: "Appli test", RedirectURIs: []string{"http://127.0.0.1:9/cb"},
		Scopes: scopes})
	if err != nil {
		t.Fatal(err)
	}
	conf := &oauth2.Config{ClientID: c.ID, ClientSecret: secret, RedirectURL: "http://127.0.0.1:9/cb", Scopes: scopes,
		Endpoint: oauth2.Endpoint{AuthURL: base + "/oauth/authorize", TokenURL: base + "/oauth/token", AuthStyle: oauth2.AuthStyleInHeader}}
	v := oauth2.GenerateVerifier()
	jar, _ := cookiejar.New(nil)
	b := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	page := func(res *http.Response, err error) (url.Values, *http.Response) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		f := url.Values{}
		for _, m := range hiddenField.FindAllStringSubmatch(string(body), -1) {
			f.Set(m[1], html.UnescapeString(m[2]))
		}
		return f, res
	}
	f, _ := page(b.Get(conf.AuthCodeURL("st", oauth2.S256ChallengeOption(v))))
	f.Set("action", "login")
	f.Set("email", email)
	f.Set("password", oauthPassword)
	f, res := page(b.PostForm(base+"/oauth/authorize", f))
	if res.StatusCode != 200 {
		t.Fatalf("login: %d", res.StatusCode)
	}
	f.Set("action", "approve")
	_, res = page(b.PostForm(base+"/oauth/authorize", f))
	loc, err := url.Parse(res.Header.Get("Location"))
	if err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("approve: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	tok, err := conf.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	return tok, c, secret
}

func newPasswordUser(t *testing.T, s *server.Server, role hubapi.Role) *hubapi.User {
	t.Helper()
	u := &hubapi.User{Email: uniq("oauth") + "@test.hubchantier.fr", Nom: "OAuth", Role: role}
	if err := s.Operator.CreateUser(context.Background(), u, oauthPassword); err != nil {
		t.Fatal(err)
	}
	return u
}

// An OAuth access token authenticates API requests like an API key: the
// same principal (user, scopes = token scopes ∩ role, client). The user's
// authorizations are listed and revoked through /users/me/authorizations.
func testOAuth(t *testing.T, env *apitest.Env) {
	u := newPasswordUser(t, env.Server, hubapi.RoleCompagnon)
	// chantiers:write is beyond a compagnon's role: the consent grants
	// only what the role allows.
	tok, client := oauthAccessToken(t, env.URL, env.Server.OAuth(), u.Email, "chantiers:read", "chantiers:write", "pointages:read")
	if tok.Extra("scope") != "chantiers:read pointages:read" {
		t.Fatalf("granted %v", tok.Extra("scope"))
	}
	c := env.WithAuthorization("Bearer " + tok.AccessToken)
	var me struct {
		ID     int64          `json:"id"`
		Scopes []hubapi.Scope `json:"scopes"`
	}
	c.Get(t, v1+"/users/me").Expect(200).JSON(&me)
	if me.ID != u.ID || hubapi.JoinScopes(me.Scopes) != "chantiers:read,pointages:read" {
		t.Fatalf("principal %+v", me)
	}
	c.Get(t, v1+"/chantiers").Expect(200)
	c.Post(t, v1+"/chantiers", map[string]any{"code": uniq("O"), "nom": "n", "adresse": "a"}).Problem(403, "insufficient-scope")

	var list struct {
		Data []hubapi.OAuthAuthorization `json:"data"`
	}
	c.Get(t, v1+"/users/me/authorizations").Expect(200).JSON(&list)
	if len(list.Data) != 1 || list.Data[0].ClientID != client.ID || list.Data[0].ClientName != "Appli test" {
		t.Fatalf("authorizations %+v", list)
	}
	// Another user sees none of them and cannot revoke them.
	other := env.As(hubapi.RoleConducteur)
	other.Get(t, v1+"/users/me/authorizations").Expect(200).JSON(&list)
	if len(list.Data) != 0 {
		t.Fatalf("another user's authorizations: %+v", list)
	}
	other.Delete(t, v1+"/users/me/authorizations/"+client.ID).Problem(404, "not-found")
	c.Get(t, v1+"/users/me").Expect(200)

	key := env.NewKey(t, u.ID, hubapi.ScopeChantiersRead)
	env.WithKey(key).Delete(t, v1+"/users/me/authorizations/"+client.ID).Expect(204)
	c.Get(t, v1+"/users/me").Problem(401, "unauthorized")
	env.WithKey(key).Delete(t, v1+"/users/me/authorizations/"+client.ID).Problem(404, "not-found")
	env.WithKey(key).Delete(t, v1+"/users/me/authorizations/"+strings.Repeat("x", 65), apitest.Invalid()).Problem(400, "invalid-id")

	// A disabled user's tokens stop working.
	u2 := newPasswordUser(t, env.Server, hubapi.RoleConducteur)
	tok2, _ := oauthAccessToken(t, env.URL, env.Server.OAuth(), u2.Email, "chantiers:read")
	c2 := env.WithAuthorization("Bearer " + tok2.AccessToken)
	c2.Get(t, v1+"/users/me").Expect(200)
	if _, err := env.Server.Operator.SetUserDisabled(context.Background(), u2.Email, true); err != nil {
		t.Fatal(err)
	}
	c2.Get(t, v1+"/users/me").Problem(401, "unauthorized")
}

// A token revoked on one instance is refused by another within a second:
// two servers on one PostgreSQL and one Redis, the revocation carried by
// the Redis broadcast (the database poll is slowed down to an hour here).
func TestOAuthRevocationReachesAnotherInstance(t *testing.T) {
	if testenv.RedisURL() == "" {
		t.Skip("HUB_TEST_REDIS_URL not set")
	}
	db := testenv.Postgres(t)
	slowPoll := func(c *server.Config) {
		c.RedisURL = testenv.RedisURL()
		c.OAuthRevocationPoll = time.Hour
		c.OAuthIssuer = "https://hub.example.com"
	}
	a := apitest.Start(t, db, apitest.Config{RateLimits: apitest.LiftedRateLimits, Configure: slowPoll})
	bcfg := server.Config{DB: store.Wrap(db.DB), BlobDir: t.TempDir(), CursorKeys: [][]byte{[]byte(strings.Repeat("c", 32))}, SkipMigrate: true,
		SecretKeys: a.Server.Secrets} // instances share HUB_SECRET_KEYS: it opens the OAuth signing keys
	slowPoll(&bcfg)
	b, err := server.New(context.Background(), bcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	bh := httptest.NewServer(b.Handler)
	t.Cleanup(bh.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, s := range []*server.Server{a.Server, b} {
		if err := s.WaitBroadcasts(ctx); err != nil {
			t.Fatal(err)
		}
	}
	u := newPasswordUser(t, a.Server, hubapi.RoleConducteur)
	tok, client := oauthAccessToken(t, a.URL, a.Server.OAuth(), u.Email, "chantiers:read")
	get := func() int {
		req, _ := http.NewRequest(http.MethodGet, bh.URL+v1+"/users/me", nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	if st := get(); st != 200 {
		t.Fatalf("instance b before revocation: %d", st)
	}
	key := a.NewKey(t, u.ID, hubapi.ScopeChantiersRead)
	a.WithKey(key).Delete(t, v1+"/users/me/authorizations/"+client.ID).Expect(204)
	revoked := time.Now()
	for {
		st := get()
		if st == 401 {
			break
		}
		if time.Since(revoked) > time.Second {
			t.Fatalf("instance b still answers %d more than 1 s after the revocation", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The authorization server's endpoints are mounted on the server, with
// RFC 8414 metadata naming the configured issuer.
func TestOAuthEndpointsMounted(t *testing.T) {
	env := apitest.Start(t, testenv.SQLite(t), apitest.Config{Configure: func(c *server.Config) {
		c.OAuthIssuer = "https://hub.example.com/"
	}})
	res, err := http.Get(env.URL + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	_ = json.NewDecoder(res.Body).Decode(&m)
	res.Body.Close()
	if m["issuer"] != "https://hub.example.com" || m["jwks_uri"] != "https://hub.example.com/oauth/jwks.json" {
		t.Fatalf("%v", m)
	}
	res, err = http.PostForm(env.URL+"/oauth/token", url.Values{"grant_type": {"password"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 401 {
		t.Fatalf("token without client: %d", res.StatusCode)
	}
	// A bearer token that is neither an API key nor a valid access token.
	env.WithAuthorization("Bearer eyJhbGciOiJub25lIn0.e30.").Get(t, v1+"/users/me").Problem(401, "unauthorized")
}

func TestOAuthIssuerFromEnv(t *testing.T) {
	for v, ok := range map[string]bool{"": true, "https://hub.example.com": true, "http://localhost:8080": true,
		"http://hub.example.com": false, "https://hub.example.com/?a=1": false, "hub.example.com": false} {
		_, err := server.ConfigFromEnv([]string{"HUB_OAUTH_ISSUER=" + v})
		if (err == nil) != ok {
			t.Errorf("%q: %v", v, err)
		}
	}
	if got := server.OAuthIssuer(server.Config{PublicHost: "api.example.com"}); got != "https://api.example.com" {
		t.Error(got)
	}
	if got := server.OAuthIssuer(server.Config{Addr: "0.0.0.0:9000"}); got != "http://localhost:9000" {
		t.Error(got)
	}
}

// The login page's password check: the right password of an enabled user
// only; an unknown e-mail or a user without a password still costs a
// bcrypt comparison (no timing difference to tell which e-mails exist).
func TestCheckPassword(t *testing.T) {
	env := apitest.Start(t, testenv.SQLite(t), apitest.Config{})
	op := env.Server.Operator
	ctx := context.Background()
	u := newPasswordUser(t, env.Server, hubapi.RoleChefChantier)
	if got, err := op.CheckPassword(ctx, strings.ToUpper(u.Email), oauthPassword); err != nil || got.ID != u.ID {
		t.Fatalf("right password: %v %v", got, err)
	}
	keyOnly := env.User(hubapi.RoleAdmin) // created without a password
	for name, c := range map[string][2]string{
		"wrong password":   {u.Email, oauthPassword + "x"},
		"unknown e-mail":   {"nobody@test.hubchantier.fr", oauthPassword},
		"no password set":  {keyOnly.Email, ""},
		"too long":         {u.Email, strings.Repeat("p", 73)},
		"empty everything": {"", ""},
	} {
		if _, err := op.CheckPassword(ctx, c[0], c[1]); !errors.Is(err, hubapi.ErrUnauthenticated) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := op.SetUserDisabled(ctx, u.Email, true); err != nil {
		t.Fatal(err)
	}
	if _, err := op.CheckPassword(ctx, u.Email, oauthPassword); !errors.Is(err, hubapi.ErrUnauthenticated) {
		t.Fatalf("disabled user: %v", err)
	}
	if err := op.SetPassword(ctx, u.ID, "short"); err == nil {
		t.Fatal("short password accepted")
	}
	if err := op.SetPassword(ctx, 987654, oauthPassword); !errors.Is(err, hubapi.ErrNotFound) {
		t.Fatalf("unknown user: %v", err)
	}
}
