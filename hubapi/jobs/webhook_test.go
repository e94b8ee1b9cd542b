package jobs_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/jobs"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/internal/testenv"
	"github.com/hubchantier/hubchantier/notify"
	"github.com/hubchantier/hubchantier/webhooks"
)

var messageID = regexp.MustCompile(`^msg_[0-9a-f]{32}$`)

// A committed write reaches a matching subscription as one POST whose
// signature the official Standard Webhooks library verifies (and ours), with
// the body {type, timestamp, data}; the attempt is logged with the first
// 1 KiB of the answer. A subscription to other types gets nothing.
func TestWebhookDeliveredSignedAndLogged(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		db := migrated(t, tdb)
		keys := testKeys(t)
		long := strings.Repeat("é", 1000) // 2000 bytes: the log keeps 1 KiB
		rcv := newReceiver(t, func(w http.ResponseWriter, _ int) { _, _ = w.Write([]byte(long)) })
		other := newReceiver(t, nil)
		admin := newUser(t, db, "admin@example.com", hubapi.RoleAdmin)
		sub, secret := newSubscription(t, db, keys, admin, rcv.URL+"/hook?token=t0ps3cret", "chantier.created, chantier.deleted")
		newSubscription(t, db, keys, admin, other.URL, "signalement.urgent")
		q := start(t, db, jobs.Config{Webhooks: webhookCfg(keys)})
		svc := serviceWith(t, db, q)

		c, err := svc.CreateChantier(adminCtx(admin), hubapi.ChantierInput{Code: "WH-1", Nom: "Gare", Adresse: "1 rue"})
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the delivery", func() bool { return rcv.count() == 1 })
		got := rcv.requests()[0]

		official, err := standardwebhooks.NewWebhook(secret)
		if err != nil {
			t.Fatal(err)
		}
		if err := official.Verify(got.body, got.header); err != nil {
			t.Fatalf("official library: %v", err)
		}
		ours, _ := webhooks.NewVerifier(secret)
		if err := ours.Verify(got.header, got.body); err != nil {
			t.Fatalf("webhooks.Verifier: %v", err)
		}
		if id := got.header.Get("webhook-id"); !messageID.MatchString(id) {
			t.Fatalf("webhook-id %q", id)
		}
		if ct := got.header.Get("Content-Type"); ct != "application/json" {
			t.Fatalf("Content-Type %q", ct)
		}
		var body struct {
			Type      string          `json:"type"`
			Timestamp string          `json:"timestamp"`
			Data      hubapi.Chantier `json:"data"`
		}
		if err := json.Unmarshal(got.body, &body); err != nil {
			t.Fatal(err)
		}
		ts, err := time.Parse(time.RFC3339, body.Timestamp)
		if body.Type != "chantier.created" || err != nil || ts.Location() != time.UTC || body.Data.ID != c.ID || body.Data.Nom != "Gare" {
			t.Fatalf("body %s", got.body)
		}

		waitFor(t, "the delivery marked succeeded", func() bool {
			ds := deliveries(t, db, sub.ID)
			return len(ds) == 1 && ds[0].Status == hubapi.DeliverySucceeded
		})
		d := deliveries(t, db, sub.ID)[0]
		if d.MessageID != got.header.Get("webhook-id") || d.Attempts != 1 || d.EventType != "chantier.created" || d.LastAttemptAt == nil {
			t.Fatalf("delivery %+v", d)
		}
		as := attempts(t, db, d.ID)
		if len(as) != 1 || as[0].ResponseStatus != 200 || as[0].Error != "" || as[0].Attempt != 1 {
			t.Fatalf("attempts %+v", as)
		}
		if len(as[0].ResponseBody) != 1024 || !strings.HasPrefix(long, as[0].ResponseBody) {
			t.Fatalf("logged body: %d bytes", len(as[0].ResponseBody))
		}

		// A deletion carries the id of the deleted row.
		if err := svc.DeleteChantier(adminCtx(admin), c.ID, 0); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the deletion", func() bool { return rcv.count() == 2 })
		var del struct {
			Type string         `json:"type"`
			Data map[string]any `json:"data"`
		}
		_ = json.Unmarshal(rcv.requests()[1].body, &del)
		if del.Type != "chantier.deleted" || del.Data["id"] != float64(c.ID) {
			t.Fatalf("deletion body %s", rcv.requests()[1].body)
		}
		if other.count() != 0 {
			t.Fatalf("a subscription to other types got %d requests", other.count())
		}
	})
}

