package oauth_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ulule/limiter/v3"

	"github.com/hubchantier/hubchantier/internal/testenv"
	"github.com/hubchantier/hubchantier/oauth"
	"github.com/hubchantier/hubchantier/ratelimit"
	"github.com/hubchantier/hubchantier/secretbox"
)

const insertKey = "INSERT INTO oauth_signing_keys (kid, alg, private_key, created_at) VALUES (?, 'ES256', ?, ?)"

type rawKey struct {
	KID        string `bun:"kid"`
	PrivateKey []byte `bun:"private_key"`
}

func rawKeys(t *testing.T, e *env) []rawKey {
	t.Helper()
	var rows []rawKey
	if err := e.db.DB.NewSelect().Table("oauth_signing_keys").Column("kid", "private_key").Order("created_at").
		Scan(context.Background(), &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 {
		t.Fatal("no signing key stored")
	}
	return rows
}

// openRaw opens a stored private key with the test keyring: what is
// stored is "sealed1:<key id>:<AES-GCM output>", bound to its kid.
func openRaw(t *testing.T, ring *secretbox.Keyring, r rawKey) []byte {
	t.Helper()
	rest, ok := bytes.CutPrefix(r.PrivateKey, []byte("sealed1:"))
	if !ok {
		t.Fatalf("key %s is not sealed: %q", r.KID, r.PrivateKey[:min(16, len(r.PrivateKey))])
	}
	kid, sealed, _ := bytes.Cut(rest, []byte(":"))
	der, err := ring.Open(string(kid), sealed, []byte("oauth-signing-key:"+r.KID))
	if err != nil {
		t.Fatalf("open %s: %v", r.KID, err)
	}
	return der
}

func restart(t *testing.T, e *env, sealer oauth.Sealer) (*oauth.Server, error) {
	t.Helper()
	srv, err := oauth.New(context.Background(), oauth.Config{DB: e.db.DB, Issuer: e.http.URL, Scopes: allScopes,
		Sealer: sealer, Now: e.clock.Now, SessionKey: []byte(strings.Repeat("k", 32)),
		Authenticator: oauth.AuthenticatorFunc(nil)})
	if err == nil {
		t.Cleanup(srv.Close)
	}
	return srv, err
}

// Signing private keys are sealed in the database (no PKCS#8 in the row),
// bound to their kid, and a restart opens them: tokens signed before it
// still validate.
func TestSigningKeysAreSealedAtRest(t *testing.T) {
	for _, db := range testenv.Databases(t) {
		t.Run(db.Name, func(t *testing.T) {
			e := newEnv(t, db)
			ctx := context.Background()
			at := e.tokens()["access_token"].(string)
			rows := rawKeys(t, e)
			for _, r := range rows {
				if _, err := x509.ParsePKCS8PrivateKey(r.PrivateKey); err == nil {
					t.Fatal("the row holds a PKCS#8 key in clear")
				}
				der := openRaw(t, testSealer, r)
				priv, err := x509.ParsePKCS8PrivateKey(der)
				if err != nil {
					t.Fatal(err)
				}
				d, err := priv.(*ecdsa.PrivateKey).Bytes()
				if err != nil {
					t.Fatal(err)
				}
				if bytes.Contains(r.PrivateKey, der) || bytes.Contains(r.PrivateKey, d) {
					t.Fatal("the row holds the key bytes")
				}
			}
			srv, err := restart(t, e, testSealer)
			if err != nil {
				t.Fatal(err)
			}
			if tok, err := srv.ValidateAccessToken(ctx, at); err != nil || tok.Subject != userSubject {
				t.Fatalf("token signed before the restart: %v", err)
			}
			// Another keyring cannot open the keys: the server refuses to start.
			other := mustKeyring(secretbox.Key{ID: "k1", Key: []byte(strings.Repeat("x", secretbox.KeySize))})
			if _, err := restart(t, e, other); err == nil {
				t.Fatal("started with a keyring that did not seal the keys")
			}
			// A sealed key copied onto another kid does not open there.
			if _, err := e.db.DB.NewRaw(insertKey, "copied", rows[0].PrivateKey, e.clock.Now().UTC()).Exec(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := restart(t, e, testSealer); err == nil || !strings.Contains(err.Error(), "copied") {
				t.Fatalf("a key moved to another row opened: %v", err)
			}
		})
	}
}

// A key stored in clear (before keys were sealed) is sealed at start.
func TestClearSigningKeyIsSealedAtStart(t *testing.T) {
	db := testenv.SQLite(t)
	ctx := context.Background()
	if err := oauth.CreateSchema(ctx, db.DB); err != nil {
		t.Fatal(err)
	}
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(priv)
	if _, err := db.DB.NewRaw(insertKey, "legacy", der, time.Now().UTC()).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	e := newEnvOnSchema(t, db)
	rows := rawKeys(t, e)
	if len(rows) != 1 || rows[0].KID != "legacy" {
		t.Fatalf("keys %v", rows)
	}
	if !bytes.Equal(openRaw(t, testSealer, rows[0]), der) {
		t.Fatal("the sealed key is not the one stored in clear")
	}
	if _, err := e.srv.ValidateAccessToken(ctx, e.tokens()["access_token"].(string)); err != nil {
		t.Fatal(err)
	}
}

// ResealSigningKeys moves every key to the keyring's current key, once.
func TestResealSigningKeys(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t))
	ctx := context.Background()
	at := e.tokens()["access_token"].(string)
	if _, err := e.srv.RotateSigningKey(ctx); err != nil {
		t.Fatal(err)
	}
	k2 := secretbox.Key{ID: "k2", Key: []byte(strings.Repeat("t", secretbox.KeySize))}
	ring, err := mustKeyring(k2).WithOpeners(secretbox.Key{ID: "k1", Key: []byte(strings.Repeat("s", secretbox.KeySize))})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := oauth.ResealSigningKeys(ctx, e.db.DB, ring); err != nil || n != 2 {
		t.Fatalf("reseal: %d %v", n, err)
	}
	if n, err := oauth.ResealSigningKeys(ctx, e.db.DB, ring); err != nil || n != 0 {
		t.Fatalf("second reseal: %d %v", n, err)
	}
	only := mustKeyring(k2)
	for _, r := range rawKeys(t, e) {
		openRaw(t, only, r)
	}
	srv, err := restart(t, e, only)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.ValidateAccessToken(ctx, at); err != nil {
		t.Fatal(err)
	}
	if _, err := oauth.ResealSigningKeys(ctx, e.db.DB, nil); err == nil {
		t.Fatal("no sealer accepted")
	}
	if _, err := oauth.New(ctx, oauth.Config{DB: e.db.DB, Issuer: e.http.URL, Scopes: allScopes,
		SessionKey: []byte(strings.Repeat("k", 32)), Authenticator: oauth.AuthenticatorFunc(nil)}); err == nil {
		t.Fatal("a server without a Sealer started")
	}
}

