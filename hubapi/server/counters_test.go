package server_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/server"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

// A PostgreSQL server folds the counter deltas of writes into the counters
// in a periodic job, and stops doing so on Close.
func TestServerCompactsCounters(t *testing.T) {
	tdb := testenv.Postgres(t)
	ctx := context.Background()
	logs := &lockedBuffer{}
	srv, err := server.New(ctx, server.Config{DB: store.Wrap(tdb.DB), BlobDir: t.TempDir(), CacheMaxMB: -1,
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
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

	// A failing compaction is logged once, and its recovery once.
	const failing, recovered = `msg="periodic job failing" job=counter-compaction`, `msg="periodic job recovered" job=counter-compaction`
	if _, err := srv.DB.ExecContext(ctx, `ALTER TABLE counter_deltas RENAME TO counter_deltas_away`); err != nil {
		t.Fatal(err)
	}
	time.Sleep(4 * server.CounterCompactionInterval)
	if n := strings.Count(logs.String(), failing); n != 1 {
		t.Fatalf("%d failure lines over 4 failing compactions:\n%s", n, logs.String())
	}
	if _, err := srv.DB.ExecContext(ctx, `ALTER TABLE counter_deltas_away RENAME TO counter_deltas`); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * server.CounterCompactionInterval); !strings.Contains(logs.String(), recovered); {
		if time.Now().After(deadline) {
			t.Fatalf("no recovery logged:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
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

// lockedBuffer is a bytes.Buffer safe for the server's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
