package slack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/connectors"
	"github.com/hubchantier/hubchantier/connectors/slack"
	"github.com/hubchantier/hubchantier/connectors/slack/fake"
)

const (
	botToken = "xoxb-1234-5678-SeCrEtBoTtOkEn"
	hookPath = "/services/T0HUB/B0HOOK/WebhookSecret123456"
)

func newFake(t *testing.T) *fake.Server {
	t.Helper()
	f := fake.New(botToken, hookPath, "C0CHANTIERS", "#chantiers")
	t.Cleanup(f.Close)
	return f
}

func newConnector(t *testing.T, f *fake.Server) connectors.Connector {
	t.Helper()
	reg := connectors.NewRegistry().AllowBaseURLOverride()
	if err := slack.Register(reg); err != nil {
		t.Fatal(err)
	}
	c, _, err := reg.New(slack.Type, connectors.Options{BaseURL: f.URL})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func botCfg(channel string) connectors.Config {
	return connectors.Config{Settings: map[string]string{"channel": channel, "app_url": "https://hub.example.com"},
		Secrets: map[string]string{"bot_token": botToken}}
}

func hookCfg(url string) connectors.Config {
	return connectors.Config{Settings: map[string]string{"app_url": "https://hub.example.com"}, Secrets: map[string]string{"webhook_url": url}}
}

func kindOf(err error) connectors.Kind {
	var e *connectors.Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return ""
}

func chantierCreated() connectors.Event {
	return connectors.Event{ID: "evt_1", Type: slack.EventChantierCreated, Resource: "chantiers", ResourceID: 12,
		Data: json.RawMessage(`{"id":12,"code":"CH-12","nom":"Résidence <Les Pins> & Co","ville":"Lyon"}`)}
}

func TestCheck(t *testing.T) {
	f := newFake(t)
	c := newConnector(t, f)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		cfg  connectors.Config
		kind connectors.Kind
	}{
		{"bot token valid → ok", botCfg("C0CHANTIERS"), ""},
		{"bot token refused → auth (invalid_auth)", connectors.Config{Settings: map[string]string{"channel": "C0CHANTIERS"},
			Secrets: map[string]string{"bot_token": "xoxb-wrong-token-0000"}}, connectors.KindAuth},
		{"bot token without channel → rejected", connectors.Config{Secrets: map[string]string{"bot_token": botToken}}, connectors.KindRejected},
		{"webhook valid → ok (invalid_payload to an empty message)", hookCfg("https://hooks.slack.com" + hookPath), ""},
		{"webhook unknown → auth (no_service)", hookCfg("https://hooks.slack.com/services/T0HUB/B0HOOK/Revoked999"), connectors.KindAuth},
		{"webhook with another path → rejected", hookCfg("https://hooks.slack.com/api/whatever"), connectors.KindRejected},
		{"both → rejected", connectors.Config{Secrets: map[string]string{"bot_token": botToken, "webhook_url": "https://hooks.slack.com" + hookPath}}, connectors.KindRejected},
		{"neither → rejected", connectors.Config{}, connectors.KindRejected},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := c.Check(ctx, tc.cfg)
			if kindOf(err) != tc.kind || (tc.kind == "" && err != nil) {
				t.Fatalf("Check: %v, want kind %q", err, tc.kind)
			}
			if err != nil && (strings.Contains(err.Error(), botToken) || strings.Contains(err.Error(), "WebhookSecret") || strings.Contains(err.Error(), "Revoked999")) {
				t.Fatalf("credential in the error: %v", err)
			}
		})
	}
	if n := len(f.Messages()); n != 0 {
		t.Fatalf("Check posted %d messages", n)
	}
}