// A disabled user's code and refresh token are refused with invalid_grant
// and introspection says inactive; the refresh token is not burnt.
func TestInactiveUserGetsNoTokens(t *testing.T) {
	var disabled atomic.Bool
	var calls atomic.Int32
	e := newEnv(t, testenv.SQLite(t), func(c *oauth.Config) {
		c.Active = func(_ context.Context, subject string) (bool, error) {
			calls.Add(1)
			return subject == userSubject && !disabled.Load(), nil
		}
	})
	m := e.tokens()
	at, rt := m["access_token"].(string), m["refresh_token"].(string)
	code := e.code(redirectA, testScopes)
	disabled.Store(true)

	st, got := e.exchange(code, redirectA, verifier)
	wantError(t, st, got, http.StatusBadRequest, "invalid_grant")
	st, got = e.refresh(e.conf.ID, e.secret, rt, "")
	wantError(t, st, got, http.StatusBadRequest, "invalid_grant")
	for _, tok := range []string{at, rt} {
		st, got, _ := e.post("/oauth/introspect", e.conf.ID, e.secret, url.Values{"token": {tok}})
		if st != 200 || len(got) != 1 || got["active"] != false {
			t.Fatalf("introspection of a disabled user's token: %d %v", st, got)
		}
	}
	if e.fails.get("token/invalid_grant") != 2 {
		t.Fatalf("failures %v", e.fails.n)
	}
	if calls.Load() < 4 {
		t.Fatalf("Active called %d times", calls.Load())
	}

	disabled.Store(false)
	// The code was consumed by the refused exchange; the refresh token was not.
	st, got = e.exchange(code, redirectA, verifier)
	wantError(t, st, got, http.StatusBadRequest, "invalid_grant")
	if st, got = e.refresh(e.conf.ID, e.secret, rt, ""); st != 200 {
		t.Fatalf("refresh after re-enabling: %d %v", st, got)
	}
}

// recordingStore records the keys of the rate limit store.
type recordingStore struct {
	limiter.Store
	mu   sync.Mutex
	keys []string
}

func (s *recordingStore) note(k string) {
	s.mu.Lock()
	s.keys = append(s.keys, k)
	s.mu.Unlock()
}

func (s *recordingStore) Peek(ctx context.Context, k string, r limiter.Rate) (limiter.Context, error) {
	s.note(k)
	return s.Store.Peek(ctx, k, r)
}

func (s *recordingStore) Increment(ctx context.Context, k string, n int64, r limiter.Rate) (limiter.Context, error) {
	s.note(k)
	return s.Store.Increment(ctx, k, n, r)
}

// postLogin submits the login form of a fresh authorization request.
func postLogin(t *testing.T, e *env, email, password string) (int, string, http.Header) {
	t.Helper()
	b := e.browser()
	res, err := b.Get(authorizeURL(e.http.URL, e.conf.ID, redirectA, testScopes, challengeOf(verifier), "s"))
	if err != nil {
		t.Fatal(err)
	}
	f := formOf(readAll(t, res))
	f.Set("action", "login")
	f.Set("email", email)
	f.Set("password", password)
	res, err = b.PostForm(e.http.URL+"/oauth/authorize", f)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, readAll(t, res), res.Header
}

