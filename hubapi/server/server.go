// Package server assembles the whole Hub Chantier HTTP handler from a
// Config: the one constructor that cmd/hubchantier and the tests share.
package server

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/mux"
	"github.com/redis/go-redis/v9"

	"github.com/hubchantier/hubchantier/etag"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/blob"
	"github.com/hubchantier/hubchantier/hubapi/cache"
	"github.com/hubchantier/hubchantier/hubapi/metrics"
	"github.com/hubchantier/hubchantier/hubapi/rest"
	"github.com/hubchantier/hubchantier/hubapi/service"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/pagination"
	"github.com/hubchantier/hubchantier/problem"
)

// Config is the server configuration. Zero values are safe defaults for the
// embedded mode.
type Config struct {
	// DatabaseURL: "sqlite:<path>" (default sqlite:hubchantier.db) or postgres://...
	DatabaseURL string
	// DB, when set, is used instead of opening DatabaseURL (embedders, tests).
	DB *store.DB
	// BlobDir holds document contents (default: "hubchantier-blobs").
	BlobDir string
	// CORSOrigins lists the exact browser origins allowed to call the API.
	CORSOrigins []string
	// MaxUploadBytes bounds document uploads (default 25 MiB).
	MaxUploadBytes int64
	// Logger receives JSON logs (default: slog JSON on stderr).
	Logger *slog.Logger
	// Publisher receives domain events in addition to the in-process bus.
	Publisher hubapi.Publisher
	// SkipMigrate disables migrations at start-up.
	SkipMigrate bool
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is
	// believed (HUB_TRUSTED_PROXIES, comma-separated CIDRs). Empty: the TCP
	// peer is the client.
	TrustedProxies []netip.Prefix
	// RedisURL (HUB_REDIS_URL), when set, shares rate-limit counters and
	// broadcasts cache invalidations between instances.
	RedisURL string
	// CacheMaxMB bounds the response cache (HUB_CACHE_MAX_MB, default 256);
	// a negative value disables the cache.
	CacheMaxMB int
	// RateLimits overrides the default per-route quotas (HUB_RATE_LIMITS:
	// "GET /api/v1/stats=5/m;POST /api/v1/chantiers=100/d").
	RateLimits string
	// RateLimitFailClosed answers 503 instead of letting requests through
	// when the rate-limit store (Redis) fails (HUB_RATE_LIMIT_FAIL_CLOSED=1).
	RateLimitFailClosed bool
	// CursorKeys seal pagination cursors (HUB_CURSOR_KEYS: comma-separated
	// base64 32-byte keys, newest first). Empty: a random key per process,
	// so cursors do not survive a restart or cross instances.
	CursorKeys [][]byte
	// Metrics receives the server's metrics (default: a new set).
	Metrics *metrics.Metrics
	// MetricsAccess protects /metrics (default: loopback only).
	MetricsAccess metrics.AccessConfig
	// MetricsOwnListener leaves /metrics off the main handler; serve
	// Server.MetricsHandler on its own listener instead.
	MetricsOwnListener bool
}

// ConfigFromEnv reads HUB_DATABASE_URL, HUB_BLOB_DIR, HUB_CORS_ORIGINS
// (comma-separated) and HUB_TRUSTED_PROXIES.
func ConfigFromEnv() (Config, error) {
	c := Config{DatabaseURL: os.Getenv("HUB_DATABASE_URL"), BlobDir: os.Getenv("HUB_BLOB_DIR"), RedisURL: os.Getenv("HUB_REDIS_URL"),
		RateLimits: os.Getenv("HUB_RATE_LIMITS"), RateLimitFailClosed: os.Getenv("HUB_RATE_LIMIT_FAIL_CLOSED") == "1"}
	var err error
	if c.MetricsAccess, err = metrics.AccessConfigFromEnv(os.Getenv); err != nil {
		return c, err
	}
	if v := os.Getenv("HUB_CURSOR_KEYS"); v != "" {
		if c.CursorKeys, err = pagination.ParseKeys(v); err != nil {
			return c, errors.New("HUB_CURSOR_KEYS: invalid key list (comma-separated base64 of 32 bytes)")
		}
	}
	if v := os.Getenv("HUB_CACHE_MAX_MB"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return c, fmt.Errorf("HUB_CACHE_MAX_MB: not an integer")
		}
		c.CacheMaxMB = n
	}
	tp, err := ParseCIDRs(os.Getenv("HUB_TRUSTED_PROXIES"))
	if err != nil {
		return c, fmt.Errorf("HUB_TRUSTED_PROXIES: %w", err)
	}
	c.TrustedProxies = tp
	for _, o := range strings.Split(os.Getenv("HUB_CORS_ORIGINS"), ",") {
		if o = strings.TrimSpace(o); o != "" {
			c.CORSOrigins = append(c.CORSOrigins, o)
		}
	}
	return c, nil
}

// Server is an assembled Hub Chantier server.
type Server struct {
	Handler http.Handler
	DB      *store.DB
	Service *service.Service
	// Operator holds the operations that check no caller (user and key
	// creation for the CLI and tests, the active-keys gauge).
	Operator *service.Operator
	Bus      *hubapi.Bus
	// Cache is the response cache (nil when disabled).
	Cache *cache.Cache
	Redis *redis.Client
	// Metrics and MetricsHandler (the protected /metrics endpoint).
	Metrics        *metrics.Metrics
	MetricsHandler http.Handler
	ownsDB         bool
	// background work (counter compaction), stopped by Close
	stop context.CancelFunc
	bg   sync.WaitGroup
}

