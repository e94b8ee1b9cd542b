package service_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/blob"
	"github.com/hubchantier/hubchantier/hubapi/service"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/internal/testenv"
	"github.com/hubchantier/hubchantier/secretbox"
	"github.com/hubchantier/hubchantier/webhooks"
)

// fakeResolver answers every host name with fixed addresses.
type fakeResolver map[string][]netip.Addr

func (r fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := r[host]; ok {
		return a, nil
	}
	return nil, errors.New("no such host")
}

// recordingQueue records the deliveries scheduled, and writes a marker row
// in the transaction it is given, so a test sees whether that transaction
// committed. fail makes it fail after writing the marker.
type recordingQueue struct {
	ids  []int64
	fail bool
}

func (q *recordingQueue) EnqueueWebhookDelivery(ctx context.Context, tx bun.Tx, id int64) error {
	q.ids = append(q.ids, id)
	if _, err := tx.ExecContext(ctx, "INSERT INTO server_secrets (name, value, created_at) VALUES (?, ?, ?)",
		"queued:"+time.Now().Format(time.RFC3339Nano), []byte{1}, time.Now().UTC()); err != nil {
		return err
	}
	if q.fail {
		return errors.New("queue down")
	}
	return nil
}

type webhookFixture struct {
	db    *store.DB
	svc   *service.Service
	op    *service.Operator
	ring  *secretbox.Keyring
	spec  string // the keyring, as HUB_SECRET_KEYS
	queue *recordingQueue
	now   time.Time
	users map[string]*hubapi.User
}

func newWebhookFixture(t *testing.T, tdb *testenv.DB, guard webhooks.Guard) *webhookFixture {
	t.Helper()
	db := store.Wrap(tdb.DB)
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	blobs, err := blob.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	spec := "k1:" + secretbox.GenerateKey()
	ring, err := secretbox.ParseKeyring(spec)
	if err != nil {
		t.Fatal(err)
	}
	f := &webhookFixture{db: db, ring: ring, spec: spec, queue: &recordingQueue{}, users: map[string]*hubapi.User{},
		now: time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)}
	f.svc = service.New(db, blobs, service.WithSecretKeyring(ring), service.WithWebhookGuard(guard),
		service.WithWebhookQueue(f.queue), service.WithClock(func() time.Time { return f.now }))
	f.op = service.NewOperator(f.svc)
	for name, role := range map[string]hubapi.Role{"admin": hubapi.RoleAdmin, "alice": hubapi.RoleConducteur,
		"bob": hubapi.RoleConducteur, "chef": hubapi.RoleChefChantier} {
		u := &hubapi.User{Email: name + "@test.fr", Role: role}
		if err := f.op.CreateUser(t.Context(), u, ""); err != nil {
			t.Fatal(err)
		}
		f.users[name] = u
	}
	return f
}

func (f *webhookFixture) as(t *testing.T, name string) context.Context {
	u := f.users[name]
	return hubapi.WithPrincipal(t.Context(), &hubapi.Principal{UserID: u.ID, Email: u.Email, Role: u.Role, Scopes: hubapi.RoleScopes(u.Role)})
}

func (f *webhookFixture) create(t *testing.T, who, url string) (*hubapi.WebhookSubscription, string) {
	t.Helper()
	w, secret, err := f.svc.CreateWebhook(f.as(t, who), hubapi.WebhookInput{URL: url, EventTypes: []string{"chantier.created", "signalement.urgent"}})
	if err != nil {
		t.Fatal(err)
	}
	return w, secret
}

func fieldError(err error, field string) string {
	var ve *hubapi.ValidationError
	if !errors.As(err, &ve) {
		return ""
	}
	return ve.Fields[field]
}

