// Package server assembles the whole Hub Chantier HTTP handler from a
// Config: the one constructor that cmd/hubchantier and the tests share.
package server

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/mux"
	"github.com/redis/go-redis/v9"

	"github.com/hubchantier/hubchantier/audit"
	"github.com/hubchantier/hubchantier/clientip"
	"github.com/hubchantier/hubchantier/etag"
	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/apiversion"
	"github.com/hubchantier/hubchantier/hubapi/batch"
	"github.com/hubchantier/hubchantier/hubapi/blob"
	"github.com/hubchantier/hubchantier/hubapi/cache"
	"github.com/hubchantier/hubchantier/hubapi/jobs"
	"github.com/hubchantier/hubchantier/hubapi/metrics"
	"github.com/hubchantier/hubchantier/hubapi/rest"
	"github.com/hubchantier/hubchantier/hubapi/route"
	"github.com/hubchantier/hubchantier/hubapi/service"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/internal/broadcast"
	"github.com/hubchantier/hubchantier/notify"
	"github.com/hubchantier/hubchantier/oauth"
	"github.com/hubchantier/hubchantier/pagination"
	"github.com/hubchantier/hubchantier/problem"
	"github.com/hubchantier/hubchantier/ratelimit/redisstore"
	"github.com/hubchantier/hubchantier/secretbox"
	"github.com/hubchantier/hubchantier/webhooks"
)

// Server is an assembled Hub Chantier server.
type Server struct {
	Handler http.Handler
	// Router holds every route (tests enumerate it).
	Router  *mux.Router
	DB      *store.DB
	Service *service.Service
	// Operator holds the operations that check no caller (user and key
	// creation for the CLI and tests, the active-keys gauge).
	Operator *service.Operator
	Bus      *hubapi.Bus
	// Cache is the response cache (nil when disabled).
	Cache *cache.Cache
	Redis *redis.Client
	// RedisBreaker guards every command of Redis (nil without Redis).
	RedisBreaker *redisstore.Breaker
	revocations  *broadcast.Channel
	failClosed   bool
	// Metrics and MetricsHandler (the protected /metrics endpoint).
	Metrics        *metrics.Metrics
	MetricsHandler http.Handler
	// Notifier mails notifications (nil unless Config.SMTPURL is set).
	Notifier notify.Notifier
	// oauth is the OAuth 2 authorization server once started (see OAuth).
	oauth     atomic.Pointer[oauthState]
	stopOAuth context.CancelFunc
	// Secrets seals and opens the secrets the server reads back (webhook
	// signing secrets): Config.SecretKeys, or the key kept in the database.
	Secrets *secretbox.Keyring
	// WebhookGuard holds the rules for webhook targets (Config.WebhookAllowHTTP,
	// Config.WebhookAllowPrivate), at registration and at delivery.
	WebhookGuard webhooks.Guard
	// connectors: registry, sealer, vendor rate limiter (connectors.go)
	connectors *connectorSetup
	// Jobs is the durable job queue (periodic jobs, later event delivery),
	// started by New and stopped by Close.
	Jobs *jobs.Queue
	// Audit is the audit trail's store, AuditWriter its asynchronous
	// writer (nil when Config.Audit.Disabled).
	Audit       *audit.Store
	AuditWriter *audit.Writer
	ownsDB      bool
	ready       readiness
	// openAnomalies caches the open anomaly counts of the metric
	openAnomalies anomalyCounts
	// background start of the job queue, stopped by Close
	stopBG context.CancelFunc
	bg     sync.WaitGroup
}