// During a secret rotation both the new and the previous secret sign, until
// the previous one expires; a receiver holding either verifies.
func TestWebhookRotationSignsWithBothSecrets(t *testing.T) {
	tdb := testenv.SQLite(t)
	db := migrated(t, tdb)
	keys := testKeys(t)
	rcv := newReceiver(t, nil)
	admin := newUser(t, db, "admin@example.com", hubapi.RoleAdmin)
	sub, current := newSubscription(t, db, keys, admin, rcv.URL, "*")
	previous, _, _ := webhooks.NewSecret()
	kid, sealed := seal(t, keys, previous, "webhook:"+itoa(sub.ID)+":previous")
	expires := time.Now().Add(time.Hour).UTC()
	if _, err := db.NewUpdate().Model(sub).Set("previous_secret_key_id = ?", kid).Set("previous_secret_sealed = ?", sealed).
		Set("previous_secret_expires_at = ?", expires).WherePK().Exec(context.Background()); err != nil {
		t.Fatal(err)
	}
	q := start(t, db, jobs.Config{Webhooks: webhookCfg(keys)})
	enqueueEvent(t, db, q, hubapi.Event{ID: hubapi.NewEventID(), Type: hubapi.EventChantierCreated, Resource: "chantiers", ResourceID: 1, At: time.Now()})
	waitFor(t, "the delivery", func() bool { return rcv.count() == 1 })
	got := rcv.requests()[0]
	if n := len(strings.Fields(got.header.Get("webhook-signature"))); n != 2 {
		t.Fatalf("%d signatures during the rotation", n)
	}
	for name, s := range map[string]string{"current": current, "previous": previous} {
		wh, _ := standardwebhooks.NewWebhook(s)
		if err := wh.Verify(got.body, got.header); err != nil {
			t.Fatalf("%s secret: %v", name, err)
		}
	}

	// Once expired, the previous secret signs no more.
	if _, err := db.NewUpdate().Model(sub).Set("previous_secret_expires_at = ?", time.Now().Add(-time.Minute).UTC()).WherePK().Exec(context.Background()); err != nil {
		t.Fatal(err)
	}
	enqueueEvent(t, db, q, hubapi.Event{ID: hubapi.NewEventID(), Type: hubapi.EventChantierCreated, Resource: "chantiers", ResourceID: 2, At: time.Now()})
	waitFor(t, "the second delivery", func() bool { return rcv.count() == 2 })
	got = rcv.requests()[1]
	wh, _ := standardwebhooks.NewWebhook(previous)
	if n := len(strings.Fields(got.header.Get("webhook-signature"))); n != 1 || wh.Verify(got.body, got.header) == nil {
		t.Fatalf("after expiry: %d signatures, the previous secret still verifies", n)
	}
}

