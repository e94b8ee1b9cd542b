package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/seed"
	"github.com/hubchantier/hubchantier/hubapi/server"
	"github.com/hubchantier/hubchantier/hubapi/store"
)

// benchRoutes are the routes the mix calls. Their quotas are raised so that
// the benchmark measures throughput, not 429s (the limiter still runs and
// counts every request).
var benchRoutes = []string{
	"GET /api/v1/chantiers", "GET /api/v1/chantiers/{id}", "PATCH /api/v1/chantiers/{id}",
	"GET /api/v1/stats", "GET /api/v1/planning", "GET /api/v1/affectations", "* /graphql",
}

// benchRateLimits is the HUB_RATE_LIMITS value the in-process server runs
// with.
func benchRateLimits() string {
	parts := make([]string, len(benchRoutes))
	for i, r := range benchRoutes {
		parts[i] = r + "=1000000/s"
	}
	return strings.Join(parts, ";")
}

// benchUserEmail owns the benchmark's API keys.
const benchUserEmail = "hubbench@bench.hubchantier.fr"

// database is the prepared database.
type database struct {
	db        *store.DB
	url       string // shown in the report, without credentials
	chantiers int64
	seeded    *seed.Result // nil when reused
	cleanup   func()
}

// prepareDB opens (or creates) the database, migrates it, and seeds it when
// it holds no chantier; an already seeded database is reused as it is.
func prepareDB(ctx context.Context, c *config, logf func(string, ...any)) (*database, error) {
	d := &database{cleanup: func() {}}
	rawURL := c.DatabaseURL
	if rawURL == "" {
		dir, err := os.MkdirTemp("", "hubbench-*")
		if err != nil {
			return nil, err
		}
		d.cleanup = func() { _ = os.RemoveAll(dir) }
		rawURL = "sqlite:" + filepath.Join(dir, "bench.db")
	}
	d.url = redactURL(rawURL)
	db, err := store.Open(rawURL)
	if err != nil {
		d.cleanup()
		return nil, err
	}
	d.db = db
	fail := func(err error) (*database, error) {
		d.close()
		return nil, err
	}
	mctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	if err := db.Migrate(mctx); err != nil {
		return fail(fmt.Errorf("migrate: %w", err))
	}
	n, err := db.NewSelect().Table("chantiers").Count(ctx)
	if err != nil {
		return fail(err)
	}
	if n == 0 {
		logf("seeding %d chantiers into %s ...", c.Chantiers, d.url)
		res, err := seed.Run(ctx, db, seed.Options{Chantiers: c.Chantiers, Seed: c.Seed})
		if err != nil {
			return fail(fmt.Errorf("seed: %w", err))
		}
		logf("seeded %s", res)
		d.seeded = res
		n = res.Chantiers
	} else {
		logf("reusing %s: %d chantiers already there", d.url, n)
	}
	d.chantiers = int64(n)
	return d, nil
}

func (d *database) close() {
	if d.db != nil {
		_ = d.db.Close()
	}
	d.cleanup()
}

// redactURL drops the password of a database URL.
func redactURL(raw string) string {
	if i := strings.Index(raw, "://"); i >= 0 {
		rest := raw[i+3:]
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			user, _, _ := strings.Cut(rest[:at], ":")
			return raw[:i+3] + user + "@" + rest[at+1:]
		}
	}
	return raw
}

// issueKey returns a new key with every scope for the benchmark's admin
// user (created on first use) and a func revoking it.
func issueKey(ctx context.Context, srv *server.Server) (string, func(), error) {
	svc, op := srv.Service, srv.Operator
	u, err := op.FindUserByEmail(ctx, benchUserEmail)
	if errors.Is(err, hubapi.ErrNotFound) {
		u = &hubapi.User{Email: benchUserEmail, Nom: "Bench", Prenom: "Hub", Role: hubapi.RoleAdmin}
		err = op.CreateUser(ctx, u, "")
	}
	if err != nil {
		return "", nil, fmt.Errorf("benchmark user: %w", err)
	}
	k, secret, err := op.IssueAPIKey(ctx, hubapi.APIKeyInput{UserID: u.ID, Name: "hubbench", Scopes: hubapi.AllScopes})
	if err != nil {
		return "", nil, fmt.Errorf("benchmark key: %w", err)
	}
	admin := hubapi.WithPrincipal(context.WithoutCancel(ctx), &hubapi.Principal{UserID: u.ID, Role: hubapi.RoleAdmin, Scopes: hubapi.AllScopes})
	return secret, func() { _ = svc.RevokeAPIKey(admin, k.ID) }, nil
}

// newFullServer builds the whole reference handler on db (with its audit
// trail unless audited is false).
func newFullServer(ctx context.Context, db *store.DB, cache bool, blobDir string, audited bool) (*server.Server, error) {
	cfg := server.Config{
		DB:          db,
		SkipMigrate: true,
		BlobDir:     blobDir,
		// Access logs are formatted as in production but not written: the
		// terminal would otherwise be the bottleneck.
		Logger:     slog.New(slog.NewJSONHandler(io.Discard, nil)),
		RateLimits: benchRateLimits(),
	}
	// One sealing key per server: cursors are discovered after it starts.
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	cfg.CursorKeys = [][]byte{key}
	if !cache {
		cfg.CacheMaxMB = -1
	}
	cfg.Audit.Disabled = !audited
	return server.New(ctx, cfg)
}

// listen serves h on a random loopback port until the returned func is
// called.
func listen(h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: time.Minute}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = hs.Serve(ln)
	}()
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(ctx)
		<-done
	}
	return "http://" + ln.Addr().String(), stop, nil
}