// New assembles the server: the steps of the request pipeline of DESIGN.md,
// one function each, in order. When a step fails, what the earlier steps
// opened is released.
func New(ctx context.Context, cfg Config) (_ *Server, err error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	warnUnknownEnv(log, cfg.UnknownEnv)
	s := &Server{Bus: &hubapi.Bus{}}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if err := s.openDB(cfg); err != nil {
		return nil, err
	}
	if err := s.migrate(ctx, cfg); err != nil {
		return nil, err
	}
	blobs, err := openBlobs(cfg)
	if err != nil {
		return nil, err
	}
	codec, err := s.cursorCodec(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	if s.Secrets, err = SecretKeyring(ctx, s.DB, cfg.SecretKeys, log); err != nil {
		return nil, err
	}
	s.WebhookGuard = webhooks.Guard{AllowHTTP: cfg.WebhookAllowHTTP, AllowPrivate: cfg.WebhookAllowPrivate}
	if cfg.Notifier != nil {
		s.Notifier = cfg.Notifier
	} else if cfg.SMTPURL != "" {
		n, err := notify.ParseSMTPURL(cfg.SMTPURL)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvSMTPURL, err)
		}
		s.Notifier = n
	}
	if err := s.setupAudit(ctx, cfg, log); err != nil {
		return nil, err
	}
	if err := s.setupConnectors(cfg, log); err != nil {
		return nil, err
	}
	if err := s.newJobs(ctx, cfg, log); err != nil {
		return nil, err
	}
	s.startService(cfg, blobs, codec, log)
	s.startJobs(ctx, log)
	clientIP, err := clientip.New(clientip.Config{TrustedProxies: cfg.TrustedProxies})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EnvTrustedProxies, err)
	}
	if err := s.setupMetrics(cfg, clientIP); err != nil {
		return nil, err
	}
	if err := s.connectRedis(cfg, log); err != nil {
		return nil, err
	}
	s.useRedisForConnectors()
	s.failClosed = cfg.RateLimitFailClosed
	if err := s.setupRevocations(log); err != nil {
		return nil, err
	}
	s.startOAuth(ctx, cfg, log)
	limiter, err := newRateLimiter(cfg, s.Redis, log, s.Metrics)
	if err != nil {
		return nil, err
	}
	// Rate limit, then conditional requests, then the response cache: a 304
	// is refunded by the limiter, and the cache sees only authorized callers.
	v1mw := []mux.MiddlewareFunc{limiter.Middleware, etag.ConditionalGET()}
	if err := s.setupCache(cfg, log); err != nil {
		return nil, err
	}
	if s.Cache != nil {
		v1mw = append(v1mw, s.Cache.Middleware)
	}
	batchLimiter, err := newBatchLimiter(cfg, s.Redis, log, s.Metrics)
	if err != nil {
		return nil, err
	}
	v1Policy, err := cfg.v1Policy()
	if err != nil {
		return nil, err
	}
	capture, err := s.auditCapture()
	if err != nil {
		return nil, err
	}
	r, err := s.router(cfg, log, v1mw, batchLimiter.Middleware, limiter.Middleware, capture)
	if err != nil {
		return nil, err
	}
	s.Router = r
	if err := checkRateLimitRoutes(r, cfg.RateLimits); err != nil {
		return nil, err
	}
	corsMW, err := cors(cfg.CORSOrigins)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EnvCORSOrigins, err)
	}
	// The recoverer sits inside the access log, so that a panic's 500 is
	// logged like any other answer, with the request id it carries.
	s.Handler = chain(r,
		// Outermost, so that every problem, the recoverer's too, gets the
		// product's type base.
		problem.WithTypeBase(hubapi.ProblemTypeBase),
		requestID,
		route.Track,
		accessLog(log),
		recoverer(log),
		securityHeaders,
		corsMW,
		s.Metrics.Middleware(route.Template), // in front of the router: 404 and 405 count too ("unmatched")
		clientIP.Middleware,
		// After the request id and the client IP, before authentication:
		// refused requests are recorded too.
		auditMiddleware(capture),
		// Every v1 answer, errors and 404s included, carries the policy.
		apiversion.Middleware,
		apiversion.Headers(apiversion.V1, v1Policy),
	)
	return s, nil
}

// auditMiddleware is capture's middleware, or none.
func auditMiddleware(capture *audit.Capture) func(http.Handler) http.Handler {
	if capture == nil {
		return func(h http.Handler) http.Handler { return h }
	}
	return capture.Middleware
}

// AuditDrainWait is how long Close waits for the audit writer to append
// the events it holds.
const AuditDrainWait = 10 * time.Second

// chain wraps h in middleware listed from the outermost to the innermost.
func chain(h http.Handler, outerToInner ...func(http.Handler) http.Handler) http.Handler {
	for i := len(outerToInner) - 1; i >= 0; i-- {
		h = outerToInner[i](h)
	}
	return h
}

// openDB opens cfg.DatabaseURL, with the statement timeout, unless the
// embedder gave a DB.
func (s *Server) openDB(cfg Config) error {
	if cfg.DB != nil {
		s.DB = cfg.DB
		return nil
	}
	url := cfg.DatabaseURL
	if url == "" {
		url = store.DefaultURL
	}
	timeout := cfg.StatementTimeout
	if timeout == 0 {
		timeout = store.DefaultStatementTimeout
	}
	db, err := store.Open(url, store.StatementTimeout(timeout))
	if err != nil {
		return err
	}
	s.DB, s.ownsDB = db, true
	return nil
}

