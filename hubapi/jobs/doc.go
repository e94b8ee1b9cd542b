// Package jobs runs Hub Chantier's durable background work on River
// (github.com/riverqueue/river), in the product's own database: PostgreSQL
// through riverdatabasesql on the pool bun uses, SQLite through riversqlite
// on a one-connection pool of the same file. River's tables are created by
// the product's migrations (store.DB.Migrate).
//
// Jobs are rows: a job inserted with InsertTx in the transaction of a write
// exists exactly when the write committed, and survives a crash until a
// worker completes it (retried with backoff on failure).
//
// Domain events are such jobs (EventArgs, kind "event"): the service
// records each in the transaction of its write through Queue.Enqueue, and
// Config.EventHandlers handle them at least once, on any instance.
//
// Webhooks (Config.Webhooks): an event handler turns each event into one
// delivery per matching subscription whose owner may read the resource
// (table webhook_deliveries, with a stable webhook-id), each with a
// "webhook_delivery" job on its own queue (QueueWebhooks). The worker signs
// and posts it through the SSRF-guarded client, logs the attempt, and
// retries on the schedule of webhooks.RetryDelay (snoozing the job); a
// subscription failing for 5 days is disabled. Each instance sends at most
// WebhookConfig.InFlight deliveries of one subscription at a time, so a slow
// endpoint never holds the workers of the others.
//
// Periodic jobs run on one instance of the cluster: River elects a leader
// among the instances sharing the database, and only the leader enqueues
// them; a uniqueness key per job and period guards the hand-over between two
// leaders. Any instance may then work the job.
//
//	q, err := jobs.New(db, jobs.Config{Periodic: []jobs.Periodic{{
//		Name: "counter-compaction", Interval: 2 * time.Second,
//		Run:  func(ctx context.Context, _ time.Time) error { return store.CompactCounters(ctx, db) },
//	}}})
//	...
//	err = q.Start(ctx)
//	defer q.Stop(context.Background())
package jobs
