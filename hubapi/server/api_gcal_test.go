package server_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/connectors"
	"github.com/hubchantier/hubchantier/connectors/gcal"
	"github.com/hubchantier/hubchantier/connectors/gcal/fake"
	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/jobs"
	"github.com/hubchantier/hubchantier/hubapi/server"
	"github.com/hubchantier/hubchantier/hubapi/service"
	"github.com/hubchantier/hubchantier/internal/apitest"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

const gcalClientSecret = "gcal-client-S3CR3T-0000"

// withGoogleCalendar registers the Google Calendar connector against g,
// with short timeouts, and channels posted to *public (set once the
// server listens) renewed every second.
func withGoogleCalendar(g *fake.Server, public *atomic.Pointer[string]) func(*server.Config) {
	return func(c *server.Config) {
		reg := connectors.NewRegistry().AllowBaseURLOverride()
		if err := gcal.RegisterWith(reg, gcal.OAuth(g.AuthURL(), g.TokenURL())); err != nil {
			panic(err)
		}
		c.Connectors = reg
		c.ConnectorOptions = func(string) connectors.Options { return connectors.Options{BaseURL: g.URL} }
		c.ConnectorOAuth = map[string]service.ConnectorOAuthClient{gcal.Type: {ClientID: "hub-client", ClientSecret: gcalClientSecret,
			RedirectURL: "https://integrator.example/connected"}}
		c.ConnectorRunner = connectors.RunnerConfig{CallTimeout: 2 * time.Second, CallAttempts: 3,
			Backoff: connectors.Backoff{Base: 10 * time.Millisecond, Max: 50 * time.Millisecond}, MaxInlineWait: 100 * time.Millisecond}
		c.ConnectorJobs = server.ConnectorJobsForTests()
		c.ConnectorJobs.Channels = &jobs.ChannelConfig{Interval: time.Second, TTL: time.Hour, RenewBefore: 10 * time.Minute,
			Address: func(typ string) string {
				if p := public.Load(); p != nil && typ == gcal.Type {
					return *p + "/api/v1/integrations/google-calendar/notifications"
				}
				return ""
			}}
	}
}

// connectGoogleCalendar creates a connector of client and authorizes it
// through the fake's consent page: it returns the connector's id.
func connectGoogleCalendar(t *testing.T, client *apitest.Client, g *fake.Server) int64 {
	t.Helper()
	var c connectorJSON
	client.Post(t, "/api/v1/integrations/connectors", map[string]any{"type": gcal.Type, "name": "Planning",
		"settings": map[string]string{"calendar_id": "primary", "time_zone": "Europe/Paris"}}).Expect(201).JSON(&c)
	var auth struct {
		URL string `json:"authorize_url"`
	}
	client.Get(t, "/api/v1/integrations/google-calendar/authorize?connector_id="+itoa(c.ID)).Expect(200).JSON(&auth)
	u, err := url.Parse(auth.URL)
	if err != nil || !strings.HasPrefix(auth.URL, g.AuthURL()+"?") {
		t.Fatalf("authorize_url %q", auth.URL)
	}
	q := u.Query()
	if q.Get("access_type") != "offline" || q.Get("prompt") != "consent" || q.Get("scope") != gcal.Scope || q.Get("client_id") != "hub-client" {
		t.Fatalf("authorize_url %q", auth.URL)
	}
	// The user consents at Google, which redirects to the integrator's page.
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(auth.URL)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	back, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound || back.Query().Get("code") == "" {
		t.Fatalf("consent: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	client.Get(t, "/api/v1/integrations/google-calendar/callback?code="+url.QueryEscape(back.Query().Get("code"))+
		"&state="+url.QueryEscape(back.Query().Get("state"))).Expect(200)
	return c.ID
}

func postNotification(t *testing.T, base string, h map[string]string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/integrations/google-calendar/notifications", strings.NewReader(`{"ignored":true}`))
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode >= 400 && !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") {
		t.Errorf("%d without a problem body", resp.StatusCode)
	}
	return resp.StatusCode
}

