package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/migrate"
)

// DefaultMigrationLockWait is how long Migrate waits, by default, for another
// instance that is migrating the same database.
const DefaultMigrationLockWait = 60 * time.Second

// ErrMigrationLocked is returned (wrapped, with the time waited) when another
// instance held the migration lock for longer than the wait.
var ErrMigrationLocked = errors.New("another instance is migrating the database")

// migrationLockClass is the first key of the PostgreSQL advisory lock that
// guards migrations ("HUBC"); the second is a hash of the current schema, so
// databases in different schemas of one server do not wait for each other.
const migrationLockClass = 0x48554243

// legacyLocksTable is where bun's Migrator.Lock, used by earlier versions,
// kept its lock row.
const legacyLocksTable = "bun_migration_locks"

// MigrateOption configures Migrate.
type MigrateOption func(*migrateConfig)

type migrateConfig struct {
	lockWait time.Duration
}

// MigrationLockWait bounds how long Migrate waits for another instance that
// is migrating the same database before failing with ErrMigrationLocked
// (default DefaultMigrationLockWait). A wait ≤ 0 tries the lock once.
func MigrationLockWait(d time.Duration) MigrateOption {
	return func(c *migrateConfig) { c.lockWait = d }
}

// Migrate applies pending migrations: the product's, then River's (the job
// queue's tables, see hubapi/jobs).
//
// When every migration is already applied — most starts — it only reads the
// bun_migrations table and takes no lock. Otherwise it migrates under a lock
// that dies with the process, so instances started together apply each
// migration once, and one killed mid-start never blocks the next:
//   - PostgreSQL: a session-level advisory lock held on one connection of the
//     pool while the migrations run on others (the pool must allow at least
//     two connections);
//   - SQLite: an exclusive file lock on "<database file>.migrate-lock" next
//     to the database (on Unix and Windows).
//
// It waits at most MigrationLockWait for another instance to finish. Rows of
// bun_migration_locks, the lock of earlier versions, are ignored and removed.
func (db *DB) Migrate(ctx context.Context, opts ...MigrateOption) error {
	cfg := migrateConfig{lockWait: DefaultMigrationLockWait}
	for _, o := range opts {
		o(&cfg)
	}
	m, err := db.migrator()
	if err != nil {
		return err
	}
	pending, err := db.migrationsPending(ctx, m)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if !pending {
		if pending, err = db.riverPending(ctx); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
	}
	if !pending {
		return nil
	}
	unlock, err := db.lockMigrations(ctx, cfg.lockWait)
	if err != nil {
		return err
	}
	defer unlock()
	if err := m.Init(ctx); err != nil {
		return fmt.Errorf("migrate init: %w", err)
	}
	// Under our lock, a row left by an earlier version (killed while
	// migrating) means nothing: remove it so that version is not blocked
	// either if it is started again.
	if _, err := db.NewDelete().TableExpr(legacyLocksTable).Where("1 = 1").Exec(ctx); err != nil {
		return fmt.Errorf("migrate: clearing %s: %w", legacyLocksTable, err)
	}
	// Migrate reads the applied set again: an instance that held the lock
	// before us may have applied everything.
	if _, err := m.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	// River's tables (the job queue) are part of the schema, migrated under
	// the same lock.
	return db.migrateRiver(ctx)
}

// UnlockMigrations removes the lock rows that earlier versions left in
// bun_migration_locks when killed while migrating (they blocked every later
// start of those versions), and returns how many it removed. The current lock
// needs no clearing: it ends with the process holding it. When an instance
// is migrating right now (PostgreSQL), the error wraps ErrMigrationLocked and
// names its backend.
func (db *DB) UnlockMigrations(ctx context.Context) (removed int64, err error) {
	exists, err := db.tableExists(ctx, legacyLocksTable)
	if err != nil || !exists {
		return 0, err
	}
	res, err := db.NewDelete().TableExpr(legacyLocksTable).Where("1 = 1").Exec(ctx)
	if err != nil {
		return 0, err
	}
	removed, _ = res.RowsAffected()
	if db.IsPostgres() {
		if holder := db.migrationLockHolder(ctx); holder != "" {
			return removed, fmt.Errorf("store: %w (%s); its lock ends with that session: stop the instance, or run SELECT pg_terminate_backend(pid)", ErrMigrationLocked, holder)
		}
	}
	return removed, nil
}

