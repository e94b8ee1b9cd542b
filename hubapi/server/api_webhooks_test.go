package server_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/internal/apitest"
	"github.com/hubchantier/hubchantier/webhooks"
)

// webhookJSON is a subscription as the API answers it.
type webhookJSON struct {
	ID                      int64      `json:"id"`
	UserID                  int64      `json:"user_id"`
	URL                     string     `json:"url"`
	EventTypes              []string   `json:"event_types"`
	Description             string     `json:"description"`
	Enabled                 bool       `json:"enabled"`
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at"`
	Version                 int64      `json:"version"`
	Secret                  string     `json:"secret"`
}

type deliveryJSON struct {
	ID         int64  `json:"id"`
	MessageID  string `json:"message_id"`
	EventType  string `json:"event_type"`
	Status     string `json:"status"`
	Attempts   int    `json:"attempts"`
	AttemptLog []struct {
		Attempt        int `json:"attempt"`
		ResponseStatus int `json:"response_status"`
	} `json:"attempt_log"`
	Payload struct {
		Type string         `json:"type"`
		Data map[string]any `json:"data"`
	} `json:"payload"`
}

// publicTarget is a literal public address: the SSRF guard accepts it
// without a DNS lookup (deliveries to it fail and are retried later; the
// tests look at what is recorded, not at what arrives).
const publicTarget = "https://93.184.215.14/hooks/hub"