// Every kind of failing receiver gets its attempt logged and the delivery
// retried later (snoozed per the schedule, not blocking a worker), with the
// same webhook-id; the subscription is marked failing until a success.
func TestWebhookFailuresAreLoggedAndRetried(t *testing.T) {
	refusing, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refusingURL := "http://" + refusing.Addr().String()
	_ = refusing.Close() // nothing listens there any more: connection refused

	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	cases := []struct {
		name   string
		answer func(w http.ResponseWriter, n int) // nil: no receiver
		url    string
		status int
		errHas string
	}{
		{name: "500 then 200", answer: func(w http.ResponseWriter, n int) {
			if n == 1 {
				http.Error(w, "boom", http.StatusInternalServerError)
			}
		}, status: 500},
		{name: "slow beyond the timeout", answer: func(w http.ResponseWriter, n int) {
			if n == 1 {
				select {
				case <-hang:
				case <-time.After(5 * time.Second):
				}
			}
		}, errHas: "Timeout"},
		{name: "refusing", url: refusingURL, errHas: "refused"},
		{name: "unreachable name", url: "http://receiver.invalid/hook", errHas: "receiver.invalid"},
		{name: "redirect not followed", answer: func(w http.ResponseWriter, n int) {
			if n == 1 {
				w.Header().Set("Location", "http://169.254.169.254/")
				w.WriteHeader(http.StatusFound)
			}
		}, status: 302},
	}
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		db := migrated(t, tdb)
		keys := testKeys(t)
		admin := newUser(t, db, "admin@example.com", hubapi.RoleAdmin)
		type target struct {
			sub *hubapi.WebhookSubscription
			rcv *receiver
		}
		targets := map[string]target{}
		for _, c := range cases {
			url := c.url
			var rcv *receiver
			if c.answer != nil {
				rcv = newReceiver(t, c.answer)
				url = rcv.URL
			}
			sub, _ := newSubscription(t, db, keys, admin, url, "*")
			targets[c.name] = target{sub, rcv}
		}
		q := start(t, db, jobs.Config{Webhooks: webhookCfg(keys)})
		enqueueEvent(t, db, q, hubapi.Event{ID: hubapi.NewEventID(), Type: hubapi.EventChantierCreated, Resource: "chantiers", ResourceID: 7, At: time.Now()})

		for _, c := range cases {
			tg := targets[c.name]
			waitFor(t, c.name+": first attempt logged", func() bool {
				ds := deliveries(t, db, tg.sub.ID)
				return len(ds) == 1 && ds[0].Attempts == 1
			})
			d := deliveries(t, db, tg.sub.ID)[0]
			as := attempts(t, db, d.ID)
			if d.Status != hubapi.DeliveryPending || len(as) != 1 || as[0].ResponseStatus != c.status || !strings.Contains(as[0].Error, c.errHas) {
				t.Fatalf("%s: delivery %s, attempts %+v", c.name, d.Status, as)
			}
			if strings.Contains(as[0].Error, "token") || strings.Contains(as[0].Error, "/hook") {
				t.Fatalf("%s: the error names the URL: %q", c.name, as[0].Error)
			}
			if s := subscription(t, db, tg.sub.ID); s.FailingSince == nil || !s.Enabled {
				t.Fatalf("%s: subscription %+v", c.name, s)
			}
		}
		// The retry is scheduled about a minute later (the schedule's first
		// delay, ±20 %), not run at once.
		waitFor(t, "every retry scheduled", func() bool { return scheduledDeliveries(t, db) == len(cases) })
		var scheduled []time.Time
		if err := db.NewRaw("SELECT scheduled_at FROM river_job WHERE kind = 'webhook_delivery' AND state = 'scheduled'").Scan(context.Background(), &scheduled); err != nil {
			t.Fatal(err)
		}
		if len(scheduled) != len(cases) {
			t.Fatalf("%d retries scheduled, want %d", len(scheduled), len(cases))
		}
		for _, at := range scheduled {
			if wait := time.Until(at); wait < 40*time.Second || wait > 80*time.Second {
				t.Fatalf("retry in %s", wait)
			}
		}

		// Time passes: the receivers that recovered get the same message.
		makeDue(t, db)
		for _, name := range []string{"500 then 200", "slow beyond the timeout", "redirect not followed"} {
			tg := targets[name]
			waitFor(t, name+": retried", func() bool {
				ds := deliveries(t, db, tg.sub.ID)
				return ds[0].Status == hubapi.DeliverySucceeded
			})
			got := tg.rcv.requests()
			if len(got) != 2 || got[0].header.Get("webhook-id") != got[1].header.Get("webhook-id") {
				t.Fatalf("%s: %d requests, ids differ", name, len(got))
			}
			if s := subscription(t, db, tg.sub.ID); s.FailingSince != nil {
				t.Fatalf("%s: still failing since %v after a success", name, s.FailingSince)
			}
			if as := attempts(t, db, deliveries(t, db, tg.sub.ID)[0].ID); len(as) != 2 || as[1].Attempt != 2 {
				t.Fatalf("%s: attempts %+v", name, as)
			}
		}
		waitFor(t, "the refusing receiver retried", func() bool {
			return deliveries(t, db, targets["refusing"].sub.ID)[0].Attempts == 2
		})
	})
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

// The last attempt of the schedule failing gives the delivery up.
func TestWebhookGivenUpAfterTheSchedule(t *testing.T) {
	db := migrated(t, testenv.SQLite(t))
	keys := testKeys(t)
	rcv := newReceiver(t, func(w http.ResponseWriter, _ int) { w.WriteHeader(http.StatusServiceUnavailable) })
	admin := newUser(t, db, "admin@example.com", hubapi.RoleAdmin)
	sub, _ := newSubscription(t, db, keys, admin, rcv.URL, "*")
	q := start(t, db, jobs.Config{Webhooks: webhookCfg(keys)})
	enqueueEvent(t, db, q, hubapi.Event{ID: hubapi.NewEventID(), Type: hubapi.EventChantierCreated, Resource: "chantiers", ResourceID: 1, At: time.Now()})
	waitFor(t, "the first attempt's retry scheduled", func() bool { return scheduledDeliveries(t, db) == 1 })
	// As if every retry but the last had failed already.
	if _, err := db.NewUpdate().Model((*hubapi.WebhookDelivery)(nil)).Set("attempts = ?", webhooks.MaxAttempts-1).
		Where("subscription_id = ?", sub.ID).Exec(context.Background()); err != nil {
		t.Fatal(err)
	}
	makeDue(t, db)
	waitFor(t, "the delivery given up", func() bool { return deliveries(t, db, sub.ID)[0].Status == hubapi.DeliveryFailed })
	if d := deliveries(t, db, sub.ID)[0]; d.Attempts != webhooks.MaxAttempts || rcv.count() != 2 {
		t.Fatalf("attempts %d, receiver got %d", d.Attempts, rcv.count())
	}
	waitFor(t, "the job completed", func() bool {
		var n int
		_ = db.NewRaw("SELECT count(*) FROM river_job WHERE kind = 'webhook_delivery' AND state <> 'completed'").Scan(context.Background(), &n)
		return n == 0
	})
}