func (db *DB) migrator() (*migrate.Migrator, error) {
	dir := "migrations/sqlite"
	if db.IsPostgres() {
		dir = "migrations/postgres"
	}
	sub, err := fs.Sub(migrationsFS, dir)
	if err != nil {
		return nil, err
	}
	found := migrate.NewMigrations()
	if err := found.Discover(sub); err != nil {
		return nil, err
	}
	ms := migrate.NewMigrations()
	for _, mig := range found.Sorted() {
		files, err := fs.Glob(sub, mig.Name+"_*up.sql")
		if err != nil || len(files) != 1 {
			return nil, fmt.Errorf("migrate: migration %s: want one up file, found %v (%v)", mig.Name, files, err)
		}
		mig.Up = func(ctx context.Context, m *migrate.Migrator, mig *migrate.Migration) error {
			return applyInTx(ctx, m.DB(), sub, files[0], mig)
		}
		ms.Add(mig)
	}
	// Upsert: the record is first written by applyInTx, then again by the
	// migrator.
	return migrate.NewMigrator(db.DB, ms, migrate.WithMarkAppliedOnSuccess(true), migrate.WithUpsert(true)), nil
}

// applyInTx runs one migration file and records it in bun_migrations in a
// single transaction (DDL is transactional on PostgreSQL and SQLite), so a
// process killed in between leaves the migration either applied and
// recorded, or neither; bun would record it after its own commit, and a
// kill between the two made every later start fail on "already exists".
// Hence every file runs in a transaction, with or without ".tx" in its name:
// a statement that cannot (CREATE INDEX CONCURRENTLY) needs another way.
// Statements are split on "--bun:split" lines, as bun does.
func applyInTx(ctx context.Context, db *bun.DB, fsys fs.FS, file string, mig *migrate.Migration) error {
	b, err := fs.ReadFile(fsys, file)
	if err != nil {
		return err
	}
	var queries []string
	var q strings.Builder
	for line := range strings.Lines(string(b)) {
		if strings.HasPrefix(line, "--bun:") {
			if strings.TrimSpace(line) != "--bun:split" {
				return fmt.Errorf("%s: unknown directive %q", file, strings.TrimSpace(line))
			}
			queries, q = append(queries, q.String()), strings.Builder{}
			continue
		}
		q.WriteString(line)
	}
	queries = append(queries, q.String())
	return db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if db.Dialect().Name() == dialect.PG {
			// a migration may rewrite a large table or wait for readers:
			// the statement timeout of requests does not apply
			for _, set := range []string{"SET LOCAL statement_timeout = 0", "SET LOCAL lock_timeout = 0"} {
				if _, err := tx.ExecContext(ctx, set); err != nil {
					return err
				}
			}
		}
		for _, query := range queries {
			if strings.TrimSpace(query) == "" {
				continue
			}
			if _, err := tx.ExecContext(ctx, query); err != nil {
				return err
			}
		}
		_, err := tx.NewInsert().Model(mig).ModelTableExpr("bun_migrations").On("CONFLICT (name) DO NOTHING").Exec(ctx)
		return err
	})
}

// migrationsPending reports whether a migration is not applied yet, without
// creating anything.
func (db *DB) migrationsPending(ctx context.Context, m *migrate.Migrator) (bool, error) {
	exists, err := db.tableExists(ctx, "bun_migrations")
	if err != nil || !exists {
		return true, err
	}
	ms, err := m.MigrationsWithStatus(ctx)
	if err != nil {
		return false, err
	}
	return len(ms.Unapplied()) > 0, nil
}

func (db *DB) tableExists(ctx context.Context, name string) (bool, error) {
	var n int
	var err error
	if db.IsPostgres() {
		err = db.QueryRowContext(ctx, "SELECT count(*) FROM (SELECT to_regclass(?) AS t) r WHERE t IS NOT NULL", name).Scan(&n)
	} else {
		err = db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", name).Scan(&n)
	}
	return n > 0, err
}

