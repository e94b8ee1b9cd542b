package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/server"
)

func apikeyListCommand() command {
	return command{name: "apikey list", args: "--user E", summary: "list a user's API keys (prefix, scopes, dates; never the secret)",
		required: []string{"user"},
		setup: func(fs *flag.FlagSet) func(context.Context, streams) error {
			email := fs.String("user", "", "owner e-mail (required)")
			return func(ctx context.Context, st streams) error { return runAPIKeyList(ctx, *email, st.stdout) }
		}}
}

// runAPIKeyList lists a user's keys: never the secret or its hash, only the
// display prefix.
func runAPIKeyList(ctx context.Context, email string, stdout io.Writer) error {
	svc, closeFn, err := openOperator(ctx)
	if err != nil {
		return err
	}
	defer closeFn()
	u, err := svc.FindUserByEmail(ctx, email)
	if err != nil {
		return fmt.Errorf("apikey list: user %q: %w", email, err)
	}
	keys, err := svc.APIKeysOf(ctx, u.ID)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tPREFIX\tSCOPES\tCREATED\tEXPIRES\tLAST USED\tREVOKED")
	for _, k := range keys {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, printable(k.Name), k.Prefix, k.Scopes,
			k.CreatedAt.UTC().Format(time.RFC3339), when(k.ExpiresAt), when(k.LastUsedAt), when(k.RevokedAt))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if u.DisabledAt != nil {
		fmt.Fprintf(stdout, "user %s is disabled since %s: none of these keys authenticates\n", u.Email, u.DisabledAt.UTC().Format(time.RFC3339))
	}
	return nil
}

func apikeyRevokeCommand() command {
	return command{name: "apikey revoke", args: "--id N", summary: "revoke an API key (every running instance stops accepting it)",
		required: []string{"id"},
		setup: func(fs *flag.FlagSet) func(context.Context, streams) error {
			id := fs.Int64("id", 0, "key id, as listed by apikey list (required)")
			return func(ctx context.Context, st streams) error {
				if *id <= 0 {
					return usagef("--id must be a positive key id")
				}
				return runAPIKeyRevoke(ctx, *id, st.stdout, st.stderr)
			}
		}}
}

// runAPIKeyRevoke revokes a key and announces it to the running instances.
func runAPIKeyRevoke(ctx context.Context, id int64, stdout, stderr io.Writer) error {
	cfg, err := config()
	if err != nil {
		return err
	}
	svc, closeFn, err := openOperator(ctx)
	if err != nil {
		return err
	}
	defer closeFn()
	if err := svc.RevokeAPIKeyByID(ctx, id); err != nil {
		if errors.Is(err, hubapi.ErrNotFound) {
			return fmt.Errorf("apikey revoke: no key %d", id)
		}
		return err
	}
	fmt.Fprintf(stdout, "key %d revoked\n", id)
	announce(ctx, cfg, hubapi.Event{Type: hubapi.EventAPIKeyRevoked, ResourceID: id}, stderr)
	return nil
}

func userDisableCommand(disable bool) command {
	c := command{name: "user enable", args: "--email E", summary: "enable a disabled user again", required: []string{"email"}}
	if disable {
		c.name, c.summary = "user disable", "disable a user: none of its API keys authenticates any more, on every instance"
	}
	c.setup = func(fs *flag.FlagSet) func(context.Context, streams) error {
		email := fs.String("email", "", "e-mail (required)")
		return func(ctx context.Context, st streams) error {
			return runUserDisable(ctx, c.name, *email, disable, st.stdout, st.stderr)
		}
	}
	return c
}

// runUserDisable disables (or enables) a user.
func runUserDisable(ctx context.Context, name, email string, disable bool, stdout, stderr io.Writer) error {
	cfg, err := config()
	if err != nil {
		return err
	}
	svc, closeFn, err := openOperator(ctx)
	if err != nil {
		return err
	}
	defer closeFn()
	u, err := svc.SetUserDisabled(ctx, email, disable)
	if err != nil {
		if errors.Is(err, hubapi.ErrNotFound) {
			return fmt.Errorf("%s: no user %q", name, email)
		}
		return err
	}
	if !disable {
		fmt.Fprintf(stdout, "user %d enabled: %s\n", u.ID, u.Email)
		return nil
	}
	fmt.Fprintf(stdout, "user %d disabled: %s (its API keys no longer authenticate)\n", u.ID, u.Email)
	announce(ctx, cfg, hubapi.Event{Type: hubapi.EventUserDisabled, ResourceID: u.ID}, stderr)
	return nil
}

// announce tells the running instances (through HUB_REDIS_URL) to drop
// their cached authentications. The change is committed either way: a
// failure only delays it on the instances, by the cache's 10 s at most.
func announce(ctx context.Context, cfg server.Config, e hubapi.Event, stderr io.Writer) {
	if cfg.RedisURL == "" {
		fmt.Fprintln(stderr, "note: HUB_REDIS_URL is not set: running servers notice within 10 s")
		return
	}
	if err := server.BroadcastRevocation(ctx, cfg.RedisURL, e); err != nil {
		fmt.Fprintf(stderr, "warning: %v; running servers notice within 10 s\n", err)
	}
}

func when(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// printable keeps a key name on one table cell.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}