// migrate brings the schema up to date (five minutes at most).
func (s *Server) migrate(ctx context.Context, cfg Config) error {
	if cfg.SkipMigrate {
		return nil
	}
	mctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	return s.DB.Migrate(mctx)
}

// openBlobs opens the directory of document contents.
func openBlobs(cfg Config) (*blob.Dir, error) {
	dir := cfg.BlobDir
	if dir == "" {
		dir = DefaultBlobDir
	}
	return blob.NewDir(dir)
}

// startService builds the use cases.
func (s *Server) startService(cfg Config, blobs *blob.Dir, codec *pagination.Codec, log *slog.Logger) {
	if cfg.Publisher != nil {
		s.Bus.Subscribe(cfg.Publisher.Publish)
	}
	opts := []service.Option{service.WithPublisher(s.Bus), service.WithCursorCodec(codec), service.WithOutbox(s.Jobs),
		service.WithSecretKeyring(s.Secrets), service.WithWebhookGuard(s.WebhookGuard), service.WithWebhookQueue(s.Jobs),
		service.WithNotifier(s.Notifier), service.WithOAuthGrants(oauthGrants{s.OAuth}), service.WithAuditTrail(cfg.AuditTrail),
		service.WithLogger(log), service.WithRotationGrace(cfg.APIKeyRotationGrace), service.WithAnomalyConfig(s.anomalyConfig(cfg)),
		service.WithConnectors(s.connectorDeps())}
	if s.Audit != nil {
		opts = append(opts, service.WithAudit(s.Audit))
		if cfg.AuditTrail == nil {
			// what a request of the person recorded a moment ago is in
			// their export and anonymised by their erasure
			opts = append(opts, service.WithAuditTrail(service.NewAuditTrail(s.Audit, s.AuditWriter.Flush)))
		}
	}
	if cfg.MaxUploadBytes > 0 {
		opts = append(opts, service.WithMaxUpload(cfg.MaxUploadBytes))
	}
	s.Service = service.New(s.DB, blobs, opts...)
	s.Operator = service.NewOperator(s.Service)
}

// newJobs builds the job queue (periodic jobs, domain events), before the
// use cases that record events in it.
func (s *Server) newJobs(ctx context.Context, cfg Config, log *slog.Logger) error {
	periodic := append(counterCompaction(s.DB), auditJobs(s.Audit, s.DB, cfg.Audit)...)
	periodic = append(periodic, s.keySecurityJobs(log)...)
	jc := jobs.Config{Logger: log, Periodic: periodic, EventHandlers: cfg.EventHandlers, RescueStuckJobsAfter: cfg.JobsRescueAfter}
	jc.Webhooks = &jobs.WebhookConfig{Keys: s.Secrets, Notifier: s.Notifier, Timeout: cfg.WebhookTimeout, Guard: s.WebhookGuard}
	jc.Connectors = s.connectorJobs(cfg)
	q, err := jobs.New(ctx, s.DB, jc)
	if err != nil {
		return err
	}
	s.Jobs = q
	return nil
}

// JobStartRetry is how often a server whose database did not answer at
// start-up tries again to start its job queue.
const JobStartRetry = 5 * time.Second

// startJobs starts working the job queue. A server may start while its
// database is unreachable (it answers 503 meanwhile): then the queue is
// started in the background as soon as the database answers.
func (s *Server) startJobs(ctx context.Context, log *slog.Logger) {
	err := s.Jobs.Start(ctx)
	if err == nil {
		return
	}
	log.Warn("job queue not started; retrying in the background", slog.String("every", JobStartRetry.String()), slog.String("error", err.Error()))
	bctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	s.stopBG = stop
	s.bg.Go(func() {
		t := time.NewTicker(JobStartRetry)
		defer t.Stop()
		for {
			select {
			case <-bctx.Done():
				return
			case <-t.C:
				if err := s.Jobs.Start(bctx); err == nil {
					log.Info("job queue started")
					return
				}
			}
		}
	})
}