// testWebhooks drives every webhook route: the secret appears in the
// create and rotate answers only; targets and types are checked (422);
// PATCH and DELETE follow If-Match; the delivery log, test and redeliver
// work on the caller's own subscriptions; another user's answers 404.
func testWebhooks(t *testing.T, env *apitest.Env) {
	_, aliceKey := env.NewUser(t, hubapi.RoleConducteur)
	_, bobKey := env.NewUser(t, hubapi.RoleConducteur)
	alice, bob, admin := env.WithKey(aliceKey), env.WithKey(bobKey), env.As(hubapi.RoleAdmin)

	var created webhookJSON
	t.Run("create → 201 with the secret once, not cacheable", func(t *testing.T) {
		r := alice.Post(t, v1+"/webhooks", map[string]any{"url": publicTarget,
			"event_types": []string{"signalement.urgent", "chantier.created"}, "description": "ERP"}).Expect(201)
		r.JSON(&created)
		if _, err := webhooks.ParseSecret(created.Secret); err != nil {
			t.Fatalf("secret %q: %v", created.Secret, err)
		}
		if created.URL != publicTarget || strings.Join(created.EventTypes, ",") != "chantier.created,signalement.urgent" || !created.Enabled || created.Version != 1 {
			t.Errorf("created %+v", created)
		}
		if r.Header.Get("Cache-Control") != "no-store" || r.Header.Get("Location") != idPath("webhooks", created.ID) || r.ETag() != `"v1"` {
			t.Errorf("headers %v", r.Header)
		}
	})
	path := idPath("webhooks", created.ID)

	t.Run("GET and lists never carry the secret", func(t *testing.T) {
		for _, p := range []string{path, v1 + "/webhooks", v1 + "/webhooks?fields=*", path + "/deliveries"} {
			r := alice.Get(t, p).Expect(200)
			if bytes.Contains(r.Body, []byte(created.Secret)) || bytes.Contains(r.Body, []byte(`"secret"`)) {
				t.Errorf("%s exposes the secret: %s", p, r.Body)
			}
		}
		var l listEnvelope[webhookJSON]
		admin.Get(t, v1+"/webhooks?user_id="+itoa(created.UserID)).Expect(200).JSON(&l)
		if len(l.Data) != 1 || l.Data[0].ID != created.ID {
			t.Errorf("admin's list by user: %+v", l.Data)
		}
		var sel struct{ Data []map[string]any }
		alice.Get(t, v1+"/webhooks?fields=url").Expect(200).JSON(&sel)
		if len(sel.Data) != 1 || len(sel.Data[0]) != 2 || sel.Data[0]["url"] != publicTarget {
			t.Errorf("fields=url: %+v", sel.Data)
		}
	})

	t.Run("unsafe targets and unknown types → 422 naming the field", func(t *testing.T) {
		for _, c := range []struct {
			field string
			body  map[string]any
		}{
			{"url", map[string]any{"url": "https://127.0.0.1/", "event_types": []string{"*"}}},
			{"url", map[string]any{"url": "https://10.0.0.1/", "event_types": []string{"*"}}},
			{"url", map[string]any{"url": "https://169.254.169.254/latest/meta-data/", "event_types": []string{"*"}}},
			{"url", map[string]any{"url": "http://93.184.215.14/", "event_types": []string{"*"}}},
			{"event_types", map[string]any{"url": publicTarget, "event_types": []string{"chantier.exploded"}}},
		} {
			opts := []apitest.Option{}
			if c.field == "event_types" {
				opts = append(opts, apitest.Invalid()) // the document's enum refuses it too
			}
			alice.Post(t, v1+"/webhooks", c.body, opts...).FieldProblem(422, "validation-error", c.field)
		}
		alice.Post(t, v1+"/webhooks", map[string]any{"url": publicTarget, "event_types": []string{"*"}, "secret": "mine"},
			apitest.Invalid()).Problem(400, "unknown-field")
	})

	t.Run("PATCH with a stale If-Match → 412; with the current one → 200", func(t *testing.T) {
		alice.Patch(t, path, map[string]any{"description": "x"}, apitest.IfMatch(`"v9"`)).Problem(412, "precondition-failed")
		var got webhookJSON
		r := alice.Patch(t, path, map[string]any{"enabled": false, "event_types": []string{"*"}}, apitest.IfMatch(`"v1"`)).Expect(200)
		r.JSON(&got)
		if got.Enabled || got.Version != 2 || len(got.EventTypes) != 1 || got.EventTypes[0] != "*" || got.Description != "ERP" || r.ETag() != `"v2"` {
			t.Errorf("patched %+v", got)
		}
		alice.Patch(t, path, map[string]any{"url": "https://192.168.0.10/"}).FieldProblem(422, "validation-error", "url")
		alice.Post(t, path+"/test", nil).Problem(409, "conflict")
		alice.Patch(t, path, map[string]any{"enabled": true}).Expect(200)
	})

	t.Run("rotate-secret → a new secret, the previous kept 24 h", func(t *testing.T) {
		var rotated webhookJSON
		r := alice.Post(t, path+"/rotate-secret", nil).Expect(200)
		r.JSON(&rotated)
		if rotated.Secret == created.Secret || !strings.HasPrefix(rotated.Secret, webhooks.SecretPrefix) || r.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("rotated %+v", rotated)
		}
		if rotated.PreviousSecretExpiresAt == nil || time.Until(*rotated.PreviousSecretExpiresAt) < 23*time.Hour {
			t.Errorf("previous secret until %v", rotated.PreviousSecretExpiresAt)
		}
		var again webhookJSON
		alice.Get(t, path).Expect(200).JSON(&again)
		if again.Secret != "" || again.PreviousSecretExpiresAt == nil {
			t.Errorf("after rotation GET %+v", again)
		}
	})

	t.Run("test → 202 ping; redeliver → 202 the same delivery; both in the log", func(t *testing.T) {
		var ping deliveryJSON
		alice.Post(t, path+"/test", nil).Expect(202).JSON(&ping)
		if ping.EventType != "ping" || ping.Status != "pending" || ping.Payload.Type != "ping" || ping.Payload.Data["subscription_id"] != float64(created.ID) {
			t.Fatalf("ping %+v", ping)
		}
		var again deliveryJSON
		alice.Post(t, fmt.Sprintf("%s/deliveries/%d/redeliver", path, ping.ID), nil).Expect(202).JSON(&again)
		if again.ID != ping.ID || again.MessageID != ping.MessageID || again.Status != "pending" {
			t.Errorf("redelivered %+v of %+v", again, ping)
		}
		alice.Post(t, fmt.Sprintf("%s/deliveries/%d/redeliver", path, ping.ID+1000), nil).Problem(404, "not-found")
		alice.Post(t, path+"/deliveries/x/redeliver", nil, apitest.Invalid()).Problem(400, "invalid-id")
		var log listEnvelope[deliveryJSON]
		alice.Get(t, path+"/deliveries").Expect(200).JSON(&log)
		// The subscription takes every type by now: events of the other
		// subtests may be in its log too, beside the one ping.
		var pings []deliveryJSON
		for _, d := range log.Data {
			if d.EventType == "ping" {
				pings = append(pings, d)
			}
		}
		if len(pings) != 1 || pings[0].ID != ping.ID || pings[0].AttemptLog == nil {
			t.Errorf("delivery log %+v", log.Data)
		}
	})

	t.Run("another user's subscription → 404 for every route; the owner's list excludes it", func(t *testing.T) {
		bob.Get(t, path).Problem(404, "not-found")
		bob.Patch(t, path, map[string]any{"description": "mine"}).Problem(404, "not-found")
		bob.Delete(t, path).Problem(404, "not-found")
		bob.Post(t, path+"/rotate-secret", nil).Problem(404, "not-found")
		bob.Post(t, path+"/test", nil).Problem(404, "not-found")
		bob.Get(t, path+"/deliveries").Problem(404, "not-found")
		var l listEnvelope[webhookJSON]
		bob.Get(t, v1+"/webhooks?user_id="+itoa(created.UserID)).Expect(200).JSON(&l)
		if len(l.Data) != 0 {
			t.Errorf("bob lists alice's: %+v", l.Data)
		}
		env.As(hubapi.RoleChefChantier).Get(t, v1+"/webhooks").Problem(403, "insufficient-scope")
	})

	t.Run("DELETE with If-Match → 204; then 404", func(t *testing.T) {
		var cur webhookJSON
		r := alice.Get(t, path).Expect(200)
		r.JSON(&cur)
		alice.Delete(t, path, apitest.IfMatch(`"v1"`)).Problem(412, "precondition-failed")
		admin.Delete(t, path, apitest.IfMatch(r.ETag())).Expect(204)
		alice.Get(t, path).Problem(404, "not-found")
	})
}
