package jobs_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/connectors"
	"github.com/hubchantier/hubchantier/connectors/slack"
	slackfake "github.com/hubchantier/hubchantier/connectors/slack/fake"
	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/jobs"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

const slackBotToken = "xoxb-42-42-SlackBotSecretToken"

// The Slack connector through the product: a chantier created, an urgent
// signalement and the weekly summary reach the channel through the outbox
// and the connector's deliveries; Slack's 429 is waited for (Retry-After)
// and the message then posted once; a compagnon's connector gets no
// summary of hours.
func TestSlackConnectorThroughTheOutbox(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		db := migrated(t, tdb)
		sealer := testSealer(t, "k1:"+testKeysB64())
		fake := slackfake.New(slackBotToken, "/services/T1/B1/hook", "C0CHANTIERS")
		defer fake.Close()
		reg := connectors.NewRegistry().AllowBaseURLOverride()
		if err := slack.Register(reg); err != nil {
			t.Fatal(err)
		}
		admin := newUser(t, db, "admin@example.com", hubapi.RoleAdmin)
		c := newConnectorRowCfg(t, db, sealer, admin, slack.Type, connectors.Config{
			Settings: map[string]string{"channel": "C0CHANTIERS", "app_url": "https://hub.example.com"},
			Secrets:  map[string]string{"bot_token": slackBotToken}})
		q := start(t, db, jobs.Config{Connectors: connectorJobs(reg, sealer, map[string]string{slack.Type: fake.URL})})
		svc := serviceWith(t, db, q)
		ctx := adminCtx(admin)

		fake.Inject(slackfake.RateLimited)
		ch, err := svc.CreateChantier(ctx, hubapi.ChantierInput{Code: "GARE-1", Nom: "Gare du Nord", Adresse: "1 rue", Ville: "Paris"})
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the chantier message", func() bool { return len(fake.Messages()) == 1 })
		if m := fake.Messages()[0]; m.Text != "Nouveau chantier Gare du Nord créé" || m.Channel != "C0CHANTIERS" {
			t.Fatalf("message %+v", m)
		}
		waitFor(t, "the delivery logged", func() bool {
			ds := connectorDeliveries(t, db, c.ID)
			return len(ds) == 1 && ds[0].Status == hubapi.ConnectorDeliveryDelivered
		})
		if d := connectorDeliveries(t, db, c.ID)[0]; d.Attempts != 2 || d.LastAttemptAt.Sub(d.CreatedAt) < time.Second {
			t.Fatalf("after a 429 with Retry-After: 1, delivery %+v", d)
		}

		if _, err := svc.CreateSignalement(ctx, hubapi.SignalementInput{ChantierID: ch.ID, Titre: "Fuite de gaz", Gravite: hubapi.GraviteUrgente}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the urgent message", func() bool { return len(fake.Messages()) == 2 })
		if m := fake.Messages()[1]; !strings.HasPrefix(m.Text, "<!channel> Signalement urgent sur Gare du Nord : Fuite de gaz <https://hub.example.com/signalements/") {
			t.Fatalf("message %q", m.Text)
		}

		// The weekly summary: validated hours of the week before Monday
		// 2026-12-07 only.
		worker := newUser(t, db, "worker@example.com", hubapi.RoleCompagnon)
		wc := newConnectorRowCfg(t, db, sealer, worker, slack.Type, connectors.Config{
			Settings: map[string]string{"channel": "C0CHANTIERS"}, Secrets: map[string]string{"bot_token": slackBotToken}})
		now := store.Now()
		for _, p := range []struct {
			date    string
			minutes int
			statut  hubapi.PointageStatut
		}{{"2026-11-30", 450, hubapi.PointageValide}, {"2026-12-06", 60, hubapi.PointageValide},
			{"2026-12-01", 300, hubapi.PointageSoumis}, {"2026-11-29", 500, hubapi.PointageValide}, {"2026-12-07", 500, hubapi.PointageValide}} {
			d, _ := hubapi.ParseDate(p.date)
			row := &hubapi.Pointage{UserID: worker, ChantierID: ch.ID, Date: d, Minutes: p.minutes, Type: hubapi.PointageNormal,
				Statut: p.statut, CreatedAt: now, UpdatedAt: now, Version: 1}
			if _, err := db.NewInsert().Model(row).Exec(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		if _, ok, _ := jobs.WeeklyHoursEvent(context.Background(), db, time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)); ok {
			t.Fatal("a summary outside the day after the week's end")
		}
		e, ok, err := jobs.WeeklyHoursEvent(context.Background(), db, time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC))
		if err != nil || !ok {
			t.Fatal(ok, err)
		}
		for range 2 { // the hourly job runs again: one message per week
			enqueueEvent(t, db, q, hubapi.Event{ID: e.ID, Type: e.Type, Resource: e.Resource, At: e.At, Data: json.RawMessage(e.Data)})
		}
		waitFor(t, "the summary", func() bool { return len(fake.Messages()) == 3 })
		if m := fake.Messages()[2]; m.Text != "Heures validées du 30/11/2026 au 06/12/2026 : 8 h 30" || !strings.Contains(string(m.Blocks[1]), "*Gare du Nord* : 8 h 30") {
			t.Fatalf("summary %q %s", m.Text, m.Blocks)
		}
		time.Sleep(300 * time.Millisecond)
		if n := len(fake.Messages()); n != 3 {
			t.Fatalf("%d messages, want 3", n)
		}
		if ds := connectorDeliveries(t, db, wc.ID); len(ds) != 0 {
			t.Fatalf("a compagnon's connector got %+v", ds)
		}
	})
}
