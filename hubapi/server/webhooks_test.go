package server_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/server"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/internal/apitest"
	"github.com/hubchantier/hubchantier/internal/testenv"
	"github.com/hubchantier/hubchantier/secretbox"
	"github.com/hubchantier/hubchantier/webhooks"
)

// With a secret keyring, the server delivers the events of API writes to
// the webhook subscriptions, signed with the subscription's secret.
func TestServerDeliversWebhooks(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, db *testenv.DB) {
		keys, err := secretbox.ParseKeyring("k1:" + secretbox.GenerateKey())
		if err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var bodies [][]byte
		var headers []http.Header
		rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			defer mu.Unlock()
			bodies, headers = append(bodies, b), append(headers, r.Header.Clone())
		}))
		t.Cleanup(rcv.Close)
		env := apitest.Start(t, db, apitest.Config{RateLimits: apitest.LiftedRateLimits, Configure: func(c *server.Config) {
			c.SecretKeys, c.WebhookAllowHTTP, c.WebhookAllowPrivate = keys, true, true
		}})
		owner := env.User(hubapi.RoleConducteur)
		secret, _, _ := webhooks.NewSecret()
		now := store.Now()
		sub := &hubapi.WebhookSubscription{UserID: owner.ID, URL: rcv.URL, EventTypes: "chantier.created", Enabled: true,
			SecretKeyID: "-", SecretSealed: []byte{0}, CreatedAt: now, UpdatedAt: now, Version: 1}
		ctx := context.Background()
		if _, err := env.Server.DB.NewInsert().Model(sub).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if sub.SecretKeyID, sub.SecretSealed, err = keys.Seal([]byte(secret), []byte("webhook:"+strconv.FormatInt(sub.ID, 10))); err != nil {
			t.Fatal(err)
		}
		if _, err := env.Server.DB.NewUpdate().Model(sub).Column("secret_key_id", "secret_sealed").WherePK().Exec(ctx); err != nil {
			t.Fatal(err)
		}
		newChantier(t, env.As(hubapi.RoleAdmin), nil)
		count := func() int { mu.Lock(); defer mu.Unlock(); return len(bodies) }
		for deadline := time.Now().Add(30 * time.Second); count() < 1; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("no delivery")
			}
		}
		wh, _ := standardwebhooks.NewWebhook(secret)
		mu.Lock()
		defer mu.Unlock()
		if err := wh.Verify(bodies[0], headers[0]); err != nil {
			t.Fatal(err)
		}
	})
}