// Targets and event types are checked when a subscription is created: a
// private, loopback, link-local or metadata address (literal or after DNS),
// plain http without the allowance, and unknown event types are 422s.
func TestCreateWebhookRefusesUnsafeTargetsAndUnknownTypes(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		resolver := fakeResolver{
			"hooks.example.com":    {netip.MustParseAddr("93.184.215.14")},
			"internal.example.com": {netip.MustParseAddr("93.184.215.14"), netip.MustParseAddr("10.1.2.3")},
		}
		f := newWebhookFixture(t, tdb, webhooks.Guard{Resolver: resolver})
		ctx := f.as(t, "alice")
		cases := []struct {
			name, field string
			in          hubapi.WebhookInput
		}{
			{"loopback https://127.0.0.1/ → 422", "url", hubapi.WebhookInput{URL: "https://127.0.0.1/", EventTypes: []string{"*"}}},
			{"private https://10.0.0.1/ → 422", "url", hubapi.WebhookInput{URL: "https://10.0.0.1/", EventTypes: []string{"*"}}},
			{"cloud metadata https://169.254.169.254/ → 422", "url", hubapi.WebhookInput{URL: "https://169.254.169.254/latest/meta-data", EventTypes: []string{"*"}}},
			{"IPv6 loopback → 422", "url", hubapi.WebhookInput{URL: "https://[::1]/", EventTypes: []string{"*"}}},
			{"http:// without allow-http → 422", "url", hubapi.WebhookInput{URL: "http://hooks.example.com/", EventTypes: []string{"*"}}},
			{"a name resolving to a private address → 422", "url", hubapi.WebhookInput{URL: "https://internal.example.com/", EventTypes: []string{"*"}}},
			{"a name that does not resolve → 422", "url", hubapi.WebhookInput{URL: "https://nowhere.example.com/", EventTypes: []string{"*"}}},
			{"user information in the URL → 422", "url", hubapi.WebhookInput{URL: "https://u:p@hooks.example.com/", EventTypes: []string{"*"}}},
			{"no URL → 422", "url", hubapi.WebhookInput{EventTypes: []string{"*"}}},
			{"unknown event type → 422", "event_types", hubapi.WebhookInput{URL: "https://hooks.example.com/", EventTypes: []string{"chantier.created", "chantier.exploded"}}},
			{"internal event type → 422", "event_types", hubapi.WebhookInput{URL: "https://hooks.example.com/", EventTypes: []string{"api_key.revoked"}}},
			{"no event type → 422", "event_types", hubapi.WebhookInput{URL: "https://hooks.example.com/"}},
			{"* with another type → 422", "event_types", hubapi.WebhookInput{URL: "https://hooks.example.com/", EventTypes: []string{"*", "chantier.created"}}},
			{"description over 500 characters → 422", "description", hubapi.WebhookInput{URL: "https://hooks.example.com/", EventTypes: []string{"*"}, Description: strings.Repeat("é", 501)}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				_, secret, err := f.svc.CreateWebhook(ctx, c.in)
				if !errors.Is(err, hubapi.ErrInvalid) || fieldError(err, c.field) == "" {
					t.Fatalf("want a 422 on %s, got %v", c.field, err)
				}
				if secret != "" {
					t.Fatal("a secret came with a refusal")
				}
			})
		}
		n, err := f.db.NewSelect().Model((*hubapi.WebhookSubscription)(nil)).Count(t.Context())
		if err != nil || n != 0 {
			t.Fatalf("%d subscriptions stored after refusals (%v)", n, err)
		}
		t.Run("a public name, 500 characters of description → created", func(t *testing.T) {
			w, secret, err := f.svc.CreateWebhook(ctx, hubapi.WebhookInput{URL: " https://hooks.example.com/in ",
				EventTypes: []string{"signalement.urgent", "chantier.created", "chantier.created"}, Description: strings.Repeat("é", 500)})
			if err != nil {
				t.Fatal(err)
			}
			if w.URL != "https://hooks.example.com/in" || w.EventTypes != "chantier.created,signalement.urgent" || !w.Enabled || w.UserID != f.users["alice"].ID {
				t.Fatalf("stored %+v", w)
			}
			if _, err := webhooks.ParseSecret(secret); err != nil {
				t.Fatalf("secret %v", err)
			}
		})
	})
	t.Run("allowances lift the checks", func(t *testing.T) {
		f := newWebhookFixture(t, testenv.SQLite(t), webhooks.Guard{AllowHTTP: true, AllowPrivate: true})
		if _, _, err := f.svc.CreateWebhook(f.as(t, "alice"), hubapi.WebhookInput{URL: "http://127.0.0.1:9999/", EventTypes: []string{"*"}}); err != nil {
			t.Fatal(err)
		}
	})
}