// With private addresses refused, a subscription whose host resolves to a
// loopback address is refused again when delivering (whatever was checked
// when it was created): the attempt logs the guard's error, nothing is sent.
func TestWebhookPrivateAddressRefusedAtDelivery(t *testing.T) {
	db := migrated(t, testenv.SQLite(t))
	keys := testKeys(t)
	rcv := newReceiver(t, nil)
	admin := newUser(t, db, "admin@example.com", hubapi.RoleAdmin)
	port := rcv.URL[strings.LastIndex(rcv.URL, ":"):]
	sub, _ := newSubscription(t, db, keys, admin, "http://localhost"+port+"/hook", "*")
	cfg := webhookCfg(keys)
	cfg.Guard.AllowPrivate = false
	q := start(t, db, jobs.Config{Webhooks: cfg})
	enqueueEvent(t, db, q, hubapi.Event{ID: hubapi.NewEventID(), Type: hubapi.EventChantierCreated, Resource: "chantiers", ResourceID: 1, At: time.Now()})
	waitFor(t, "the refused attempt", func() bool { d := deliveries(t, db, sub.ID); return len(d) == 1 && d[0].Attempts == 1 })
	as := attempts(t, db, deliveries(t, db, sub.ID)[0].ID)
	if len(as) != 1 || as[0].ResponseStatus != 0 || as[0].Error != webhooks.ErrForbiddenAddress.Error() {
		t.Fatalf("attempts %+v", as)
	}
	if rcv.count() != 0 {
		t.Fatal("the private receiver was reached")
	}
}

// logBuffer collects log lines from several goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// mailbox is a notifier recording messages.
type mailbox struct {
	mu   sync.Mutex
	msgs []notify.Message
}

func (m *mailbox) Send(_ context.Context, msg notify.Message) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.msgs = append(m.msgs, msg)
	return nil
}

func (m *mailbox) sent() []notify.Message {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]notify.Message(nil), m.msgs...)
}

