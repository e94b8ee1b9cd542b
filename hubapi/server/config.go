package server

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hubchantier/hubchantier/clientip"
	"github.com/hubchantier/hubchantier/connectors"
	"github.com/hubchantier/hubchantier/connectors/dropbox"
	"github.com/hubchantier/hubchantier/connectors/gcal"
	"github.com/hubchantier/hubchantier/connectors/quickbooks"
	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/apiversion"
	"github.com/hubchantier/hubchantier/hubapi/jobs"
	"github.com/hubchantier/hubchantier/hubapi/metrics"
	"github.com/hubchantier/hubchantier/hubapi/service"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/notify"
	"github.com/hubchantier/hubchantier/pagination"
	"github.com/hubchantier/hubchantier/ratelimit"
	"github.com/hubchantier/hubchantier/ratelimit/redisstore"
	"github.com/hubchantier/hubchantier/secretbox"
)

// Defaults of the embedded mode.
const (
	DefaultAddr    = "127.0.0.1:8080"
	DefaultBlobDir = "hubchantier-blobs"
)

// Config is the server configuration. Zero values are safe defaults for the
// embedded mode.
type Config struct {
	// Addr is the API listen address (HUB_ADDR, default DefaultAddr). New
	// does not listen: cmd/hubchantier does.
	Addr string
	// MetricsAddr (HUB_METRICS_ADDR), when set, is where cmd/hubchantier
	// serves /metrics on its own listener (see MetricsOwnListener).
	MetricsAddr string
	// DatabaseURL: "sqlite:<path>" (default store.DefaultURL) or postgres://...
	DatabaseURL string
	// DB, when set, is used instead of opening DatabaseURL (embedders, tests);
	// StatementTimeout then does not apply (see store.StatementTimeout).
	DB *store.DB
	// StatementTimeout bounds each database statement, waiting for a lock
	// or a pooled connection included (HUB_DB_STATEMENT_TIMEOUT, a Go
	// duration such as 5s or 800ms; "0" disables it). Zero: the default,
	// store.DefaultStatementTimeout; negative: disabled. Past it the request
	// gets 503 with Retry-After.
	StatementTimeout time.Duration
	// BlobDir holds document contents (default DefaultBlobDir).
	BlobDir string
	// CORSOrigins lists the exact browser origins allowed to call the API
	// (see NormalizeOrigin; "*" is refused).
	CORSOrigins []string
	// MaxUploadBytes bounds document uploads (default 25 MiB).
	MaxUploadBytes int64
	// Logger receives JSON logs (default: slog JSON on stderr).
	Logger *slog.Logger
	// Publisher receives domain events in addition to the in-process bus.
	Publisher hubapi.Publisher
	// EventHandlers handle every committed domain event, at least once, on
	// some instance (the durable counterpart of Publisher; see jobs.Config).
	EventHandlers []jobs.EventHandler
	// SkipMigrate disables migrations at start-up.
	SkipMigrate bool
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is
	// believed (HUB_TRUSTED_PROXIES, comma-separated CIDRs or addresses), by
	// the whole server and /metrics alike. Empty: the TCP peer is the client.
	TrustedProxies []netip.Prefix
	// RedisURL (HUB_REDIS_URL), when set, shares rate-limit counters and
	// broadcasts cache invalidations between instances.
	RedisURL string
	// CacheMaxMB bounds the response cache (HUB_CACHE_MAX_MB, default 256);
	// a negative value disables the cache.
	CacheMaxMB int
	// CacheTTL is how long the cache serves lists, statistics and the
	// planning (HUB_CACHE_TTL_LISTS, HUB_CACHE_TTL_STATS,
	// HUB_CACHE_TTL_PLANNING, in seconds; 0 there leaves the type uncached).
	// Zero members take DefaultCacheTTL's; New refuses a TTL outside
	// [1 s, 24 h].
	CacheTTL CacheTTL
	// CacheNow is the response cache's clock (default time.Now); tests
	// move it to expire entries.
	CacheNow func() time.Time
	// RateLimits overrides the default per-route quotas (HUB_RATE_LIMITS:
	// "GET /api/v1/stats=5/m;POST /api/v1/chantiers=100/d"). A rule for a
	// route the server does not have is refused by New.
	RateLimits string
	// RateLimitFailClosed answers 503 instead of letting requests through
	// when the rate-limit store (Redis) fails (HUB_RATE_LIMIT_FAIL_CLOSED);
	// /readyz then answers 503 too while Redis is unreachable.
	RateLimitFailClosed bool
	// BatchOperationLimits is the quota, in operations, that batches draw
	// on per key (default BatchOperationPolicies): a batch costs its
	// number of operations, on top of its own request quota.
	BatchOperationLimits []ratelimit.Policy
	// RedisBreaker tunes the circuit breaker that makes every Redis command
	// fail at once while Redis is down (zero: 5 consecutive failures open
	// it for 5 s). Embedders and tests only.
	RedisBreaker redisstore.BreakerConfig
	// CursorKeys seal pagination cursors (HUB_CURSOR_KEYS: comma-separated
	// base64 32-byte keys, newest first: the first seals, all open). Empty:
	// a key generated once and kept in the database (table server_secrets),
	// shared by every instance on that database and kept across restarts.
	CursorKeys [][]byte
	// SecretKeys seal the secrets the server must read back, such as
	// webhook signing secrets (HUB_SECRET_KEYS: "id:base64key,..." of
	// 32-byte AES-256 keys, see secretbox.ParseKeyring; the first seals,
	// all open). Empty: a key generated once and kept in the database
	// (table server_secrets), with a warning at start-up — whoever reads the
	// database can then open the secrets.
	SecretKeys *secretbox.Keyring
	// ConnectorKeys seal connector configurations and vendors' OAuth
	// tokens (HUB_CONNECTOR_KEYS, same format as HUB_SECRET_KEYS). Empty:
	// the SecretKeys keyring (or the key kept in the database).
	ConnectorKeys *secretbox.Keyring
	// Connectors are the connector types the server offers (default:
	// DefaultConnectorRegistry). Embedders and tests.
	Connectors *connectors.Registry
	// ConnectorOptions gives the options of connectors of a type (HTTP
	// client; base URL of a fake when Connectors allows overrides).
	// Embedders and tests.
	ConnectorOptions func(typ string) connectors.Options
	// ConnectorOAuth are the server's OAuth clients at vendors, by
	// connector type (types whose Spec has OAuth). Embedders and tests;
	// environment variables come with the OAuth vendors.
	ConnectorOAuth map[string]service.ConnectorOAuthClient
	// ConnectorPublicURL is the server's public HTTPS URL, where vendors
	// post push notifications (Google Calendar's channels); empty:
	// OAuthIssuer when it is HTTPS, else no channel is opened (syncs still
	// run daily and on demand).
	ConnectorPublicURL string
	// ConnectorRunner configures syncs and checks (call timeout, tries,
	// backoff). Embedders and tests.
	ConnectorRunner connectors.RunnerConfig
	// ConnectorJobs tunes the sync jobs (lease, retries). Embedders and
	// tests; Registry, Sealer, Runner and Options are set by the server.
	ConnectorJobs jobs.ConnectorConfig
	// Audit configures the audit trail (HUB_AUDIT_*).
	Audit AuditConfig
	// WebhookAllowHTTP accepts http:// webhook targets
	// (HUB_WEBHOOK_ALLOW_HTTP=1; tests and on-premises receivers).
	WebhookAllowHTTP bool
	// WebhookAllowPrivate accepts webhook targets on loopback, private and
	// link-local addresses (HUB_WEBHOOK_ALLOW_PRIVATE=1; tests and
	// on-premises receivers).
	WebhookAllowPrivate bool
	// Metrics receives the server's metrics (default: a new set).
	Metrics *metrics.Metrics
	// MetricsAccess protects /metrics (default: loopback only). Its
	// ClientIP, when nil, is the server's client-IP resolver.
	MetricsAccess metrics.AccessConfig
	// MetricsOwnListener leaves /metrics off the main handler; serve
	// Server.MetricsHandler on its own listener instead.
	MetricsOwnListener bool
	// TLSCertFile and TLSKeyFile (HUB_TLS_CERT, HUB_TLS_KEY: PEM files, both
	// or neither), when set, make cmd/hubchantier serve HTTPS (TLS 1.2 at
	// least, HSTS on its answers; the pair is read again on SIGHUP).
	TLSCertFile, TLSKeyFile string
	// RedirectAddr (HUB_REDIRECT_ADDR), with TLS, is a plain-HTTP listener
	// that only answers 308 to the same URL over HTTPS.
	RedirectAddr string
	// PublicHost (HUB_PUBLIC_HOST, host or host:port) is the host the
	// redirect listener sends clients to; empty: the host they asked for,
	// with the TLS listener's port.
	PublicHost string
	// ShutdownGrace (HUB_SHUTDOWN_GRACE, default DefaultShutdownGrace) is how
	// long serve waits for in-flight requests after SIGTERM before it warns
	// about them; it keeps waiting for them (see docs/OPERATIONS.md).
	ShutdownGrace time.Duration
	// SMTPURL (HUB_SMTP_URL), when set, is where notifications are mailed:
	// smtp://user:password@host:587?from=hub@example.com (see
	// notify.ParseSMTPURL). Unset: Server.Notifier is nil.
	SMTPURL string
	// Notifier, when set, sends the notifications instead of SMTPURL's
	// (an embedder's own mailer).
	Notifier notify.Notifier
	// AuditTrail, when set, is the audit log that the GDPR rights use: a
	// user's export lists their audit events, an erasure anonymises them
	// (docs/PRIVACY.md). Nil: the server's own audit store (none when
	// HUB_AUDIT_DISABLED).
	AuditTrail hubapi.AuditTrail
	// APIKeyRotationGrace (HUB_API_KEY_ROTATION_GRACE) is how long a secret
	// replaced by a rotation keeps authenticating (default
	// hubapi.DefaultRotationGrace, 7 days).
	APIKeyRotationGrace time.Duration
	// Anomalies sets the thresholds and the automatic actions of the API
	// key anomaly rules (default service.DefaultAnomalyConfig, no action).
	Anomalies service.AnomalyConfig
	// WebhookTimeout bounds one delivery attempt (default
	// webhooks.DefaultTimeout). Embedders and tests only.
	WebhookTimeout time.Duration
	// JobsRescueAfter (HUB_JOBS_RESCUE_AFTER, default one hour) is how long
	// a job may run before it is taken for lost with its instance (killed)
	// and run again; it must exceed the longest job.
	JobsRescueAfter time.Duration
	// OAuthIssuer (HUB_OAUTH_ISSUER) is the public URL of the OAuth
	// authorization server: the iss of its tokens and metadata. Empty:
	// https://PublicHost when set, else http://localhost:<port of Addr>.
	OAuthIssuer string
	// OAuthRevocationPoll is how often each instance reads OAuth
	// revocations from the database, in addition to the Redis broadcast
	// (default oauth.DefaultRevocationPoll, one second). Tests only.
	OAuthRevocationPoll time.Duration
	// Env (HUB_ENV) is EnvDevelopment (the default) or EnvProduction. In
	// production the GraphQL playground is off, and so is introspection
	// unless GraphQLIntrospection is set.
	Env string
	// GraphQLIntrospection (HUB_GRAPHQL_INTROSPECTION=1) allows GraphQL
	// introspection in production (it is always allowed in development).
	GraphQLIntrospection bool
	// V1Deprecation and V1Sunset (HUB_V1_DEPRECATION, HUB_V1_SUNSET: RFC
	// 3339 times, dates, or HTTP-dates) are when API v1 was deprecated and
	// when it stops being served, sent on every v1 response as Deprecation
	// (RFC 9745) and Sunset (RFC 8594). Zero: apiversion.DefaultDeprecation
	// and apiversion.DefaultSunset. The sunset must not be earlier than
	// the deprecation.
	V1Deprecation, V1Sunset time.Time
	// UnknownEnv lists the HUB_* variables ConfigFromEnv found but does not
	// know (a typo, or a variable of another version); New logs a warning
	// naming each.
	UnknownEnv []string
}

