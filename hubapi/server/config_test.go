package server_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/hubapi/server"
	"github.com/hubchantier/hubchantier/hubapi/store"
)

func TestConfigFromEnvDefaults(t *testing.T) {
	c, err := server.ConfigFromEnv(nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != server.DefaultAddr || c.DatabaseURL != store.DefaultURL || c.BlobDir != server.DefaultBlobDir ||
		c.MetricsAddr != "" || c.RateLimitFailClosed || c.CacheMaxMB != 0 || len(c.CORSOrigins) != 0 ||
		len(c.TrustedProxies) != 0 || len(c.CursorKeys) != 0 || c.SecretKeys != nil || c.WebhookAllowHTTP || c.WebhookAllowPrivate || len(c.UnknownEnv) != 0 || c.CacheTTL != (server.CacheTTL{}) ||
		c.StatementTimeout != 0 ||
		c.TLSCertFile != "" || c.RedirectAddr != "" || c.ShutdownGrace != server.DefaultShutdownGrace ||
		c.Env != server.EnvDevelopment || c.Production() || c.GraphQLIntrospection {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestConfigFromEnvReadsEveryVariable(t *testing.T) {
	env := []string{
		"HUB_ADDR=0.0.0.0:8080",
		"HUB_METRICS_ADDR=:9464",
		"HUB_DATABASE_URL=postgres://hub:pw@db:5432/hub?sslmode=disable",
		"HUB_DB_STATEMENT_TIMEOUT=1500ms",
		"HUB_BLOB_DIR=/data/blobs",
		"HUB_CORS_ORIGINS=https://App.example.com:443/, http://localhost:5173",
		"HUB_TRUSTED_PROXIES=10.0.0.0/8, 192.168.1.1",
		"HUB_REDIS_URL=redis://:pw@redis:6379/0",
		"HUB_RATE_LIMITS=GET /api/v1/stats=5/m",
		"HUB_RATE_LIMIT_FAIL_CLOSED=true",
		"HUB_CACHE_MAX_MB=-1",
		"HUB_CACHE_TTL_LISTS=30",
		"HUB_CACHE_TTL_STATS=0",
		"HUB_CACHE_TTL_PLANNING=86400",
		"HUB_CURSOR_KEYS=" + strings.Repeat("A", 43),
		"HUB_SMTP_URL=smtp://hub:pw@mail:587?from=hub@example.com",
		"HUB_SECRET_KEYS=k2:" + strings.Repeat("B", 43) + ", k1:" + strings.Repeat("A", 43),
		"HUB_CONNECTOR_KEYS=c1:" + strings.Repeat("C", 43),
		"HUB_WEBHOOK_ALLOW_HTTP=1",
		"HUB_WEBHOOK_ALLOW_PRIVATE=true",
		"HUB_METRICS_ALLOWED_CIDRS=172.30.0.10",
		"HUB_METRICS_USER=prometheus",
		"HUB_METRICS_PASSWORD_HASH=$2a$12$abcdefghijklmnopqrstuu5sxbnvJK9WZ4ZNp7JmB3Kdgbz1z9ETm",
		"HUB_TLS_CERT=/etc/hub/cert.pem",
		"HUB_TLS_KEY=/etc/hub/key.pem",
		"HUB_REDIRECT_ADDR=:80",
		"HUB_PUBLIC_HOST=api.example.com",
		"HUB_SHUTDOWN_GRACE=2m",
		"HUB_JOBS_RESCUE_AFTER=90s",
		"HUB_API_KEY_ROTATION_GRACE=72h",
		"HUB_OAUTH_ISSUER=https://api.example.com",
		"HUB_ENV=production",
		"HUB_GRAPHQL_INTROSPECTION=1",
		"HUB_V1_DEPRECATION=2026-11-15T00:00:00Z",
		"HUB_V1_SUNSET=2027-06-30",
		"HUB_AUDIT_DISABLED=1",
		"HUB_AUDIT_SIGNING_KEY=" + strings.Repeat("A", 43) + "=",
		"HUB_AUDIT_RETENTION_DAYS=400",
		"HUB_AUDIT_ANONYMISE_DAYS=7",
		"HUB_AUDIT_ARCHIVE_DIR=/data/audit",
		"HUB_GOOGLE_CALENDAR_CLIENT_ID=123.apps.googleusercontent.com",
		"HUB_GOOGLE_CALENDAR_CLIENT_SECRET=GOCSPX-secret",
		"HUB_GOOGLE_CALENDAR_REDIRECT_URL=https://app.example.com/connected",
		"HUB_QUICKBOOKS_CLIENT_ID=ABqb", "HUB_QUICKBOOKS_CLIENT_SECRET=qb-secret", "HUB_QUICKBOOKS_REDIRECT_URL=https://app.example.com/qb",
		"HUB_DROPBOX_CLIENT_ID=dbx", "HUB_DROPBOX_CLIENT_SECRET=dbx-secret", "HUB_DROPBOX_REDIRECT_URL=https://app.example.com/dbx",
		"HUB_ADDR=127.0.0.1:1", // a later duplicate is ignored, as by os.Getenv
		"PATH=/usr/bin",
	}
	c, err := server.ConfigFromEnv(env)
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string]bool{
		"HUB_ADDR":                          c.Addr == "0.0.0.0:8080",
		"HUB_METRICS_ADDR":                  c.MetricsAddr == ":9464",
		"HUB_DATABASE_URL":                  strings.HasPrefix(c.DatabaseURL, "postgres://hub:pw@db"),
		"HUB_DB_STATEMENT_TIMEOUT":          c.StatementTimeout == 1500*time.Millisecond,
		"HUB_BLOB_DIR":                      c.BlobDir == "/data/blobs",
		"HUB_CORS_ORIGINS":                  slices.Equal(c.CORSOrigins, []string{"https://app.example.com", "http://localhost:5173"}),
		"HUB_TRUSTED_PROXIES":               len(c.TrustedProxies) == 2 && c.TrustedProxies[1].String() == "192.168.1.1/32",
		"HUB_REDIS_URL":                     c.RedisURL == "redis://:pw@redis:6379/0",
		"HUB_RATE_LIMITS":                   c.RateLimits == "GET /api/v1/stats=5/m",
		"HUB_RATE_LIMIT_FAIL_CLOSED":        c.RateLimitFailClosed,
		"HUB_CACHE_MAX_MB":                  c.CacheMaxMB == -1,
		"HUB_CACHE_TTL_LISTS":               c.CacheTTL.Lists == 30*time.Second,
		"HUB_CACHE_TTL_STATS":               c.CacheTTL.Stats < 0, // 0: not cached
		"HUB_CACHE_TTL_PLANNING":            c.CacheTTL.Planning == 24*time.Hour,
		"HUB_CURSOR_KEYS":                   len(c.CursorKeys) == 1 && len(c.CursorKeys[0]) == 32,
		"HUB_SMTP_URL":                      c.SMTPURL == "smtp://hub:pw@mail:587?from=hub@example.com",
		"HUB_SECRET_KEYS":                   c.SecretKeys != nil && c.SecretKeys.CurrentKeyID() == "k2" && c.SecretKeys.Has("k1"),
		"HUB_CONNECTOR_KEYS":                c.ConnectorKeys != nil && c.ConnectorKeys.CurrentKeyID() == "c1",
		"HUB_WEBHOOK_ALLOW_HTTP":            c.WebhookAllowHTTP,
		"HUB_WEBHOOK_ALLOW_PRIVATE":         c.WebhookAllowPrivate,
		"HUB_METRICS_ALLOWED_CIDRS":         len(c.MetricsAccess.AllowedNetworks) == 1,
		"HUB_METRICS_USER":                  c.MetricsAccess.Username == "prometheus",
		"HUB_METRICS_PASSWORD_HASH":         len(c.MetricsAccess.PasswordHash) == 60,
		"HUB_TLS_CERT":                      c.TLSCertFile == "/etc/hub/cert.pem",
		"HUB_TLS_KEY":                       c.TLSKeyFile == "/etc/hub/key.pem",
		"HUB_REDIRECT_ADDR":                 c.RedirectAddr == ":80",
		"HUB_PUBLIC_HOST":                   c.PublicHost == "api.example.com",
		"HUB_SHUTDOWN_GRACE":                c.ShutdownGrace == 2*time.Minute,
		"HUB_JOBS_RESCUE_AFTER":             c.JobsRescueAfter == 90*time.Second,
		"HUB_API_KEY_ROTATION_GRACE":        c.APIKeyRotationGrace == 72*time.Hour,
		"HUB_OAUTH_ISSUER":                  c.OAuthIssuer == "https://api.example.com",
		"HUB_ENV":                           c.Production(),
		"HUB_GRAPHQL_INTROSPECTION":         c.GraphQLIntrospection,
		"HUB_V1_DEPRECATION":                c.V1Deprecation.Equal(time.Date(2026, 11, 15, 0, 0, 0, 0, time.UTC)),
		"HUB_V1_SUNSET":                     c.V1Sunset.Equal(time.Date(2027, 6, 30, 23, 59, 59, 0, time.UTC)),
		"HUB_AUDIT_DISABLED":                c.Audit.Disabled,
		"HUB_AUDIT_SIGNING_KEY":             len(c.Audit.SigningKey) == 32,
		"HUB_AUDIT_RETENTION_DAYS":          c.Audit.RetentionDays == 400,
		"HUB_AUDIT_ANONYMISE_DAYS":          c.Audit.AnonymiseDays == 7,
		"HUB_AUDIT_ARCHIVE_DIR":             c.Audit.ArchiveDir == "/data/audit",
		"HUB_GOOGLE_CALENDAR_CLIENT_ID":     c.ConnectorOAuth["google_calendar"].ClientID == "123.apps.googleusercontent.com",
		"HUB_GOOGLE_CALENDAR_CLIENT_SECRET": c.ConnectorOAuth["google_calendar"].ClientSecret == "GOCSPX-secret",
		"HUB_GOOGLE_CALENDAR_REDIRECT_URL":  c.ConnectorOAuth["google_calendar"].RedirectURL == "https://app.example.com/connected",
		"HUB_QUICKBOOKS_CLIENT_ID":          c.ConnectorOAuth["quickbooks"].ClientID == "ABqb",
		"HUB_QUICKBOOKS_CLIENT_SECRET":      c.ConnectorOAuth["quickbooks"].ClientSecret == "qb-secret",
		"HUB_QUICKBOOKS_REDIRECT_URL":       c.ConnectorOAuth["quickbooks"].RedirectURL == "https://app.example.com/qb",
		"HUB_DROPBOX_CLIENT_ID":             c.ConnectorOAuth["dropbox"].ClientID == "dbx",
		"HUB_DROPBOX_CLIENT_SECRET":         c.ConnectorOAuth["dropbox"].ClientSecret == "dbx-secret",
		"HUB_DROPBOX_REDIRECT_URL":          c.ConnectorOAuth["dropbox"].RedirectURL == "https://app.example.com/dbx",
	}
	for _, name := range server.EnvNames() {
		ok, tested := checks[name]
		if !tested {
			t.Errorf("%s: no check in this test", name)
		} else if !ok {
			t.Errorf("%s not read: %+v", name, c)
		}
	}
	if len(checks) != len(server.EnvNames()) {
		t.Errorf("%d checks for %d variables", len(checks), len(server.EnvNames()))
	}
}

func TestConfigFromEnvRejectsBadAuditSettings(t *testing.T) {
	for _, kv := range []string{"HUB_AUDIT_SIGNING_KEY=c2hvcnQ=", "HUB_AUDIT_SIGNING_KEY=!!", "HUB_AUDIT_RETENTION_DAYS=0",
		"HUB_AUDIT_ANONYMISE_DAYS=-3", "HUB_AUDIT_RETENTION_DAYS=1y", "HUB_AUDIT_DISABLED=yes"} {
		name, _, _ := strings.Cut(kv, "=")
		if _, err := server.ConfigFromEnv([]string{kv}); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: err %v", kv, err)
		}
	}
}

func TestConfigFromEnvHubEnv(t *testing.T) {
	for _, v := range []string{"prod", "Production", "staging"} {
		if _, err := server.ConfigFromEnv([]string{"HUB_ENV=" + v}); err == nil || !strings.Contains(err.Error(), "HUB_ENV") {
			t.Errorf("HUB_ENV=%s: %v", v, err)
		}
	}
	if _, err := server.ConfigFromEnv([]string{"HUB_GRAPHQL_INTROSPECTION=yes"}); err == nil {
		t.Error("HUB_GRAPHQL_INTROSPECTION=yes accepted")
	}
}

func TestConfigFromEnvStatementTimeout(t *testing.T) {
	for v, want := range map[string]time.Duration{"5s": 5 * time.Second, "250ms": 250 * time.Millisecond,
		"0": -1, "0s": -1, "": 0} {
		c, err := server.ConfigFromEnv([]string{"HUB_DB_STATEMENT_TIMEOUT=" + v})
		if err != nil || c.StatementTimeout != want {
			t.Errorf("%q → %v, %v (want %v)", v, c.StatementTimeout, err, want)
		}
	}
}

func TestConfigFromEnvBooleans(t *testing.T) {
	for _, tc := range []struct {
		v    string
		want bool
	}{{"1", true}, {"true", true}, {"0", false}, {"false", false}, {"", false}} {
		c, err := server.ConfigFromEnv([]string{"HUB_RATE_LIMIT_FAIL_CLOSED=" + tc.v})
		if err != nil || c.RateLimitFailClosed != tc.want {
			t.Errorf("%q → %v, %v", tc.v, c.RateLimitFailClosed, err)
		}
	}
}

// Every bad value is refused with an error naming its variable, and the
// value of a secret never appears in the message.
func TestConfigFromEnvRefusesBadValues(t *testing.T) {
	const secret = "s3cr3tValue"
	tests := []struct {
		name, env, variable string
		reason              string // a part of the message
	}{
		{"boolean yes → refused", "HUB_RATE_LIMIT_FAIL_CLOSED=yes", "HUB_RATE_LIMIT_FAIL_CLOSED", "1, 0, true or false"},
		{"boolean TRUE → refused (exact spelling)", "HUB_RATE_LIMIT_FAIL_CLOSED=TRUE", "HUB_RATE_LIMIT_FAIL_CLOSED", "boolean"},
		{"CORS wildcard → refused with the reason", "HUB_CORS_ORIGINS=*", "HUB_CORS_ORIGINS", "credentials"},
		{"CORS wildcard among origins → refused", "HUB_CORS_ORIGINS=https://a.example, *", "HUB_CORS_ORIGINS", "exact origins"},
		{"CORS origin with a path → refused", "HUB_CORS_ORIGINS=https://a.example/app", "HUB_CORS_ORIGINS", "path"},
		{"CORS origin with a query → refused", "HUB_CORS_ORIGINS=https://a.example?x", "HUB_CORS_ORIGINS", "query"},
		{"CORS origin with a fragment → refused", "HUB_CORS_ORIGINS=https://a.example#x", "HUB_CORS_ORIGINS", "fragment"},
		{"CORS origin with user information → refused", "HUB_CORS_ORIGINS=https://u:" + secret + "@a.example", "HUB_CORS_ORIGINS", "user"},
		{"trusted proxy CIDR out of range → names the entry", "HUB_TRUSTED_PROXIES=10.0.0.0/8,10.0.0.0/33", "HUB_TRUSTED_PROXIES", `"10.0.0.0/33"`},
		{"trusted proxy host name → names the entry", "HUB_TRUSTED_PROXIES=lb.internal", "HUB_TRUSTED_PROXIES", `"lb.internal"`},
		{"cache size not a number", "HUB_CACHE_MAX_MB=lots", "HUB_CACHE_MAX_MB", "size in MB"},
		{"cache size zero", "HUB_CACHE_MAX_MB=0", "HUB_CACHE_MAX_MB", "-1 to disable"},
		{"cache size below -1", "HUB_CACHE_MAX_MB=-5", "HUB_CACHE_MAX_MB", "size in MB"},
		{"cache TTL as a Go duration → refused (seconds)", "HUB_CACHE_TTL_LISTS=5m", "HUB_CACHE_TTL_LISTS", "TTL in seconds"},
		{"cache TTL negative → refused", "HUB_CACHE_TTL_STATS=-1", "HUB_CACHE_TTL_STATS", "0 to 86400"},
		{"cache TTL above 24 h → refused", "HUB_CACHE_TTL_PLANNING=86401", "HUB_CACHE_TTL_PLANNING", "0 to 86400"},
		{"cache TTL fractional → refused", "HUB_CACHE_TTL_LISTS=1.5", "HUB_CACHE_TTL_LISTS", "TTL in seconds"},
		{"rate limits syntax", "HUB_RATE_LIMITS=GET /api/v1/stats", "HUB_RATE_LIMITS", "="},
		{"listen address without a port", "HUB_ADDR=localhost", "HUB_ADDR", "host:port"},
		{"metrics address with a bad port", "HUB_METRICS_ADDR=:99999", "HUB_METRICS_ADDR", "host:port"},
		{"database URL of another kind", "HUB_DATABASE_URL=mysql://hub:" + secret + "@db/hub", "HUB_DATABASE_URL", "postgres://"},
		{"database URL sqlite without a path", "HUB_DATABASE_URL=sqlite:", "HUB_DATABASE_URL", "sqlite:<file path>"},
		{"database URL unparsable", "HUB_DATABASE_URL=postgres://hub:" + secret + "@db:port/x", "HUB_DATABASE_URL", "PostgreSQL URL"},
		{"Redis URL of another kind", "HUB_REDIS_URL=http://:" + secret + "@redis:6379", "HUB_REDIS_URL", "redis://"},
		{"cursor keys not base64", "HUB_CURSOR_KEYS=" + secret + "!!", "HUB_CURSOR_KEYS", "32 bytes"},
		{"cursor key too short", "HUB_CURSOR_KEYS=" + secret, "HUB_CURSOR_KEYS", "32 bytes"},
		{"secret keys without ids", "HUB_SECRET_KEYS=" + secret, "HUB_SECRET_KEYS", "id:base64key"},
		{"secret key too short", "HUB_SECRET_KEYS=k1:" + secret, "HUB_SECRET_KEYS", "32-byte"},
		{"secret key ids twice", "HUB_SECRET_KEYS=k1:" + strings.Repeat("A", 43) + ",k1:" + strings.Repeat("B", 43), "HUB_SECRET_KEYS", "twice"},
		{"webhook allow-http yes → refused", "HUB_WEBHOOK_ALLOW_HTTP=yes", "HUB_WEBHOOK_ALLOW_HTTP", "boolean"},
		{"webhook allow-private on → refused", "HUB_WEBHOOK_ALLOW_PRIVATE=on", "HUB_WEBHOOK_ALLOW_PRIVATE", "boolean"},
		{"statement timeout without a unit", "HUB_DB_STATEMENT_TIMEOUT=5", "HUB_DB_STATEMENT_TIMEOUT", "e.g. 5s"},
		{"statement timeout negative", "HUB_DB_STATEMENT_TIMEOUT=-1s", "HUB_DB_STATEMENT_TIMEOUT", "0 to disable"},
		{"statement timeout too long", "HUB_DB_STATEMENT_TIMEOUT=2h", "HUB_DB_STATEMENT_TIMEOUT", "1h0m0s"},
		{"SMTP URL of another kind", "HUB_SMTP_URL=http://u:" + secret + "@mail?from=a@example.com", "HUB_SMTP_URL", "smtp://"},
		{"SMTP URL without a sender", "HUB_SMTP_URL=smtp://u:" + secret + "@mail:587", "HUB_SMTP_URL", "from="},
		{"metrics networks", "HUB_METRICS_ALLOWED_CIDRS=10.0.0.0/99", "HUB_METRICS_ALLOWED_CIDRS", "10.0.0.0/99"},
		{"certificate without its key", "HUB_TLS_CERT=/etc/hub/cert.pem", "HUB_TLS_KEY", "required with HUB_TLS_CERT"},
		{"key without its certificate", "HUB_TLS_KEY=/etc/hub/key.pem", "HUB_TLS_CERT", "required with HUB_TLS_KEY"},
		{"redirect listener without TLS", "HUB_REDIRECT_ADDR=:80", "HUB_REDIRECT_ADDR", "needs TLS"},
		{"redirect address without a port", "HUB_REDIRECT_ADDR=localhost", "HUB_REDIRECT_ADDR", "host:port"},
		{"public host with a scheme", "HUB_PUBLIC_HOST=https://api.example.com", "HUB_PUBLIC_HOST", "host[:port]"},
		{"public host with a path", "HUB_PUBLIC_HOST=api.example.com/x", "HUB_PUBLIC_HOST", "host[:port]"},
		{"grace not a duration", "HUB_SHUTDOWN_GRACE=30", "HUB_SHUTDOWN_GRACE", "duration"},
		{"grace zero", "HUB_SHUTDOWN_GRACE=0s", "HUB_SHUTDOWN_GRACE", "positive"},
		{"grace over an hour", "HUB_SHUTDOWN_GRACE=2h", "HUB_SHUTDOWN_GRACE", "up to 1h"},
		{"rescue under 20s", "HUB_JOBS_RESCUE_AFTER=5s", "HUB_JOBS_RESCUE_AFTER", "20s to 24h"},
		{"rescue not a duration", "HUB_JOBS_RESCUE_AFTER=60", "HUB_JOBS_RESCUE_AFTER", "20s to 24h"},
		{"rotation grace under an hour", "HUB_API_KEY_ROTATION_GRACE=5m", "HUB_API_KEY_ROTATION_GRACE", "1h to 2160h"},
		{"rotation grace not a duration", "HUB_API_KEY_ROTATION_GRACE=7d", "HUB_API_KEY_ROTATION_GRACE", "1h to 2160h"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := server.ConfigFromEnv([]string{tc.env})
			if err == nil {
				t.Fatal("accepted")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, tc.variable+":") && !strings.Contains(msg, tc.variable+":") {
				t.Errorf("does not name %s: %v", tc.variable, err)
			}
			if !strings.Contains(msg, tc.reason) {
				t.Errorf("no %q in %v", tc.reason, err)
			}
			if strings.Contains(msg, secret) {
				t.Errorf("the message quotes a secret: %v", err)
			}
		})
	}
}

