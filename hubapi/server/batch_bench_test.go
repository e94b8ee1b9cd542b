package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/server"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/internal/testenv"
	"github.com/hubchantier/hubchantier/ratelimit"
)

// BenchmarkBatchCreates compares, on PostgreSQL over loopback HTTP, 100
// chantiers created by 100 POST /chantiers sent one after the other by one
// client with 100 created by one atomic batch. One iteration is 100
// creates either way.
func BenchmarkBatchCreates(b *testing.B) {
	// The database as the server opens it (store.OpenPostgres: pgx's
	// simple protocol), in a schema of the test database.
	db, err := store.OpenPostgres(testenv.Postgres(b).DSN)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	ctx := context.Background()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		b.Fatal(err)
	}
	srv, err := server.New(ctx, server.Config{
		DB: db, CursorKeys: [][]byte{key}, BlobDir: b.TempDir(),
		Logger:               slog.New(slog.NewJSONHandler(io.Discard, nil)),
		RateLimits:           "POST /api/v1/chantiers=1000000/s;POST /api/v1/batch=1000000/s;POST /api/v2/batch=1000000/s",
		BatchOperationLimits: []ratelimit.Policy{ratelimit.PerSecond(1000000)},
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(srv.Close)
	u := &hubapi.User{Email: "bench@test.hubchantier.fr", Nom: "Bench", Prenom: "Hub", Role: hubapi.RoleAdmin}
	if err := srv.Operator.CreateUser(ctx, u, ""); err != nil {
		b.Fatal(err)
	}
	_, secret, err := srv.Operator.IssueAPIKey(ctx, hubapi.APIKeyInput{UserID: u.ID, Name: "bench", Scopes: hubapi.AllScopes})
	if err != nil {
		b.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler)
	b.Cleanup(hs.Close)
	client := hs.Client()
	var seq atomic.Int64
	chantier := func() map[string]any {
		return map[string]any{"code": fmt.Sprintf("BENCH-%d", seq.Add(1)), "nom": "Chantier de banc", "adresse": "1 rue du Banc"}
	}
	send := func(b *testing.B, path string, body any, want int) []byte {
		data, _ := json.Marshal(body)
		req, _ := http.NewRequest(http.MethodPost, hs.URL+path, bytes.NewReader(data))
		req.Header.Set("Authorization", "Bearer "+secret)
		req.Header.Set("Content-Type", "application/json")
		res, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		out, _ := io.ReadAll(res.Body)
		_ = res.Body.Close()
		if res.StatusCode != want {
			b.Fatalf("%s: %d %s", path, res.StatusCode, out)
		}
		return out
	}
	b.Run("100 single POSTs in sequence", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for range 100 {
				send(b, v1+"/chantiers", chantier(), http.StatusCreated)
			}
		}
	})
	b.Run("one atomic batch of 100 creates", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ops := make([]any, 100)
			for i := range ops {
				ops[i] = map[string]any{"method": "POST", "path": "/chantiers", "body": chantier()}
			}
			out := send(b, v1+"/batch", map[string]any{"atomic": true, "operations": ops}, http.StatusOK)
			if !bytes.Contains(out, []byte(`"status":201`)) || bytes.Contains(out, []byte(`"status":4`)) {
				b.Fatalf("batch: %.300s", out)
			}
		}
	})
	// The two alternated within each iteration, so that a machine whose
	// load changes during the run slows both alike: the reported
	// singles/batch is the speed-up (the issue's target is 10).
	b.Run("speed-up of one atomic batch over 100 singles", func(b *testing.B) {
		var singles, batches time.Duration
		for b.Loop() {
			start := time.Now()
			for range 100 {
				send(b, v1+"/chantiers", chantier(), http.StatusCreated)
			}
			singles += time.Since(start)
			ops := make([]any, 100)
			for i := range ops {
				ops[i] = map[string]any{"method": "POST", "path": "/chantiers", "body": chantier()}
			}
			start = time.Now()
			send(b, v1+"/batch", map[string]any{"atomic": true, "operations": ops}, http.StatusOK)
			batches += time.Since(start)
		}
		b.ReportMetric(float64(singles)/float64(batches), "singles/batch")
		b.ReportMetric(float64(singles.Milliseconds())/float64(b.N), "singles-ms/op")
		b.ReportMetric(float64(batches.Microseconds())/1000/float64(b.N), "batch-ms/op")
	})
	// The same batch in v2: v2 bodies in, v2 representations out (the
	// renaming of each operation's body and answer is the difference).
	b.Run("one atomic v2 batch of 100 creates", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ops := make([]any, 100)
			for i := range ops {
				c := chantier()
				ops[i] = map[string]any{"method": "POST", "path": "/chantiers", "body": map[string]any{"code": c["code"], "name": c["nom"], "location": c["adresse"]}}
			}
			out := send(b, v2+"/batch", map[string]any{"atomic": true, "operations": ops}, http.StatusOK)
			if !bytes.Contains(out, []byte(`"status":201`)) || bytes.Contains(out, []byte(`"status":4`)) {
				b.Fatalf("batch: %.300s", out)
			}
		}
	})
}