// A subscription failing for five days is disabled at its next failed
// attempt: its pending deliveries are given up, its owner's other
// subscription to webhook.disabled is told (another user's is not), and the
// owner gets a mail. Its remaining jobs then complete without sending.
func TestWebhookDisabledAfterFiveDaysOfFailures(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		db := migrated(t, tdb)
		keys := testKeys(t)
		failing := newReceiver(t, func(w http.ResponseWriter, _ int) { w.WriteHeader(http.StatusBadGateway) })
		watcher := newReceiver(t, nil)
		stranger := newReceiver(t, nil)
		owner := newUser(t, db, "owner@example.com", hubapi.RoleConducteur)
		other := newUser(t, db, "other@example.com", hubapi.RoleAdmin)
		sub, _ := newSubscription(t, db, keys, owner, failing.URL+"/in?key=s3cr3t", "chantier.created")
		watch, watchSecret := newSubscription(t, db, keys, owner, watcher.URL, "webhook.disabled")
		newSubscription(t, db, keys, other, stranger.URL, "webhook.disabled")
		// Failing for five days and a minute; one delivery waits already.
		since := store.Now().Add(-5*24*time.Hour - time.Minute)
		if _, err := db.NewUpdate().Model(sub).Set("failing_since = ?", since).WherePK().Exec(context.Background()); err != nil {
			t.Fatal(err)
		}
		now := store.Now()
		waiting := &hubapi.WebhookDelivery{SubscriptionID: sub.ID, MessageID: jobs.NewMessageID(), EventID: "evt_waiting", EventType: "chantier.created",
			Payload: `{}`, Status: hubapi.DeliveryPending, CreatedAt: now, UpdatedAt: now}
		if _, err := db.NewInsert().Model(waiting).Exec(context.Background()); err != nil {
			t.Fatal(err)
		}
		mail := &mailbox{}
		cfg := webhookCfg(keys)
		cfg.Notifier = mail
		logs := &logBuffer{}
		q := start(t, db, jobs.Config{Webhooks: cfg, Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
		enqueueEvent(t, db, q, hubapi.Event{ID: hubapi.NewEventID(), Type: hubapi.EventChantierCreated, Resource: "chantiers", ResourceID: 1, At: time.Now()})

		waitFor(t, "the webhook.disabled event", func() bool { return watcher.count() == 1 })
		s := subscription(t, db, sub.ID)
		if s.Enabled || s.DisabledReason == nil || !strings.Contains(*s.DisabledReason, "5 days") || s.Version != 2 {
			t.Fatalf("subscription %+v", s)
		}
		for _, d := range deliveries(t, db, sub.ID) {
			if d.Status != hubapi.DeliveryFailed {
				t.Fatalf("delivery %d still %s", d.ID, d.Status)
			}
		}
		got := watcher.requests()[0]
		wh, _ := standardwebhooks.NewWebhook(watchSecret)
		var body struct {
			Type string                     `json:"type"`
			Data hubapi.WebhookSubscription `json:"data"`
		}
		if err := wh.Verify(got.body, got.header); err != nil || json.Unmarshal(got.body, &body) != nil ||
			body.Type != "webhook.disabled" || body.Data.ID != sub.ID || body.Data.Enabled || strings.Contains(string(got.body), "secret") {
			t.Fatalf("event %s (%v)", got.body, err)
		}
		waitFor(t, "the mail", func() bool { return len(mail.sent()) == 1 })
		m := mail.sent()[0]
		if m.To[0] != "owner@example.com" || !strings.Contains(m.Text, "5 days") || strings.Contains(m.Text, "s3cr3t") {
			t.Fatalf("mail %+v", m)
		}
		if d := deliveries(t, db, watch.ID); len(d) != 1 {
			t.Fatalf("watcher deliveries %d", len(d))
		}
		// Everything settled: the stranger heard nothing, the failing
		// receiver got the one attempt.
		waitFor(t, "every delivery job done", func() bool {
			var n int
			_ = db.NewRaw("SELECT count(*) FROM river_job WHERE kind IN ('webhook_delivery', 'event') AND state <> 'completed'").Scan(context.Background(), &n)
			return n == 0
		})
		if stranger.count() != 0 || failing.count() != 1 {
			t.Fatalf("stranger got %d, failing receiver %d", stranger.count(), failing.count())
		}
		out := logs.String()
		if !strings.Contains(out, "webhook subscription disabled") || strings.Contains(out, "s3cr3t") || strings.Contains(out, watchSecret) ||
			strings.Contains(out, "whsec_") {
			t.Fatalf("logs: %s", out)
		}
	})
}

// A write repeated as an event job (the event retried) never duplicates a
// delivery, and a disabled subscription's queued jobs send nothing.
func TestWebhookRepeatedEventDeliveredOnce(t *testing.T) {
	db := migrated(t, testenv.SQLite(t))
	keys := testKeys(t)
	rcv := newReceiver(t, nil)
	off := newReceiver(t, nil)
	admin := newUser(t, db, "admin@example.com", hubapi.RoleAdmin)
	sub, _ := newSubscription(t, db, keys, admin, rcv.URL, "*")
	offSub, _ := newSubscription(t, db, keys, admin, off.URL, "*")
	q, err := jobs.New(context.Background(), db, jobs.Config{Webhooks: webhookCfg(keys), PollInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	e := hubapi.Event{ID: hubapi.NewEventID(), Type: hubapi.EventChantierCreated, Resource: "chantiers", ResourceID: 1, At: time.Now()}
	enqueueEvent(t, db, q, e)
	enqueueEvent(t, db, q, e)
	// A delivery queued for a subscription switched off since.
	var queued hubapi.WebhookDelivery
	if err := db.RunInTx(context.Background(), nil, func(ctx context.Context, tx bun.Tx) error {
		now := store.Now()
		queued = hubapi.WebhookDelivery{SubscriptionID: offSub.ID, MessageID: jobs.NewMessageID(), EventID: "evt_off", EventType: "chantier.created",
			Payload: `{}`, Status: hubapi.DeliveryPending, CreatedAt: now, UpdatedAt: now}
		if _, err := tx.NewInsert().Model(&queued).Exec(ctx); err != nil {
			return err
		}
		if _, err := tx.NewUpdate().Model(offSub).Set("enabled = ?", false).WherePK().Exec(ctx); err != nil {
			return err
		}
		return q.EnqueueWebhookDelivery(ctx, tx, queued.ID)
	}); err != nil {
		t.Fatal(err)
	}
	if err := q.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.Stop(context.Background()) })
	waitFor(t, "the delivery", func() bool { return rcv.count() >= 1 })
	waitFor(t, "every job done", func() bool {
		var n int
		_ = db.NewRaw("SELECT count(*) FROM river_job WHERE state <> 'completed' AND kind IN ('event', 'webhook_delivery')").Scan(context.Background(), &n)
		return n == 0
	})
	if rcv.count() != 1 || len(deliveries(t, db, sub.ID)) != 1 {
		t.Fatalf("receiver got %d, %d deliveries", rcv.count(), len(deliveries(t, db, sub.ID)))
	}
	if ds := deliveries(t, db, offSub.ID); off.count() != 0 || len(ds) != 1 || ds[0].Status != hubapi.DeliveryFailed || ds[0].Attempts != 0 {
		t.Fatalf("disabled subscription: receiver got %d, deliveries %+v", off.count(), ds)
	}
}

