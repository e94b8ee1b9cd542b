package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hubchantier/hubchantier/hubapi/server"
	"github.com/hubchantier/hubchantier/oauth"
)

// stringList is a flag that may be repeated.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// openOAuth opens the configured database and the OAuth server on it.
func openOAuth(ctx context.Context) (*oauth.Server, func(), error) {
	cfg, err := config()
	if err != nil {
		return nil, nil, err
	}
	db, err := openDB(ctx)
	if err != nil {
		return nil, nil, err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ring, err := server.SecretKeyring(ctx, db, cfg.SecretKeys, log)
	if err != nil {
		_ = db.Close()
		return nil, nil, err
	}
	o, err := server.OpenOAuthAdmin(ctx, cfg, db, ring)
	if err != nil {
		_ = db.Close()
		return nil, nil, err
	}
	return o, func() { o.Close(); _ = db.Close() }, nil
}

func oauthClientCreateCommand() command {
	return command{name: "oauth-client create", args: "--name N --redirect-uri U [--redirect-uri U2] [--public] --scopes a,b",
		summary:  "register an OAuth client (last stdout line: JSON with client_id and, unless public, client_secret, shown once)",
		required: []string{"name", "redirect-uri", "scopes"},
		setup: func(fs *flag.FlagSet) func(context.Context, streams) error {
			name := fs.String("name", "", "application name shown on the consent page (required)")
			var uris stringList
			fs.Var(&uris, "redirect-uri", "exact redirect URI, repeatable (required): https, http on localhost, or a private-use scheme")
			public := fs.Bool("public", false, "public client (native or browser app): no secret, PKCE only")
			scopes := fs.String("scopes", "", "comma-separated scopes the client may request (required)")
			return func(ctx context.Context, st streams) error {
				o, closeFn, err := openOAuth(ctx)
				if err != nil {
					return err
				}
				defer closeFn()
				c, secret, err := o.CreateClient(ctx, oauth.ClientInput{Name: *name, RedirectURIs: uris, Public: *public,
					Scopes: strings.FieldsFunc(*scopes, func(r rune) bool { return r == ',' || r == ' ' })})
				var ve *oauth.ValidationError
				if errors.As(err, &ve) {
					return usagef("%s", strings.TrimPrefix(ve.Error(), "oauth: "))
				}
				if err != nil {
					return err
				}
				kind := "confidential client: keep the secret, it is shown only now"
				if c.Public {
					kind = "public client: no secret, PKCE S256 is required"
				}
				fmt.Fprintf(st.stdout, "OAuth client %q created (%s)\n", printable(c.Name), kind)
				out := map[string]string{"client_id": c.ID}
				if secret != "" {
					out["client_secret"] = secret
				}
				b, _ := json.Marshal(out)
				fmt.Fprintln(st.stdout, string(b))
				return nil
			}
		}}
}

func oauthClientListCommand() command {
	return command{name: "oauth-client list", summary: "list the OAuth clients (never their secrets)",
		setup: func(fs *flag.FlagSet) func(context.Context, streams) error {
			return func(ctx context.Context, st streams) error { return runOAuthClientList(ctx, st.stdout) }
		}}
}

func runOAuthClientList(ctx context.Context, stdout io.Writer) error {
	o, closeFn, err := openOAuth(ctx)
	if err != nil {
		return err
	}
	defer closeFn()
	clients, err := o.Clients(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CLIENT ID\tNAME\tTYPE\tSCOPES\tREDIRECT URIS\tCREATED\tREVOKED")
	for _, c := range clients {
		typ := "confidential"
		if c.Public {
			typ = "public"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.ID, printable(c.Name), typ, strings.Join(c.Scopes, ","),
			printable(strings.Join(c.RedirectURIs, " ")), c.CreatedAt.UTC().Format(time.RFC3339), when(c.RevokedAt))
	}
	return tw.Flush()
}

func oauthClientRevokeCommand() command {
	return command{name: "oauth-client revoke", args: "--client-id ID",
		summary:  "revoke an OAuth client and every token issued to it (running instances refuse them within 1 s)",
		required: []string{"client-id"},
		setup: func(fs *flag.FlagSet) func(context.Context, streams) error {
			id := fs.String("client-id", "", "client id, as listed by oauth-client list (required)")
			return func(ctx context.Context, st streams) error {
				o, closeFn, err := openOAuth(ctx)
				if err != nil {
					return err
				}
				defer closeFn()
				if err := o.RevokeClient(ctx, *id); err != nil {
					if errors.Is(err, oauth.ErrNotFound) {
						return fmt.Errorf("oauth-client revoke: no active client %q", printable(*id))
					}
					return err
				}
				fmt.Fprintf(st.stdout, "client %s revoked\n", *id)
				return nil
			}
		}}
}
