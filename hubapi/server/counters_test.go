package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/server"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

// A PostgreSQL server folds the counter deltas of writes into the counters
// in the background, and stops doing so on Close.
func TestServerCompactsCounters(t *testing.T) {
	tdb := testenv.Postgres(t)
	ctx := context.Background()
	srv, err := server.New(ctx, server.Config{DB: store.Wrap(tdb.DB), BlobDir: t.TempDir(), CacheMaxMB: -1})
	if err != nil {
		t.Fatal(err)
	}
	insert := func(code string) {
		t.Helper()
		if _, err := srv.DB.ExecContext(ctx, `INSERT INTO chantiers (code, nom, adresse, statut, created_at, updated_at) VALUES (?, 'n', 'a', 'ouvert', now(), now())`, code); err != nil {
			t.Fatal(err)
		}
	}
	deltas := func() int {
		t.Helper()
		n, err := srv.DB.NewSelect().Table("counter_deltas").Count(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return int(n)
	}
	insert("K-1")
	insert("K-2")
	deadline := time.Now().Add(10 * server.CounterCompactionInterval)
	for deltas() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d deltas still pending after %s", deltas(), 10*server.CounterCompactionInterval)
		}
		time.Sleep(50 * time.Millisecond)
	}
	cs, err := store.Counters(ctx, srv.DB, "chantiers")
	if err != nil || len(cs) != 1 || cs[0].K1 != "ouvert" || cs[0].N != 2 {
		t.Fatalf("counters after compaction: %+v, %v", cs, err)
	}

	srv.Close() // the database is the test's: it stays open
	insert("K-3")
	time.Sleep(3 * server.CounterCompactionInterval)
	if n := deltas(); n != 1 {
		t.Fatalf("after Close: %d deltas pending, want 1 (compaction stopped)", n)
	}
	if n, err := store.CountChantiers(ctx, srv.DB, hubapi.ChantierFilter{}); err != nil || n != 3 {
		t.Fatalf("count with a pending delta: %d, %v", n, err)
	}
}
