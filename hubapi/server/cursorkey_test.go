package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/server"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

// reopen opens db again, with a pool of its own, as another process would.
func reopen(t *testing.T, db *testenv.DB) *store.DB {
	t.Helper()
	var sdb *store.DB
	var err error
	if db.Name == "postgres" {
		sdb, err = store.OpenPostgres(db.DSN)
	} else {
		sdb, err = store.OpenSQLite(db.DSN)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sdb.Close() })
	return sdb
}

// instance is one server over its own pool on a shared database.
type instance struct {
	srv  *server.Server
	url  string
	logs *lockedBuffer
}

func startInstance(t *testing.T, db *testenv.DB, cfg server.Config) *instance {
	t.Helper()
	logs := &lockedBuffer{}
	cfg.DB, cfg.BlobDir, cfg.CacheMaxMB = reopen(t, db), t.TempDir(), -1
	cfg.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	srv, err := server.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	t.Cleanup(srv.Close)
	hs := httptest.NewServer(srv.Handler)
	t.Cleanup(hs.Close)
	return &instance{srv: srv, url: hs.URL, logs: logs}
}

// get sends an authenticated GET and returns the status and body.
func (in *instance) get(t *testing.T, key, path string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, in.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// adminKey creates an admin and its key through in.
func adminKey(t *testing.T, in *instance) string {
	t.Helper()
	ctx := context.Background()
	u := &hubapi.User{Email: uniq("admin") + "@test.hubchantier.fr", Nom: "Test", Prenom: "Admin", Role: hubapi.RoleAdmin}
	if err := in.srv.Operator.CreateUser(ctx, u, ""); err != nil {
		t.Fatal(err)
	}
	_, key, err := in.srv.Operator.IssueAPIKey(ctx, hubapi.APIKeyInput{UserID: u.ID, Name: "cursor test", Scopes: hubapi.RoleScopes(hubapi.RoleAdmin)})
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// firstCursor creates three chantiers through in and returns the next_cursor
// of the first page of one item, sorted by id.
func firstCursor(t *testing.T, in *instance, key string) string {
	t.Helper()
	ctx := hubapi.WithPrincipal(context.Background(), principalOf(t, in, key))
	for range 3 {
		if _, err := in.srv.Service.CreateChantier(ctx, hubapi.ChantierInput{Code: uniq("CK-"), Nom: "Chantier", Adresse: "1 rue"}); err != nil {
			t.Fatal(err)
		}
	}
	status, body := in.get(t, key, v1+"/chantiers?sort=id&limit=1")
	var page struct {
		Pagination struct {
			NextCursor string `json:"next_cursor"`
		} `json:"pagination"`
	}
	if err := json.Unmarshal(body, &page); status != 200 || err != nil || page.Pagination.NextCursor == "" {
		t.Fatalf("first page: %d %s", status, body)
	}
	return page.Pagination.NextCursor
}

func principalOf(t *testing.T, in *instance, key string) *hubapi.Principal {
	t.Helper()
	p, err := in.srv.Operator.Authenticate(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// opens reports the status of the next page, on in, of a cursor from
// firstCursor.
func opens(t *testing.T, in *instance, key, cursor string) (int, []byte) {
	t.Helper()
	return in.get(t, key, v1+"/chantiers?sort=id&limit=1&cursor="+url.QueryEscape(cursor))
}

// Without HUB_CURSOR_KEYS, the cursor key is generated once and kept in the
// database: instances on one database, and restarts, open each other's
// cursors. HUB_CURSOR_KEYS replaces it.
func TestCursorKeyKeptInTheDatabase(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, db *testenv.DB) {
		a := startInstance(t, db, server.Config{})
		b := startInstance(t, db, server.Config{})
		key := adminKey(t, a)
		cursor := firstCursor(t, a, key)

		t.Run("a cursor issued by one instance opens on another → 200", func(t *testing.T) {
			if status, body := opens(t, b, key, cursor); status != 200 {
				t.Fatalf("%d %s", status, body)
			}
		})
		t.Run("after a restart (a new instance) → 200", func(t *testing.T) {
			a.srv.Close()
			c := startInstance(t, db, server.Config{})
			if status, body := opens(t, c, key, cursor); status != 200 {
				t.Fatalf("%d %s", status, body)
			}
		})
		t.Run("the log says where the key comes from, never the key", func(t *testing.T) {
			var k []byte
			if err := db.NewSelect().Table("server_secrets").Column("value").Where("name = 'cursor_key'").Scan(context.Background(), &k); err != nil || len(k) != 32 {
				t.Fatalf("stored key: %d bytes, %v", len(k), err)
			}
			logs := b.logs.String()
			if !strings.Contains(logs, "server_secrets") {
				t.Errorf("no line about the key's origin: %s", logs)
			}
			for _, enc := range encodings(k) {
				if strings.Contains(logs, enc) {
					t.Fatalf("the key is in the log")
				}
			}
			for _, line := range strings.Split(logs, "\n") {
				if strings.Contains(line, `"level":"WARN"`) && strings.Contains(line, "cursor") {
					t.Errorf("a warning about cursors: %s", line)
				}
			}
		})
		t.Run("with HUB_CURSOR_KEYS the database key is not used → 400 invalid-cursor", func(t *testing.T) {
			cfg, err := server.ConfigFromEnv([]string{"HUB_CURSOR_KEYS=" + b64(bytes.Repeat([]byte{7}, 32))})
			if err != nil {
				t.Fatal(err)
			}
			d := startInstance(t, db, cfg)
			status, body := opens(t, d, key, cursor)
			if status != 400 || !strings.Contains(string(body), "invalid-cursor") {
				t.Fatalf("%d %s", status, body)
			}
			// and its own cursors open on an instance with the same keys
			own := firstCursor(t, d, key)
			e := startInstance(t, db, cfg)
			if status, body := opens(t, e, key, own); status != 200 {
				t.Fatalf("%d %s", status, body)
			}
		})
	})
}

// Instances started together on a fresh database agree on one key.
func TestCursorKeyInstancesStartingTogetherAgree(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, db *testenv.DB) {
		if err := store.Wrap(db.DB).Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		const n = 6
		ins := make([]*instance, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				// startInstance may not call t.Fatal off the test goroutine
				cfg := server.Config{DB: reopen(t, db), BlobDir: t.TempDir(), CacheMaxMB: -1, SkipMigrate: true,
					Logger: slog.New(slog.DiscardHandler)}
				srv, err := server.New(context.Background(), cfg)
				if err != nil {
					t.Errorf("instance %d: %v", i, err)
					return
				}
				ins[i] = &instance{srv: srv}
			})
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		for _, in := range ins {
			t.Cleanup(in.srv.Close)
			hs := httptest.NewServer(in.srv.Handler)
			t.Cleanup(hs.Close)
			in.url = hs.URL
		}
		key := adminKey(t, ins[0])
		cursor := firstCursor(t, ins[0], key)
		for i, in := range ins[1:] {
			if status, body := opens(t, in, key, cursor); status != 200 {
				t.Errorf("instance %d: %d %s", i+1, status, body)
			}
		}
	})
}

func b64(k []byte) string { return base64.StdEncoding.EncodeToString(k) }

// encodings are the forms a key could take in a log line.
func encodings(k []byte) []string {
	return []string{b64(k), base64.RawStdEncoding.EncodeToString(k), base64.URLEncoding.EncodeToString(k),
		base64.RawURLEncoding.EncodeToString(k), hex.EncodeToString(k)}
}
