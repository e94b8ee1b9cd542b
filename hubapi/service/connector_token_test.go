package service_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/hubchantier/hubchantier/connectors"
	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/blob"
	"github.com/hubchantier/hubchantier/hubapi/service"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/internal/testenv"
	"github.com/hubchantier/hubchantier/secretbox"
)

// Tokens refreshed through the product's store: sealed in the connector's
// row, one refresh for many concurrent callers — across two instances (two
// pools on one PostgreSQL database) where the database allows several.
func TestConnectorTokensRefreshOnceAndStaySealed(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		ctx := context.Background()
		db := store.Wrap(tdb.DB)
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		blobs, _ := blob.NewDir(t.TempDir())
		op := service.NewOperator(service.New(db, blobs))
		u := &hubapi.User{Email: "tok@test.fr", Role: hubapi.RoleAdmin}
		if err := op.CreateUser(ctx, u, ""); err != nil {
			t.Fatal(err)
		}
		now := store.Now()
		c := &hubapi.Connector{UserID: u.ID, Type: "example", Name: "t", Enabled: true, ConfigKeyID: "-", ConfigSealed: []byte{0},
			SyncStatus: hubapi.SyncNever, CreatedAt: now, UpdatedAt: now, Version: 1}
		if _, err := db.NewInsert().Model(c).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		key := strconv.FormatInt(c.ID, 10)
		var refreshes atomic.Int64
		vendor := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_ = r.ParseForm()
			if r.Form.Get("refresh_token") != "rt-1" {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				_, _ = w.Write([]byte(`{"error":"invalid_grant"}`))
				return
			}
			refreshes.Add(1)
			time.Sleep(100 * time.Millisecond)
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "at-fresh", "token_type": "Bearer", "refresh_token": "rt-1", "expires_in": 3600})
		}))
		defer vendor.Close()
		sealer, _ := connectors.ParseSealer("k:" + secretbox.GenerateKey())
		stores := []*service.ConnectorTokens{service.NewConnectorTokens(db, sealer)}
		if tdb.Name == "postgres" {
			other, err := store.Open(tdb.DSN)
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close()
			stores = append(stores, service.NewConnectorTokens(other, sealer))
		}
		if err := stores[0].SaveToken(ctx, key, &oauth2.Token{AccessToken: "at-old", RefreshToken: "rt-1", Expiry: time.Now().Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
		cfg := connectors.OAuthSpec{TokenURL: vendor.URL + "/token"}.Config("client", "secret", "")
		var wg sync.WaitGroup
		for i := range 8 {
			st := stores[i%len(stores)]
			toks := &connectors.Tokens{Config: cfg, Store: st, Locker: st}
			wg.Go(func() {
				tok, err := toks.Token(ctx, key)
				if err != nil || tok.AccessToken != "at-fresh" {
					t.Errorf("token %v, %v", tok, err)
				}
			})
		}
		wg.Wait()
		if n := refreshes.Load(); n != 1 {
			t.Fatalf("%d refreshes, want 1", n)
		}
		var row hubapi.Connector
		if err := db.NewSelect().Model(&row).Where("id = ?", c.ID).Scan(ctx); err != nil {
			t.Fatal(err)
		}
		if row.TokenKeyID == nil || bytes.Contains(row.TokenSealed, []byte("at-fresh")) || bytes.Contains(row.TokenSealed, []byte("rt-1")) {
			t.Fatal("token not sealed at rest")
		}
		if _, err := stores[0].LoadToken(ctx, strconv.FormatInt(c.ID+1, 10)); err == nil {
			t.Fatal("a missing connector has a token")
		}
	})
}
