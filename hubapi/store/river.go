package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"

	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
)

// RiverDriver returns the River driver for a pool of this database's
// dialect: riverdatabasesql (pgx's database/sql driver) on PostgreSQL,
// riversqlite on SQLite. Both work with *sql.Tx, so a job is inserted in the
// transaction of a bun write by passing the *sql.Tx inside the bun.Tx.
func (db *DB) RiverDriver(pool *sql.DB) riverdriver.Driver[*sql.Tx] {
	if db.IsPostgres() {
		return riverdatabasesql.New(pool)
	}
	return riversqlite.New(pool)
}

// riverMigrator migrates River's tables (jobs, leader, queues) in the
// product's schema, on the product's pool.
func (db *DB) riverMigrator() (*rivermigrate.Migrator[*sql.Tx], error) {
	return rivermigrate.New(db.RiverDriver(db.DB.DB), &rivermigrate.Config{Logger: discardLogger})
}

// riverPending reports whether a River migration is not applied yet.
func (db *DB) riverPending(ctx context.Context) (bool, error) {
	m, err := db.riverMigrator()
	if err != nil {
		return false, err
	}
	applied, err := m.ExistingVersions(ctx)
	if err != nil {
		return false, fmt.Errorf("river migrations: %w", err)
	}
	return len(applied) < len(m.AllVersions()), nil
}

// migrateRiver applies River's pending migrations; Migrate calls it under
// the migration lock, after the product's own.
func (db *DB) migrateRiver(ctx context.Context) error {
	m, err := db.riverMigrator()
	if err != nil {
		return err
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}
	return nil
}

// discardLogger silences River's migrator, which logs to stdout by default.
var discardLogger = slog.New(slog.DiscardHandler)

// RiverPool returns the pool River's client should use, and its release:
// on PostgreSQL the product's own pool; on SQLite a second pool of one
// connection on the same file (River's SQLite driver wants a single
// connection; the product's writes keep their own pool, and WAL with a busy
// timeout lets both write).
func (db *DB) RiverPool(ctx context.Context) (*sql.DB, func() error, error) {
	if db.IsPostgres() {
		return db.DB.DB, func() error { return nil }, nil
	}
	path, err := db.sqliteFile(ctx)
	if err != nil {
		return nil, nil, err
	}
	if path == "" {
		return nil, nil, errors.New("store: the job queue needs a SQLite file, not an in-memory database")
	}
	pool, err := sql.Open("sqlite", SQLiteDSN(path))
	if err != nil {
		return nil, nil, err
	}
	pool.SetMaxOpenConns(1)
	pool.SetMaxIdleConns(1)
	return pool, pool.Close, nil
}

// sqliteFile returns the file of the main SQLite database ("" when in
// memory or temporary).
func (db *DB) sqliteFile(ctx context.Context) (string, error) {
	rows, err := db.QueryContext(ctx, "PRAGMA database_list")
	if err != nil {
		return "", err
	}
	var path string
	for rows.Next() {
		var seq int
		var name, file string
		if err := rows.Scan(&seq, &name, &file); err != nil {
			_ = rows.Close()
			return "", err
		}
		if name == "main" {
			path = file
		}
	}
	return path, errors.Join(rows.Err(), rows.Close())
}