// Google Calendar through the server: OAuth offline consent, the push
// channel opened once authorized, a notification queueing an incremental
// sync, notifications of unknown channels or wrong tokens refused,
// renewal before expiry with the old channel stopped, an expired access
// token refreshed, and no credential in any log or response.
func TestGoogleCalendarConnector(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, db *testenv.DB) {
		g := fake.New("hub-client", gcalClientSecret)
		defer g.Close()
		var public atomic.Pointer[string]
		var logs syncBuffer
		env := apitest.Start(t, db, apitest.Config{RateLimits: apitest.LiftedRateLimits, Configure: withGoogleCalendar(g, &public),
			Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
		public.Store(&env.URL)
		_, aliceKey := env.NewUser(t, hubapi.RoleConducteur)
		alice := env.WithKey(aliceKey)
		ctx := context.Background()

		id := connectGoogleCalendar(t, alice, g)
		var sealed []byte
		if err := env.Server.DB.NewSelect().Table("connectors").Column("token_sealed").Where("id = ?", id).Scan(ctx, &sealed); err != nil || len(sealed) == 0 {
			t.Fatalf("no token stored: %v", err)
		}

		t.Run("authorized → the push channel is opened; only its token's hash is kept", func(t *testing.T) {
			var row hubapi.ConnectorChannel
			waitFor(t, 15*time.Second, "a channel, stored", func() bool {
				return len(g.Channels()) == 1 && env.Server.DB.NewSelect().Model(&row).Where("connector_id = ?", id).Scan(ctx) == nil
			})
			for _, s := range g.Secrets() {
				if row.TokenHash == s || strings.Contains(row.ResourceID, s) {
					t.Fatal("a credential stored in clear")
				}
			}
			if row.ID != g.Channels()[0] || len(row.TokenHash) != 64 {
				t.Fatalf("%+v", row)
			}
			// Google sends the opening handshake ("sync") as it answers the
			// watch, possibly before the channel is stored: it may be a 404.
			waitFor(t, 15*time.Second, "the sync handshake", func() bool {
				ns := g.Notifications()
				return len(ns) == 1 && ns[0].State == "sync" && (ns[0].Status == http.StatusNoContent || ns[0].Status == http.StatusNotFound)
			})
		})

		t.Run("check → ok with the stored token", func(t *testing.T) {
			var res hubapi.ConnectorCheck
			alice.Post(t, "/api/v1/integrations/connectors/"+itoa(id)+"/check", nil).Expect(200).JSON(&res)
			if !res.OK {
				t.Fatalf("%+v", res)
			}
		})

		records := func() int {
			n, err := env.Server.DB.NewSelect().Table("connector_records").Where("connector_id = ?", id).Count(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return int(n)
		}
		t.Run("an event changed in the calendar → notification → incremental sync", func(t *testing.T) {
			g.Edit("primary", gcal.Event{ID: "chantier0001", Summary: "Visite", Start: &gcal.EventDateTime{DateTime: "2026-12-10T09:00:00+01:00"},
				End: &gcal.EventDateTime{DateTime: "2026-12-10T10:00:00+01:00"}})
			waitFor(t, 15*time.Second, "the synced record", func() bool { return records() == 1 })
			ns := g.Notifications()
			if ns[len(ns)-1].State != "exists" || ns[len(ns)-1].Status != http.StatusNoContent {
				t.Fatalf("%+v", ns)
			}
		})

		t.Run("expired sync token → 410 → full resync", func(t *testing.T) {
			g.ExpireSyncTokens()
			g.Edit("primary", gcal.Event{ID: "chantier0002", Summary: "Livraison", Start: &gcal.EventDateTime{DateTime: "2026-12-11T09:00:00+01:00"},
				End: &gcal.EventDateTime{DateTime: "2026-12-11T10:00:00+01:00"}})
			waitFor(t, 15*time.Second, "the resynced records", func() bool {
				if records() == 2 {
					return true
				}
				var logs listEnvelope[syncLogJSON]
				alice.Get(t, "/api/v1/integrations/connectors/"+itoa(id)+"/sync-logs").Expect(200).JSON(&logs)
				t.Logf("%+v %+v", logs.Data, g.Notifications())
				return false
			})
		})

		t.Run("expired access token → refreshed once, the new token sealed", func(t *testing.T) {
			g.ExpireAccessTokens()
			before := g.Refreshes.Load()
			var res hubapi.ConnectorCheck
			alice.Post(t, "/api/v1/integrations/connectors/"+itoa(id)+"/check", nil).Expect(200).JSON(&res)
			var now []byte
			_ = env.Server.DB.NewSelect().Table("connectors").Column("token_sealed").Where("id = ?", id).Scan(ctx, &now)
			if !res.OK || g.Refreshes.Load() != before+1 || string(now) == string(sealed) {
				t.Fatalf("%+v, %d refreshes", res, g.Refreshes.Load()-before)
			}
		})

		t.Run("affectation created, updated, deleted → its event, through the durable deliveries; no echo", func(t *testing.T) {
			admin := env.As(hubapi.RoleAdmin)
			var ch struct {
				ID int64 `json:"id"`
			}
			admin.Post(t, "/api/v1/chantiers", map[string]any{"code": uniq("GC"), "nom": "Tour", "adresse": "Paris"}).Expect(201).JSON(&ch)
			var a struct {
				ID int64 `json:"id"`
			}
			created := admin.Post(t, "/api/v1/affectations", map[string]any{"user_id": env.User(hubapi.RoleCompagnon).ID, "chantier_id": ch.ID,
				"date": "2026-12-21", "heure_debut": "07:00", "heure_fin": "15:30"}).Expect(201)
			created.JSON(&a)
			evID := gcal.EventID(a.ID)
			waitFor(t, 15*time.Second, "the calendar event", func() bool { _, ok := g.Events("primary")[evID]; return ok })
			ev := g.Events("primary")[evID]
			if ev.Start.DateTime != "2026-12-21T07:00:00+01:00" || ev.End.DateTime != "2026-12-21T15:30:00+01:00" ||
				ev.ExtendedProperties.Private[gcal.PropAffectation] != itoa(a.ID) {
				t.Fatalf("%+v", ev)
			}
			before := records()
			admin.Patch(t, "/api/v1/affectations/"+itoa(a.ID), map[string]any{"heure_fin": "17:00"}, apitest.IfMatch(created.ETag())).Expect(200)
			waitFor(t, 15*time.Second, "the patched event", func() bool {
				return g.Events("primary")[evID].End.DateTime == "2026-12-21T17:00:00+01:00"
			})
			// the calendar notified the Hub's own writes: the syncs read no change back
			time.Sleep(time.Second)
			if got := records(); got != before {
				t.Fatalf("%d records read back from the Hub's own writes", got-before)
			}
			admin.Delete(t, "/api/v1/affectations/"+itoa(a.ID)).Expect(204)
			waitFor(t, 15*time.Second, "the cancelled event", func() bool { return g.Events("primary")[evID].Status == "cancelled" })
		})

		t.Run("bad notifications → problems, nothing queued", func(t *testing.T) {
			ch := g.Channels()[0]
			cases := []struct {
				name string
				h    map[string]string
				want int
			}{
				{"no channel id → 400", map[string]string{"X-Goog-Resource-State": "exists"}, 400},
				{"unknown channel → 404", map[string]string{"X-Goog-Channel-ID": "hub-nope", "X-Goog-Channel-Token": "x", "X-Goog-Resource-State": "exists"}, 404},
				{"wrong token → 401", map[string]string{"X-Goog-Channel-ID": ch, "X-Goog-Channel-Token": "guess", "X-Goog-Resource-State": "exists"}, 401},
				{"no token → 401", map[string]string{"X-Goog-Channel-ID": ch, "X-Goog-Resource-State": "exists"}, 401},
				{"oversized id → 400", map[string]string{"X-Goog-Channel-ID": strings.Repeat("a", 300)}, 400},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					if got := postNotification(t, env.URL, c.h); got != c.want {
						t.Fatalf("%d, want %d", got, c.want)
					}
				})
			}
		})

		t.Run("a channel close to its expiry → a new one, the old one stopped", func(t *testing.T) {
			old := g.Channels()[0]
			if _, err := env.Server.DB.NewUpdate().Table("connector_channels").Set("expires_at = ?", time.Now().Add(time.Minute)).
				Where("id = ?", old).Exec(ctx); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 15*time.Second, "the renewal", func() bool { ch := g.Channels(); return len(ch) == 1 && ch[0] != old })
			var ids []string
			waitFor(t, 15*time.Second, "the old row removed", func() bool {
				ids = nil
				_ = env.Server.DB.NewSelect().Table("connector_channels").Column("id").Where("connector_id = ?", id).Scan(ctx, &ids)
				return len(ids) == 1 && ids[0] != old
			})
			if code := postNotification(t, env.URL, map[string]string{"X-Goog-Channel-ID": old, "X-Goog-Channel-Token": "x"}); code != 404 {
				t.Fatalf("old channel: %d", code)
			}
		})

		t.Run("connector disabled → its channel stopped at Google and forgotten", func(t *testing.T) {
			r := alice.Get(t, "/api/v1/integrations/connectors/"+itoa(id)).Expect(200)
			alice.Put(t, "/api/v1/integrations/connectors/"+itoa(id), map[string]any{"type": gcal.Type, "name": "Planning", "enabled": false,
				"settings": map[string]string{"calendar_id": "primary", "time_zone": "Europe/Paris"}}, apitest.IfMatch(r.ETag())).Expect(200)
			waitFor(t, 15*time.Second, "the channel stopped", func() bool { return len(g.Channels()) == 0 })
			waitFor(t, 15*time.Second, "the row removed", func() bool {
				n, _ := env.Server.DB.NewSelect().Table("connector_channels").Where("connector_id = ?", id).Count(ctx)
				return n == 0
			})
		})

		t.Run("no credential in the logs or the connector's responses", func(t *testing.T) {
			body := alice.Get(t, "/api/v1/integrations/connectors/"+itoa(id)).Expect(200).Body
			text := logs.String() + string(body)
			for _, s := range g.Secrets() {
				if strings.Contains(text, s) {
					t.Fatalf("a credential leaked: %.8s…", s)
				}
			}
		})
	})
}