// The signing secret is stored sealed, bound to its row: the raw row holds
// neither the secret nor its key bytes, and it opens only with the
// subscription's additional data.
func TestWebhookSecretIsSealedAtRest(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		f := newWebhookFixture(t, tdb, webhooks.Guard{AllowPrivate: true})
		w, secret := f.create(t, "alice", "https://hooks.example.com/")
		key, err := webhooks.ParseSecret(secret)
		if err != nil {
			t.Fatal(err)
		}
		var raw struct {
			KeyID  string `bun:"secret_key_id"`
			Sealed []byte `bun:"secret_sealed"`
			Text   string `bun:"all_text"`
		}
		if err := f.db.NewRaw("SELECT secret_key_id, secret_sealed, url || event_types || description AS all_text FROM webhook_subscriptions WHERE id = ?", w.ID).
			Scan(t.Context(), &raw); err != nil {
			t.Fatal(err)
		}
		if raw.KeyID != "k1" || len(raw.Sealed) == 0 {
			t.Fatalf("row %q %x", raw.KeyID, raw.Sealed)
		}
		if bytes.Contains(raw.Sealed, []byte(secret)) || bytes.Contains(raw.Sealed, key) || strings.Contains(raw.Text, secret) {
			t.Fatal("the secret is stored in clear")
		}
		plain, err := f.ring.Open(raw.KeyID, raw.Sealed, service.WebhookSecretAD(w.ID))
		if err != nil || string(plain) != secret {
			t.Fatalf("open: %v", err)
		}
		if _, err := f.ring.Open(raw.KeyID, raw.Sealed, service.WebhookSecretAD(w.ID+1)); err == nil {
			t.Fatal("the sealed secret opens for another row")
		}
		got, err := f.svc.GetWebhook(f.as(t, "alice"), w.ID)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(got)
		if strings.Contains(string(b), secret) || strings.Contains(string(b), "sealed") {
			t.Fatalf("GET representation carries the secret: %s", b)
		}
	})
}

