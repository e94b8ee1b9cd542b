package store_test

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/migrate"

	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

// reopen gives a second, independent handle (its own pool) on tdb's
// database, as another instance of the server would have.
func reopen(t *testing.T, tdb *testenv.DB) *store.DB {
	t.Helper()
	var db *bun.DB
	if tdb.Name == "postgres" {
		sqldb, err := sql.Open("pgx", tdb.DSN)
		if err != nil {
			t.Fatal(err)
		}
		sqldb.SetMaxOpenConns(4)
		db = bun.NewDB(sqldb, pgdialect.New())
	} else {
		sqldb, err := sql.Open("sqlite", tdb.DSN)
		if err != nil {
			t.Fatal(err)
		}
		sqldb.SetMaxOpenConns(4)
		db = bun.NewDB(sqldb, sqlitedialect.New())
	}
	t.Cleanup(func() { _ = db.Close() })
	return store.Wrap(db)
}

func migrationFiles(t *testing.T, dialect string) int {
	t.Helper()
	dir := "migrations/sqlite"
	if dialect == "postgres" {
		dir = "migrations/postgres"
	}
	names, err := fs.Glob(os.DirFS("."), dir+"/*.up.sql")
	if err != nil || len(names) == 0 {
		t.Fatalf("migration files in %s: %v %v", dir, names, err)
	}
	return len(names)
}

func appliedCounts(t *testing.T, db *store.DB) (rows, distinct int) {
	t.Helper()
	if err := db.QueryRowContext(context.Background(),
		"SELECT count(*), count(DISTINCT name) FROM bun_migrations").Scan(&rows, &distinct); err != nil {
		t.Fatal(err)
	}
	return rows, distinct
}

func TestMigrateConcurrentStarts(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		const n = 10
		dbs := make([]*store.DB, n)
		for i := range dbs {
			dbs[i] = reopen(t, tdb)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		start := make(chan struct{})
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i, db := range dbs {
			wg.Go(func() {
				<-start
				errs[i] = db.Migrate(ctx)
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("instance %d: %v", i, err)
			}
		}
		rows, distinct := appliedCounts(t, dbs[0])
		if want := migrationFiles(t, tdb.Name); rows != want || distinct != want {
			t.Errorf("bun_migrations: %d rows, %d distinct names; want each of the %d migrations once", rows, distinct, want)
		}
		var locks int
		if err := dbs[0].QueryRowContext(ctx, "SELECT count(*) FROM bun_migration_locks").Scan(&locks); err != nil || locks != 0 {
			t.Errorf("bun_migration_locks: %d rows, %v; want none", locks, err)
		}
	})
}

func TestMigrateIgnoresLockRowOfEarlierVersions(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		ctx := context.Background()
		db := store.Wrap(tdb.DB)
		// What an earlier version killed right after bun's Migrator.Lock left.
		old := migrate.NewMigrator(tdb.DB, migrate.NewMigrations())
		if err := old.Init(ctx); err != nil {
			t.Fatal(err)
		}
		if err := old.Lock(ctx); err != nil {
			t.Fatal(err)
		}
		if err := db.Migrate(ctx, store.MigrationLockWait(2*time.Second)); err != nil {
			t.Fatalf("migrate with a leftover bun_migration_locks row: %v", err)
		}
		var locks int
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM bun_migration_locks").Scan(&locks); err != nil || locks != 0 {
			t.Errorf("bun_migration_locks after migrate: %d rows, %v; want the stale row removed", locks, err)
		}
		if err := old.Lock(ctx); err != nil { // another stale row, on a migrated database
			t.Fatal(err)
		}
		if err := reopen(t, tdb).Migrate(ctx); err != nil {
			t.Fatalf("start with a leftover row and nothing pending: %v", err)
		}
		removed, err := db.UnlockMigrations(ctx)
		if err != nil || removed != 1 {
			t.Errorf("UnlockMigrations = %d, %v; want 1 row removed", removed, err)
		}
		if removed, err := db.UnlockMigrations(ctx); err != nil || removed != 0 {
			t.Errorf("second UnlockMigrations = %d, %v; want 0", removed, err)
		}
	})
}

func TestMigrateLockWait(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		ctx := context.Background()
		holder, waiter := reopen(t, tdb), reopen(t, tdb)
		unlock, err := holder.LockMigrations(ctx, time.Second)
		if err != nil {
			t.Fatal(err)
		}

		t.Run("pending migrations, lock held → ErrMigrationLocked after the wait", func(t *testing.T) {
			begin := time.Now()
			err := waiter.Migrate(ctx, store.MigrationLockWait(300*time.Millisecond))
			if !errors.Is(err, store.ErrMigrationLocked) {
				t.Fatalf("err = %v; want ErrMigrationLocked", err)
			}
			if msg := err.Error(); !strings.Contains(msg, "another instance is migrating the database; waited 0.3s") {
				t.Errorf("message %q does not say who holds what and how long it waited", msg)
			}
			if tdb.Name == "postgres" && !strings.Contains(err.Error(), "backend pid") {
				t.Errorf("message %q does not name the backend holding the lock", err)
			}
			if d := time.Since(begin); d < 300*time.Millisecond || d > 3*time.Second {
				t.Errorf("gave up after %v; want about 300ms", d)
			}
		})

		t.Run("lock released → the waiter migrates", func(t *testing.T) {
			done := make(chan error, 1)
			go func() { done <- waiter.Migrate(ctx, store.MigrationLockWait(20*time.Second)) }()
			time.Sleep(300 * time.Millisecond)
			unlock()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		})

		t.Run("nothing pending → no lock taken, even while another holds it", func(t *testing.T) {
			unlock, err := holder.LockMigrations(ctx, time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer unlock()
			if tdb.Name == "postgres" {
				var held int
				if err := holder.QueryRowContext(ctx, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = ?::oid AND objid = hashtext(current_schema())::oid AND objsubid = 2",
					store.MigrationLockClass).Scan(&held); err != nil || held != 1 {
					t.Fatalf("advisory lock in pg_locks: %d, %v; want the holder's", held, err)
				}
			}
			begin := time.Now()
			if err := waiter.Migrate(ctx, store.MigrationLockWait(0)); err != nil {
				t.Fatalf("migrate with nothing pending: %v", err)
			}
			if d := time.Since(begin); d > 2*time.Second {
				t.Errorf("took %v", d)
			}
		})

		if tdb.Name == "postgres" {
			t.Run("UnlockMigrations names the live holder instead of breaking its lock", func(t *testing.T) {
				unlock, err := holder.LockMigrations(ctx, time.Second)
				if err != nil {
					t.Fatal(err)
				}
				defer unlock()
				if _, err := waiter.UnlockMigrations(ctx); !errors.Is(err, store.ErrMigrationLocked) || !strings.Contains(err.Error(), "pg_terminate_backend") {
					t.Errorf("err = %v; want ErrMigrationLocked naming the backend", err)
				}
			})
		}
	})
}

func TestMigrateReleasesLockOnItsConnection(t *testing.T) {
	tdb := testenv.Postgres(t)
	ctx := context.Background()
	db := reopen(t, tdb)
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	var held int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = ?::oid AND objid = hashtext(current_schema())::oid",
		store.MigrationLockClass).Scan(&held); err != nil || held != 0 {
		t.Fatalf("advisory locks left after Migrate: %d, %v", held, err)
	}
}
