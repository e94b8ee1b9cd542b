package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/uptrace/bun"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/jobs"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

// jobs status prints the queue depth, the failing jobs by kind and the
// last run of each periodic job, on both databases.
func TestJobsStatusCommand(t *testing.T) {
	urls := map[string]string{"sqlite": "sqlite:" + filepath.Join(t.TempDir(), "hub.db")}
	if testenv.PostgresURL() != "" {
		urls["postgres"] = testenv.Postgres(t).DSN
	}
	for name, url := range urls {
		t.Run(name, func(t *testing.T) {
			t.Setenv("HUB_DATABASE_URL", url)
			out, err := runCLI(t, "", "jobs", "status")
			if err != nil || out != "queue: available 0, scheduled 0, running 0, retryable 0\nfailing: none\nperiodic: none run yet\n" {
				t.Fatalf("empty queue: %v %q", err, out)
			}
			ctx := context.Background()
			db, err := store.Open(url)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			q, err := jobs.New(ctx, db, jobs.Config{}) // never started: the jobs stay queued
			if err != nil {
				t.Fatal(err)
			}
			defer q.Stop(ctx)
			for range 3 {
				if err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
					return q.Enqueue(ctx, tx, hubapi.Event{ID: hubapi.NewEventID(), Type: hubapi.EventChantierCreated, Resource: "chantiers", ResourceID: 1})
				}); err != nil {
					t.Fatal(err)
				}
			}
			// One given up, one turned into a finished periodic run.
			if _, err := db.ExecContext(ctx, `UPDATE river_job SET state = 'discarded', finalized_at = ? WHERE id = (SELECT min(id) FROM river_job)`, store.Now()); err != nil {
				t.Fatal(err)
			}
			if _, err := db.ExecContext(ctx, `UPDATE river_job SET kind = 'periodic', args = ?, state = 'completed', finalized_at = ? WHERE id = (SELECT max(id) FROM river_job)`,
				`{"name":"counter-compaction","slot":"2026-12-07T02:00:00Z"}`, store.Now()); err != nil {
				t.Fatal(err)
			}
			out, err = runCLI(t, "", "jobs", "status")
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"queue: available 1, scheduled 0, running 0, retryable 0\n", "failing: event discarded 1\n", "periodic: counter-compaction last run 20"} {
				if !strings.Contains(out, want) {
					t.Fatalf("no %q in:\n%s", want, out)
				}
			}
			if _, err := runCLI(t, "", "jobs"); err == nil {
				t.Fatal("jobs without status accepted")
			}
		})
	}
}
