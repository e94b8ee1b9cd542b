package server_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/server"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

// The statement timeout of the servers under test: short, so that the
// tests are fast.
const testStatementTimeout = "300ms"

// answerWithin bounds every request of these tests: a request that waits
// for a lock without a statement timeout would hang there.
const answerWithin = 15 * time.Second

// send sends a request with key and returns the response (body read).
func send(t *testing.T, base, method, path, key string, body any) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, base+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := (&http.Client{Timeout: answerWithin}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: no answer: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

// expectUnavailable checks a 503 problem+json with Retry-After and the
// service-unavailable type that shows no SQL or driver text.
func expectUnavailable(t *testing.T, res *http.Response, body []byte) {
	t.Helper()
	var p struct {
		Type   string `json:"type"`
		Status int    `json:"status"`
		Detail string `json:"detail"`
	}
	if res.StatusCode != http.StatusServiceUnavailable || json.Unmarshal(body, &p) != nil {
		t.Fatalf("want 503 problem, got %d %s", res.StatusCode, body)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Errorf("Content-Type %q", ct)
	}
	if ra := res.Header.Get("Retry-After"); ra == "" || strings.Trim(ra, "0123456789") != "" {
		t.Errorf("Retry-After %q", ra)
	}
	if !strings.HasSuffix(p.Type, "/service-unavailable") || p.Status != 503 {
		t.Errorf("problem %s", body)
	}
	lower := strings.ToLower(string(body))
	for _, leak := range []string{"sqlstate", "select", "update ", "pgconn", "sqlite", "timeout", "lock", "dial", "connect", "127.0.0.1"} {
		if strings.Contains(lower, leak) {
			t.Errorf("the problem shows %q: %s", leak, body)
		}
	}
}

// sqlitePath is the file of a testenv SQLite database.
func sqlitePath(db *testenv.DB) string {
	p, _, _ := strings.Cut(strings.TrimPrefix(db.DSN, "file:"), "?")
	return p
}

// databaseURL is the HUB_DATABASE_URL of db; on PostgreSQL the server's
// sessions carry app as application_name.
func databaseURL(t *testing.T, db *testenv.DB, app string) string {
	t.Helper()
	if db.Name != "postgres" {
		return "sqlite:" + sqlitePath(db)
	}
	u, err := url.Parse(db.DSN)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("application_name", app)
	u.RawQuery = q.Encode()
	return u.String()
}

// startFromEnv builds a server from environment entries (as cmd/hubchantier
// does), opening the database itself, and serves it; logs go to the buffer.
func startFromEnv(t *testing.T, adjust func(*server.Config), environ ...string) (*server.Server, string, *lockedBuffer) {
	t.Helper()
	cfg, err := server.ConfigFromEnv(environ)
	if err != nil {
		t.Fatal(err)
	}
	if adjust != nil {
		adjust(&cfg)
	}
	logs := &lockedBuffer{}
	cfg.BlobDir, cfg.CacheMaxMB, cfg.Logger = t.TempDir(), -1, slog.New(slog.NewJSONHandler(logs, nil))
	srv, err := server.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	t.Cleanup(srv.Close)
	hs := httptest.NewServer(srv.Handler)
	t.Cleanup(hs.Close)
	return srv, hs.URL, logs
}

// operatorKey creates an admin and its key with the server's operator.
func operatorKey(t *testing.T, srv *server.Server) string {
	t.Helper()
	ctx := context.Background()
	u := &hubapi.User{Email: uniq("ops") + "@test.hubchantier.fr", Nom: "Test", Prenom: "Ops", Role: hubapi.RoleAdmin}
	if err := srv.Operator.CreateUser(ctx, u, ""); err != nil {
		t.Fatal(err)
	}
	_, key, err := srv.Operator.IssueAPIKey(ctx, hubapi.APIKeyInput{UserID: u.ID, Name: "ops", Scopes: hubapi.RoleScopes(hubapi.RoleAdmin)})
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// metricsText scrapes the server's /metrics from loopback.
func metricsText(t *testing.T, srv *server.Server) string {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.RemoteAddr = "127.0.0.1:40000"
	rec := httptest.NewRecorder()
	srv.MetricsHandler.ServeHTTP(rec, req)
	return rec.Body.String()
}

// PostgreSQL down or unreachable: every request that needs the database
// gets 503 with Retry-After (never 500), /readyz is 503, and the access
// log and the metrics count 503s.
func TestDatabaseRefusingConnectionsGives503(t *testing.T) {
	if testenv.PostgresURL() == "" {
		t.Skip("HUB_TEST_POSTGRES_URL not set")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close() // nothing listens there any more: connections are refused
	// the schema cannot be migrated: the server starts without it
	srv, base, logs := startFromEnv(t, func(c *server.Config) { c.SkipMigrate = true },
		fmt.Sprintf("HUB_DATABASE_URL=postgres://hub:pw@127.0.0.1:%d/hub?sslmode=disable", port),
		"HUB_DB_STATEMENT_TIMEOUT="+testStatementTimeout,
		"HUB_CURSOR_KEYS="+b64(bytes.Repeat([]byte{9}, 32)),
		"HUB_SECRET_KEYS=k1:"+b64(bytes.Repeat([]byte{10}, 32)))
	key, err := hubapi.NewAPIKeySecret()
	if err != nil {
		t.Fatal(err)
	}
	t.Run("a list → 503", func(t *testing.T) {
		res, body := send(t, base, http.MethodGet, v1+"/chantiers", key, nil)
		expectUnavailable(t, res, body)
	})
	t.Run("a write → 503", func(t *testing.T) {
		res, body := send(t, base, http.MethodPost, v1+"/chantiers", key, map[string]any{"code": "X-1", "nom": "N", "adresse": "A"})
		expectUnavailable(t, res, body)
	})
	t.Run("/readyz → 503", func(t *testing.T) {
		res, body := send(t, base, http.MethodGet, "/readyz", "", nil)
		if res.StatusCode != 503 {
			t.Fatalf("%d %s", res.StatusCode, body)
		}
	})
	t.Run("the access log and the metrics record 503", func(t *testing.T) {
		if !strings.Contains(logs.String(), `"status":503`) || strings.Contains(logs.String(), `"status":500`) {
			t.Errorf("access log: %s", logs.String())
		}
		m := metricsText(t, srv)
		if !strings.Contains(m, `route="/api/v1/chantiers",status="503"`) || strings.Contains(m, `status="500"`) {
			t.Errorf("metrics:\n%s", m)
		}
		if strings.Contains(logs.String(), "pw@") {
			t.Errorf("the database password is in the log")
		}
	})
}

// A write waiting for a lock another transaction holds gets 503 once the
// statement timeout has passed (PostgreSQL: a row locked FOR UPDATE;
// SQLite: another connection's write transaction), instead of waiting for
// the lock; nothing is changed, reads go on, and once the lock is released
// the same write succeeds.
func TestWriteWaitingForALockGives503(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, db *testenv.DB) {
		srv, base, logs := startFromEnv(t, nil, "HUB_DATABASE_URL="+databaseURL(t, db, "hubtest-lock"),
			"HUB_DB_STATEMENT_TIMEOUT="+testStatementTimeout)
		key := operatorKey(t, srv)
		res, body := send(t, base, http.MethodPost, v1+"/chantiers", key, map[string]any{"code": uniq("LK-"), "nom": "Avant", "adresse": "1 rue"})
		var ch hubapi.Chantier
		if res.StatusCode != 201 || json.Unmarshal(body, &ch) != nil {
			t.Fatalf("create: %d %s", res.StatusCode, body)
		}
		path := idPath("chantiers", ch.ID)
		update := map[string]any{"code": ch.Code, "nom": "Après", "adresse": "2 rue"}

		ctx := context.Background()
		holder, err := db.DB.DB.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer holder.Close()
		tx, err := holder.BeginTx(ctx, nil) // SQLite: BEGIN IMMEDIATE (the test DSN's _txlock)
		if err != nil {
			t.Fatal(err)
		}
		if db.Name == "postgres" {
			var id int64
			if err := tx.QueryRowContext(ctx, "SELECT id FROM chantiers WHERE id = $1 FOR UPDATE", ch.ID).Scan(&id); err != nil {
				t.Fatal(err)
			}
		} else if _, err := tx.ExecContext(ctx, "UPDATE chantiers SET nom = nom WHERE id = ?", ch.ID); err != nil {
			t.Fatal(err)
		}

		t.Run("PUT on the locked row → 503", func(t *testing.T) {
			res, body := send(t, base, http.MethodPut, path, key, update)
			expectUnavailable(t, res, body)
		})
		t.Run("reads go on → 200", func(t *testing.T) {
			if res, body := send(t, base, http.MethodGet, path, key, nil); res.StatusCode != 200 {
				t.Fatalf("%d %s", res.StatusCode, body)
			}
		})
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
		t.Run("nothing was changed", func(t *testing.T) {
			var got hubapi.Chantier
			res, body := send(t, base, http.MethodGet, path, key, nil)
			if res.StatusCode != 200 || json.Unmarshal(body, &got) != nil || got.Nom != "Avant" || got.Version != ch.Version {
				t.Fatalf("%d %s", res.StatusCode, body)
			}
		})
		t.Run("the lock released, the same PUT → 200", func(t *testing.T) {
			var got hubapi.Chantier
			res, body := send(t, base, http.MethodPut, path, key, update)
			if res.StatusCode != 200 || json.Unmarshal(body, &got) != nil || got.Nom != "Après" || got.Version != ch.Version+1 {
				t.Fatalf("%d %s", res.StatusCode, body)
			}
		})
		t.Run("the access log and the metrics record 503", func(t *testing.T) {
			if !strings.Contains(logs.String(), `"status":503`) || strings.Contains(logs.String(), `"status":500`) {
				t.Errorf("access log: %s", logs.String())
			}
			if m := metricsText(t, srv); !strings.Contains(m, `status="503"`) || strings.Contains(m, `status="500"`) {
				t.Errorf("metrics:\n%s", m)
			}
		})
	})
}

// The server's PostgreSQL backend is terminated (pg_terminate_backend, as
// an administrator or a failover does) while it runs a request's statement:
// that request gets 503, not 500, and the next requests are served on a
// new connection.
func TestTerminatedBackendGives503(t *testing.T) {
	db := testenv.Postgres(t)
	app := "hubtest-" + uniq("term")
	// No statement timeout: the statement waits on the lock until its
	// backend is terminated.
	srv, base, logs := startFromEnv(t, nil, "HUB_DATABASE_URL="+databaseURL(t, db, app), "HUB_DB_STATEMENT_TIMEOUT=0")
	key := operatorKey(t, srv)
	res, body := send(t, base, http.MethodPost, v1+"/chantiers", key, map[string]any{"code": uniq("TB-"), "nom": "Avant", "adresse": "1 rue"})
	var ch hubapi.Chantier
	if res.StatusCode != 201 || json.Unmarshal(body, &ch) != nil {
		t.Fatalf("create: %d %s", res.StatusCode, body)
	}
	path := idPath("chantiers", ch.ID)
	ctx := context.Background()
	tx, err := db.DB.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, "SELECT id FROM chantiers WHERE id = ? FOR UPDATE", ch.ID); err != nil {
		t.Fatal(err)
	}

	type answer struct {
		res  *http.Response
		body []byte
	}
	done := make(chan answer, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPut, base+path, strings.NewReader(`{"code":"`+ch.Code+`","nom":"Après","adresse":"2 rue"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+key)
		res, err := (&http.Client{Timeout: answerWithin}).Do(req)
		if err != nil {
			done <- answer{}
			return
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		done <- answer{res, b}
	}()
	// wait until the server's statement waits for the lock, then end its session
	admin, err := sql.Open("pgx", testenv.PostgresURL())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var terminated bool
	for deadline := time.Now().Add(answerWithin); !terminated && time.Now().Before(deadline); {
		if err := admin.QueryRowContext(ctx, `SELECT count(pg_terminate_backend(pid)) > 0 FROM pg_stat_activity
			WHERE application_name = $1 AND wait_event_type = 'Lock'`, app).Scan(&terminated); err != nil {
			t.Fatal(err)
		}
		if !terminated {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if !terminated {
		t.Fatal("the server's statement never waited for the lock")
	}
	a := <-done
	if a.res == nil {
		t.Fatal("no answer")
	}
	expectUnavailable(t, a.res, a.body)
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	var got hubapi.Chantier
	res, body = send(t, base, http.MethodGet, path, key, nil)
	if res.StatusCode != 200 || json.Unmarshal(body, &got) != nil || got.Nom != "Avant" {
		t.Fatalf("after: %d %s", res.StatusCode, body)
	}
	if strings.Contains(logs.String(), `"status":500`) {
		t.Errorf("access log: %s", logs.String())
	}
}

// Every pooled connection is busy for longer than the statement timeout:
// a request waiting for one gets 503 instead of waiting for ever, and is
// served once a connection is free again.
func TestPoolExhaustedGives503(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, db *testenv.DB) {
		ctx := context.Background()
		var sdb *store.DB
		var err error
		if db.Name == "postgres" {
			sdb, err = store.OpenPostgres(db.DSN, store.StatementTimeout(300*time.Millisecond))
		} else {
			sdb, err = store.OpenSQLite(db.DSN, store.StatementTimeout(300*time.Millisecond))
		}
		if err != nil {
			t.Fatal(err)
		}
		defer sdb.Close()
		if err := sdb.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		sdb.SetMaxOpenConns(1)
		srv, err := server.New(ctx, server.Config{DB: sdb, SkipMigrate: true, BlobDir: t.TempDir(), CacheMaxMB: -1,
			CursorKeys: [][]byte{bytes.Repeat([]byte{5}, 32)}, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		hs := httptest.NewServer(srv.Handler)
		defer hs.Close()
		key := operatorKey(t, srv)
		res, body := send(t, hs.URL, http.MethodPost, v1+"/chantiers", key, map[string]any{"code": uniq("PX-"), "nom": "Avant", "adresse": "1 rue"})
		var ch hubapi.Chantier
		if res.StatusCode != 201 || json.Unmarshal(body, &ch) != nil {
			t.Fatalf("create: %d %s", res.StatusCode, body)
		}
		path := idPath("chantiers", ch.ID)
		fresh := operatorKey(t, srv) // not used yet: its authentication needs the database

		held, err := sdb.DB.DB.Conn(ctx) // the pool's only connection
		if err != nil {
			t.Fatal(err)
		}
		t.Run("a read (authentication waits for a connection) → 503", func(t *testing.T) {
			res, body := send(t, hs.URL, http.MethodGet, v1+"/chantiers", fresh, nil)
			expectUnavailable(t, res, body)
		})
		t.Run("a write (its transaction waits for a connection) → 503", func(t *testing.T) {
			res, body := send(t, hs.URL, http.MethodPut, path, key, map[string]any{"code": ch.Code, "nom": "Après", "adresse": "2 rue"})
			expectUnavailable(t, res, body)
		})
		_ = held.Close()
		t.Run("a connection free again → 200, nothing was changed", func(t *testing.T) {
			var got hubapi.Chantier
			res, body := send(t, hs.URL, http.MethodGet, path, fresh, nil)
			if res.StatusCode != 200 || json.Unmarshal(body, &got) != nil || got.Nom != "Avant" || got.Version != ch.Version {
				t.Fatalf("after: %d %s", res.StatusCode, body)
			}
		})
	})
}

// tcpProxy forwards connections to target until Close, which also cuts the
// connections it carries: for the server behind it, the database is gone.
type tcpProxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				_ = c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); _ = up.Close() }()
			go func() { _, _ = io.Copy(c, up); _ = c.Close() }()
		}
	}()
	t.Cleanup(p.Close)
	return p
}

func (p *tcpProxy) Addr() string { return p.ln.Addr().String() }

func (p *tcpProxy) Close() {
	_ = p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}

// PostgreSQL goes away while the server is serving (its connections cut,
// new ones refused): reads and writes of callers already authenticated get
// 503 with Retry-After, /readyz 503.
func TestDatabaseGoneWhileServingGives503(t *testing.T) {
	db := testenv.Postgres(t)
	u, err := url.Parse(db.DSN)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newTCPProxy(t, u.Host)
	u.Host = proxy.Addr()
	srv, base, logs := startFromEnv(t, nil, "HUB_DATABASE_URL="+u.String(), "HUB_DB_STATEMENT_TIMEOUT="+testStatementTimeout)
	key := operatorKey(t, srv)
	res, body := send(t, base, http.MethodPost, v1+"/chantiers", key, map[string]any{"code": uniq("GO-"), "nom": "Avant", "adresse": "1 rue"})
	var ch hubapi.Chantier
	if res.StatusCode != 201 || json.Unmarshal(body, &ch) != nil {
		t.Fatalf("create: %d %s", res.StatusCode, body)
	}
	proxy.Close()

	t.Run("a list → 503", func(t *testing.T) {
		res, body := send(t, base, http.MethodGet, v1+"/chantiers", key, nil)
		expectUnavailable(t, res, body)
	})
	t.Run("a write → 503", func(t *testing.T) {
		res, body := send(t, base, http.MethodPut, idPath("chantiers", ch.ID), key, map[string]any{"code": ch.Code, "nom": "Après", "adresse": "2 rue"})
		expectUnavailable(t, res, body)
	})
	t.Run("/readyz → 503", func(t *testing.T) {
		if res, body := send(t, base, http.MethodGet, "/readyz", "", nil); res.StatusCode != 503 {
			t.Fatalf("%d %s", res.StatusCode, body)
		}
	})
	t.Run("nothing was changed", func(t *testing.T) {
		var nom string
		if err := db.NewSelect().Table("chantiers").Column("nom").Where("id = ?", ch.ID).Scan(context.Background(), &nom); err != nil || nom != "Avant" {
			t.Fatalf("nom %q, %v", nom, err)
		}
	})
	if strings.Contains(logs.String(), `"status":500`) {
		t.Errorf("access log: %s", logs.String())
	}
}