// Users see and manage their own subscriptions only (another's reads as
// absent); admins see and manage every one, and filter lists by user.
func TestWebhookOwnership(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		f := newWebhookFixture(t, tdb, webhooks.Guard{AllowPrivate: true})
		alices, _ := f.create(t, "alice", "https://a.example.com/")
		bobs, _ := f.create(t, "bob", "https://b.example.com/")
		alice, bob, admin := f.as(t, "alice"), f.as(t, "bob"), f.as(t, "admin")
		patch := func(in hubapi.WebhookInput) (hubapi.WebhookInput, error) { in.Description = "x"; return in, nil }

		t.Run("another's subscription → not found for every action", func(t *testing.T) {
			if _, err := f.svc.GetWebhook(bob, alices.ID); !errors.Is(err, hubapi.ErrNotFound) {
				t.Errorf("get: %v", err)
			}
			if _, err := f.svc.PatchWebhook(bob, alices.ID, patch, nil); !errors.Is(err, hubapi.ErrNotFound) {
				t.Errorf("patch: %v", err)
			}
			if err := f.svc.DeleteWebhook(bob, alices.ID, nil); !errors.Is(err, hubapi.ErrNotFound) {
				t.Errorf("delete: %v", err)
			}
			if _, _, err := f.svc.RotateWebhookSecret(bob, alices.ID); !errors.Is(err, hubapi.ErrNotFound) {
				t.Errorf("rotate: %v", err)
			}
			if _, err := f.svc.ListWebhookDeliveries(bob, alices.ID, hubapi.PageRequest{}); !errors.Is(err, hubapi.ErrNotFound) {
				t.Errorf("deliveries: %v", err)
			}
			if _, err := f.svc.TestWebhook(bob, alices.ID); !errors.Is(err, hubapi.ErrNotFound) {
				t.Errorf("test: %v", err)
			}
		})
		t.Run("a user's list holds only their own, whatever the filter", func(t *testing.T) {
			for _, filter := range []int64{0, f.users["alice"].ID} {
				pg, err := f.svc.ListWebhooks(bob, hubapi.WebhookFilter{UserID: filter}, hubapi.PageRequest{})
				if err != nil {
					t.Fatal(err)
				}
				for _, w := range pg.Items {
					if w.UserID != f.users["bob"].ID {
						t.Fatalf("bob lists subscription %d of user %d", w.ID, w.UserID)
					}
				}
				if want := map[int64]int{0: 1}[filter]; len(pg.Items) != want {
					t.Fatalf("filter %d: %d items, want %d", filter, len(pg.Items), want)
				}
			}
		})
		t.Run("admins list everyone's, newest first, and filter by user", func(t *testing.T) {
			pg, err := f.svc.ListWebhooks(admin, hubapi.WebhookFilter{}, hubapi.PageRequest{})
			if err != nil || len(pg.Items) != 2 || pg.Items[0].ID != bobs.ID {
				t.Fatalf("%+v %v", pg.Items, err)
			}
			pg, err = f.svc.ListWebhooks(admin, hubapi.WebhookFilter{UserID: f.users["alice"].ID}, hubapi.PageRequest{})
			if err != nil || len(pg.Items) != 1 || pg.Items[0].ID != alices.ID {
				t.Fatalf("%+v %v", pg.Items, err)
			}
		})
		t.Run("admins change and delete anyone's", func(t *testing.T) {
			if _, err := f.svc.PatchWebhook(admin, alices.ID, patch, nil); err != nil {
				t.Fatal(err)
			}
			if err := f.svc.DeleteWebhook(admin, bobs.ID, nil); err != nil {
				t.Fatal(err)
			}
			if _, err := f.svc.GetWebhook(bob, bobs.ID); !errors.Is(err, hubapi.ErrNotFound) {
				t.Fatalf("deleted subscription: %v", err)
			}
		})
		t.Run("an admin creates one for a conducteur, not for a role without the scope", func(t *testing.T) {
			w, _, err := f.svc.CreateWebhook(admin, hubapi.WebhookInput{UserID: f.users["bob"].ID, URL: "https://b.example.com/2", EventTypes: []string{"*"}})
			if err != nil || w.UserID != f.users["bob"].ID {
				t.Fatalf("%+v %v", w, err)
			}
			_, _, err = f.svc.CreateWebhook(admin, hubapi.WebhookInput{UserID: f.users["chef"].ID, URL: "https://b.example.com/3", EventTypes: []string{"*"}})
			if fieldError(err, "user_id") == "" {
				t.Fatalf("owner without the scope: %v", err)
			}
			_, _, err = f.svc.CreateWebhook(alice, hubapi.WebhookInput{UserID: f.users["bob"].ID, URL: "https://b.example.com/4", EventTypes: []string{"*"}})
			if !errors.Is(err, hubapi.ErrForbidden) {
				t.Fatalf("a conducteur creating for another: %v", err)
			}
		})
		t.Run("a chef de chantier has no webhooks:manage", func(t *testing.T) {
			if _, err := f.svc.ListWebhooks(f.as(t, "chef"), hubapi.WebhookFilter{}, hubapi.PageRequest{}); !errors.Is(err, hubapi.ErrForbidden) {
				t.Fatalf("%v", err)
			}
		})
	})
}