// setupMetrics creates (or adopts) the metrics and the protected /metrics
// handler, which judges clients with the server's client-IP resolver.
func (s *Server) setupMetrics(cfg Config, clientIP *clientip.Resolver) error {
	metrics.ExposeMetadata() // process-wide: TYPE and HELP lines on /metrics
	m := cfg.Metrics
	if m == nil {
		var err error
		if m, err = metrics.New(metrics.Config{}); err != nil {
			return err
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
	m.SetOpenAnomalies(s.openAnomalies.get)
	access := cfg.MetricsAccess
	if access.ClientIP == nil {
		access.ClientIP = clientIP
	}
	h, err := m.Handler(access)
	if err != nil {
		return err
	}
	s.Metrics, s.MetricsHandler = m, h
	return nil
}

// setupCache creates the response cache, unless disabled. Every committed
// mutation invalidates what depends on its resource type, on this instance
// and (through Redis) on the others.
func (s *Server) setupCache(cfg Config, log *slog.Logger) error {
	if _, err := cfg.CacheTTL.withDefaults(); err != nil {
		return err
	}
	if cfg.CacheMaxMB < 0 {
		return nil
	}
	c, err := newCache(cfg, s.Redis, log, s.Metrics)
	if err != nil || c == nil {
		return err
	}
	s.Cache = c
	s.Bus.Subscribe(func(ctx context.Context, e hubapi.Event) {
		if e.Type == hubapi.EventUserErased {
			// Entries of any route may hold the erased person's data: flush
			// them all, here and (through Redis) on every instance.
			if err := c.FlushAll(context.WithoutCancel(ctx)); err != nil {
				log.WarnContext(ctx, "cache flush broadcast failed", slog.String("error", err.Error()))
			}
			return
		}
		if err := c.Invalidate(context.WithoutCancel(ctx), e.Resource); err != nil {
			log.WarnContext(ctx, "cache invalidation broadcast failed", slog.String("resource", e.Resource), slog.String("error", err.Error()))
		}
	})
	return nil
}

// cursorKeyName is the server_secrets row of the generated cursor key.
const cursorKeyName = "cursor_key"

// cursorCodec seals pagination cursors with cfg.CursorKeys (the first seals,
// all open), or, when none is configured, with a key generated once and kept
// in the database, so every instance on that database and every restart
// open each other's cursors. The log says where the key comes from, never
// the key.
func (s *Server) cursorCodec(ctx context.Context, cfg Config, log *slog.Logger) (*pagination.Codec, error) {
	keys := cfg.CursorKeys
	if len(keys) == 0 {
		k, err := s.DB.SharedSecret(ctx, cursorKeyName, func() ([]byte, error) {
			k := make([]byte, pagination.KeySize)
			_, err := rand.Read(k)
			return k, err
		})
		if err != nil {
			return nil, fmt.Errorf("cursor key (set %s, or let the server keep one in the database): %w", EnvCursorKeys, err)
		}
		keys = [][]byte{k}
		log.Info("pagination cursors sealed with the key kept in the database (server_secrets); set " + EnvCursorKeys + " to choose and rotate keys")
	} else {
		log.Info("pagination cursors sealed with "+EnvCursorKeys, slog.Int("keys", len(keys)))
	}
	codec, err := pagination.NewCodec(keys)
	if err != nil {
		if len(cfg.CursorKeys) == 0 {
			return nil, fmt.Errorf("cursor key kept in the database (server_secrets): %w", err)
		}
		return nil, fmt.Errorf("%s: %w", EnvCursorKeys, err)
	}
	return codec, nil
}

// router builds the routes: health, docs, /metrics (unless on its own
// listener) and /api/v1 with its middleware.
func (s *Server) router(cfg Config, log *slog.Logger, v1mw []mux.MiddlewareFunc, batchLimit func(http.Handler) http.Handler, limit mux.MiddlewareFunc, capture *audit.Capture) (*mux.Router, error) {
	r := mux.NewRouter()
	// Batch operations are dispatched to r itself, inside authentication
	// (the batch's principal is theirs) and the route's middleware.
	// One batch endpoint per version: a batch's operations are of its own
	// version, spelt like it.
	bh, err := batch.New(batch.Config{Target: r, UnitOfWork: s.Service, Limit: batchLimit})
	if err != nil {
		return nil, err
	}
	bh2, err := batch.New(batch.Config{Target: r, UnitOfWork: s.Service, Limit: batchLimit, Prefix: "/api/v2", Naming: batch.CamelCase})
	if err != nil {
		return nil, err
	}
	r.Use(route.Record)
	if capture != nil {
		// batch operations, dispatched to r, are recorded one by one
		r.Use(capture.Operations)
	}
	r.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	}).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		if reason := s.ready.reason.Load(); reason != nil {
			w.Header().Set("Retry-After", "5")
			problem.Write(w, r, problem.New(http.StatusServiceUnavailable, "not-ready", "The server is "+*reason+"."))
			return
		}
		pctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.DB.Ping(pctx); err != nil {
			problem.Write(w, r, problem.New(http.StatusServiceUnavailable, "not-ready", "The database is not reachable."))
			return
		}
		// Fail-closed rate limiting refuses every request while Redis is
		// unreachable: the load balancer should route around this instance.
		if s.failClosed && s.Redis != nil {
			if err := s.redisReady(pctx); err != nil {
				problem.Write(w, r, problem.New(http.StatusServiceUnavailable, "not-ready", "Redis is not reachable and rate limiting fails closed."))
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ready"}`))
	}).Methods(http.MethodGet, http.MethodHead)
	rest.MountDocs(r)
	if !cfg.MetricsOwnListener {
		r.Handle("/metrics", s.MetricsHandler)
	}
	oh := s.oauthHandler()
	for _, p := range oauth.Paths() {
		r.Handle(p, oh)
	}
	s.mountConnectorNotifications(r, log) // public: before /api/v1's authentication
	svc := s.Service
	// v1 and v2 share the use cases and the middleware (quotas per route,
	// hence per version; conditional requests; the cache, keyed by route).
	mw := append([]mux.MiddlewareFunc{s.countVersion}, v1mw...)
	opts := rest.Options{Chantiers: svc, Pointages: svc, Documents: svc, Signalements: svc,
		Affectations: svc, Users: svc, Stats: svc, APIKeys: svc, KeySecurity: svc, Webhooks: svc, Privacy: svc, AuditLogs: svc, Connectors: svc, ConnectorOAuth: svc,
		Authenticator:  bearerAuthenticator{keys: s.Operator, oauth: s.OAuth, op: s.Operator},
		Authorizations: oauthAuthorizations{s.OAuth},
		Logger:         log, Middleware: mw, OnAuthFailure: s.Metrics.AuthFailure, Batch: bh}
	opts.Clients, opts.Factures, opts.Depenses, opts.ConnectorExports = svc, svc, svc, svc
	if err := rest.Mount(r, opts); err != nil {
		return nil, err
	}
	opts.Batch = bh2
	if err := rest.MountV2(r, opts); err != nil {
		return nil, err
	}
	if err := s.mountGraphQL(r, cfg, log, limit); err != nil {
		return nil, err
	}
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		problem.Write(w, r, problem.New(http.StatusNotFound, "not-found", "No such endpoint."))
	})
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		problem.Write(w, r, problem.New(http.StatusMethodNotAllowed, "method-not-allowed", "The method is not allowed on this endpoint."))
	})
	return r, nil
}