// New opens the database, migrates it and builds the handler.
func New(ctx context.Context, cfg Config) (*Server, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	s := &Server{DB: cfg.DB, Bus: &hubapi.Bus{}}
	if s.DB == nil {
		url := cfg.DatabaseURL
		if url == "" {
			url = store.DefaultURL
		}
		db, err := store.Open(url)
		if err != nil {
			return nil, err
		}
		s.DB, s.ownsDB = db, true
	}
	if !cfg.SkipMigrate {
		mctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		defer cancel()
		if err := s.DB.Migrate(mctx); err != nil {
			s.Close()
			return nil, err
		}
	}
	dir := cfg.BlobDir
	if dir == "" {
		dir = "hubchantier-blobs"
	}
	blobs, err := blob.NewDir(dir)
	if err != nil {
		s.Close()
		return nil, err
	}
	if cfg.Publisher != nil {
		s.Bus.Subscribe(cfg.Publisher.Publish)
	}
	keys := cfg.CursorKeys
	if len(keys) == 0 {
		k := make([]byte, 32)
		if _, err := rand.Read(k); err != nil {
			s.Close()
			return nil, err
		}
		keys = [][]byte{k}
		log.Warn("HUB_CURSOR_KEYS is not set: pagination cursors use a per-process key and break on restart or across instances")
	}
	codec, err := pagination.NewCodec(keys)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("cursor keys: %w", err)
	}
	opts := []service.Option{service.WithPublisher(s.Bus), service.WithCursorCodec(codec)}
	if cfg.MaxUploadBytes > 0 {
		opts = append(opts, service.WithMaxUpload(cfg.MaxUploadBytes))
	}
	s.Service = service.New(s.DB, blobs, opts...)
	s.Operator = service.NewOperator(s.Service)
	s.startCounterCompaction(log)

	m := cfg.Metrics
	if m == nil {
		if m, err = metrics.New(metrics.Config{}); err != nil {
			s.Close()
			return nil, err
		}
	}
	m.ObserveDB(s.DB.DB.DB)
	m.SetActiveAPIKeys(func() int {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		n, err := s.Operator.CountActiveAPIKeys(ctx)
		if err != nil {
			return 0
		}
		return n
	})
	if s.MetricsHandler, err = m.Handler(cfg.MetricsAccess); err != nil {
		s.Close()
		return nil, err
	}
	s.Metrics = m

	if cfg.RedisURL != "" {
		ropt, err := redis.ParseURL(cfg.RedisURL)
		if err != nil {
			s.Close()
			return nil, errors.New("HUB_REDIS_URL: invalid Redis URL")
		}
		ropt.DialTimeout, ropt.ReadTimeout, ropt.WriteTimeout = 2*time.Second, time.Second, time.Second
		s.Redis = redis.NewClient(ropt)
	}
	rl, err := newRateLimiter(cfg, s.Redis, log, m)
	if err != nil {
		s.Close()
		return nil, err
	}
	// Rate limit, then conditional requests, then the response cache: a 304
	// is refunded by the limiter, and the cache sees only authorized callers.
	v1mw := []mux.MiddlewareFunc{rl.Middleware, etag.ConditionalGET()}
	if cfg.CacheMaxMB >= 0 {
		c, err := newCache(cfg, s.Redis, log, m)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.Cache = c
		// Every committed mutation invalidates what depends on its resource
		// type, on this instance and (through Redis) on the others.
		s.Bus.Subscribe(func(ctx context.Context, e hubapi.Event) {
			if err := c.Invalidate(context.WithoutCancel(ctx), e.Resource); err != nil {
				log.WarnContext(ctx, "cache invalidation broadcast failed", slog.String("resource", e.Resource), slog.String("error", err.Error()))
			}
		})
		v1mw = append(v1mw, c.Middleware)
	}

	r := mux.NewRouter()
	r.Use(recordRoute)
	r.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	}).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		pctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.DB.Ping(pctx); err != nil {
			problem.Write(w, r, problem.New(http.StatusServiceUnavailable, "not-ready", "The database is not reachable."))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ready"}`))
	}).Methods(http.MethodGet, http.MethodHead)
	rest.MountDocs(r)
	if !cfg.MetricsOwnListener {
		r.Handle("/metrics", s.MetricsHandler)
	}
	svc := s.Service
	if err := rest.Mount(r, rest.Options{Chantiers: svc, Pointages: svc, Documents: svc, Signalements: svc,
		Affectations: svc, Users: svc, Stats: svc, APIKeys: svc, Authenticator: s.Operator,
		Logger: log, Middleware: v1mw, OnAuthFailure: m.AuthFailure}); err != nil {
		s.Close()
		return nil, err
	}
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		problem.Write(w, r, problem.New(http.StatusNotFound, "not-found", "No such endpoint."))
	})
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		problem.Write(w, r, problem.New(http.StatusMethodNotAllowed, "method-not-allowed", "The method is not allowed on this endpoint."))
	})

	var h http.Handler = r
	// In front of the router so that 404 and 405 count too (as "unmatched").
	h = m.Middleware(func(r *http.Request) string {
		if rt := routeHolderFrom(r.Context()); rt != nil {
			return rt.template
		}
		return ""
	})(h)
	h = clientIP(cfg.TrustedProxies)(h)
	h = cors(cfg.CORSOrigins)(h)
	h = securityHeaders(h)
	h = recoverer(log)(h)
	h = accessLog(log)(h)
	s.Handler = h
	return s, nil
}

// Close stops the cache subscriber and releases Redis and the database
// (when the server opened it).
func (s *Server) Close() {
	if s.stop != nil {
		s.stop()
		s.bg.Wait()
	}
	if s.Cache != nil {
		_ = s.Cache.Close()
	}
	if s.Redis != nil {
		_ = s.Redis.Close()
	}
	if s.ownsDB && s.DB != nil {
		_ = s.DB.Close()
	}
}