// PATCH merges under the row lock: the version precondition holds, a new
// URL passes the guard, and enabling a disabled subscription clears its
// failure state.
func TestPatchWebhook(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		f := newWebhookFixture(t, tdb, webhooks.Guard{})
		w, _ := f.create(t, "alice", "https://93.184.215.14/")
		ctx := f.as(t, "alice")
		stale := w.Version + 1
		if _, err := f.svc.PatchWebhook(ctx, w.ID, func(in hubapi.WebhookInput) (hubapi.WebhookInput, error) { return in, nil }, &stale); !errors.Is(err, hubapi.ErrPrecondition) {
			t.Fatalf("stale version: %v", err)
		}
		_, err := f.svc.PatchWebhook(ctx, w.ID, func(in hubapi.WebhookInput) (hubapi.WebhookInput, error) {
			in.URL = "https://192.168.1.1/"
			return in, nil
		}, nil)
		if fieldError(err, "url") == "" {
			t.Fatalf("private URL by PATCH: %v", err)
		}
		// The delivery side disabled it after 5 days of failures.
		since, reason := f.now.Add(-120*time.Hour), "failing for 5 days"
		if _, err := f.db.NewUpdate().Model((*hubapi.WebhookSubscription)(nil)).Set("enabled = ?", false).
			Set("failing_since = ?", since).Set("disabled_reason = ?", reason).Where("id = ?", w.ID).Exec(t.Context()); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.TestWebhook(ctx, w.ID); !errors.Is(err, hubapi.ErrConflict) {
			t.Fatalf("test of a disabled subscription: %v", err)
		}
		got, err := f.svc.PatchWebhook(ctx, w.ID, func(in hubapi.WebhookInput) (hubapi.WebhookInput, error) {
			if in.Enabled == nil || *in.Enabled {
				t.Fatalf("merge base enabled = %v", in.Enabled)
			}
			on := true
			in.Enabled, in.EventTypes, in.Description = &on, []string{"*"}, "ERP"
			return in, nil
		}, &w.Version)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Enabled || got.FailingSince != nil || got.DisabledReason != nil || got.EventTypes != "*" || got.Description != "ERP" || got.Version != w.Version+1 {
			t.Fatalf("after re-enabling: %+v", got)
		}
		stored, err := store.Get[hubapi.WebhookSubscription](t.Context(), f.db, w.ID)
		if err != nil || stored.FailingSince != nil || stored.DisabledReason != nil || !stored.Enabled {
			t.Fatalf("stored %+v %v", stored, err)
		}
	})
}

// Rotation draws a new secret and keeps the old one as the previous secret
// for 24 hours, sealed for its own slot.
func TestRotateWebhookSecretKeepsThePreviousFor24Hours(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		f := newWebhookFixture(t, tdb, webhooks.Guard{AllowPrivate: true})
		w, first := f.create(t, "alice", "https://hooks.example.com/")
		f.now = f.now.Add(time.Hour)
		got, second, err := f.svc.RotateWebhookSecret(f.as(t, "alice"), w.ID)
		if err != nil {
			t.Fatal(err)
		}
		if second == first || !strings.HasPrefix(second, webhooks.SecretPrefix) {
			t.Fatalf("new secret %q", second)
		}
		if got.PreviousSecretExpiresAt == nil || !got.PreviousSecretExpiresAt.Equal(f.now.Add(24*time.Hour)) || got.Version != w.Version+1 {
			t.Fatalf("after rotation %+v", got)
		}
		stored, err := store.Get[hubapi.WebhookSubscription](t.Context(), f.db, w.ID)
		if err != nil {
			t.Fatal(err)
		}
		cur, err := f.ring.Open(stored.SecretKeyID, stored.SecretSealed, service.WebhookSecretAD(w.ID))
		if err != nil || string(cur) != second {
			t.Fatalf("current secret: %v", err)
		}
		prev, err := f.ring.Open(*stored.PreviousSecretKeyID, stored.PreviousSecretSealed, service.WebhookPreviousSecretAD(w.ID))
		if err != nil || string(prev) != first {
			t.Fatalf("previous secret: %v", err)
		}
		if _, err := f.ring.Open(*stored.PreviousSecretKeyID, stored.PreviousSecretSealed, service.WebhookSecretAD(w.ID)); err == nil {
			t.Fatal("the previous secret opens as the current one")
		}
		if bytes.Contains(stored.PreviousSecretSealed, []byte(first)) {
			t.Fatal("previous secret stored in clear")
		}
	})
}