// lockMigrations takes the migration lock, waiting at most wait, and returns
// its release.
func (db *DB) lockMigrations(ctx context.Context, wait time.Duration) (unlock func(), err error) {
	if db.IsPostgres() {
		return db.lockMigrationsPostgres(ctx, wait)
	}
	path, err := db.sqliteFile(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate lock: %w", err)
	}
	if path == "" { // in-memory or temporary: no other process can see it
		return func() {}, nil
	}
	return lockFile(ctx, path+".migrate-lock", wait)
}

// lockMigrationsPostgres holds a session-level advisory lock on a connection
// taken out of the pool: if the process dies, PostgreSQL ends the session
// and the lock with it.
func (db *DB) lockMigrationsPostgres(ctx context.Context, wait time.Duration) (func(), error) {
	if db.DB.DB.Stats().MaxOpenConnections == 1 {
		return nil, errors.New("store: migrating PostgreSQL needs a pool of at least 2 connections (one holds the migration lock)")
	}
	conn, err := db.DB.DB.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate lock: %w", err)
	}
	const try = "SELECT pg_try_advisory_lock($1, hashtext(coalesce(current_schema(), '')))"
	err = retryUntil(ctx, wait, func() (bool, error) {
		var ok bool
		err := conn.QueryRowContext(ctx, try, migrationLockClass).Scan(&ok)
		return ok, err
	})
	if err != nil {
		_ = conn.Close()
		if errors.Is(err, ErrMigrationLocked) {
			if holder := db.migrationLockHolder(ctx); holder != "" {
				err = fmt.Errorf("%w (%s)", err, holder)
			}
		}
		return nil, err
	}
	return func() {
		// Released even when ctx is done; if the unlock fails, the
		// connection is discarded rather than returned to the pool with
		// the lock still held.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		const release = "SELECT pg_advisory_unlock($1, hashtext(coalesce(current_schema(), '')))"
		var ok bool
		if err := conn.QueryRowContext(uctx, release, migrationLockClass).Scan(&ok); err != nil || !ok {
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
		_ = conn.Close()
	}, nil
}

// migrationLockHolder describes the session holding the PostgreSQL migration
// lock, or returns "" when there is none (or it cannot be read).
func (db *DB) migrationLockHolder(ctx context.Context) string {
	var pid int
	var app sql.NullString
	var since sql.NullTime
	err := db.QueryRowContext(ctx, `SELECT l.pid, a.application_name, a.backend_start
		FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
		WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
		AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
		AND l.classid = ?::oid AND l.objid = hashtext(coalesce(current_schema(), ''))::oid
		LIMIT 1`, migrationLockClass).Scan(&pid, &app, &since)
	if err != nil {
		return ""
	}
	s := fmt.Sprintf("held by PostgreSQL backend pid %d", pid)
	if app.String != "" {
		s += fmt.Sprintf(", application %q", app.String)
	}
	if since.Valid {
		s += ", connected since " + since.Time.UTC().Format(time.RFC3339)
	}
	return s
}

// retryUntil calls try until it reports success, fails, ctx ends or wait has
// passed (then the error wraps ErrMigrationLocked and says how long it
// waited). Retries are 50–250 ms apart.
func retryUntil(ctx context.Context, wait time.Duration, try func() (bool, error)) error {
	start := time.Now()
	deadline := start.Add(wait)
	for {
		ok, err := try()
		if err != nil {
			return fmt.Errorf("migrate lock: %w", err)
		}
		if ok {
			return nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			return fmt.Errorf("store: %w; waited %gs", ErrMigrationLocked, time.Since(start).Round(100*time.Millisecond).Seconds())
		}
		pause := min(50*time.Millisecond+rand.N(200*time.Millisecond), left) // #nosec G404 -- jitter between lock attempts, not a secret
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("store: %w; gave up after %gs: %w", ErrMigrationLocked, time.Since(start).Round(100*time.Millisecond).Seconds(), ctx.Err())
		case <-t.C:
		}
	}
}
