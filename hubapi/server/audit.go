package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/hubchantier/hubchantier/audit"
	"github.com/hubchantier/hubchantier/clientip"
	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/jobs"
	"github.com/hubchantier/hubchantier/hubapi/route"
	"github.com/hubchantier/hubchantier/hubapi/store"
)

// AuditConfig configures the audit trail.
type AuditConfig struct {
	// Disabled (HUB_AUDIT_DISABLED=1) records nothing: for measuring the
	// audit's cost and for embedders with an audit of their own. A
	// production server keeps it on.
	Disabled bool
	// SigningKey (HUB_AUDIT_SIGNING_KEY: base64 of a 32-byte Ed25519 seed)
	// signs the digests. Empty: a key generated once and kept in the
	// database (server_secrets), which proves less: whoever can rewrite the
	// audit tables can read it. Keep the key outside the database in
	// production, and its public key (hubchantier audit public-key) with
	// the archives.
	SigningKey []byte
	// RetentionDays (HUB_AUDIT_RETENTION_DAYS, default 365): months that
	// ended more than this many days ago are exported to ArchiveDir, then
	// dropped.
	RetentionDays int
	// AnonymiseDays (HUB_AUDIT_ANONYMISE_DAYS, default 30): older events
	// keep only the /24 or /48 network of the client IP, and no user agent.
	AnonymiseDays int
	// ArchiveDir (HUB_AUDIT_ARCHIVE_DIR, default "audit-archive") receives
	// the retention job's archives.
	ArchiveDir string
}

// Defaults of AuditConfig.
const (
	DefaultAuditRetentionDays = 365
	DefaultAuditAnonymiseDays = 30
	DefaultAuditArchiveDir    = "audit-archive"
	// AuditDigestInterval is how often the chains' heads are signed.
	AuditDigestInterval = time.Hour
	// auditSigningKeyName is the server_secrets row of the generated key.
	auditSigningKeyName = "audit_signing_key"
)

func readAuditConfig(get func(string) string, c *AuditConfig) error {
	var err error
	if c.Disabled, err = parseBool(EnvAuditDisabled, get(EnvAuditDisabled)); err != nil {
		return err
	}
	if v := get(EnvAuditSigningKey); v != "" {
		k, err := base64.StdEncoding.DecodeString(v)
		if err != nil || len(k) != 32 {
			return fmt.Errorf("%s: want the base64 of 32 bytes (an Ed25519 seed)", EnvAuditSigningKey)
		}
		c.SigningKey = k
	}
	days := func(name string, dst *int) error {
		v := get(name)
		if v == "" {
			return nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 36500 {
			return fmt.Errorf("%s: %q is not a number of days from 1 to 36500", name, v)
		}
		*dst = n
		return nil
	}
	if err := days(EnvAuditRetentionDays, &c.RetentionDays); err != nil {
		return err
	}
	if err := days(EnvAuditAnonymiseDays, &c.AnonymiseDays); err != nil {
		return err
	}
	c.ArchiveDir = get(EnvAuditArchiveDir)
	return nil
}

func (c AuditConfig) withDefaults() AuditConfig {
	if c.RetentionDays == 0 {
		c.RetentionDays = DefaultAuditRetentionDays
	}
	if c.AnonymiseDays == 0 {
		c.AnonymiseDays = DefaultAuditAnonymiseDays
	}
	if c.ArchiveDir == "" {
		c.ArchiveDir = DefaultAuditArchiveDir
	}
	return c
}

// AuditSigner returns the signer of the digests: cfg's key, or the one kept
// in the database (generated on first use).
func AuditSigner(ctx context.Context, db *store.DB, cfg AuditConfig) (*audit.Signer, error) {
	seed := cfg.SigningKey
	if len(seed) == 0 {
		var err error
		seed, err = db.SharedSecret(ctx, auditSigningKeyName, func() ([]byte, error) {
			k := make([]byte, 32)
			_, err := rand.Read(k)
			return k, err
		})
		if err != nil {
			return nil, fmt.Errorf("audit signing key (set %s, or let the server keep one in the database): %w", EnvAuditSigningKey, err)
		}
	}
	return audit.NewSigner(seed)
}

// setupAudit opens the audit store and starts its writer, unless disabled.
func (s *Server) setupAudit(ctx context.Context, cfg Config, log *slog.Logger) error {
	if cfg.Audit.Disabled {
		return nil
	}
	s.Audit = audit.NewStore(s.DB.DB)
	// A server may start before its database answers: a signing key kept
	// in the database is then read by the digest job, later.
	if sg, err := AuditSigner(ctx, s.DB, cfg.Audit); err == nil {
		s.Audit.SetSigner(sg)
	} else {
		log.Warn("audit signing key not read at start; the digest job reads it later", slog.String("error", err.Error()))
	}
	// The partitions of this month and the next exist before the first
	// append (the job keeps creating them ahead).
	now := time.Now()
	for _, t := range []time.Time{now, now.AddDate(0, 1, 0)} {
		if err := s.Audit.EnsurePartition(ctx, t); err != nil {
			// a server may start before its database answers: appends
			// create their month's partition anyway
			log.Warn("audit partition not created at start", slog.String("error", err.Error()))
			break
		}
	}
	s.AuditWriter = audit.NewWriter(s.Audit, audit.WriterConfig{Logger: log})
	return nil
}

// auditCapture is the capture middleware (nil when the audit is disabled).
func (s *Server) auditCapture() (*audit.Capture, error) {
	if s.AuditWriter == nil {
		return nil, nil
	}
	return audit.NewCapture(audit.CaptureConfig{
		Recorder:  s.AuditWriter,
		Route:     route.Template,
		RequestID: RequestIDFrom,
		ClientIP:  func(r *http.Request) netip.Addr { return clientip.FromContext(r.Context()) },
		Skip:      func(r *http.Request) bool { return r.URL.Path == "/healthz" || r.URL.Path == "/readyz" },
		Nested:    func(r *http.Request) bool { return hubapi.IsBatchOperation(r.Context()) },
	})
}

// auditJobs are the audit's periodic jobs: partitions created ahead,
// digests signed, IPs anonymised, old months archived and dropped.
func auditJobs(st *audit.Store, db *store.DB, cfg AuditConfig) []jobs.Periodic {
	if st == nil {
		return nil
	}
	cfg = cfg.withDefaults()
	return []jobs.Periodic{
		{Name: "audit-partitions", Interval: 24 * time.Hour, Run: func(ctx context.Context, period time.Time) error {
			for i := range 3 {
				if err := st.EnsurePartition(ctx, period.AddDate(0, i, 0)); err != nil {
					return err
				}
			}
			return nil
		}},
		{Name: "audit-digest", Interval: AuditDigestInterval, Run: func(ctx context.Context, _ time.Time) error {
			if st.Signer() == nil {
				sg, err := AuditSigner(ctx, db, cfg)
				if err != nil {
					return err
				}
				st.SetSigner(sg)
			}
			_, err := st.Digest(ctx)
			return err
		}},
		{Name: "audit-anonymise", Interval: 24 * time.Hour, Run: func(ctx context.Context, _ time.Time) error {
			_, err := st.AnonymiseBefore(ctx, time.Now().AddDate(0, 0, -cfg.AnonymiseDays))
			return err
		}},
		{Name: "audit-retention", Interval: 24 * time.Hour, Run: func(ctx context.Context, _ time.Time) error {
			_, err := st.Retire(ctx, time.Now().AddDate(0, 0, -cfg.RetentionDays), cfg.ArchiveDir)
			return err
		}},
	}
}