// Five failed passwords for an account (whatever the case of its e-mail)
// block it for 15 minutes: 429, a French message, and no password check.
func TestLoginAttemptsAreLimitedPerAccount(t *testing.T) {
	var checks atomic.Int32
	rs := &recordingStore{Store: ratelimit.NewMemoryStore()}
	e := newEnv(t, testenv.SQLite(t), func(c *oauth.Config) {
		c.RateLimitStore = rs
		inner := c.Authenticator
		c.Authenticator = oauth.AuthenticatorFunc(func(ctx context.Context, email, password string) (string, error) {
			checks.Add(1)
			return inner.Authenticate(ctx, email, password)
		})
	})
	for i := range 5 {
		email := userEmail
		if i%2 == 1 {
			email = strings.ToUpper(userEmail)
		}
		if st, body, _ := postLogin(t, e, email, "wrong password"); st != http.StatusUnauthorized || !strings.Contains(body, "incorrect") {
			t.Fatalf("attempt %d: %d", i+1, st)
		}
	}
	st, body, h := postLogin(t, e, " "+userEmail, userPassword)
	if st != http.StatusTooManyRequests || !strings.Contains(body, "Trop de tentatives de connexion") ||
		!strings.Contains(body, "Réessayez dans 15 minutes") || h.Get("Retry-After") == "" {
		t.Fatalf("sixth attempt: %d %q %q", st, h.Get("Retry-After"), body)
	}
	if checks.Load() != 5 {
		t.Fatalf("%d password checks, want 5: none once blocked", checks.Load())
	}
	if e.fails.get("authorize/login_rate_limited") != 1 {
		t.Fatalf("failures %v", e.fails.n)
	}
	// Another account from the same address may still log in.
	if st, _, _ := postLogin(t, e, "paul@example.com", "x"); st != http.StatusUnauthorized {
		t.Fatalf("another account: %d", st)
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for _, k := range rs.keys {
		if strings.Contains(strings.ToLower(k), "marie") || strings.Contains(k, "@") {
			t.Fatalf("store key %q holds the e-mail", k)
		}
	}
}

// Failed attempts are also counted per client address, across accounts.
func TestLoginAttemptsAreLimitedPerAddress(t *testing.T) {
	var checks atomic.Int32
	e := newEnv(t, testenv.SQLite(t), func(c *oauth.Config) {
		c.LoginAddrRateLimit = ratelimit.Policy{Name: "addr", Limit: 3, Window: time.Minute}
		inner := c.Authenticator
		c.Authenticator = oauth.AuthenticatorFunc(func(ctx context.Context, email, password string) (string, error) {
			checks.Add(1)
			return inner.Authenticate(ctx, email, password)
		})
	})
	for i, email := range []string{"a@example.com", "b@example.com", "c@example.com"} {
		if st, _, _ := postLogin(t, e, email, "x"); st != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i+1, st)
		}
	}
	st, body, _ := postLogin(t, e, userEmail, userPassword)
	if st != http.StatusTooManyRequests || !strings.Contains(body, "Réessayez dans 1 minute.") || checks.Load() != 3 {
		t.Fatalf("fourth attempt: %d, %d checks, %q", st, checks.Load(), body)
	}
}

// failingStore is a shared counter store that is down.
type failingStore struct{ limiter.Store }

func (failingStore) Peek(context.Context, string, limiter.Rate) (limiter.Context, error) {
	return limiter.Context{}, errors.New("redis: connection refused")
}

func (failingStore) Increment(context.Context, string, int64, limiter.Rate) (limiter.Context, error) {
	return limiter.Context{}, errors.New("redis: connection refused")
}

// While the shared counter store is down, failed attempts are counted on
// the instance: the limit still holds, and no password is checked once
// it is reached.
func TestLoginLimitHoldsWhenTheStoreFails(t *testing.T) {
	var checks atomic.Int32
	e := newEnv(t, testenv.SQLite(t), func(c *oauth.Config) {
		c.RateLimitStore = failingStore{}
		inner := c.Authenticator
		c.Authenticator = oauth.AuthenticatorFunc(func(ctx context.Context, email, password string) (string, error) {
			checks.Add(1)
			return inner.Authenticate(ctx, email, password)
		})
	})
	for i := range 5 {
		if st, _, _ := postLogin(t, e, userEmail, "wrong password"); st != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i+1, st)
		}
	}
	if st, _, h := postLogin(t, e, userEmail, userPassword); st != http.StatusTooManyRequests || h.Get("Retry-After") == "" {
		t.Fatalf("sixth attempt with the store down: %d, want 429", st)
	}
	if checks.Load() != 5 {
		t.Fatalf("%d password checks, want 5", checks.Load())
	}
}
