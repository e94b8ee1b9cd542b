package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/hubchantier/hubchantier/audit"
	"github.com/hubchantier/hubchantier/hubapi/server"
	"github.com/hubchantier/hubchantier/hubapi/store"
)

// openAudit opens the configured database (migrated) and its audit store,
// with the configured signing key.
func openAudit(ctx context.Context) (*audit.Store, *audit.Signer, func(), error) {
	cfg, err := config()
	if err != nil {
		return nil, nil, nil, err
	}
	db, err := openDB(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	sg, err := server.AuditSigner(ctx, db, cfg.Audit)
	if err != nil {
		_ = db.Close()
		return nil, nil, nil, err
	}
	return audit.NewStore(db.DB, audit.WithSigner(sg)), sg, func() { _ = db.Close() }, nil
}

// parseDay reads a --from/--to bound: a date (YYYY-MM-DD, UTC; as --to, its
// end) or an RFC 3339 time.
func parseDay(v string, end bool) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	t, err := time.Parse("2006-01-02", v)
	if err != nil {
		return time.Time{}, usagef("%q is not a date (YYYY-MM-DD) or an RFC 3339 time", v)
	}
	if end {
		t = t.Add(24*time.Hour - time.Microsecond)
	}
	return t, nil
}

func auditVerifyCommand() command {
	return command{name: "audit verify", args: "[--from D] [--to D] [--file ARCHIVE] [--public-key K]",
		summary: "check the audit hash chain and signed digests (exit 0 intact; 1 and the first broken link otherwise)",
		setup: func(fs *flag.FlagSet) func(context.Context, streams) error {
			from := fs.String("from", "", "first day (YYYY-MM-DD, UTC) or RFC 3339 time")
			to := fs.String("to", "", "last day (YYYY-MM-DD, UTC) or RFC 3339 time")
			file := fs.String("file", "", "verify this archive (from audit export) offline, instead of the database")
			pub := fs.String("public-key", "", "base64 Ed25519 public key the digests must verify with (default: the configured key's)")
			return func(ctx context.Context, st streams) error {
				f, err := parseDay(*from, false)
				if err != nil {
					return err
				}
				t, err := parseDay(*to, true)
				if err != nil {
					return err
				}
				var b *audit.Break
				if *file != "" {
					if *from != "" || *to != "" {
						return usagef("--from and --to apply to the database, not to --file")
					}
					r, err := os.Open(filepath.Clean(*file))
					if err != nil {
						return err
					}
					defer r.Close()
					key := *pub
					if key == "" {
						if sg, err := configuredSigner(ctx); err == nil {
							key = sg.PublicKey()
						}
					}
					if b, err = audit.VerifyArchive(r, key); err != nil {
						return err
					}
				} else {
					s, sg, closeDB, err := openAudit(ctx)
					if err != nil {
						return err
					}
					defer closeDB()
					key := *pub
					if key == "" {
						key = sg.PublicKey()
					}
					if b, err = s.Verify(ctx, f, t, key); err != nil {
						return err
					}
				}
				if b != nil {
					return b
				}
				fmt.Fprintln(st.stdout, "audit chain intact")
				return nil
			}
		}}
}

// configuredSigner is the signer of the configuration, without opening the
// database unless the key is kept there.
func configuredSigner(ctx context.Context) (*audit.Signer, error) {
	cfg, err := config()
	if err != nil {
		return nil, err
	}
	if len(cfg.Audit.SigningKey) > 0 {
		return audit.NewSigner(cfg.Audit.SigningKey)
	}
	db, err := store.Open(cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return server.AuditSigner(ctx, db, cfg.Audit)
}

func auditExportCommand() command {
	return command{name: "audit export", args: "--month YYYY-MM [--out FILE]", required: []string{"month"},
		summary: "write a month of the audit trail as gzip JSON Lines with its chain and signed digest (verify it with audit verify --file)",
		setup: func(fs *flag.FlagSet) func(context.Context, streams) error {
			month := fs.String("month", "", "the month, YYYY-MM (UTC)")
			out := fs.String("out", "", "output file (default audit-YYYY-MM.jsonl.gz)")
			return func(ctx context.Context, st streams) error {
				if _, err := audit.ParseMonth(*month); err != nil {
					return usagef("--month: %q is not YYYY-MM", *month)
				}
				path := *out
				if path == "" {
					path = "audit-" + *month + ".jsonl.gz"
				}
				s, _, closeDB, err := openAudit(ctx)
				if err != nil {
					return err
				}
				defer closeDB()
				f, err := os.OpenFile(filepath.Clean(path), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
				if err != nil {
					return err
				}
				n, err := s.Export(ctx, f, *month)
				if err == nil {
					err = f.Sync()
				}
				if cerr := f.Close(); err == nil {
					err = cerr
				}
				if err != nil {
					_ = os.Remove(path)
					return err
				}
				fmt.Fprintf(st.stdout, "%d events of %s written to %s\n", n, *month, path)
				return nil
			}
		}}
}

func auditPublicKeyCommand() command {
	return command{name: "audit public-key", summary: "print the public key (base64 Ed25519) that verifies the audit digests",
		setup: func(*flag.FlagSet) func(context.Context, streams) error {
			return func(ctx context.Context, st streams) error {
				sg, err := configuredSigner(ctx)
				if err != nil {
					return err
				}
				fmt.Fprintf(st.stdout, "%s (key id %s)\n", sg.PublicKey(), sg.KeyID())
				return nil
			}
		}}
}
