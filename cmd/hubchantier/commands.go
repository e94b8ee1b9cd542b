package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/hubchantier/hubchantier/audit"
	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/blob"
	"github.com/hubchantier/hubchantier/hubapi/server"
	"github.com/hubchantier/hubchantier/hubapi/service"
	"github.com/hubchantier/hubchantier/hubapi/store"
)

// config reads and checks every HUB_* variable (server.ConfigFromEnv): a
// bad value stops any command, with a message naming the variable.
func config() (server.Config, error) {
	return server.ConfigFromEnv(os.Environ())
}

// openDB opens the configured database (HUB_DATABASE_URL) and migrates it.
func openDB(ctx context.Context) (*store.DB, error) {
	cfg, err := config()
	if err != nil {
		return nil, err
	}
	db, err := store.Open(cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		_ = db.Close()
		return nil, err
	}
	return db, nil
}

// openOperator opens the configured database, migrates it and returns the
// operations that check no caller (for the administration commands).
func openOperator(ctx context.Context) (*service.Operator, func(), error) {
	cfg, err := config()
	if err != nil {
		return nil, nil, err
	}
	db, err := openDB(ctx)
	if err != nil {
		return nil, nil, err
	}
	blobs, err := blob.NewDir(cfg.BlobDir)
	if err != nil {
		_ = db.Close()
		return nil, nil, err
	}
	var opts []service.Option
	if !cfg.Audit.Disabled {
		// the operator's changes (keys issued and revoked, ...) are audited
		// like the API's
		opts = append(opts, service.WithAudit(audit.NewStore(db.DB)))
	}
	return service.NewOperator(service.New(db, blobs, opts...)), func() { _ = db.Close() }, nil
}

func migrateCommand() command {
	return command{name: "migrate", args: "[--unlock]", summary: "apply the pending database migrations",
		setup: func(fs *flag.FlagSet) func(context.Context, streams) error {
			unlock := fs.Bool("unlock", false, "first remove a migration lock left by an earlier version (see docs/OPERATIONS.md)")
			return func(ctx context.Context, st streams) error {
				if *unlock {
					if err := unlockMigrations(ctx, st.stdout); err != nil {
						return err
					}
				}
				_, closeFn, err := openOperator(ctx)
				if err != nil {
					return err
				}
				closeFn()
				fmt.Fprintln(st.stdout, "migrations applied")
				return nil
			}
		}}
}

func userCreateCommand() command {
	return command{name: "user create", args: "--email E --role R [--nom N] [--prenom P] [--password-stdin]",
		summary: "create a user (API-key-only unless --password-stdin)", required: []string{"email", "role"},
		setup: func(fs *flag.FlagSet) func(context.Context, streams) error {
			email := fs.String("email", "", "e-mail (required)")
			role := fs.String("role", "", "admin | conducteur | chef_chantier | compagnon (required)")
			nom := fs.String("nom", "", "family name")
			prenom := fs.String("prenom", "", "given name")
			pwStdin := fs.Bool("password-stdin", false, "read a password from the first line of stdin")
			return func(ctx context.Context, st streams) error {
				if !hubapi.Role(*role).Valid() {
					return usagef("--role: %q is not one of admin, conducteur, chef_chantier, compagnon", *role)
				}
				var password string
				if *pwStdin {
					line, err := bufio.NewReader(io.LimitReader(st.stdin, 4096)).ReadString('\n')
					if err != nil && !errors.Is(err, io.EOF) {
						return err
					}
					password = strings.TrimRight(line, "\r\n")
					if password == "" {
						return errors.New("user create: empty password on stdin")
					}
				}
				svc, closeFn, err := openOperator(ctx)
				if err != nil {
					return err
				}
				defer closeFn()
				u := &hubapi.User{Email: *email, Role: hubapi.Role(*role), Nom: *nom, Prenom: *prenom}
				if err := svc.CreateUser(ctx, u, password); err != nil {
					return describe(err)
				}
				fmt.Fprintf(st.stdout, "user %d created: %s (%s)\n", u.ID, u.Email, u.Role)
				return nil
			}
		}}
}

func apikeyCreateCommand() command {
	return command{name: "apikey create", args: "--user E --name N --scopes a,b [--expires 720h] [--allow-ip CIDR ...] [--auto-rotate [--rotation-days 90]]",
		summary: "issue an API key (printed once, on the last line of stdout)", required: []string{"user", "name", "scopes"},
		setup: func(fs *flag.FlagSet) func(context.Context, streams) error {
			email := fs.String("user", "", "owner e-mail (required)")
			name := fs.String("name", "", "key name (required)")
			scopes := fs.String("scopes", "", "comma-separated scopes (required)")
			var expires optionalDuration
			fs.Var(&expires, "expires", "lifetime, a positive `duration` such as 720h (default: no expiry)")
			var allow stringList
			fs.Var(&allow, "allow-ip", "IPv4/IPv6 address or CIDR network the key may be used from, repeatable (default: anywhere)")
			autoRotate := fs.Bool("auto-rotate", false, "rotate the secret automatically (the old one works 7 more days)")
			days := fs.Int("rotation-days", hubapi.DefaultRotationIntervalDays, "days between automatic rotations")
			return func(ctx context.Context, st streams) error {
				if expires.set && expires.d <= 0 {
					return usagef("--expires must be a positive duration such as 720h (got %s); leave it out for a key that does not expire", expires.d)
				}
				sc, err := hubapi.ParseScopes(*scopes)
				if err != nil {
					return usagef("--scopes: %v", describe(err))
				}
				svc, closeFn, err := openOperator(ctx)
				if err != nil {
					return err
				}
				defer closeFn()
				u, err := svc.FindUserByEmail(ctx, *email)
				if err != nil {
					return fmt.Errorf("apikey create: user %q: %w", *email, err)
				}
				in := hubapi.APIKeyInput{UserID: u.ID, Name: *name, Scopes: sc, AutoRotate: *autoRotate, RotationIntervalDays: days}
				if len(allow) > 0 {
					in.IPAllowlist = allow
				}
				if expires.set {
					t := time.Now().Add(expires.d)
					in.ExpiresAt = &t
				}
				_, secret, err := svc.IssueAPIKey(ctx, in)
				if err != nil {
					return describe(err)
				}
				fmt.Fprintln(st.stdout, secret)
				return nil
			}
		}}
}

// optionalDuration is a duration flag that remembers whether it was given.
type optionalDuration struct {
	d   time.Duration
	set bool
}

func (o *optionalDuration) String() string {
	if o == nil || !o.set {
		return ""
	}
	return o.d.String()
}

func (o *optionalDuration) Set(v string) error {
	d, err := time.ParseDuration(v)
	if err != nil {
		return errors.New("not a duration (e.g. 720h, 90m)")
	}
	o.d, o.set = d, true
	return nil
}

func countersCommand(action, summary string) command {
	return command{name: "counters " + action, summary: summary,
		setup: func(*flag.FlagSet) func(context.Context, streams) error {
			return func(ctx context.Context, st streams) error { return runCounters(ctx, action, st.stdout) }
		}}
}

// describe makes validation errors readable on a terminal.
func describe(err error) error {
	var ve *hubapi.ValidationError
	if errors.As(err, &ve) {
		return errors.New(ve.Error())
	}
	return err
}