// eventTypes lists the types a receiver got, with the owner of each
// pointage ("pointage.created/12").
func eventTypes(t *testing.T, r *receiver) []string {
	t.Helper()
	var out []string
	for _, got := range r.requests() {
		var b struct {
			Type string `json:"type"`
			Data struct {
				UserID int64 `json:"user_id"`
			} `json:"data"`
		}
		if err := json.Unmarshal(got.body, &b); err != nil {
			t.Fatal(err)
		}
		if b.Data.UserID != 0 {
			b.Type += "/" + itoa(b.Data.UserID)
		}
		out = append(out, b.Type)
	}
	slices.Sort(out)
	return out
}

// A subscription carries only what its owner may receive: a conducteur's
// subscription gets every chantier and pointage; subscriptions of roles
// without webhooks:manage (compagnon, chef de chantier: rows written
// directly, the use cases refuse them) and of a disabled user get nothing.
func TestWebhookFanOutFollowsReadPermissions(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		db := migrated(t, tdb)
		keys := testKeys(t)
		admin := newUser(t, db, "admin@example.com", hubapi.RoleAdmin)
		compA := newUser(t, db, "a@example.com", hubapi.RoleCompagnon)
		compB := newUser(t, db, "b@example.com", hubapi.RoleCompagnon)
		chef := newUser(t, db, "chef@example.com", hubapi.RoleChefChantier)
		cond := newUser(t, db, "cond@example.com", hubapi.RoleConducteur)
		gone := newUser(t, db, "gone@example.com", hubapi.RoleAdmin)
		if _, err := db.NewUpdate().Model((*hubapi.User)(nil)).Set("disabled_at = ?", store.Now()).Where("id = ?", gone).Exec(context.Background()); err != nil {
			t.Fatal(err)
		}
		rA, rChef, rCond, rGone := newReceiver(t, nil), newReceiver(t, nil), newReceiver(t, nil), newReceiver(t, nil)
		newSubscription(t, db, keys, compA, rA.URL, "*")
		newSubscription(t, db, keys, chef, rChef.URL, "chantier.created,pointage.created")
		newSubscription(t, db, keys, cond, rCond.URL, "chantier.created,pointage.created")
		newSubscription(t, db, keys, gone, rGone.URL, "*")
		q := start(t, db, jobs.Config{Webhooks: webhookCfg(keys)})
		svc := serviceWith(t, db, q)

		c, err := svc.CreateChantier(adminCtx(admin), hubapi.ChantierInput{Code: "VIS-1", Nom: "Pont", Adresse: "2 quai"})
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range []int64{compB, compA} {
			if _, err := svc.CreatePointage(asUser(u, hubapi.RoleCompagnon), hubapi.PointageInput{UserID: u, ChantierID: c.ID,
				Date: hubapi.NewDate(2026, 3, 3), Minutes: 60}); err != nil {
				t.Fatal(err)
			}
		}
		waitFor(t, "every event handled", func() bool {
			var n int
			_ = db.NewRaw("SELECT count(*) FROM river_job WHERE kind IN ('event', 'webhook_delivery') AND state <> 'completed'").Scan(context.Background(), &n)
			return n == 0 && rCond.count() == 3
		})
		a := "pointage.created/" + itoa(compA)
		b := "pointage.created/" + itoa(compB)
		want := map[string][]string{
			"compagnon A": nil,
			"chef":        nil,
			"conducteur":  sorted("chantier.created", a, b),
			"disabled":    nil,
		}
		for name, r := range map[string]*receiver{"compagnon A": rA, "chef": rChef, "conducteur": rCond, "disabled": rGone} {
			if got := eventTypes(t, r); !slices.Equal(got, want[name]) {
				t.Errorf("%s got %v, want %v", name, got, want[name])
			}
		}
	})
}

func sorted(s ...string) []string { slices.Sort(s); return s }