func TestEventsBecomeMessages(t *testing.T) {
	ctx := context.Background()
	t.Run("chantier created, bot token → chat.postMessage with blocks and fallback", func(t *testing.T) {
		f := newFake(t)
		c := newConnector(t, f)
		if err := c.HandleEvent(ctx, botCfg("C0CHANTIERS"), chantierCreated()); err != nil {
			t.Fatal(err)
		}
		ms := f.Messages()
		if len(ms) != 1 || ms[0].Via != "api" || ms[0].Channel != "C0CHANTIERS" {
			t.Fatalf("messages %+v", ms)
		}
		if want := "Nouveau chantier Résidence &lt;Les Pins&gt; &amp; Co créé"; ms[0].Text != want {
			t.Fatalf("text %q, want %q", ms[0].Text, want)
		}
		blocks := string(bytes.Join(func() [][]byte {
			var b [][]byte
			for _, r := range ms[0].Blocks {
				b = append(b, r)
			}
			return b
		}(), []byte(",")))
		if !strings.Contains(blocks, `"type":"section"`) || !strings.Contains(blocks, "<https://hub.example.com/chantiers/12|") ||
			!strings.Contains(blocks, "CH-12") || strings.Contains(blocks, "<Les Pins>") {
			t.Fatalf("blocks %s", blocks)
		}
	})
	t.Run("signalement urgent, webhook → <!channel> with a link", func(t *testing.T) {
		f := newFake(t)
		c := newConnector(t, f)
		ev := connectors.Event{ID: "evt_2", Type: slack.EventSignalementUrgent, Resource: "signalements", ResourceID: 7,
			Data:    json.RawMessage(`{"id":7,"chantier_id":12,"titre":"Échafaudage instable","description":"Côté nord","gravite":"critique"}`),
			Related: map[string]json.RawMessage{"chantier": json.RawMessage(`{"id":12,"code":"CH-12","nom":"Résidence Les Pins"}`)}}
		if err := c.HandleEvent(ctx, hookCfg("https://hooks.slack.com"+hookPath), ev); err != nil {
			t.Fatal(err)
		}
		ms := f.Messages()
		if len(ms) != 1 || ms[0].Via != "webhook" {
			t.Fatalf("messages %+v", ms)
		}
		if !strings.HasPrefix(ms[0].Text, "<!channel> Signalement urgent sur Résidence Les Pins : Échafaudage instable") ||
			!strings.Contains(ms[0].Text, "<https://hub.example.com/signalements/7>") {
			t.Fatalf("text %q", ms[0].Text)
		}
		if !strings.Contains(string(ms[0].Blocks[0]), "<https://hub.example.com/signalements/7|Échafaudage instable>") {
			t.Fatalf("blocks %s", ms[0].Blocks[0])
		}
	})
	t.Run("a name cannot ping @channel", func(t *testing.T) {
		f := newFake(t)
		c := newConnector(t, f)
		ev := chantierCreated()
		ev.Data = json.RawMessage(`{"id":1,"nom":"<!channel> piège"}`)
		if err := c.HandleEvent(ctx, botCfg("C0CHANTIERS"), ev); err != nil {
			t.Fatal(err)
		}
		if m := f.Messages()[0]; strings.Contains(m.Text, "<!channel>") {
			t.Fatalf("text %q", m.Text)
		}
	})
	t.Run("weekly summary of validated hours", func(t *testing.T) {
		f := newFake(t)
		c := newConnector(t, f)
		ev := connectors.Event{ID: "evt_hours_week_20261130", Type: slack.EventHoursWeeklySummary, Resource: "stats",
			Data: json.RawMessage(`{"week_start":"2026-11-30","week_end":"2026-12-06","total_minutes":2730,
				"chantiers":[{"id":1,"code":"A","nom":"Tour A","minutes":2250},{"id":2,"code":"B","nom":"Pont B","minutes":480}]}`)}
		if err := c.HandleEvent(ctx, botCfg("#chantiers"), ev); err != nil {
			t.Fatal(err)
		}
		m := f.Messages()[0]
		if m.Text != "Heures validées du 30/11/2026 au 06/12/2026 : 45 h 30" {
			t.Fatalf("text %q", m.Text)
		}
		if b := string(m.Blocks[1]); !strings.Contains(b, "*Tour A* : 37 h 30") || !strings.Contains(b, "*Pont B* : 8 h") {
			t.Fatalf("blocks %s", b)
		}
	})
	t.Run("API key anomaly alert", func(t *testing.T) {
		f := newFake(t)
		c := newConnector(t, f)
		ev := connectors.Event{ID: "evt_3", Type: slack.EventAPIKeyAnomaly, Resource: "api_keys", ResourceID: 3,
			Data: json.RawMessage(`{"id":3,"user_id":1,"name":"ERP","prefix":"hck_ab12","anomaly":{"rule":"error_rate","detail":"62% d'erreurs sur 1 h","action":"revoke"}}`)}
		if err := c.HandleEvent(ctx, botCfg("C0CHANTIERS"), ev); err != nil {
			t.Fatal(err)
		}
		m := f.Messages()[0]
		if !strings.Contains(m.Text, "Anomalie sur la clé API ERP (hck_ab12)") || !strings.Contains(string(m.Blocks[len(m.Blocks)-2]), "révoquée") {
			t.Fatalf("message %q %s", m.Text, m.Blocks)
		}
	})
	t.Run("an event it does not know → nothing", func(t *testing.T) {
		f := newFake(t)
		c := newConnector(t, f)
		if err := c.HandleEvent(ctx, botCfg("C0CHANTIERS"), connectors.Event{ID: "x", Type: "pointage.created", Data: json.RawMessage(`{}`)}); err != nil {
			t.Fatal(err)
		}
		if len(f.Messages()) != 0 {
			t.Fatal("posted")
		}
	})
}

