package oauth_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/internal/testenv"
	"github.com/hubchantier/hubchantier/oauth"
	"github.com/hubchantier/hubchantier/ratelimit"
	"github.com/hubchantier/hubchantier/secretbox"
)

const (
	userEmail    = "marie@example.com"
	userPassword = "correct horse battery"
	userSubject  = "42"
	redirectA    = "https://app.example.com/callback"
	redirectB    = "https://app.example.com/other"
	testScopes   = "chantiers:read chantiers:write"
)

// testSealer seals the signing keys of every test server: a restart
// opens what a previous instance sealed.
var testSealer = mustKeyring(secretbox.Key{ID: "k1", Key: []byte(strings.Repeat("s", secretbox.KeySize))})

func mustKeyring(keys ...secretbox.Key) *secretbox.Keyring {
	r, err := secretbox.NewKeyring(keys...)
	if err != nil {
		panic(err)
	}
	return r
}

var allScopes = []string{"chantiers:read", "chantiers:write", "pointages:read", "admin"}

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

type env struct {
	t      testing.TB
	srv    *oauth.Server
	http   *httptest.Server
	clock  *clock
	db     *testenv.DB
	conf   *oauth.Client
	secret string
	other  *oauth.Client
	otherS string
	public *oauth.Client
	fails  *failures
}

type failures struct {
	mu sync.Mutex
	n  map[string]int
}

func (f *failures) add(endpoint, code string) {
	f.mu.Lock()
	f.n[endpoint+"/"+code]++
	f.mu.Unlock()
}

func (f *failures) get(k string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n[k]
}

type option func(*oauth.Config)

func newEnv(t testing.TB, db *testenv.DB, opts ...option) *env {
	t.Helper()
	ctx := context.Background()
	if err := oauth.CreateSchema(ctx, db.DB); err != nil {
		t.Fatal(err)
	}
	return newEnvOnSchema(t, db, opts...)
}

func newEnvOnSchema(t testing.TB, db *testenv.DB, opts ...option) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{t: t, clock: &clock{}, db: db, fails: &failures{n: map[string]int{}}}
	hs := httptest.NewUnstartedServer(nil)
	issuer := "http://" + hs.Listener.Addr().String()
	cfg := oauth.Config{
		DB: db.DB, Issuer: issuer, Scopes: allScopes, Sealer: testSealer, SessionKey: []byte(strings.Repeat("k", 32)),
		Authenticator: oauth.AuthenticatorFunc(func(_ context.Context, email, password string) (string, error) {
			if email == userEmail && password == userPassword {
				return userSubject, nil
			}
			return "", oauth.ErrBadCredentials
		}),
		AllowedScopes: func(context.Context, string) ([]string, error) {
			return []string{"chantiers:read", "chantiers:write", "pointages:read"}, nil
		},
		ScopeLabels:    map[string]string{"chantiers:read": "Lire les chantiers"},
		Now:            e.clock.Now,
		TokenRateLimit: ratelimit.PerMinute(1000),
		OnFailure:      e.fails.add,
		RevocationPoll: 100 * time.Millisecond,
	}
	for _, o := range opts {
		o(&cfg)
	}
	srv, err := oauth.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	e.srv = srv
	hs.Config.Handler = srv.Handler()
	hs.Start()
	t.Cleanup(hs.Close)
	e.http = hs
	e.conf, e.secret = e.client(oauth.ClientInput{Name: "Appli Chantier", RedirectURIs: []string{redirectA, redirectB},
		Scopes: []string{"chantiers:read", "chantiers:write", "pointages:read"}})
	e.other, e.otherS = e.client(oauth.ClientInput{Name: "Autre", RedirectURIs: []string{redirectA},
		Scopes: []string{"chantiers:read", "chantiers:write"}})
	e.public, _ = e.client(oauth.ClientInput{Name: "Mobile", RedirectURIs: []string{"com.example.app:/cb"},
		Scopes: []string{"chantiers:read"}, Public: true})
	return e
}

func (e *env) client(in oauth.ClientInput) (*oauth.Client, string) {
	e.t.Helper()
	c, secret, err := e.srv.CreateClient(context.Background(), in)
	if err != nil {
		e.t.Fatal(err)
	}
	return c, secret
}