// Environment variables read by ConfigFromEnv: every HUB_* variable the
// server and cmd/hubchantier use.
const (
	EnvAddr                 = "HUB_ADDR"
	EnvDatabaseURL          = "HUB_DATABASE_URL"
	EnvBlobDir              = "HUB_BLOB_DIR"
	EnvCORSOrigins          = "HUB_CORS_ORIGINS"
	EnvTrustedProxies       = "HUB_TRUSTED_PROXIES"
	EnvRedisURL             = "HUB_REDIS_URL"
	EnvRateLimits           = "HUB_RATE_LIMITS"
	EnvRateLimitFailClosed  = "HUB_RATE_LIMIT_FAIL_CLOSED"
	EnvCacheMaxMB           = "HUB_CACHE_MAX_MB"
	EnvCacheTTLLists        = "HUB_CACHE_TTL_LISTS"
	EnvCacheTTLStats        = "HUB_CACHE_TTL_STATS"
	EnvCacheTTLPlanning     = "HUB_CACHE_TTL_PLANNING"
	EnvCursorKeys           = "HUB_CURSOR_KEYS"
	EnvStatementTimeout     = "HUB_DB_STATEMENT_TIMEOUT"
	EnvMetricsAddr          = "HUB_METRICS_ADDR"
	EnvTLSCert              = "HUB_TLS_CERT"
	EnvTLSKey               = "HUB_TLS_KEY"
	EnvRedirectAddr         = "HUB_REDIRECT_ADDR"
	EnvPublicHost           = "HUB_PUBLIC_HOST"
	EnvShutdownGrace        = "HUB_SHUTDOWN_GRACE"
	EnvSMTPURL              = "HUB_SMTP_URL"
	EnvSecretKeys           = "HUB_SECRET_KEYS"
	EnvConnectorKeys        = connectors.EnvKeys
	EnvWebhookAllowHTTP     = "HUB_WEBHOOK_ALLOW_HTTP"
	EnvWebhookAllowPrivate  = "HUB_WEBHOOK_ALLOW_PRIVATE"
	EnvJobsRescueAfter      = "HUB_JOBS_RESCUE_AFTER"
	EnvAPIKeyRotationGrace  = "HUB_API_KEY_ROTATION_GRACE" // #nosec G101 -- the name of a variable, not a credential
	EnvV1Deprecation        = "HUB_V1_DEPRECATION"
	EnvV1Sunset             = "HUB_V1_SUNSET"
	EnvEnv                  = "HUB_ENV"
	EnvGraphQLIntrospection = "HUB_GRAPHQL_INTROSPECTION"
	EnvOAuthIssuer          = "HUB_OAUTH_ISSUER"
	// The server's OAuth client at Google, for the Google Calendar
	// connector (all three, or none).
	EnvGoogleCalendarClientID     = "HUB_GOOGLE_CALENDAR_CLIENT_ID"
	EnvGoogleCalendarClientSecret = "HUB_GOOGLE_CALENDAR_CLIENT_SECRET" // #nosec G101 -- the name of a variable, not a credential
	EnvGoogleCalendarRedirectURL  = "HUB_GOOGLE_CALENDAR_REDIRECT_URL"
	EnvQuickBooksClientID         = "HUB_QUICKBOOKS_CLIENT_ID"
	EnvQuickBooksClientSecret     = "HUB_QUICKBOOKS_CLIENT_SECRET" // #nosec G101 -- the name of a variable, not a credential
	EnvQuickBooksRedirectURL      = "HUB_QUICKBOOKS_REDIRECT_URL"
	EnvDropboxClientID            = "HUB_DROPBOX_CLIENT_ID"
	EnvDropboxClientSecret        = "HUB_DROPBOX_CLIENT_SECRET" // #nosec G101 -- the name of a variable, not a credential
	EnvDropboxRedirectURL         = "HUB_DROPBOX_REDIRECT_URL"
	EnvAuditDisabled              = "HUB_AUDIT_DISABLED"
	EnvAuditSigningKey            = "HUB_AUDIT_SIGNING_KEY"
	EnvAuditRetentionDays         = "HUB_AUDIT_RETENTION_DAYS"
	EnvAuditAnonymiseDays         = "HUB_AUDIT_ANONYMISE_DAYS"
	EnvAuditArchiveDir            = "HUB_AUDIT_ARCHIVE_DIR"
)

