// Package testenv gives tests real databases and a real Redis.
//
// SQLite (a temporary file) is always available. PostgreSQL is used when
// HUB_TEST_POSTGRES_URL is set; each call then gets a fresh schema of its own
// (dropped at cleanup), so packages can run their tests in parallel against
// one server. When the variable is set, an unreachable server fails the test:
// it is never silently skipped. Redis works the same way with
// HUB_TEST_REDIS_URL; tests must prefix their keys with Prefix(t).
package testenv

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	"github.com/redis/go-redis/v9"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	_ "modernc.org/sqlite" // database/sql driver "sqlite"
)

// DB is one database under test.
type DB struct {
	Name string // "sqlite" or "postgres"
	*bun.DB
	// DSN reopens the same database (for PostgreSQL it selects the schema).
	DSN string
}

// SQLiteDSN is the DSN the product uses for a SQLite file: WAL, busy timeout,
// foreign keys and immediate write transactions.
func SQLiteDSN(path string) string {
	return "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"
}

// SQLite opens a fresh SQLite database in a temporary directory.
func SQLite(t testing.TB) *DB {
	t.Helper()
	dsn := SQLiteDSN(filepath.Join(t.TempDir(), "test.db"))
	sqldb, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	db := bun.NewDB(sqldb, sqlitedialect.New())
	t.Cleanup(func() { _ = db.Close() })
	return &DB{Name: "sqlite", DB: db, DSN: dsn}
}

// PostgresURL returns HUB_TEST_POSTGRES_URL, or "" when unset.
func PostgresURL() string { return os.Getenv("HUB_TEST_POSTGRES_URL") }

// Postgres opens a fresh schema on HUB_TEST_POSTGRES_URL. It skips the test
// when the variable is unset and fails it when the server is unreachable.
func Postgres(t testing.TB) *DB {
	t.Helper()
	base := PostgresURL()
	if base == "" {
		t.Skip("HUB_TEST_POSTGRES_URL not set")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	defer admin.Close()
	schema := "t_" + randomHex(8)
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("postgres unreachable or unusable (HUB_TEST_POSTGRES_URL is set): %v", err)
	}
	dsn := withSearchPath(t, base, schema)
	sqldb, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	sqldb.SetMaxOpenConns(10)
	db := bun.NewDB(sqldb, pgdialect.New())
	t.Cleanup(func() {
		_ = db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if a, err := sql.Open("pgx", base); err == nil {
			_, _ = a.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE")
			_ = a.Close()
		}
	})
	return &DB{Name: "postgres", DB: db, DSN: dsn}
}

func withSearchPath(t testing.TB, base, schema string) string {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		// keyword/value form
		return strings.TrimSpace(base) + " search_path=" + schema
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Databases returns SQLite and, when HUB_TEST_POSTGRES_URL is set, PostgreSQL.
// Use it as: for _, db := range testenv.Databases(t) { t.Run(db.Name, ...) }.
func Databases(t testing.TB) []*DB {
	t.Helper()
	dbs := []*DB{SQLite(t)}
	if PostgresURL() != "" {
		dbs = append(dbs, Postgres(t))
	}
	return dbs
}

// EachDB runs fn as a subtest on every available database.
func EachDB(t *testing.T, fn func(t *testing.T, db *DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t)) })
	if PostgresURL() != "" {
		t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t)) })
	}
}

// RedisURL returns HUB_TEST_REDIS_URL, or "" when unset.
func RedisURL() string { return os.Getenv("HUB_TEST_REDIS_URL") }

// Redis connects to HUB_TEST_REDIS_URL. It skips when unset and fails when the
// server does not answer. Keys written by the test must start with Prefix(t).
func Redis(t testing.TB) *redis.Client {
	t.Helper()
	u := RedisURL()
	if u == "" {
		t.Skip("HUB_TEST_REDIS_URL not set")
	}
	opt, err := redis.ParseURL(u)
	if err != nil {
		t.Fatalf("HUB_TEST_REDIS_URL: %v", err)
	}
	c := redis.NewClient(opt)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("redis unreachable (HUB_TEST_REDIS_URL is set): %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Prefix returns a key prefix unique to this test run.
func Prefix(t testing.TB) string { return "test:" + randomHex(6) + ":" }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// PrivateRedis is a redis-server of the test's own, on a port the OS chose,
// that the test may stop and start again (on the same port) to play an
// outage without disturbing the shared server.
type PrivateRedis struct {
	t    testing.TB
	Addr string // 127.0.0.1:port
	cmd  *exec.Cmd
}

// StartPrivateRedis starts a redis-server for t, stopped at cleanup. Like
// Redis, it skips when HUB_TEST_REDIS_URL is unset; when it is set, a
// missing redis-server fails the test.
func StartPrivateRedis(t testing.TB) *PrivateRedis {
	t.Helper()
	if RedisURL() == "" {
		t.Skip("HUB_TEST_REDIS_URL not set")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	r := &PrivateRedis{t: t, Addr: addr}
	r.Start()
	t.Cleanup(r.Stop)
	return r
}

// URL is the redis:// URL of the server.
func (r *PrivateRedis) URL() string { return "redis://" + r.Addr + "/0" }

// Start starts the server (again) and waits until it answers.
func (r *PrivateRedis) Start() {
	r.t.Helper()
	if r.cmd != nil {
		return
	}
	_, port, _ := net.SplitHostPort(r.Addr)
	cmd := exec.Command("redis-server", "--bind", "127.0.0.1", "--port", port, // #nosec G204 -- fixed program, port chosen by the OS
		"--save", "", "--appendonly", "no", "--protected-mode", "no")
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("redis-server (needed when HUB_TEST_REDIS_URL is set): %v", err)
	}
	r.cmd = cmd
	c := redis.NewClient(&redis.Options{Addr: r.Addr, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("private redis-server on %s does not answer: %v", r.Addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop kills the server (by its process id) and waits for it to exit.
func (r *PrivateRedis) Stop() {
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
	r.cmd = nil
}
