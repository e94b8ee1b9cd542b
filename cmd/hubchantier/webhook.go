package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/blob"
	"github.com/hubchantier/hubchantier/hubapi/server"
	"github.com/hubchantier/hubchantier/hubapi/service"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/oauth"
	"github.com/hubchantier/hubchantier/secretbox"
	"github.com/hubchantier/hubchantier/webhooks"
)

// openSecretOperator is openOperator with the server's secret keyring
// (HUB_SECRET_KEYS, or the key kept in the database) and webhook rules
// (HUB_WEBHOOK_ALLOW_*), so that what the CLI seals the servers open. The
// keyring's warnings go to stderr.
func openSecretOperator(ctx context.Context, stderr io.Writer) (*service.Operator, func(), error) {
	o, err := openSecrets(ctx, stderr)
	if err != nil {
		return nil, nil, err
	}
	return o.op, o.close, nil
}

// secretsEnv is the database, the secret keyring and an operator holding
// it.
type secretsEnv struct {
	op    *service.Operator
	db    *store.DB
	ring  *secretbox.Keyring
	close func()
}

// openSecrets opens the database, the secret keyring and an operator
// holding it.
func openSecrets(ctx context.Context, stderr io.Writer) (*secretsEnv, error) {
	cfg, err := config()
	if err != nil {
		return nil, err
	}
	db, err := openDB(ctx)
	if err != nil {
		return nil, err
	}
	closeFn := func() { _ = db.Close() }
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ring, err := server.SecretKeyring(ctx, db, cfg.SecretKeys, log)
	if err != nil {
		closeFn()
		return nil, err
	}
	blobs, err := blob.NewDir(cfg.BlobDir)
	if err != nil {
		closeFn()
		return nil, err
	}
	svc := service.New(db, blobs, service.WithSecretKeyring(ring),
		service.WithWebhookGuard(webhooks.Guard{AllowHTTP: cfg.WebhookAllowHTTP, AllowPrivate: cfg.WebhookAllowPrivate}))
	return &secretsEnv{op: service.NewOperator(svc), db: db, ring: ring, close: closeFn}, nil
}

func webhookCreateCommand() command {
	return command{name: "webhook create", args: "--user E --url U --events a,b [--description D]",
		summary:  "create a webhook subscription (prints its id, then its signing secret alone on the last line of stdout)",
		required: []string{"user", "url", "events"},
		setup: func(fs *flag.FlagSet) func(context.Context, streams) error {
			email := fs.String("user", "", "owner e-mail: an admin or a conducteur (required)")
			url := fs.String("url", "", "target URL, https:// (required)")
			events := fs.String("events", "", "comma-separated event types, or * for every type (required)")
			description := fs.String("description", "", "free text, at most 500 characters")
			return func(ctx context.Context, st streams) error {
				svc, closeFn, err := openSecretOperator(ctx, st.stderr)
				if err != nil {
					return err
				}
				defer closeFn()
				u, err := svc.FindUserByEmail(ctx, *email)
				if err != nil {
					return fmt.Errorf("webhook create: user %q: %w", *email, err)
				}
				w, secret, err := svc.CreateWebhookFor(ctx, hubapi.WebhookInput{UserID: u.ID, URL: *url,
					EventTypes: strings.Split(*events, ","), Description: *description})
				if err != nil {
					return describe(err)
				}
				fmt.Fprintf(st.stdout, "webhook %d created for %s: %s (%s)\n", w.ID, u.Email, w.URL, w.EventTypes)
				fmt.Fprintln(st.stdout, "signing secret (shown once; verify the webhook-signature header with it):")
				fmt.Fprintln(st.stdout, secret)
				return nil
			}
		}}
}

func webhookListCommand() command {
	return command{name: "webhook list", summary: "list every webhook subscription (never its secret)",
		setup: func(*flag.FlagSet) func(context.Context, streams) error {
			return func(ctx context.Context, st streams) error {
				svc, closeFn, err := openSecretOperator(ctx, st.stderr)
				if err != nil {
					return err
				}
				defer closeFn()
				rows, err := svc.AllWebhooks(ctx)
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(st.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tUSER\tURL\tEVENTS\tENABLED\tFAILING SINCE")
				for _, w := range rows {
					failing := "-"
					if w.FailingSince != nil {
						failing = w.FailingSince.UTC().Format(time.RFC3339)
					}
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%t\t%s\n", w.ID, w.OwnerEmail, w.URL, w.EventTypes, w.Enabled, failing)
				}
				return tw.Flush()
			}
		}}
}

func secretsResealCommand() command {
	return command{name: "secrets reseal", summary: "re-seal every stored secret under the current key of HUB_SECRET_KEYS (after a key rotation)",
		setup: func(*flag.FlagSet) func(context.Context, streams) error {
			return func(ctx context.Context, st streams) error {
				env, err := openSecrets(ctx, st.stderr)
				if err != nil {
					return err
				}
				defer env.close()
				n, err := env.op.ResealWebhookSecrets(ctx)
				if err != nil {
					return fmt.Errorf("secrets reseal (after %d re-sealed): %w", n, err)
				}
				fmt.Fprintf(st.stdout, "%d webhook subscriptions re-sealed\n", n)
				k, err := oauth.ResealSigningKeys(ctx, env.db.DB, env.ring)
				if err != nil {
					return fmt.Errorf("secrets reseal (after %d OAuth signing keys re-sealed): %w", k, err)
				}
				fmt.Fprintf(st.stdout, "%d OAuth signing keys re-sealed\n", k)
				return nil
			}
		}}
}