// Values of HUB_ENV.
const (
	EnvDevelopment = "development"
	EnvProduction  = "production"
)

// Production reports whether the server runs with HUB_ENV=production.
func (c Config) Production() bool { return c.Env == EnvProduction }

// DefaultShutdownGrace is the default of Config.ShutdownGrace.
const DefaultShutdownGrace = 30 * time.Second

// EnvNames returns the names of every environment variable ConfigFromEnv
// reads, in the order of the documentation.
func EnvNames() []string {
	return []string{EnvEnv, EnvAddr, EnvDatabaseURL, EnvStatementTimeout, EnvBlobDir, EnvCORSOrigins, EnvTrustedProxies, EnvRedisURL,
		EnvRateLimits, EnvRateLimitFailClosed, EnvCacheMaxMB, EnvCacheTTLLists, EnvCacheTTLStats, EnvCacheTTLPlanning,
		EnvCursorKeys, EnvSecretKeys, EnvConnectorKeys, EnvMetricsAddr,
		EnvSMTPURL, EnvWebhookAllowHTTP, EnvWebhookAllowPrivate, metrics.EnvAllowedCIDRs, metrics.EnvUser, metrics.EnvPasswordHash,
		EnvTLSCert, EnvTLSKey, EnvRedirectAddr, EnvPublicHost, EnvShutdownGrace, EnvJobsRescueAfter, EnvAPIKeyRotationGrace, EnvV1Deprecation, EnvV1Sunset, EnvGraphQLIntrospection, EnvOAuthIssuer,
		EnvAuditDisabled, EnvAuditSigningKey, EnvAuditRetentionDays, EnvAuditAnonymiseDays, EnvAuditArchiveDir,
		EnvGoogleCalendarClientID, EnvGoogleCalendarClientSecret, EnvGoogleCalendarRedirectURL,
		EnvQuickBooksClientID, EnvQuickBooksClientSecret, EnvQuickBooksRedirectURL,
		EnvDropboxClientID, EnvDropboxClientSecret, EnvDropboxRedirectURL}
}