// Deliveries to a receiver that hangs past the timeout, with a backlog
// of 60 queued first, do not hold up another subscription: the other's
// deliveries all arrive while most of the slow backlog has not been tried
// yet (each instance sends at most InFlight deliveries per subscription at
// once; the rest wait without holding a worker).
func TestWebhookSlowEndpointDoesNotDelayOthers(t *testing.T) {
	// One database suffices (the isolation is the instance's): PostgreSQL
	// when there is one, as in production.
	tdb := testenv.SQLite(t)
	if testenv.PostgresURL() != "" {
		tdb = testenv.Postgres(t)
	}
	db := migrated(t, tdb)
	keys := testKeys(t)
	release := make(chan struct{})
	slow := newReceiver(t, func(w http.ResponseWriter, _ int) { <-release })
	t.Cleanup(func() { close(release) })
	fast := newReceiver(t, nil)
	admin := newUser(t, db, "admin@example.com", hubapi.RoleAdmin)
	slowSub, _ := newSubscription(t, db, keys, admin, slow.URL, "chantier.updated")
	newSubscription(t, db, keys, admin, fast.URL, "chantier.created")
	cfg := webhookCfg(keys)
	cfg.Timeout = 2 * time.Second
	cfg.Workers = 4
	cfg.InFlight = 2
	q := start(t, db, jobs.Config{Webhooks: cfg})
	const backlog, quick = 60, 10
	for i := range backlog {
		enqueueEvent(t, db, q, hubapi.Event{ID: hubapi.NewEventID(), Type: hubapi.EventChantierUpdated, Resource: "chantiers", ResourceID: int64(i), At: time.Now()})
	}
	waitFor(t, "the slow backlog queued", func() bool { return len(deliveries(t, db, slowSub.ID)) == backlog })
	for i := range quick {
		enqueueEvent(t, db, q, hubapi.Event{ID: hubapi.NewEventID(), Type: hubapi.EventChantierCreated, Resource: "chantiers", ResourceID: int64(i), At: time.Now()})
	}
	waitFor(t, "the fast deliveries", func() bool { return fast.count() == quick })
	var tried int
	if err := db.NewRaw("SELECT count(*) FROM webhook_deliveries WHERE subscription_id = ? AND attempts > 0", slowSub.ID).Scan(context.Background(), &tried); err != nil {
		t.Fatal(err)
	}
	// Without isolation, the whole backlog goes first (the workers all
	// hang on it); with it, the slow endpoint gets 2 attempts per timeout.
	if tried >= backlog/2 || slow.count() >= backlog/2 {
		t.Fatalf("the fast receiver waited for %d slow attempts (%d requests)", tried, slow.count())
	}
	t.Logf("slow deliveries tried when the fast ones were done: %d of %d", tried, backlog)
}

// Two instances on one PostgreSQL database: every message reaches the
// receiver once, whichever instance sends it.
func TestWebhookDeliveredOnceAcrossInstances(t *testing.T) {
	tdb := testenv.Postgres(t)
	db1 := migrated(t, tdb)
	other, err := sql.Open("pgx", tdb.DSN)
	if err != nil {
		t.Fatal(err)
	}
	db2 := store.Wrap(bun.NewDB(other, pgdialect.New()))
	t.Cleanup(func() { _ = db2.Close() })
	keys := testKeys(t)
	var mu sync.Mutex
	seen := map[string]int{}
	by := map[string]int{}
	rcv := newReceiver(t, func(w http.ResponseWriter, n int) {})
	rcv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		seen[r.Header.Get("webhook-id")]++
		by[r.Header.Get("User-Agent")]++
		w.WriteHeader(http.StatusNoContent)
	})
	admin := newUser(t, db1, "admin@example.com", hubapi.RoleAdmin)
	newSubscription(t, db1, keys, admin, rcv.URL, "*")
	newSubscription(t, db1, keys, admin, rcv.URL+"/second", "chantier.created")
	cfg1, cfg2 := webhookCfg(keys), webhookCfg(keys)
	cfg1.UserAgent, cfg2.UserAgent = "one", "two"
	q1 := start(t, db1, jobs.Config{Webhooks: cfg1})
	start(t, db2, jobs.Config{Webhooks: cfg2})
	const n = 150
	for i := range n {
		enqueueEvent(t, db1, q1, hubapi.Event{ID: hubapi.NewEventID(), Type: hubapi.EventChantierCreated, Resource: "chantiers", ResourceID: int64(i), At: time.Now()})
	}
	waitFor(t, "every message", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) == 2*n
	})
	waitFor(t, "every job done", func() bool {
		var left int
		_ = db1.NewRaw("SELECT count(*) FROM river_job WHERE kind IN ('event', 'webhook_delivery') AND state <> 'completed'").Scan(context.Background(), &left)
		return left == 0
	})
	mu.Lock()
	defer mu.Unlock()
	for id, c := range seen {
		if c != 1 || !messageID.MatchString(id) {
			t.Fatalf("message %q received %d times", id, c)
		}
	}
	t.Logf("sent by instance: %v", by)
}

