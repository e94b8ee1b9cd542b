package jobs_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/blob"
	"github.com/hubchantier/hubchantier/hubapi/jobs"
	"github.com/hubchantier/hubchantier/hubapi/service"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/secretbox"
	"github.com/hubchantier/hubchantier/webhooks"
)

// testKeys is a secret keyring for the tests' subscriptions.
func testKeys(t testing.TB) *secretbox.Keyring {
	t.Helper()
	k, err := secretbox.ParseKeyring("k1:" + secretbox.GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// newUser adds a user of role and returns its id.
func newUser(t testing.TB, db *store.DB, email string, role hubapi.Role) int64 {
	t.Helper()
	now := store.Now()
	u := &hubapi.User{Email: email, Nom: "N", Prenom: "P", Role: role, PasswordHash: "x", CreatedAt: now, UpdatedAt: now, Version: 1}
	if _, err := db.NewInsert().Model(u).Exec(context.Background()); err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// newSubscription adds an enabled subscription of user to url for types,
// with its secret sealed as the product seals it, and returns it with the
// secret's text form.
func newSubscription(t testing.TB, db *store.DB, keys *secretbox.Keyring, user int64, url, types string) (*hubapi.WebhookSubscription, string) {
	t.Helper()
	ctx := context.Background()
	text, _, err := webhooks.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	now := store.Now()
	s := &hubapi.WebhookSubscription{UserID: user, URL: url, EventTypes: types, Enabled: true,
		SecretKeyID: "-", SecretSealed: []byte{0}, CreatedAt: now, UpdatedAt: now, Version: 1}
	if _, err := db.NewInsert().Model(s).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	s.SecretKeyID, s.SecretSealed = seal(t, keys, text, "webhook:"+strconv.FormatInt(s.ID, 10))
	if _, err := db.NewUpdate().Model(s).Column("secret_key_id", "secret_sealed").WherePK().Exec(ctx); err != nil {
		t.Fatal(err)
	}
	return s, text
}

func seal(t testing.TB, keys *secretbox.Keyring, text, ad string) (string, []byte) {
	t.Helper()
	kid, sealed, err := keys.Seal([]byte(text), []byte(ad))
	if err != nil {
		t.Fatal(err)
	}
	return kid, sealed
}

// received is one request a receiver got.
type received struct {
	header http.Header
	body   []byte
}

// receiver is a webhook endpoint recording what it gets; answer decides
// each response (default 204).
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	got    []received
	answer func(w http.ResponseWriter, n int) // n: 1 for the first request
}

func newReceiver(t testing.TB, answer func(w http.ResponseWriter, n int)) *receiver {
	t.Helper()
	r := &receiver{answer: answer}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, received{header: req.Header.Clone(), body: body})
		n := len(r.got)
		r.mu.Unlock()
		if r.answer != nil {
			r.answer(w, n)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

// webhookCfg is a delivery configuration reaching local receivers over
// http, with a short timeout.
func webhookCfg(keys *secretbox.Keyring) *jobs.WebhookConfig {
	return &jobs.WebhookConfig{Keys: keys, Guard: webhooks.Guard{AllowHTTP: true, AllowPrivate: true}, Timeout: 300 * time.Millisecond}
}

// adminCtx is a context acting as an admin.
func adminCtx(id int64) context.Context {
	return hubapi.WithPrincipal(context.Background(), &hubapi.Principal{UserID: id, Role: hubapi.RoleAdmin, Scopes: hubapi.RoleScopes(hubapi.RoleAdmin)})
}

func asUser(id int64, role hubapi.Role) context.Context {
	return hubapi.WithPrincipal(context.Background(), &hubapi.Principal{UserID: id, Role: role, Scopes: hubapi.RoleScopes(role)})
}

// serviceWith returns the use cases recording their events in q.
func serviceWith(t testing.TB, db *store.DB, q *jobs.Queue) *service.Service {
	t.Helper()
	blobs, err := blob.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return service.New(db, blobs, service.WithOutbox(q))
}

// deliveries lists the deliveries of a subscription, oldest first.
func deliveries(t testing.TB, db bun.IDB, sub int64) []hubapi.WebhookDelivery {
	t.Helper()
	var ds []hubapi.WebhookDelivery
	if err := db.NewSelect().Model(&ds).Where("subscription_id = ?", sub).Order("id").Scan(context.Background()); err != nil {
		t.Fatal(err)
	}
	return ds
}

// attempts lists the attempts of a delivery, oldest first.
func attempts(t testing.TB, db bun.IDB, delivery int64) []hubapi.WebhookAttempt {
	t.Helper()
	var as []hubapi.WebhookAttempt
	if err := db.NewSelect().Model(&as).Where("delivery_id = ?", delivery).Order("attempt").Scan(context.Background()); err != nil {
		t.Fatal(err)
	}
	return as
}

// subscription reads a subscription back.
func subscription(t testing.TB, db bun.IDB, id int64) hubapi.WebhookSubscription {
	t.Helper()
	var s hubapi.WebhookSubscription
	if err := db.NewSelect().Model(&s).Where("id = ?", id).Scan(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// makeDue makes the snoozed delivery jobs of a subscription due now, as if
// their retry delay had passed.
func makeDue(t testing.TB, db bun.IDB) {
	t.Helper()
	if _, err := db.NewRaw("UPDATE river_job SET state = 'available', scheduled_at = ? WHERE kind = 'webhook_delivery' AND state = 'scheduled'",
		time.Now().Add(-time.Second).UTC()).Exec(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// scheduledDeliveries counts the delivery jobs waiting for a retry.
func scheduledDeliveries(t testing.TB, db bun.IDB) int {
	t.Helper()
	var n int
	if err := db.NewRaw("SELECT count(*) FROM river_job WHERE kind = 'webhook_delivery' AND state = 'scheduled'").Scan(context.Background(), &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// enqueueEvent records e through q in its own transaction.
func enqueueEvent(t testing.TB, db *store.DB, q *jobs.Queue, e hubapi.Event) {
	t.Helper()
	if err := db.RunInTx(context.Background(), nil, func(ctx context.Context, tx bun.Tx) error {
		return q.Enqueue(ctx, tx, e)
	}); err != nil {
		t.Fatal(err)
	}
}