func TestVendorErrors(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		cfg    func(f *fake.Server) connectors.Config
		fault  fake.Fault
		kind   connectors.Kind
		retry  time.Duration
		status int
	}{
		{"API 429 → rate_limited with Retry-After", func(*fake.Server) connectors.Config { return botCfg("C0CHANTIERS") }, fake.RateLimited, connectors.KindRateLimited, time.Second, 429},
		{"API 500 → unavailable", func(*fake.Server) connectors.Config { return botCfg("C0CHANTIERS") }, fake.ServerError, connectors.KindUnavailable, 0, 500},
		{"API 503 → unavailable", func(*fake.Server) connectors.Config { return botCfg("C0CHANTIERS") }, fake.Unavailable, connectors.KindUnavailable, 0, 503},
		{"webhook 429 → rate_limited with Retry-After", func(*fake.Server) connectors.Config { return hookCfg("https://hooks.slack.com" + hookPath) }, fake.RateLimited, connectors.KindRateLimited, time.Second, 429},
		{"webhook 500 rollup_error → unavailable", func(*fake.Server) connectors.Config { return hookCfg("https://hooks.slack.com" + hookPath) }, fake.ServerError, connectors.KindUnavailable, 0, 500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t)
			c := newConnector(t, f)
			f.Inject(tc.fault)
			err := c.HandleEvent(ctx, tc.cfg(f), chantierCreated())
			var e *connectors.Error
			if !errors.As(err, &e) || e.Kind != tc.kind || e.RetryAfter != tc.retry || e.Status != tc.status || !e.Temporary() {
				t.Fatalf("error %#v", err)
			}
			// the next try goes through
			if err := c.HandleEvent(ctx, tc.cfg(f), chantierCreated()); err != nil {
				t.Fatal(err)
			}
			if len(f.Messages()) != 1 {
				t.Fatalf("%d messages", len(f.Messages()))
			}
		})
	}
	t.Run("ok:false codes", func(t *testing.T) {
		f := newFake(t)
		c := newConnector(t, f)
		for _, tc := range []struct {
			cfg  connectors.Config
			kind connectors.Kind
			code string
		}{
			{botCfg("C0UNKNOWN"), connectors.KindRejected, "channel_not_found"},
			{connectors.Config{Settings: map[string]string{"channel": "C0CHANTIERS"}, Secrets: map[string]string{"bot_token": "xoxb-revoked-0000"}}, connectors.KindAuth, "invalid_auth"},
		} {
			err := c.HandleEvent(ctx, tc.cfg, chantierCreated())
			if kindOf(err) != tc.kind || !strings.Contains(err.Error(), tc.code) || connectors.Temporary(err) {
				t.Fatalf("%v, want %s (%s)", err, tc.kind, tc.code)
			}
		}
	})
	t.Run("webhook archived channel → rejected, not retried", func(t *testing.T) {
		f := newFake(t)
		c := newConnector(t, f)
		f.ArchiveWebhookChannel()
		err := c.HandleEvent(ctx, hookCfg("https://hooks.slack.com"+hookPath), chantierCreated())
		if kindOf(err) != connectors.KindRejected || !strings.Contains(err.Error(), "channel_is_archived") {
			t.Fatalf("%v", err)
		}
	})
	t.Run("no credential in errors or logs", func(t *testing.T) {
		f := newFake(t)
		var logs bytes.Buffer
		runner := connectors.NewRunner(connectors.RunnerConfig{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		c := newConnector(t, f)
		f.Inject(fake.RateLimited, fake.ServerError)
		for _, cfg := range []connectors.Config{botCfg("C0CHANTIERS"), hookCfg("https://hooks.slack.com" + hookPath)} {
			err := runner.Deliver(ctx, c, slack.Spec, cfg, chantierCreated())
			slog.New(slog.NewTextHandler(&logs, nil)).Warn("delivery", "error", err, "config", cfg)
			if err == nil {
				t.Fatal("no error")
			}
		}
		for _, secret := range []string{botToken, "WebhookSecret123456", f.URL} {
			if strings.Contains(logs.String(), secret) {
				t.Fatalf("%q in logs: %s", secret, logs.String())
			}
		}
	})
}

// Two messages to one channel are a second apart; another channel does
// not wait.
func TestPacerOneMessagePerSecondPerChannel(t *testing.T) {
	p := slack.NewPacer(time.Second)
	var waits []time.Duration
	slack.SetPacerClock(p, func() time.Time { return time.Unix(100, 0) }, func(_ context.Context, d time.Duration) error {
		waits = append(waits, d)
		return nil
	})
	ctx := context.Background()
	for _, k := range []string{"chan:C1", "chan:C1", "chan:C2", "chan:C1"} {
		if err := p.Wait(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	if len(waits) != 2 || waits[0] != time.Second || waits[1] != 2*time.Second {
		t.Fatalf("waits %v, want [1s 2s]", waits)
	}
}

// A slot beyond the call's deadline is not taken: the caller is told to
// come back (rate limited, RetryAfter the wait).
func TestPacerBeyondDeadlineTakesNothing(t *testing.T) {
	p := slack.NewPacer(time.Second)
	slack.SetPacerClock(p, func() time.Time { return time.Unix(100, 0) }, func(context.Context, time.Duration) error { return nil })
	ctx, cancel := context.WithDeadline(context.Background(), time.Unix(100, 500_000_000))
	defer cancel()
	if err := p.Wait(ctx, "chan:C1"); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		err := p.Wait(ctx, "chan:C1")
		var e *connectors.Error
		if !errors.As(err, &e) || e.Kind != connectors.KindRateLimited || e.RetryAfter != time.Second {
			t.Fatalf("%#v", err)
		}
	}
}

func FuzzParseWebhookURL(f *testing.F) {
	for _, s := range []string{"https://hooks.slack.com" + hookPath, "https://hooks.slack.com/services/T1/B2/x?y=1",
		"https://evil.com/services/T1/B2/x", "http://hooks.slack.com/services/T1/B2/x", "https://u:p@hooks.slack.com/services/T1/B2/x", "%", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		p, err := slack.ParseWebhookURL(raw, true)
		if err != nil {
			if len(raw) > 40 && strings.Contains(err.Error(), raw) {
				t.Fatalf("the error quotes the URL: %v", err)
			}
			return
		}
		if !strings.HasPrefix(p, "/services/T") || strings.ContainsAny(p, "?#@%") {
			t.Fatalf("accepted path %q of %q", p, raw)
		}
	})
}