// FuzzGoogleCalendarNotification posts notifications of the fuzzer's
// making (channel id, token, resource id, state, body) to the public route
// where a channel exists: the answer is below 500, an error is a problem,
// and no notification without the channel's token queues a sync.
func FuzzGoogleCalendarNotification(f *testing.F) {
	g := fake.New("hub-client", gcalClientSecret)
	defer g.Close()
	var public atomic.Pointer[string]
	env := apitest.Start(f, testenv.SQLite(f), apitest.Config{RateLimits: apitest.LiftedRateLimits, Configure: withGoogleCalendar(g, &public)})
	_, aliceKey := env.NewUser(f, hubapi.RoleConducteur)
	var c connectorJSON
	env.WithKey(aliceKey).Post(f, "/api/v1/integrations/connectors", map[string]any{"type": gcal.Type, "name": "P",
		"settings": map[string]string{"calendar_id": "primary"}}).Expect(201).JSON(&c)
	ctx := context.Background()
	row := hubapi.ConnectorChannel{ID: "hub-fuzz", ConnectorID: c.ID, TokenHash: connectors.HashChannelToken("the-real-token"),
		ResourceID: "res-1", ExpiresAt: time.Now().Add(time.Hour), CreatedAt: time.Now()}
	if _, err := env.Server.DB.NewInsert().Model(&row).Exec(ctx); err != nil {
		f.Fatal(err)
	}
	f.Add("hub-fuzz", "the-real-tokeN", "res-1", "exists", "")
	f.Add("hub-fuzz", "", "", "sync", "{}")
	f.Add("", "x", "y", "exists", "not json")
	f.Add("hub-fuzz\x00", "the-real-token\r\n", "res-1", "not_exists", "")
	f.Add(strings.Repeat("h", 257), "t", "r", "exists", "")
	f.Fuzz(func(t *testing.T, id, token, resource, state, body string) {
		req, err := http.NewRequest(http.MethodPost, env.URL+"/api/v1/integrations/google-calendar/notifications", strings.NewReader(body))
		if err != nil {
			t.Skip()
		}
		for k, v := range map[string]string{"X-Goog-Channel-ID": id, "X-Goog-Channel-Token": token, "X-Goog-Resource-ID": resource, "X-Goog-Resource-State": state} {
			if v != "" {
				req.Header[k] = []string{v}
			}
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Skip() // a header value net/http refuses to send
		}
		_ = resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Fatalf("%d", resp.StatusCode)
		}
		if resp.StatusCode >= 400 && !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") {
			t.Fatalf("%d without a problem", resp.StatusCode)
		}
		if resp.StatusCode < 300 && token != "the-real-token" {
			t.Fatalf("accepted a wrong token: %d", resp.StatusCode)
		}
	})
}

