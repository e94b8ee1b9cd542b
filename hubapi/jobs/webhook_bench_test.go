package jobs_test

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/jobs"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

// BenchmarkWebhookDelivery measures sustained delivery on PostgreSQL to a
// local receiver answering 204: b.N deliveries spread over the
// subscriptions are queued, then one instance (default workers and
// in-flight cap per subscription) sends them all. "events" starts earlier,
// from b.N/subscriptions committed events, so the fan-out is included. The
// deliveries/s metric is the figure to compare.
func BenchmarkWebhookDelivery(b *testing.B) {
	for _, bc := range []struct {
		mode string
		subs int
	}{{"queued", 4}, {"queued", 32}, {"events", 32}} {
		mode, subs := bc.mode, bc.subs
		b.Run(fmt.Sprintf("%s/subscriptions=%d", mode, subs), func(b *testing.B) {
			tdb := testenv.Postgres(b)
			tdb.DB.DB.SetMaxOpenConns(20) // the server's pool on PostgreSQL (store.Open)
			tdb.DB.DB.SetMaxIdleConns(20)
			db := migratedB(b, tdb)
			keys := testKeys(b)
			var got atomic.Int64
			rcv := newReceiver(b, nil)
			rcv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				got.Add(1)
				w.WriteHeader(http.StatusNoContent)
			})
			admin := newUser(b, db, "admin@example.com", hubapi.RoleAdmin)
			var ids []int64
			for i := range subs {
				s, _ := newSubscription(b, db, keys, admin, fmt.Sprintf("%s/%d", rcv.URL, i), "*")
				ids = append(ids, s.ID)
			}
			cfg := webhookCfg(keys)
			cfg.Timeout = 10 * time.Second
			q, err := jobs.New(context.Background(), db, jobs.Config{Webhooks: cfg, PollInterval: 100 * time.Millisecond})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = q.Stop(context.Background()) })
			want := int64(b.N)
			if mode == "queued" {
				queueDeliveries(b, db, q, ids, b.N)
			} else {
				events := (b.N + subs - 1) / subs
				want = int64(events * subs)
				for start := 0; start < events; start += 500 {
					if err := db.RunInTx(context.Background(), nil, func(ctx context.Context, tx bun.Tx) error {
						for i := start; i < min(start+500, events); i++ {
							if err := q.Enqueue(ctx, tx, hubapi.Event{ID: hubapi.NewEventID(), Type: hubapi.EventChantierCreated,
								Resource: "chantiers", ResourceID: int64(i), At: time.Now(), Data: map[string]any{"id": i, "nom": "Gare"}}); err != nil {
								return err
							}
						}
						return nil
					}); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			if err := q.Start(context.Background()); err != nil {
				b.Fatal(err)
			}
			for got.Load() < want {
				time.Sleep(5 * time.Millisecond)
			}
			elapsed := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(want)/elapsed.Seconds(), "deliveries/s")
		})
	}
}

// queueDeliveries inserts n pending deliveries over subs, with their jobs,
// in transactions of 500.
func queueDeliveries(b *testing.B, db *store.DB, q *jobs.Queue, subs []int64, n int) {
	b.Helper()
	payload := `{"type":"chantier.created","timestamp":"2026-12-07T00:00:00Z","data":{"id":1,"nom":"Gare"}}`
	for start := 0; start < n; start += 500 {
		if err := db.RunInTx(context.Background(), nil, func(ctx context.Context, tx bun.Tx) error {
			now := store.Now()
			for i := start; i < min(start+500, n); i++ {
				d := &hubapi.WebhookDelivery{SubscriptionID: subs[i%len(subs)], MessageID: jobs.NewMessageID(), EventID: fmt.Sprintf("evt_%d", i),
					EventType: "chantier.created", Payload: payload, Status: hubapi.DeliveryPending, CreatedAt: now, UpdatedAt: now}
				if _, err := tx.NewInsert().Model(d).Exec(ctx); err != nil {
					return err
				}
				if err := q.EnqueueWebhookDelivery(ctx, tx, d.ID); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
}