// countVersion counts an authenticated API request by version, and v1
// requests by API key.
func (s *Server) countVersion(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var keyID int64
		if p := hubapi.PrincipalFrom(r.Context()); p != nil {
			keyID = p.APIKeyID
		}
		s.Metrics.APIRequest(string(apiversion.From(r.Context())), keyID)
		next.ServeHTTP(w, r)
	})
}

// JobStopWait is how long Close waits for running jobs before cancelling
// them (a cancelled job is retried later, here or on another instance).
const JobStopWait = 10 * time.Second

// Close stops the job queue and the cache subscriber, and releases Redis and
// the database (when the server opened it).
func (s *Server) Close() {
	if s.stopBG != nil {
		s.stopBG()
	}
	if s.stopOAuth != nil {
		s.stopOAuth()
	}
	s.bg.Wait()
	if s.AuditWriter != nil {
		ctx, cancel := context.WithTimeout(context.Background(), AuditDrainWait)
		_ = s.AuditWriter.Close(ctx)
		cancel()
	}
	if s.Jobs != nil {
		ctx, cancel := context.WithTimeout(context.Background(), JobStopWait)
		_ = s.Jobs.Stop(ctx)
		cancel()
	}
	if s.Cache != nil {
		_ = s.Cache.Close()
	}
	if o := s.OAuth(); o != nil {
		o.Close()
	}
	if s.revocations != nil {
		s.revocations.Close()
	}
	if s.Redis != nil {
		_ = s.Redis.Close()
	}
	if s.ownsDB && s.DB != nil {
		_ = s.DB.Close()
	}
}
