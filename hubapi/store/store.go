// Package store persists the Hub Chantier domain with bun, on SQLite
// (modernc.org/sqlite, the embedded default) or PostgreSQL (pgx's
// database/sql driver), chosen by the database URL.
package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/internal/txconn"
)

//go:embed migrations
var migrationsFS embed.FS

// DB is the product's database.
type DB struct {
	*bun.DB
	// connWait bounds RunInTx's wait for a pooled connection (0: none);
	// queries built with bun are bounded by their deadline (deadlineHook).
	connWait time.Duration
}

// DefaultURL is the embedded database used when HUB_DATABASE_URL is unset.
const DefaultURL = "sqlite:hubchantier.db"

// Open connects to url: "sqlite:<path>" (or "sqlite::memory:" is refused:
// each pooled connection would see its own database) or
// "postgres://..." / "postgresql://...".
func Open(rawURL string, opts ...OpenOption) (*DB, error) {
	switch {
	case strings.HasPrefix(rawURL, "sqlite:"):
		path := strings.TrimPrefix(rawURL, "sqlite:")
		path = strings.TrimPrefix(path, "//")
		if path == "" || strings.Contains(path, ":memory:") {
			return nil, errors.New("store: sqlite URL needs a file path, e.g. sqlite:hubchantier.db")
		}
		if dir := filepath.Dir(path); dir != "." {
			if err := os.MkdirAll(dir, 0o750); err != nil {
				return nil, fmt.Errorf("store: %w", err)
			}
		}
		return OpenSQLite(SQLiteDSN(path), opts...)
	case strings.HasPrefix(rawURL, "postgres://"), strings.HasPrefix(rawURL, "postgresql://"):
		if _, err := url.Parse(rawURL); err != nil {
			return nil, errors.New("store: invalid PostgreSQL URL")
		}
		return OpenPostgres(rawURL, opts...)
	default:
		return nil, errors.New("store: database URL must start with sqlite: or postgres://")
	}
}

// SQLiteDSN returns the modernc DSN for a file: WAL, busy timeout, foreign
// keys, and immediate write transactions (a deferred transaction that
// upgrades to a write is not retried by busy_timeout and fails under
// concurrent writers).
func SQLiteDSN(path string) string {
	return "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"
}

// OpenSQLite opens a SQLite DSN (see SQLiteDSN).
func OpenSQLite(dsn string, opts ...OpenOption) (*DB, error) {
	cfg := openOptions(opts)
	base, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	conn := &classifyingConnector{base: base}
	if d := cfg.statementTimeout; d > 0 {
		busy := fmt.Sprintf("PRAGMA busy_timeout = %d", max(d.Milliseconds(), 1))
		conn.init = func(ctx context.Context, c driver.Conn) error {
			e, ok := c.(driver.ExecerContext)
			if !ok {
				return errors.New("store: the SQLite driver cannot execute statements")
			}
			_, err := e.ExecContext(ctx, busy, nil)
			return err
		}
	}
	sqldb := sql.OpenDB(conn)
	sqldb.SetMaxOpenConns(8)
	sqldb.SetMaxIdleConns(8)
	db := bun.NewDB(sqldb, sqlitedialect.New())
	if d := cfg.statementTimeout; d > 0 {
		db = db.WithQueryHook(deadlineHook{d: d})
	}
	return &DB{DB: db, connWait: max(cfg.statementTimeout, 0)}, nil
}

// DefaultConnectTimeout bounds a PostgreSQL connection attempt unless the
// URL sets connect_timeout.
const DefaultConnectTimeout = 5 * time.Second