// docDuration writes d as docs/WEBHOOKS.md does: "4 min", "8 h", "1 h 4 min".
func docDuration(d time.Duration) string {
	h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
	switch {
	case h == 0:
		return fmt.Sprintf("%d min", m)
	case m == 0:
		return fmt.Sprintf("%d h", h)
	}
	return fmt.Sprintf("%d h %d min", h, m)
}

// The retry table of docs/WEBHOOKS.md is the schedule the code follows.
func TestRetryTableInWebhooksDoc(t *testing.T) {
	doc, err := os.ReadFile("../../docs/WEBHOOKS.md")
	if err != nil {
		t.Fatal(err)
	}
	var total time.Duration
	for i, d := range webhooks.RetrySchedule() {
		total += d
		row := fmt.Sprintf("| %d | %s | %s |", i+1, docDuration(d), docDuration(total))
		if !strings.Contains(string(doc), row) {
			t.Errorf("docs/WEBHOOKS.md lacks the row %q", row)
		}
	}
	if want := fmt.Sprintf("After the %dth attempt", webhooks.MaxAttempts); !strings.Contains(string(doc), want) {
		t.Errorf("docs/WEBHOOKS.md lacks %q", want)
	}
}

// Whatever a receiver answers (NUL bytes, invalid UTF-8, a character cut by
// the 1 KiB bound), the attempt is logged as valid text of at most 1 KiB.
func TestWebhookAttemptLogKeepsAnyAnswer(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		db := migrated(t, tdb)
		keys := testKeys(t)
		answer := append([]byte("a\x00b\xff\xfe"), []byte(strings.Repeat("€", 400))...)
		rcv := newReceiver(t, func(w http.ResponseWriter, _ int) {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write(answer)
		})
		admin := newUser(t, db, "admin@example.com", hubapi.RoleAdmin)
		sub, _ := newSubscription(t, db, keys, admin, rcv.URL, "*")
		q := start(t, db, jobs.Config{Webhooks: webhookCfg(keys)})
		enqueueEvent(t, db, q, hubapi.Event{ID: hubapi.NewEventID(), Type: hubapi.EventChantierCreated, Resource: "chantiers", ResourceID: 1, At: time.Now()})
		waitFor(t, "the attempt", func() bool { d := deliveries(t, db, sub.ID); return len(d) == 1 && d[0].Attempts == 1 })
		as := attempts(t, db, deliveries(t, db, sub.ID)[0].ID)
		body := as[0].ResponseBody
		if as[0].ResponseStatus != 400 || len(body) > 1024 || len(body) < 1000 || !utf8.ValidString(body) || strings.ContainsRune(body, 0) || !strings.HasPrefix(body, "ab") {
			t.Fatalf("logged %d bytes: %q…", len(body), body[:min(len(body), 20)])
		}
	})
}

// A sealed secret opens only for its own subscription (the associated data
// names it): a secret copied from another row's columns signs nothing; the
// attempt logs why, without the secret, and nothing is sent.
func TestWebhookSecretOfAnotherSubscriptionDoesNotOpen(t *testing.T) {
	db := migrated(t, testenv.SQLite(t))
	keys := testKeys(t)
	rcv := newReceiver(t, nil)
	admin := newUser(t, db, "admin@example.com", hubapi.RoleAdmin)
	donor, secret := newSubscription(t, db, keys, admin, rcv.URL, "ping")
	sub, _ := newSubscription(t, db, keys, admin, rcv.URL, "*")
	if _, err := db.NewUpdate().Model(sub).Set("secret_key_id = ?", donor.SecretKeyID).Set("secret_sealed = ?", donor.SecretSealed).
		WherePK().Exec(context.Background()); err != nil {
		t.Fatal(err)
	}
	q := start(t, db, jobs.Config{Webhooks: webhookCfg(keys)})
	enqueueEvent(t, db, q, hubapi.Event{ID: hubapi.NewEventID(), Type: hubapi.EventChantierCreated, Resource: "chantiers", ResourceID: 1, At: time.Now()})
	waitFor(t, "the attempt", func() bool { d := deliveries(t, db, sub.ID); return len(d) == 1 && d[0].Attempts == 1 })
	as := attempts(t, db, deliveries(t, db, sub.ID)[0].ID)
	if len(as) != 1 || !strings.Contains(as[0].Error, "cannot be opened") || strings.Contains(as[0].Error, secret) || rcv.count() != 0 {
		t.Fatalf("attempts %+v, receiver got %d", as, rcv.count())
	}
}