// envTestPrefix marks variables of the test suites, never read by the server.
const envTestPrefix = "HUB_TEST_"

// MaxCacheMB bounds HUB_CACHE_MAX_MB (64 GiB).
const MaxCacheMB = 64 << 10

// ConfigFromEnv reads every HUB_* variable (EnvNames) from environ, a list of
// "NAME=value" entries as os.Environ returns; an empty value is the same as
// an unset one, and the first entry of a name wins, as with os.Getenv. Each
// value is checked here, and the error names the variable; it never quotes
// the value of a secret (database, Redis and SMTP URLs, cursor and secret keys,
// the metrics password hash). Unknown HUB_* names (other than HUB_TEST_*) are listed in
// Config.UnknownEnv.
func ConfigFromEnv(environ []string) (Config, error) {
	env := map[string]string{}
	known := EnvNames()
	var unknown []string
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(k, "HUB_") {
			continue
		}
		if _, dup := env[k]; dup {
			continue
		}
		env[k] = v
		if !slices.Contains(known, k) && !strings.HasPrefix(k, envTestPrefix) {
			unknown = append(unknown, k)
		}
	}
	get := func(k string) string { return strings.TrimSpace(env[k]) }
	c := Config{Addr: DefaultAddr, DatabaseURL: store.DefaultURL, BlobDir: DefaultBlobDir, UnknownEnv: unknown,
		ShutdownGrace: DefaultShutdownGrace, Env: EnvDevelopment}
	var err error
	for _, step := range []func() error{
		func() error {
			switch v := get(EnvEnv); v {
			case "":
			case EnvDevelopment, EnvProduction:
				c.Env = v
			default:
				return fmt.Errorf("%s: must be %s or %s", EnvEnv, EnvDevelopment, EnvProduction)
			}
			return nil
		},
		func() error {
			c.GraphQLIntrospection, err = parseBool(EnvGraphQLIntrospection, get(EnvGraphQLIntrospection))
			return err
		},
		func() error { return readAddr(get(EnvAddr), EnvAddr, &c.Addr) },
		func() error { return readAddr(get(EnvMetricsAddr), EnvMetricsAddr, &c.MetricsAddr) },
		func() error { return readDatabaseURL(get(EnvDatabaseURL), &c.DatabaseURL) },
		func() error { return readStatementTimeout(get(EnvStatementTimeout), &c.StatementTimeout) },
		func() error {
			if v := get(EnvBlobDir); v != "" {
				c.BlobDir = v
			}
			return nil
		},
		func() error {
			c.CORSOrigins, err = parseOrigins(get(EnvCORSOrigins))
			return prefixErr(EnvCORSOrigins, err)
		},
		func() error {
			c.TrustedProxies, err = clientip.ParsePrefixes(get(EnvTrustedProxies))
			return prefixErr(EnvTrustedProxies, err)
		},
		func() error {
			c.RedisURL = get(EnvRedisURL)
			return checkRedisURL(c.RedisURL)
		},
		func() error {
			c.RateLimits = get(EnvRateLimits)
			if c.RateLimits != "" {
				_, err = ratelimit.ParseRules(c.RateLimits)
			}
			return prefixErr(EnvRateLimits, err)
		},
		func() error {
			c.RateLimitFailClosed, err = parseBool(EnvRateLimitFailClosed, get(EnvRateLimitFailClosed))
			return err
		},
		func() error { return readCacheMaxMB(get(EnvCacheMaxMB), &c.CacheMaxMB) },
		func() error { return readCacheTTL(EnvCacheTTLLists, get(EnvCacheTTLLists), &c.CacheTTL.Lists) },
		func() error { return readCacheTTL(EnvCacheTTLStats, get(EnvCacheTTLStats), &c.CacheTTL.Stats) },
		func() error { return readCacheTTL(EnvCacheTTLPlanning, get(EnvCacheTTLPlanning), &c.CacheTTL.Planning) },
		func() error {
			if v := get(EnvCursorKeys); v != "" {
				if c.CursorKeys, err = pagination.ParseKeys(v); err != nil {
					return fmt.Errorf("%s: invalid key list (comma-separated base64 of 32 bytes, newest first)", EnvCursorKeys)
				}
			}
			return nil
		},
		func() error {
			if v := get(EnvSecretKeys); v != "" {
				// secretbox's errors name key ids, never key material.
				if c.SecretKeys, err = secretbox.ParseKeyring(v); err != nil {
					return fmt.Errorf("%s: %w (want id:base64key,... of 32-byte keys, current first)", EnvSecretKeys, err)
				}
			}
			return nil
		},
		func() error {
			if v := get(EnvConnectorKeys); v != "" {
				if c.ConnectorKeys, err = secretbox.ParseKeyring(v); err != nil {
					return fmt.Errorf("%s: %w (want id:base64key,... of 32-byte keys, current first)", EnvConnectorKeys, err)
				}
			}
			return nil
		},
		func() error {
			c.WebhookAllowHTTP, err = parseBool(EnvWebhookAllowHTTP, get(EnvWebhookAllowHTTP))
			return err
		},
		func() error {
			c.WebhookAllowPrivate, err = parseBool(EnvWebhookAllowPrivate, get(EnvWebhookAllowPrivate))
			return err
		},
		func() error {
			if c.SMTPURL = get(EnvSMTPURL); c.SMTPURL != "" {
				_, err = notify.ParseSMTPURL(c.SMTPURL)
			}
			return prefixErr(EnvSMTPURL, err)
		},
		func() error {
			c.MetricsAccess, err = metrics.AccessConfigFromEnv(get)
			return err
		},
		func() error {
			c.TLSCertFile, c.TLSKeyFile = get(EnvTLSCert), get(EnvTLSKey)
			switch {
			case c.TLSCertFile != "" && c.TLSKeyFile == "":
				return fmt.Errorf("%s: required with %s (the PEM private key file)", EnvTLSKey, EnvTLSCert)
			case c.TLSCertFile == "" && c.TLSKeyFile != "":
				return fmt.Errorf("%s: required with %s (the PEM certificate chain file)", EnvTLSCert, EnvTLSKey)
			}
			return nil
		},
		func() error {
			if err := readAddr(get(EnvRedirectAddr), EnvRedirectAddr, &c.RedirectAddr); err != nil {
				return err
			}
			if c.RedirectAddr != "" && c.TLSCertFile == "" {
				return fmt.Errorf("%s: the redirect listener needs TLS (%s and %s)", EnvRedirectAddr, EnvTLSCert, EnvTLSKey)
			}
			return nil
		},
		func() error {
			c.PublicHost = get(EnvPublicHost)
			return prefixErr(EnvPublicHost, CheckPublicHost(c.PublicHost))
		},
		func() error { return readGrace(get(EnvShutdownGrace), &c.ShutdownGrace) },
		func() error { return readRescueAfter(get(EnvJobsRescueAfter), &c.JobsRescueAfter) },
		func() error { return readRotationGrace(get(EnvAPIKeyRotationGrace), &c.APIKeyRotationGrace) },
		func() error {
			c.OAuthIssuer = get(EnvOAuthIssuer)
			return prefixErr(EnvOAuthIssuer, CheckOAuthIssuer(c.OAuthIssuer))
		},
		func() error { return readVersionTime(EnvV1Deprecation, get(EnvV1Deprecation), false, &c.V1Deprecation) },
		func() error { return readVersionTime(EnvV1Sunset, get(EnvV1Sunset), true, &c.V1Sunset) },
		func() error { _, err := c.v1Policy(); return err },
		func() error { return readAuditConfig(get, &c.Audit) },
		func() error { return readOAuthClients(get, &c) },
	} {
		if err := step(); err != nil {
			return c, err
		}
	}
	return c, nil
}

