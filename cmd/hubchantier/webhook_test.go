package main

import (
	"context"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/server"
	"github.com/hubchantier/hubchantier/hubapi/service"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/secretbox"
	"github.com/hubchantier/hubchantier/webhooks"
)

// The forms scripts rely on: `webhook create` prints the id, then the
// secret alone on the last line; `webhook list` prints a table without
// secrets; what the CLI seals, a server on the same database opens;
// `secrets reseal` moves every secret to the current key.
func TestWebhookCommands(t *testing.T) {
	url := cliEnv(t)
	for _, u := range [][]string{{"c@x.fr", "conducteur"}, {"chef@x.fr", "chef_chantier"}} {
		if _, err := runCLI(t, "", "user", "create", "--email", u[0], "--role", u[1]); err != nil {
			t.Fatal(err)
		}
	}
	out, err := runCLI(t, "", "webhook", "create", "--user", "c@x.fr", "--url", "https://93.184.215.14/in",
		"--events", "chantier.created,signalement.urgent", "--description", "ERP")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	secret := lines[len(lines)-1]
	if _, err := webhooks.ParseSecret(secret); err != nil || strings.TrimSpace(secret) != secret {
		t.Fatalf("last line %q is not the secret alone: %q", secret, out)
	}
	m := regexp.MustCompile(`^webhook (\d+) created`).FindStringSubmatch(lines[0])
	if m == nil {
		t.Fatalf("first line %q has no id", lines[0])
	}
	id, _ := strconv.ParseInt(m[1], 10, 64)

	db, err := store.Open(url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	var row hubapi.WebhookSubscription
	if err := db.NewSelect().Model(&row).Where("id = ?", id).Scan(ctx); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(row.SecretSealed), secret) || row.EventTypes != "chantier.created,signalement.urgent" || row.Description != "ERP" {
		t.Fatalf("stored %+v", row)
	}
	t.Run("a server on the database opens what the CLI sealed", func(t *testing.T) {
		ring, err := server.SecretKeyring(ctx, db, nil, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		plain, err := ring.Open(row.SecretKeyID, row.SecretSealed, service.WebhookSecretAD(id))
		if err != nil || string(plain) != secret {
			t.Fatalf("open: %v", err)
		}
	})

	t.Run("refusals exit non-zero and create nothing", func(t *testing.T) {
		for name, args := range map[string][]string{
			"loopback target":        {"--user", "c@x.fr", "--url", "https://127.0.0.1/", "--events", "*"},
			"metadata target":        {"--user", "c@x.fr", "--url", "https://169.254.169.254/", "--events", "*"},
			"http without allowing":  {"--user", "c@x.fr", "--url", "http://93.184.215.14/", "--events", "*"},
			"unknown event type":     {"--user", "c@x.fr", "--url", "https://93.184.215.14/", "--events", "chantier.exploded"},
			"role without the scope": {"--user", "chef@x.fr", "--url", "https://93.184.215.14/", "--events", "*"},
			"unknown user":           {"--user", "nobody@x.fr", "--url", "https://93.184.215.14/", "--events", "*"},
			"missing --events":       {"--user", "c@x.fr", "--url", "https://93.184.215.14/"},
		} {
			if out, err := runCLI(t, "", append([]string{"webhook", "create"}, args...)...); err == nil || out != "" {
				t.Errorf("%s: accepted (%q)", name, out)
			}
		}
		if n, err := db.NewSelect().Model((*hubapi.WebhookSubscription)(nil)).Count(ctx); err != nil || n != 1 {
			t.Fatalf("%d subscriptions (%v)", n, err)
		}
	})

	t.Run("HUB_WEBHOOK_ALLOW_HTTP and _PRIVATE accept a local receiver", func(t *testing.T) {
		t.Setenv("HUB_WEBHOOK_ALLOW_HTTP", "1")
		t.Setenv("HUB_WEBHOOK_ALLOW_PRIVATE", "1")
		if _, err := runCLI(t, "", "webhook", "create", "--user", "c@x.fr", "--url", "http://127.0.0.1:9/hook", "--events", "*"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("webhook list: id, user, url, events, enabled, failing since; never a secret", func(t *testing.T) {
		out, err := runCLI(t, "", "webhook", "list")
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 3 || strings.Join(strings.Fields(lines[0]), " ") != "ID USER URL EVENTS ENABLED FAILING SINCE" {
			t.Fatalf("%q", out)
		}
		if got := strings.Fields(lines[1]); len(got) != 6 || got[0] != m[1] || got[1] != "c@x.fr" || got[2] != "https://93.184.215.14/in" ||
			got[3] != "chantier.created,signalement.urgent" || got[4] != "true" || got[5] != "-" {
			t.Fatalf("row %q", lines[1])
		}
		if strings.Contains(out, secret) || strings.Contains(out, "whsec_") {
			t.Fatal("the listing holds a secret")
		}
	})

	t.Run("secrets reseal moves every secret to the current key", func(t *testing.T) {
		// The OAuth signing key, sealed under the key kept in the database.
		if _, err := runCLI(t, "", "oauth-client", "create", "--name", "ERP", "--redirect-uri", "https://erp.example.com/cb",
			"--scopes", "chantiers:read"); err != nil {
			t.Fatal(err)
		}
		k2 := "k2:" + secretbox.GenerateKey()
		t.Setenv("HUB_SECRET_KEYS", k2)
		out, err := runCLI(t, "", "secrets", "reseal")
		if err != nil || strings.TrimSpace(out) != "2 webhook subscriptions re-sealed\n1 OAuth signing keys re-sealed" {
			t.Fatalf("%q %v", out, err)
		}
		var after hubapi.WebhookSubscription
		if err := db.NewSelect().Model(&after).Where("id = ?", id).Scan(ctx); err != nil {
			t.Fatal(err)
		}
		only, err := secretbox.ParseKeyring(k2)
		if err != nil {
			t.Fatal(err)
		}
		plain, err := only.Open(after.SecretKeyID, after.SecretSealed, service.WebhookSecretAD(id))
		if err != nil || string(plain) != secret {
			t.Fatalf("after reseal: %q, %v", after.SecretKeyID, err)
		}
		// The signing key opens with the new key alone.
		o, err := server.OpenOAuthAdmin(ctx, server.Config{}, db, only)
		if err != nil {
			t.Fatalf("signing key after reseal: %v", err)
		}
		o.Close()
		if out, err := runCLI(t, "", "secrets", "reseal"); err != nil ||
			strings.TrimSpace(out) != "0 webhook subscriptions re-sealed\n0 OAuth signing keys re-sealed" {
			t.Fatalf("again: %q %v", out, err)
		}
	})
}