// HUB_GOOGLE_CALENDAR_* configure the server's OAuth client at Google: all
// three or none, an https redirect URL, errors that never quote the secret.
func TestConfigGoogleCalendarClient(t *testing.T) {
	const secret = "GOCSPX-S3CR3T-client-value"
	c, err := server.ConfigFromEnv([]string{"HUB_GOOGLE_CALENDAR_CLIENT_ID=123.apps.googleusercontent.com",
		"HUB_GOOGLE_CALENDAR_CLIENT_SECRET=" + secret, "HUB_GOOGLE_CALENDAR_REDIRECT_URL=https://app.example.com/connected"})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.ConnectorOAuth[gcal.Type]; got.ClientID != "123.apps.googleusercontent.com" || got.ClientSecret != secret || got.RedirectURL != "https://app.example.com/connected" {
		t.Fatalf("%+v", got)
	}
	for name, env := range map[string][]string{
		"the secret alone → error":        {"HUB_GOOGLE_CALENDAR_CLIENT_SECRET=" + secret},
		"an http redirect URL → error":    {"HUB_GOOGLE_CALENDAR_CLIENT_ID=x", "HUB_GOOGLE_CALENDAR_CLIENT_SECRET=" + secret, "HUB_GOOGLE_CALENDAR_REDIRECT_URL=http://app.example.com/cb"},
		"a relative redirect URL → error": {"HUB_GOOGLE_CALENDAR_CLIENT_ID=x", "HUB_GOOGLE_CALENDAR_CLIENT_SECRET=" + secret, "HUB_GOOGLE_CALENDAR_REDIRECT_URL=/cb"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := server.ConfigFromEnv(env)
			if err == nil || strings.Contains(err.Error(), secret) {
				t.Fatalf("%v", err)
			}
		})
	}
	if c, err := server.ConfigFromEnv(nil); err != nil || len(c.ConnectorOAuth) != 0 {
		t.Fatalf("none: %v %v", c.ConnectorOAuth, err)
	}
}
