package apitest

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/server"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/internal/testenv"
	"github.com/hubchantier/hubchantier/secretbox"
)

// Config tunes the server under test. Zero values are the server defaults.
type Config struct {
	// MaxUploadBytes bounds document uploads (server default 25 MiB).
	MaxUploadBytes int64
	// RateLimits overrides quotas of the server (HUB_RATE_LIMITS syntax);
	// empty keeps the server defaults. Suites that create many resources
	// with one key use LiftedRateLimits.
	RateLimits string
	// Configure, when set, changes the server configuration last, before
	// server.New (settings this Config has no field for: cache TTLs and
	// clock, ...).
	Configure func(*server.Config)
	// Logger receives the server's log; nil sends warnings and errors to
	// the test log (a fuzz target, which must not log through its
	// *testing.F, passes its own).
	Logger *slog.Logger
}

// LiftedRateLimits raises the tight default quotas of the reference server
// (POST /chantiers, /documents and /admin/api-keys, GET /stats) far above
// what a test sends, so a suite can reuse one key; the other routes keep
// their default quota.
const LiftedRateLimits = "POST /api/v1/chantiers=1000000/m;POST /api/v1/documents=1000000/m;" +
	"POST /api/v1/admin/api-keys=1000000/m;GET /api/v1/stats=1000000/m"

// Env is a Hub Chantier server (server.New) listening on a loopback port
// over one test database, with one user per role, each holding an API key
// with every scope its role allows.
type Env struct {
	// Server is the assembled server; Server.Service calls the use cases
	// directly (to arrange data without going through HTTP).
	Server *server.Server
	// URL is the base URL of the listening server ("http://127.0.0.1:port").
	URL string
	// Spec validates every request and response of the clients under
	// /api/v1 (and elsewhere); SpecV2 those under /api/v2.
	Spec, SpecV2 *Spec

	http                 *http.Client
	users                map[hubapi.Role]*hubapi.User
	keys                 map[hubapi.Role]string
	coverage, coverageV2 *Coverage

	mu   sync.Mutex
	seq  int
	logT testing.TB
}

// Start builds the server on db (from testenv.EachDB), migrates it, starts
// it on a loopback port and creates the role users and keys. Everything is
// released at the end of t.
func Start(t testing.TB, db *testenv.DB, cfg Config) *Env {
	t.Helper()
	spec, err := V1()
	if err != nil {
		t.Fatal(err)
	}
	specV2, err := V2()
	if err != nil {
		t.Fatal(err)
	}
	e := &Env{Spec: spec, SpecV2: specV2, users: map[hubapi.Role]*hubapi.User{}, keys: map[hubapi.Role]string{},
		coverage: newCoverage(spec), coverageV2: newCoverage(specV2), logT: t}
	ctx := context.Background()
	cursorKey := make([]byte, 32)
	if _, err := rand.Read(cursorKey); err != nil {
		t.Fatal(err)
	}
	secretKeys, err := secretbox.ParseKeyring("test:" + secretbox.GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.NewJSONHandler(testLogWriter{e}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	scfg := server.Config{
		DB:             store.Wrap(db.DB),
		CursorKeys:     [][]byte{cursorKey},
		SecretKeys:     secretKeys,
		BlobDir:        t.TempDir(),
		MaxUploadBytes: cfg.MaxUploadBytes,
		RateLimits:     cfg.RateLimits,
		Logger:         logger,
	}
	if cfg.Configure != nil {
		cfg.Configure(&scfg)
	}
	srv, err := server.New(ctx, scfg)
	if err != nil {
		t.Fatalf("server.New on %s: %v", db.Name, err)
	}
	e.Server = srv
	// Stops the server's background work before the database closes
	// (cleanups run last registered first).
	t.Cleanup(srv.Close)
	hs := httptest.NewServer(srv.Handler)
	t.Cleanup(hs.Close)
	e.URL = hs.URL
	e.http = hs.Client()
	for _, role := range hubapi.Roles {
		u, key := e.NewUser(t, role)
		e.users[role], e.keys[role] = u, key
	}
	return e
}

// testLogWriter sends the server's warnings and errors to the test log
// (the server is closed before the test ends, so no log line comes late).
type testLogWriter struct{ e *Env }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.e.mu.Lock()
	defer w.e.mu.Unlock()
	w.e.logT.Logf("server log: %s", strings.TrimSpace(string(p)))
	return len(p), nil
}

// NewUser creates a user of the role through the service, and an API key
// holding every scope the role allows. It returns the user and the key.
func (e *Env) NewUser(t testing.TB, role hubapi.Role) (*hubapi.User, string) {
	t.Helper()
	e.mu.Lock()
	e.seq++
	n := e.seq
	e.mu.Unlock()
	u := &hubapi.User{Email: fmt.Sprintf("%s.%d@test.hubchantier.fr", role, n), Nom: "Test", Prenom: string(role), Role: role}
	if err := e.Server.Operator.CreateUser(context.Background(), u, ""); err != nil {
		t.Fatalf("create %s user: %v", role, err)
	}
	return u, e.NewKey(t, u.ID, hubapi.RoleScopes(role)...)
}

// NewKey issues an API key for an existing user with the given scopes
// (which the user's role must allow) and returns the secret.
func (e *Env) NewKey(t testing.TB, userID int64, scopes ...hubapi.Scope) string {
	t.Helper()
	_, secret, err := e.Server.Operator.IssueAPIKey(context.Background(),
		hubapi.APIKeyInput{UserID: userID, Name: fmt.Sprintf("test key %d", userID), Scopes: scopes})
	if err != nil {
		t.Fatalf("issue key for user %d with %v: %v", userID, scopes, err)
	}
	return secret
}

// User returns the user created for role.
func (e *Env) User(role hubapi.Role) *hubapi.User { return e.users[role] }

// Key returns the full-scope API key of role's user.
func (e *Env) Key(role hubapi.Role) string { return e.keys[role] }

// As returns a client authenticated with role's full-scope key.
func (e *Env) As(role hubapi.Role) *Client { return e.WithKey(e.keys[role]) }

// WithKey returns a client sending "Authorization: Bearer <key>".
func (e *Env) WithKey(key string) *Client {
	return &Client{env: e, auth: "Bearer " + key}
}

// WithAuthorization returns a client sending the raw Authorization value
// (malformed credentials).
func (e *Env) WithAuthorization(value string) *Client { return &Client{env: e, auth: value} }

// Anonymous returns a client without credentials.
func (e *Env) Anonymous() *Client { return &Client{env: e} }

// Coverage returns what the clients of e have exercised so far.
func (e *Env) Coverage() *Coverage { return e.coverage }

// CoverageV2 returns what the clients of e have exercised of v2.
func (e *Env) CoverageV2() *Coverage { return e.coverageV2 }
