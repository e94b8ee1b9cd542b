package audit_test

import (
	"context"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/audit"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

func TestWriterAppendsEverythingOnClose(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, db *testenv.DB) {
		ctx := context.Background()
		s := newStore(t, db)
		w := audit.NewWriter(s, audit.WriterConfig{BatchSize: 16, FlushInterval: 10 * time.Millisecond, MaxWait: time.Second})
		for range 100 {
			w.Record(event(3, "read"))
		}
		if err := w.Close(ctx); err != nil {
			t.Fatal(err)
		}
		w.Record(event(3, "late")) // after Close: dropped, no panic
		if w.Written() != 100 || w.Dropped() != 1 {
			t.Fatalf("written %d dropped %d", w.Written(), w.Dropped())
		}
		evs, _, err := s.List(ctx, audit.Filter{UserID: 3}, audit.Page{Limit: 1000})
		if err != nil || len(evs) != 100 {
			t.Fatalf("%d events, err %v", len(evs), err)
		}
		if b, err := s.Verify(ctx, time.Time{}, time.Time{}, ""); err != nil || b != nil {
			t.Fatalf("break %v err %v", b, err)
		}
	})
}

func TestWriterDropsWhenFull(t *testing.T) {
	db := testenv.SQLite(t)
	s := newStore(t, db)
	// a writer whose database is locked by an open write transaction
	tx, err := db.BeginTx(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(context.Background(), "INSERT INTO audit_chain_heads (chain, seq, hash) VALUES ('x', 0, '')"); err != nil {
		t.Fatal(err)
	}
	w := audit.NewWriter(s, audit.WriterConfig{Buffer: 4, BatchSize: 1, MaxWait: -1})
	for range 50 {
		w.Record(event(1, "read"))
	}
	if w.Dropped() < 40 {
		t.Errorf("dropped %d of 50 with a buffer of 4 and a blocked database", w.Dropped())
	}
	_ = tx.Rollback()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = w.Close(ctx)
}