// Redeliver and test schedule the delivery in the transaction that writes
// it: when that transaction rolls back, neither the delivery nor the job
// (the queue's write in the transaction) remains.
func TestRedeliverAndTestScheduleInTheTransaction(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		f := newWebhookFixture(t, tdb, webhooks.Guard{AllowPrivate: true})
		w, _ := f.create(t, "alice", "https://hooks.example.com/")
		ctx := f.as(t, "alice")
		markers := func() int {
			n, err := f.db.NewSelect().Table("server_secrets").Where("name LIKE 'queued:%'").Count(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			return int(n)
		}

		d, err := f.svc.TestWebhook(ctx, w.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(f.queue.ids) != 1 || f.queue.ids[0] != d.ID || markers() != 1 {
			t.Fatalf("queued %v, %d markers", f.queue.ids, markers())
		}
		if d.EventType != "ping" || !strings.HasPrefix(d.EventID, "evt_") || len(d.MessageID) != 36 || d.Status != hubapi.DeliveryPending {
			t.Fatalf("ping delivery %+v", d)
		}
		var body struct {
			Type      string           `json:"type"`
			Timestamp time.Time        `json:"timestamp"`
			Data      map[string]int64 `json:"data"`
		}
		if err := json.Unmarshal([]byte(d.Payload), &body); err != nil || body.Type != "ping" || body.Data["subscription_id"] != w.ID || !body.Timestamp.Equal(f.now) {
			t.Fatalf("payload %s (%v)", d.Payload, err)
		}

		// The receiver answered 500: the delivery failed.
		if _, err := f.db.NewUpdate().Model((*hubapi.WebhookDelivery)(nil)).Set("status = ?", hubapi.DeliveryFailed).Set("attempts = 1").
			Where("id = ?", d.ID).Exec(t.Context()); err != nil {
			t.Fatal(err)
		}
		again, err := f.svc.RedeliverWebhook(ctx, w.ID, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if again.ID != d.ID || again.MessageID != d.MessageID || again.Payload != d.Payload || again.Status != hubapi.DeliveryPending {
			t.Fatalf("redelivery %+v of %+v", again, d)
		}
		if len(f.queue.ids) != 2 || f.queue.ids[1] != d.ID || markers() != 2 {
			t.Fatalf("queued %v, %d markers", f.queue.ids, markers())
		}
		if _, err := f.svc.RedeliverWebhook(ctx, w.ID, d.ID+1000); !errors.Is(err, hubapi.ErrNotFound) {
			t.Fatalf("unknown delivery: %v", err)
		}
		other, _ := f.create(t, "alice", "https://hooks.example.com/other")
		if _, err := f.svc.RedeliverWebhook(ctx, other.ID, d.ID); !errors.Is(err, hubapi.ErrNotFound) {
			t.Fatalf("delivery of another subscription: %v", err)
		}

		t.Run("a rolled-back transaction schedules nothing", func(t *testing.T) {
			if _, err := f.db.NewUpdate().Model((*hubapi.WebhookDelivery)(nil)).Set("status = ?", hubapi.DeliveryFailed).
				Where("id = ?", d.ID).Exec(t.Context()); err != nil {
				t.Fatal(err)
			}
			f.queue.fail = true
			defer func() { f.queue.fail = false }()
			before := markers()
			if _, err := f.svc.TestWebhook(ctx, w.ID); err == nil {
				t.Fatal("test succeeded with the queue down")
			}
			if _, err := f.svc.RedeliverWebhook(ctx, w.ID, d.ID); err == nil {
				t.Fatal("redeliver succeeded with the queue down")
			}
			if markers() != before {
				t.Fatal("the queue's write outlived the rolled-back transaction")
			}
			n, err := f.db.NewSelect().Model((*hubapi.WebhookDelivery)(nil)).Where("subscription_id = ?", w.ID).Count(t.Context())
			if err != nil || n != 1 {
				t.Fatalf("%d deliveries after a rolled-back test (%v)", n, err)
			}
			cur, err := store.Get[hubapi.WebhookDelivery](t.Context(), f.db, d.ID)
			if err != nil || cur.Status != hubapi.DeliveryFailed {
				t.Fatalf("rolled-back redelivery left %+v (%v)", cur, err)
			}
		})
	})
}

// The delivery log lists a subscription's deliveries newest first, each
// with its attempts newest first.
func TestWebhookDeliveryLog(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		f := newWebhookFixture(t, tdb, webhooks.Guard{AllowPrivate: true})
		w, _ := f.create(t, "alice", "https://hooks.example.com/")
		var ids []int64
		for i := range 3 {
			at := f.now.Add(time.Duration(i) * time.Minute)
			d := &hubapi.WebhookDelivery{SubscriptionID: w.ID, MessageID: service.NewWebhookMessageID(), EventID: hubapi.NewEventID(),
				EventType: "chantier.created", Payload: `{}`, Status: hubapi.DeliveryFailed, Attempts: 2, CreatedAt: at, UpdatedAt: at}
			if err := store.Insert(t.Context(), f.db, d); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, d.ID)
			for n := 1; n <= 2; n++ {
				a := &hubapi.WebhookAttempt{DeliveryID: d.ID, Attempt: n, AttemptedAt: at, DurationMS: 12, ResponseStatus: 500, ResponseBody: "oops"}
				if err := store.Insert(t.Context(), f.db, a); err != nil {
					t.Fatal(err)
				}
			}
		}
		pg, err := f.svc.ListWebhookDeliveries(f.as(t, "alice"), w.ID, hubapi.PageRequest{Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		if len(pg.Items) != 2 || pg.Items[0].ID != ids[2] || pg.Items[1].ID != ids[1] || !pg.HasMore || pg.NextCursor == "" {
			t.Fatalf("page %+v", pg)
		}
		for _, d := range pg.Items {
			if len(d.AttemptLog) != 2 || d.AttemptLog[0].Attempt != 2 || d.AttemptLog[1].Attempt != 1 || d.AttemptLog[0].ResponseStatus != 500 {
				t.Fatalf("attempts %+v", d.AttemptLog)
			}
		}
		next, err := f.svc.ListWebhookDeliveries(f.as(t, "alice"), w.ID, hubapi.PageRequest{Limit: 2, Cursor: pg.NextCursor})
		if err != nil || len(next.Items) != 1 || next.Items[0].ID != ids[0] {
			t.Fatalf("next page %+v %v", next, err)
		}
	})
}

