package rest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/server"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

func startServer(t *testing.T, tdb *testenv.DB) (*httptest.Server, string) {
	t.Helper()
	ts, _, key := startServerWith(t, server.Config{DB: store.Wrap(tdb.DB)})
	return ts, key
}

// startServerWith starts a server; a second call on the same database
// (cfg.DB) reuses its admin user.
func startServerWith(t *testing.T, cfg server.Config) (*httptest.Server, *server.Server, string) {
	t.Helper()
	ctx := context.Background()
	cfg.BlobDir = t.TempDir()
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := server.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	u, err := srv.Operator.FindUserByEmail(ctx, "admin@test.fr")
	if err != nil {
		u = &hubapi.User{Email: "admin@test.fr", Role: hubapi.RoleAdmin}
		if err := srv.Operator.CreateUser(ctx, u, ""); err != nil {
			t.Fatal(err)
		}
	}
	_, key, err := srv.Operator.IssueAPIKey(ctx, hubapi.APIKeyInput{UserID: u.ID, Name: "t", Scopes: hubapi.AllScopes})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler)
	t.Cleanup(ts.Close)
	return ts, srv, key
}

func do(t *testing.T, ts *httptest.Server, key, method, path, body string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, ts.URL+path, bytes.NewBufferString(body))
	req.Header.Set("Authorization", "Bearer "+key)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := ts.Client().Do(req)
	if err != nil {
		t.Error(err)
		return nil, nil
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

// N clients PUT the same chantier with the If-Match they all read: exactly
// one succeeds, the other N-1 get 412, on every database.
func TestConcurrentConditionalPUT(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		ts, key := startServer(t, tdb)
		res, body := do(t, ts, key, "POST", "/api/v1/chantiers", `{"code":"CH-1","nom":"n","adresse":"a"}`)
		if res.StatusCode != 201 {
			t.Fatalf("create: %d %s", res.StatusCode, body)
		}
		var c hubapi.Chantier
		_ = json.Unmarshal(body, &c)
		etag := res.Header.Get("ETag")
		res, _ = do(t, ts, key, "GET", res.Header.Get("Location"), "")
		if res.Header.Get("ETag") != etag {
			t.Fatalf("GET ETag %q differs from create's %q", res.Header.Get("ETag"), etag)
		}
		const n = 12
		codes := make([]int, n)
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				r, _ := do(t, ts, key, "PUT", "/api/v1/chantiers/"+itoa(c.ID), `{"code":"CH-1","nom":"writer `+itoa(int64(i))+`","adresse":"a"}`, "If-Match", etag)
				if r != nil {
					codes[i] = r.StatusCode
				}
			}(i)
		}
		wg.Wait()
		ok, failed := tally(t, codes)
		if ok != 1 || failed != n-1 {
			t.Fatalf("ok=%d 412=%d", ok, failed)
		}
		res, _ = do(t, ts, key, "PATCH", "/api/v1/chantiers/"+itoa(c.ID), `{"nom":"late"}`, "If-Match", etag)
		if res.StatusCode != 412 {
			t.Fatalf("stale PATCH: %d", res.StatusCode)
		}
		res, _ = do(t, ts, key, "DELETE", "/api/v1/chantiers/"+itoa(c.ID), "", "If-Match", etag)
		if res.StatusCode != 412 {
			t.Fatalf("stale DELETE: %d", res.StatusCode)
		}
	})
}

// Concurrent PATCHes of different fields without If-Match never lose each
// other's change: each merge is applied on the version it read.
func TestConcurrentPatchesKeepEveryField(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		ts, key := startServer(t, tdb)
		res, body := do(t, ts, key, "POST", "/api/v1/chantiers", `{"code":"CH-1","nom":"n","adresse":"a"}`)
		var c hubapi.Chantier
		_ = json.Unmarshal(body, &c)
		if res.StatusCode != 201 {
			t.Fatal(string(body))
		}
		patches := []string{`{"ville":"Lyon"}`, `{"client_nom":"Eiffage"}`, `{"description":"d"}`, `{"budget_cents":5}`}
		var wg sync.WaitGroup
		for _, p := range patches {
			wg.Add(1)
			go func(p string) {
				defer wg.Done()
				r, b := do(t, ts, key, "PATCH", "/api/v1/chantiers/"+itoa(c.ID), p, "Content-Type", "application/merge-patch+json")
				if r != nil && r.StatusCode != 200 {
					t.Errorf("PATCH %s: %d %s", p, r.StatusCode, b)
				}
			}(p)
		}
		wg.Wait()
		_, body = do(t, ts, key, "GET", "/api/v1/chantiers/"+itoa(c.ID), "")
		var got hubapi.Chantier
		_ = json.Unmarshal(body, &got)
		if got.Ville != "Lyon" || got.ClientNom != "Eiffage" || got.Description != "d" || got.BudgetCents != 5 || got.Version != 5 {
			t.Fatalf("lost update: %+v", got)
		}
	})
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

// Writes without a precondition never get 412, which means "your
// precondition failed": concurrent PUTs of one row are serialised by a row
// lock (PostgreSQL) or the exclusive write transaction (SQLite), and the
// last writer wins.
func TestConcurrentUnconditionalPUTsAllSucceed(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		ts, key := startServer(t, tdb)
		res, body := do(t, ts, key, "POST", "/api/v1/chantiers", `{"code":"CH-1","nom":"n","adresse":"a"}`)
		if res.StatusCode != 201 {
			t.Fatal(string(body))
		}
		var c hubapi.Chantier
		_ = json.Unmarshal(body, &c)
		const n = 30
		codes := make([]int, n)
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				r, b := do(t, ts, key, "PUT", "/api/v1/chantiers/"+itoa(c.ID), `{"code":"CH-1","nom":"writer `+itoa(int64(i))+`","adresse":"a"}`)
				if r != nil {
					if codes[i] = r.StatusCode; r.StatusCode != 200 {
						t.Errorf("PUT %d: %d %s", i, r.StatusCode, b)
					}
				}
			}(i)
		}
		wg.Wait()
		_, body = do(t, ts, key, "GET", "/api/v1/chantiers/"+itoa(c.ID), "")
		var got hubapi.Chantier
		_ = json.Unmarshal(body, &got)
		if got.Version != 1+n {
			t.Fatalf("version %d after %d writes (%v)", got.Version, n, codes)
		}
	})
}

// tally counts the 200 and 412 answers of concurrent conditional writes;
// any other status fails the test.
func tally(t *testing.T, codes []int) (ok, failed int) {
	t.Helper()
	for _, code := range codes {
		switch code {
		case 200:
			ok++
		case 412:
			failed++
		default:
			t.Fatalf("unexpected status %d (%v)", code, codes)
		}
	}
	return ok, failed
}