func TestConfigFromEnvListsUnknownVariables(t *testing.T) {
	c, err := server.ConfigFromEnv([]string{"HUB_ADRR=:8080", "HUB_TEST_POSTGRES_URL=postgres://x", "HUB_REDIS_PASSWORD=hunter2", "HUBBLE=1", "HUB_ADDR=:8080"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.UnknownEnv, []string{"HUB_ADRR", "HUB_REDIS_PASSWORD"}) {
		t.Fatalf("unknown %v", c.UnknownEnv)
	}
}

func TestConfigV1DeprecationPolicy(t *testing.T) {
	c, err := server.ConfigFromEnv([]string{"HUB_V1_DEPRECATION=2026-11-01", "HUB_V1_SUNSET=Fri, 30 Apr 2027 23:59:59 GMT"})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.V1Deprecation.Format(time.RFC3339); got != "2026-11-01T00:00:00Z" {
		t.Errorf("deprecation %s", got)
	}
	if got := c.V1Sunset.Format(time.RFC3339); got != "2027-04-30T23:59:59Z" {
		t.Errorf("sunset %s", got)
	}
	if c, err = server.ConfigFromEnv([]string{"HUB_V1_SUNSET=2027-01-31"}); err != nil || c.V1Sunset.Format(time.RFC3339) != "2027-01-31T23:59:59Z" {
		t.Errorf("a sunset date is its last second: %v %v", c.V1Sunset, err)
	}
	for _, env := range [][]string{
		{"HUB_V1_SUNSET=2026-06-30"}, // before the default deprecation
		{"HUB_V1_DEPRECATION=2027-02-01T00:00:00Z", "HUB_V1_SUNSET=2027-01-31T23:59:59Z"},
		{"HUB_V1_DEPRECATION=next week"},
		{"HUB_V1_SUNSET=31/12/2026"},
	} {
		if _, err := server.ConfigFromEnv(env); err == nil || !strings.Contains(err.Error(), "HUB_V1_") {
			t.Errorf("%v: error %v, want one naming the variable", env, err)
		}
	}
}

// The OAuth clients of the vendors with an authorization flow come from
// three variables each, all or none; errors never quote the secret.
func TestConfigVendorOAuthClients(t *testing.T) {
	c, err := server.ConfigFromEnv([]string{
		"HUB_QUICKBOOKS_CLIENT_ID=qb-id", "HUB_QUICKBOOKS_CLIENT_SECRET=qb-s3cret", "HUB_QUICKBOOKS_REDIRECT_URL=https://app.example.fr/qb",
		"HUB_DROPBOX_CLIENT_ID=db-id", "HUB_DROPBOX_CLIENT_SECRET=db-s3cret", "HUB_DROPBOX_REDIRECT_URL=http://localhost:8080/db",
	})
	if err != nil {
		t.Fatal(err)
	}
	if q := c.ConnectorOAuth["quickbooks"]; q.ClientID != "qb-id" || q.ClientSecret != "qb-s3cret" || q.RedirectURL != "https://app.example.fr/qb" {
		t.Errorf("quickbooks client: %+v", q)
	}
	if d := c.ConnectorOAuth["dropbox"]; d.ClientID != "db-id" || d.RedirectURL != "http://localhost:8080/db" {
		t.Errorf("dropbox client: %+v", d)
	}
	if _, ok := c.ConnectorOAuth["google_calendar"]; ok {
		t.Error("a Google Calendar client without its variables")
	}
	for _, env := range [][]string{
		{"HUB_QUICKBOOKS_CLIENT_ID=qb-id", "HUB_QUICKBOOKS_CLIENT_SECRET=qb-s3cret"},
		{"HUB_DROPBOX_CLIENT_ID=db-id", "HUB_DROPBOX_CLIENT_SECRET=db-s3cret", "HUB_DROPBOX_REDIRECT_URL=http://app.example.fr/db"},
	} {
		_, err := server.ConfigFromEnv(env)
		if err == nil || strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "REDIRECT_URL") {
			t.Errorf("%v: %v", env, err)
		}
	}
}