// CheckPublicHost accepts "", a host name or IP address, optionally with a
// port.
func CheckPublicHost(v string) error {
	if v == "" {
		return nil
	}
	h := v
	if hh, port, err := net.SplitHostPort(v); err == nil {
		if _, perr := strconv.ParseUint(port, 10, 16); perr != nil {
			return fmt.Errorf("%q is not host[:port]", v)
		}
		h = hh
	}
	if !validHost(strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")) {
		return fmt.Errorf("%q is not host[:port] (a DNS name or an IP address, no scheme or path)", v)
	}
	return nil
}

// Bounds of HUB_JOBS_RESCUE_AFTER.
const (
	MinJobsRescueAfter = 20 * time.Second
	MaxJobsRescueAfter = 24 * time.Hour
)

func readRescueAfter(v string, dst *time.Duration) error {
	if v == "" {
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < MinJobsRescueAfter || d > MaxJobsRescueAfter {
		return fmt.Errorf("%s: %q is not a duration from 20s to 24h (e.g. 5m, 1h)", EnvJobsRescueAfter, v)
	}
	*dst = d
	return nil
}

// Bounds of HUB_API_KEY_ROTATION_GRACE.
const (
	MinAPIKeyRotationGrace = time.Hour
	MaxAPIKeyRotationGrace = 90 * 24 * time.Hour
)

func readRotationGrace(v string, dst *time.Duration) error {
	if v == "" {
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < MinAPIKeyRotationGrace || d > MaxAPIKeyRotationGrace {
		return fmt.Errorf("%s: %q is not a duration from 1h to 2160h (90 days; e.g. 168h for 7 days)", EnvAPIKeyRotationGrace, v)
	}
	*dst = d
	return nil
}

// MaxShutdownGrace bounds HUB_SHUTDOWN_GRACE.
const MaxShutdownGrace = time.Hour

func readGrace(v string, dst *time.Duration) error {
	if v == "" {
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 || d > MaxShutdownGrace {
		return fmt.Errorf("%s: %q is not a positive duration up to 1h (e.g. 30s, 2m)", EnvShutdownGrace, v)
	}
	*dst = d
	return nil
}

func prefixErr(name string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", name, err)
}

// parseBool accepts exactly 1, 0, true and false; empty is false.
func parseBool(name, v string) (bool, error) {
	switch v {
	case "", "0", "false":
		return false, nil
	case "1", "true":
		return true, nil
	}
	return false, fmt.Errorf("%s: %q is not a boolean (want 1, 0, true or false)", name, v)
}

func readAddr(v, name string, dst *string) error {
	if v == "" {
		return nil
	}
	_, port, err := net.SplitHostPort(v)
	if err == nil {
		_, err = strconv.ParseUint(port, 10, 16)
	}
	if err != nil {
		return fmt.Errorf("%s: %q is not a listen address (want host:port, e.g. 127.0.0.1:8080 or :8080)", name, v)
	}
	*dst = v
	return nil
}

// readDatabaseURL checks the form only; the value may hold a password and is
// never quoted.
func readDatabaseURL(v string, dst *string) error {
	if v == "" {
		return nil
	}
	path, sqlite := strings.CutPrefix(v, "sqlite:")
	switch {
	case sqlite && strings.TrimPrefix(path, "//") != "" && !strings.Contains(path, ":memory:"):
	case strings.HasPrefix(v, "postgres://"), strings.HasPrefix(v, "postgresql://"):
		if _, err := url.Parse(v); err != nil {
			return fmt.Errorf("%s: not a valid PostgreSQL URL (postgres://user:password@host:5432/db?sslmode=...)", EnvDatabaseURL)
		}
	default:
		return fmt.Errorf("%s: must be sqlite:<file path> or postgres://user:password@host:5432/db (with ?sslmode=)", EnvDatabaseURL)
	}
	*dst = v
	return nil
}

// MaxStatementTimeout bounds HUB_DB_STATEMENT_TIMEOUT.
const MaxStatementTimeout = time.Hour

// readStatementTimeout reads a Go duration; "0" disables the timeout.
func readStatementTimeout(v string, dst *time.Duration) error {
	if v == "" {
		return nil
	}
	d, err := time.ParseDuration(v)
	if v == "0" {
		d, err = 0, nil
	}
	if err != nil || d < 0 || d > MaxStatementTimeout || (d > 0 && d < time.Millisecond) {
		return fmt.Errorf("%s: %q is not a duration between 1ms and %s (e.g. 5s, 800ms), or 0 to disable the timeout", EnvStatementTimeout, v, MaxStatementTimeout)
	}
	if d == 0 {
		d = -1 // disabled; the zero value of Config means the default
	}
	*dst = d
	return nil
}

// checkRedisURL checks a Redis URL without quoting it (it may hold a
// password, and the parser's errors quote the URL).
func checkRedisURL(v string) error {
	if v == "" {
		return nil
	}
	if _, err := redis.ParseURL(v); err != nil {
		return fmt.Errorf("%s: not a valid redis:// or rediss:// URL", EnvRedisURL)
	}
	return nil
}

func readCacheMaxMB(v string, dst *int) error {
	if v == "" {
		return nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n == 0 || n < -1 || n > MaxCacheMB {
		return fmt.Errorf("%s: %q is not a size in MB (1 to %d, or -1 to disable the cache)", EnvCacheMaxMB, v, MaxCacheMB)
	}
	*dst = n
	return nil
}

// readCacheTTL reads a TTL in whole seconds, 0 to MaxCacheTTL; 0 leaves the
// type uncached (a negative CacheTTL member).
func readCacheTTL(name, v string, dst *time.Duration) error {
	if v == "" {
		return nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || n > int64(MaxCacheTTL/time.Second) {
		return fmt.Errorf("%s: %q is not a TTL in seconds (0 to %d; 0 leaves the type uncached)", name, v, int64(MaxCacheTTL/time.Second))
	}
	if n == 0 {
		*dst = -1
		return nil
	}
	*dst = time.Duration(n) * time.Second
	return nil
}

// parseOrigins splits a comma-separated origin list and normalizes each
// origin (NormalizeOrigin).
func parseOrigins(v string) ([]string, error) {
	var out []string
	for _, o := range strings.Split(v, ",") {
		if o = strings.TrimSpace(o); o == "" {
			continue
		}
		n, err := NormalizeOrigin(o)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

// warnUnknownEnv names each unknown HUB_* variable in the log (never its
// value: it may be a secret meant for another version).
func warnUnknownEnv(log *slog.Logger, names []string) {
	for _, n := range names {
		log.Warn("unknown environment variable ignored (check its spelling against the documented HUB_* variables)", slog.String("variable", n))
	}
}

// readVersionTime reads a deprecation or sunset time: RFC 3339, an
// HTTP-date, or a date (the start of the day for a deprecation, its last
// second for a sunset), in UTC.
func readVersionTime(name, v string, endOfDay bool, dst *time.Time) error {
	if v == "" {
		return nil
	}
	for _, layout := range []string{time.RFC3339, http.TimeFormat} {
		if t, err := time.Parse(layout, v); err == nil {
			*dst = t.UTC()
			return nil
		}
	}
	t, err := time.Parse(time.DateOnly, v)
	if err != nil {
		return fmt.Errorf("%s: want an RFC 3339 time (2026-12-31T23:59:59Z), a date (2026-12-31) or an HTTP-date", name)
	}
	if endOfDay {
		t = t.Add(24*time.Hour - time.Second)
	}
	*dst = t
	return nil
}

// v1Policy is the deprecation policy of API v1: the configured times or
// their defaults, checked.
func (c Config) v1Policy() (apiversion.Policy, error) {
	p := apiversion.Policy{Deprecation: c.V1Deprecation, Sunset: c.V1Sunset, Link: MigrationGuidePath}
	if p.Deprecation.IsZero() {
		p.Deprecation = apiversion.DefaultDeprecation
	}
	if p.Sunset.IsZero() {
		p.Sunset = apiversion.DefaultSunset
	}
	if err := p.Validate(); err != nil {
		return p, fmt.Errorf("%s %s, %s %s: %w", EnvV1Deprecation, p.Deprecation.Format(time.RFC3339),
			EnvV1Sunset, p.Sunset.Format(time.RFC3339), err)
	}
	return p, nil
}

// MigrationGuidePath is where the v1 to v2 migration guide is served, the
// target of v1's deprecation and sunset links.
const MigrationGuidePath = "/docs/migration-v1-v2"

// oauthClientVars are, per connector type with an OAuth flow, the
// variables of the server's OAuth client at the vendor: id, secret,
// redirect URL.
var oauthClientVars = []struct{ typ, id, secret, redirect string }{
	{gcal.Type, EnvGoogleCalendarClientID, EnvGoogleCalendarClientSecret, EnvGoogleCalendarRedirectURL},
	{quickbooks.Type, EnvQuickBooksClientID, EnvQuickBooksClientSecret, EnvQuickBooksRedirectURL},
	{dropbox.Type, EnvDropboxClientID, EnvDropboxClientSecret, EnvDropboxRedirectURL},
}

// readOAuthClients reads the server's OAuth clients at the vendors (Google
// Calendar, QuickBooks Online, Dropbox): for each, all three variables or
// none; the redirect URL must be absolute HTTPS (http only for localhost).
// Errors never quote the secret.
func readOAuthClients(get func(string) string, c *Config) error {
	for _, v := range oauthClientVars {
		id, secret, redirect := get(v.id), get(v.secret), get(v.redirect)
		if id == "" && secret == "" && redirect == "" {
			continue
		}
		if id == "" || secret == "" || redirect == "" {
			return fmt.Errorf("%s, %s and %s go together", v.id, v.secret, v.redirect)
		}
		u, err := url.Parse(redirect)
		if err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && (u.Hostname() == "localhost" || u.Hostname() == "127.0.0.1"))) {
			return fmt.Errorf("%s: want an absolute https URL (http only for localhost)", v.redirect)
		}
		if c.ConnectorOAuth == nil {
			c.ConnectorOAuth = map[string]service.ConnectorOAuthClient{}
		}
		c.ConnectorOAuth[v.typ] = service.ConnectorOAuthClient{ClientID: id, ClientSecret: secret, RedirectURL: redirect}
	}
	return nil
}
