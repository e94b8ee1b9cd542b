package jobs_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	"github.com/hubchantier/hubchantier/hubapi/jobs"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

// migrated wraps a test database and applies the product's migrations,
// River's tables included.
func migrated(t *testing.T, tdb *testenv.DB) *store.DB {
	t.Helper()
	return migratedB(t, tdb)
}

func migratedB(t testing.TB, tdb *testenv.DB) *store.DB {
	t.Helper()
	db := store.Wrap(tdb.DB)
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}

func start(t *testing.T, db *store.DB, cfg jobs.Config) *jobs.Queue {
	t.Helper()
	jobs.Quick(&cfg)
	cfg.PollInterval = 50 * time.Millisecond
	q, err := jobs.New(context.Background(), db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.Stop(context.Background()) })
	return q
}

type probeArgs struct {
	Label string `json:"label"`
}

func (probeArgs) Kind() string { return "probe" }

// waitFor polls cond until it holds, failing the test after a generous
// bound (a liveness guard, not a timing assertion).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting for %s", what)
		}
	}
}

// A job inserted in a committed write's transaction is worked; one inserted
// in a rolled-back transaction never exists.
func TestInsertTxFollowsTheTransaction(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		ctx := context.Background()
		db := migrated(t, tdb)
		var mu sync.Mutex
		var worked []string
		q := start(t, db, jobs.Config{Register: func(w *river.Workers) error {
			return river.AddWorkerSafely(w, river.WorkFunc(func(_ context.Context, j *river.Job[probeArgs]) error {
				mu.Lock()
				defer mu.Unlock()
				worked = append(worked, j.Args.Label)
				return nil
			}))
		}})
		errRollback := errors.New("rolled back")
		err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			if err := q.InsertTx(ctx, tx, probeArgs{Label: "rolled-back"}, nil); err != nil {
				return err
			}
			return errRollback
		})
		if !errors.Is(err, errRollback) {
			t.Fatal(err)
		}
		if err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			return q.InsertTx(ctx, tx, probeArgs{Label: "committed"}, nil)
		}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the committed job", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(worked) > 0
		})
		var n int
		if err := db.NewSelect().TableExpr("river_job").ColumnExpr("count(*)").Where("kind = 'probe'").Scan(ctx, &n); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		if n != 1 || len(worked) != 1 || worked[0] != "committed" {
			t.Fatalf("jobs in the table: %d, worked: %v; want only the committed one", n, worked)
		}
	})
}

// periodicRecorder counts the runs of a periodic job per period, across
// instances.
type periodicRecorder struct {
	mu   sync.Mutex
	runs map[time.Time][]string
}

func (r *periodicRecorder) job(instance string, interval time.Duration) jobs.Periodic {
	return jobs.Periodic{Name: "probe-tick", Interval: interval, Run: func(_ context.Context, period time.Time) error {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.runs == nil {
			r.runs = map[time.Time][]string{}
		}
		r.runs[period] = append(r.runs[period], instance)
		return nil
	}}
}

func (r *periodicRecorder) periods() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.runs)
}

func (r *periodicRecorder) checkOncePerPeriod(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	var twice []string
	for p, by := range r.runs {
		if len(by) != 1 {
			twice = append(twice, fmt.Sprintf("%s: %v", p.Format(time.RFC3339Nano), by))
		}
	}
	if len(twice) > 0 {
		t.Fatalf("periods run more than once: %s", strings.Join(twice, "; "))
	}
}

// Two instances (two pools, two River clients) on one PostgreSQL schema:
// each period's run happens once, on one of them.
func TestPeriodicJobRunsOncePerPeriodAcrossInstances(t *testing.T) {
	tdb := testenv.Postgres(t)
	db1 := migrated(t, tdb)
	other, err := sql.Open("pgx", tdb.DSN)
	if err != nil {
		t.Fatal(err)
	}
	db2 := store.Wrap(bun.NewDB(other, pgdialect.New()))
	t.Cleanup(func() { _ = db2.Close() })

	rec := &periodicRecorder{}
	const interval = time.Second
	start(t, db1, jobs.Config{Periodic: []jobs.Periodic{rec.job("one", interval)}})
	start(t, db2, jobs.Config{Periodic: []jobs.Periodic{rec.job("two", interval)}})
	waitFor(t, "5 periods", func() bool { return rec.periods() >= 5 })
	rec.checkOncePerPeriod(t)
}

// On SQLite (one instance), the periodic job runs each period once.
func TestPeriodicJobOnSQLite(t *testing.T) {
	db := migrated(t, testenv.SQLite(t))
	rec := &periodicRecorder{}
	start(t, db, jobs.Config{Periodic: []jobs.Periodic{rec.job("one", time.Second)}})
	waitFor(t, "3 periods", func() bool { return rec.periods() >= 3 })
	rec.checkOncePerPeriod(t)
}

// Periodic jobs are checked when the queue is built.
func TestPeriodicConfigErrors(t *testing.T) {
	db := migrated(t, testenv.SQLite(t))
	run := func(context.Context, time.Time) error { return nil }
	for name, p := range map[string]jobs.Periodic{
		"bad name":       {Name: "Tick Tock", Interval: time.Second, Run: run},
		"short interval": {Name: "tick", Interval: 500 * time.Millisecond, Run: run},
		"no run":         {Name: "tick", Interval: time.Second},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := jobs.New(context.Background(), db, jobs.Config{Periodic: []jobs.Periodic{p}}); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	tick := jobs.Periodic{Name: "tick", Interval: time.Second, Run: run}
	if _, err := jobs.New(context.Background(), db, jobs.Config{Periodic: []jobs.Periodic{tick, tick}}); err == nil {
		t.Fatal("a name configured twice was accepted")
	}
}