func challengeOf(verifier string) string {
	h := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

const verifier = "dBjftJeZ4CVP-mJ92K1ZDaDCoqN2rHb31qw2Vjk7fSGl8sa9vcb3"

// browser is a user agent that keeps cookies and does not follow redirects.
func (e *env) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

var hiddenRE = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`)

// formOf returns the hidden fields of a page.
func formOf(body string) url.Values {
	v := url.Values{}
	for _, m := range hiddenRE.FindAllStringSubmatch(body, -1) {
		v.Set(m[1], html.UnescapeString(m[2]))
	}
	return v
}

func authorizeURL(base, clientID, redirect, scope, challenge, state string) string {
	q := url.Values{"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {redirect},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"}}
	if scope != "" {
		q.Set("scope", scope)
	}
	if state != "" {
		q.Set("state", state)
	}
	return base + "/oauth/authorize?" + q.Encode()
}

func readAll(t testing.TB, r *http.Response) string {
	t.Helper()
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// login runs the authorization request through the login and consent
// pages and returns the final redirect.
func (e *env) login(b *http.Client, authURL string) *url.URL {
	e.t.Helper()
	res, err := b.Get(authURL)
	if err != nil {
		e.t.Fatal(err)
	}
	body := readAll(e.t, res)
	if res.StatusCode == http.StatusFound {
		return mustLocation(e.t, res)
	}
	if res.StatusCode != 200 || !strings.Contains(body, "Connexion") && !strings.Contains(body, "Autoriser") {
		e.t.Fatalf("authorize: %d %s", res.StatusCode, body)
	}
	if strings.Contains(body, "Se connecter") {
		f := formOf(body)
		f.Set("action", "login")
		f.Set("email", userEmail)
		f.Set("password", userPassword)
		res, err = b.PostForm(e.http.URL+"/oauth/authorize", f)
		if err != nil {
			e.t.Fatal(err)
		}
		body = readAll(e.t, res)
		if res.StatusCode == http.StatusSeeOther {
			return mustLocation(e.t, res)
		}
	}
	if res.StatusCode != 200 || !strings.Contains(body, "Autoriser") {
		e.t.Fatalf("login: %d %s", res.StatusCode, body)
	}
	f := formOf(body)
	f.Set("action", "approve")
	res, err = b.PostForm(e.http.URL+"/oauth/authorize", f)
	if err != nil {
		e.t.Fatal(err)
	}
	readAll(e.t, res)
	if res.StatusCode != http.StatusSeeOther {
		e.t.Fatalf("consent: %d", res.StatusCode)
	}
	return mustLocation(e.t, res)
}

func mustLocation(t testing.TB, res *http.Response) *url.URL {
	t.Helper()
	u, err := url.Parse(res.Header.Get("Location"))
	if err != nil || res.Header.Get("Location") == "" {
		t.Fatalf("no Location (%d)", res.StatusCode)
	}
	return u
}

// code runs the flow for the confidential client and returns a code.
func (e *env) code(redirect, scope string) string {
	e.t.Helper()
	u := e.login(e.browser(), authorizeURL(e.http.URL, e.conf.ID, redirect, scope, challengeOf(verifier), "xyz"))
	c := u.Query().Get("code")
	if c == "" {
		e.t.Fatalf("no code in %s", u.Redacted())
	}
	return c
}

// tokenRequest posts to /oauth/token with Basic credentials (id, secret)
// unless id is "".
func (e *env) post(path, id, secret string, form url.Values) (int, map[string]any, http.Header) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.http.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	body := readAll(e.t, res)
	var m map[string]any
	if body != "" {
		if err := json.Unmarshal([]byte(body), &m); err != nil {
			e.t.Fatalf("%s: %d not JSON: %q", path, res.StatusCode, body)
		}
	}
	return res.StatusCode, m, res.Header
}

func (e *env) exchange(code, redirect, v string) (int, map[string]any) {
	e.t.Helper()
	f := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}}
	if v != "" {
		f.Set("code_verifier", v)
	}
	st, m, _ := e.post("/oauth/token", e.conf.ID, e.secret, f)
	return st, m
}

func (e *env) tokens() map[string]any {
	e.t.Helper()
	st, m := e.exchange(e.code(redirectA, testScopes), redirectA, verifier)
	if st != 200 {
		e.t.Fatalf("exchange: %d %v", st, m)
	}
	return m
}

func (e *env) refresh(id, secret, rt, scope string) (int, map[string]any) {
	e.t.Helper()
	f := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
	if scope != "" {
		f.Set("scope", scope)
	}
	st, m, _ := e.post("/oauth/token", id, secret, f)
	return st, m
}

func wantError(t testing.TB, st int, m map[string]any, status int, code string) {
	t.Helper()
	if st != status || m["error"] != code {
		t.Fatalf("got %d %v, want %d %s", st, m, status, code)
	}
}

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }

func mustRequest(method, target string) *http.Request {
	return httptest.NewRequest(method, target, nil)
}