// Re-sealing moves every stored secret (current and previous) to the
// keyring's current key; the secrets themselves do not change.
func TestResealWebhookSecrets(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		f := newWebhookFixture(t, tdb, webhooks.Guard{AllowPrivate: true})
		w, first := f.create(t, "alice", "https://hooks.example.com/")
		_, second, err := f.svc.RotateWebhookSecret(f.as(t, "alice"), w.ID)
		if err != nil {
			t.Fatal(err)
		}
		k2 := "k2:" + secretbox.GenerateKey()
		ring2, err := secretbox.ParseKeyring(k2 + "," + f.spec)
		if err != nil {
			t.Fatal(err)
		}
		blobs, _ := blob.NewDir(t.TempDir())
		op := service.NewOperator(service.New(f.db, blobs, service.WithSecretKeyring(ring2)))
		n, err := op.ResealWebhookSecrets(t.Context())
		if err != nil || n != 1 {
			t.Fatalf("resealed %d (%v)", n, err)
		}
		stored, err := store.Get[hubapi.WebhookSubscription](t.Context(), f.db, w.ID)
		if err != nil || stored.SecretKeyID != "k2" || *stored.PreviousSecretKeyID != "k2" {
			t.Fatalf("stored %+v %v", stored, err)
		}
		only2, err := secretbox.ParseKeyring(k2)
		if err != nil {
			t.Fatal(err)
		}
		cur, err := only2.Open(stored.SecretKeyID, stored.SecretSealed, service.WebhookSecretAD(w.ID))
		if err != nil || string(cur) != second {
			t.Fatalf("current after reseal: %v", err)
		}
		prev, err := only2.Open(*stored.PreviousSecretKeyID, stored.PreviousSecretSealed, service.WebhookPreviousSecretAD(w.ID))
		if err != nil || string(prev) != first {
			t.Fatalf("previous after reseal: %v", err)
		}
		if n, err := op.ResealWebhookSecrets(t.Context()); err != nil || n != 0 {
			t.Fatalf("second reseal rewrote %d (%v)", n, err)
		}
	})
}