// OpenPostgres opens a PostgreSQL URL through pgx's database/sql driver.
//
// Unless the URL chooses one, queries use pgx's simple protocol: bun inlines
// every argument, so nearly each SQL text is new and pgx's default (prepare
// and cache every statement) would cost an extra round trip per query and
// churn its statement cache.
func OpenPostgres(dsn string, opts ...OpenOption) (*DB, error) {
	cfg := openOptions(opts)
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		if !q.Has("default_query_exec_mode") {
			q.Set("default_query_exec_mode", "simple_protocol")
			u.RawQuery = q.Encode()
			dsn = u.String()
		}
	}
	pgcfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// pgx's message may quote the URL and its password
		return nil, errors.New("store: invalid PostgreSQL URL")
	}
	if pgcfg.ConnectTimeout == 0 {
		pgcfg.ConnectTimeout = DefaultConnectTimeout
	}
	if d := cfg.statementTimeout; d > 0 {
		ms := strconv.FormatInt(max(d.Milliseconds(), 1), 10)
		for _, p := range []string{"statement_timeout", "lock_timeout"} {
			if _, set := pgcfg.RuntimeParams[p]; !set {
				pgcfg.RuntimeParams[p] = ms
			}
		}
	}
	sqldb := sql.OpenDB(&classifyingConnector{base: stdlib.GetConnector(*pgcfg)})
	sqldb.SetMaxOpenConns(20)
	sqldb.SetMaxIdleConns(20)
	sqldb.SetConnMaxIdleTime(5 * time.Minute)
	db := bun.NewDB(sqldb, pgdialect.New())
	if d := cfg.statementTimeout; d > 0 {
		// after the server's own timeout: it ends the statement and keeps
		// the connection; this deadline is for a server that never answers
		db = db.WithQueryHook(deadlineHook{d: d + time.Second})
		return &DB{DB: db, connWait: d + time.Second}, nil
	}
	return &DB{DB: db}, nil
}

// Wrap uses an already opened bun database (tests, embedders).
func Wrap(db *bun.DB) *DB { return &DB{DB: db} }

// RunInTx runs fn in a transaction, as bun's RunInTx does, except that with
// a statement timeout (see StatementTimeout) the wait for a pooled
// connection is bounded by it: when every connection stays busy, the error
// wraps hubapi.ErrUnavailable instead of waiting for as long as ctx lasts.
// The transaction itself keeps ctx (database/sql ends it with ctx).
func (db *DB) RunInTx(ctx context.Context, opts *sql.TxOptions, fn func(ctx context.Context, tx bun.Tx) error) error {
	wctx := ctx
	if db.connWait > 0 {
		var cancel context.CancelFunc
		wctx, cancel = context.WithTimeoutCause(ctx, db.connWait, errStatementTimeout)
		defer cancel()
	}
	// Without the store's driver (a database given by an embedder, Wrap),
	// BEGIN and COMMIT errors reach here unclassified: Classify makes a
	// busy SQLite or a lost connection ErrUnavailable all the same.
	conn, err := db.Conn(wctx)
	if err != nil {
		return Classify(err)
	}
	defer conn.Close()
	return Classify(conn.RunInTx(ctx, opts, func(ctx context.Context, tx bun.Tx) error {
		// the transaction's own connection, for COPY inside it (txconn)
		return fn(txconn.With(ctx, tx.Tx, conn.Conn), tx)
	}))
}

// IsPostgres reports the dialect.
func (db *DB) IsPostgres() bool { return db.Dialect().Name() == dialect.PG }

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error { return db.PingContext(ctx) }

// Now is the store's clock: UTC, microsecond precision (what PostgreSQL keeps),
// so a value reads back exactly as written on both dialects.
func Now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// mapErr turns driver errors into domain errors.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return hubapi.ErrNotFound
	}
	if err := Classify(err); errors.Is(err, hubapi.ErrUnavailable) {
		return err
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505":
			return hubapi.Errorf(hubapi.ErrConflict, "a resource with the same unique value already exists")
		case "23503":
			if strings.Contains(pgErr.Message, "update or delete") {
				return hubapi.Errorf(hubapi.ErrConflict, "the resource is still referenced by other resources")
			}
			return hubapi.Errorf(hubapi.ErrInvalid, "a referenced resource does not exist")
		case "23514", "22P02", "22007", "22008", "22003":
			return hubapi.Errorf(hubapi.ErrInvalid, "a value is out of range or malformed")
		}
	}
	var sqErr *sqlite.Error
	if errors.As(err, &sqErr) {
		switch sqErr.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return hubapi.Errorf(hubapi.ErrConflict, "a resource with the same unique value already exists")
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY, sqlite3.SQLITE_CONSTRAINT_TRIGGER:
			return hubapi.Errorf(hubapi.ErrConflict, "a referenced resource does not exist or the resource is still referenced")
		case sqlite3.SQLITE_CONSTRAINT_CHECK, sqlite3.SQLITE_CONSTRAINT_NOTNULL:
			return hubapi.Errorf(hubapi.ErrInvalid, "a value is out of range or malformed")
		}
	}
	return err
}
