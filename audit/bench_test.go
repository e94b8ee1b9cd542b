package audit_test

import (
	"context"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/hubchantier/hubchantier/audit"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

// BenchmarkWriter measures the asynchronous writer: ns/op is the cost of
// Record to a request; "drain-ms" is how long the last event waited to be
// appended after the last Record (the loss window at that rate);
// "dropped/op" is the share of events dropped by back-pressure.
func BenchmarkWriter(b *testing.B) {
	for _, name := range benchDBs() {
		b.Run(name, func(b *testing.B) {
			db := openBench(b, name)
			s := benchStore(b, db)
			w := audit.NewWriter(s, audit.WriterConfig{})
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					w.Record(event(1, "read"))
				}
			})
			b.StopTimer()
			start := time.Now()
			if err := w.Close(context.Background()); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(time.Since(start).Microseconds())/1000, "drain-ms")
			b.ReportMetric(float64(w.Dropped())/float64(b.N), "dropped/op")
		})
	}
}

// BenchmarkAppendInTx measures the synchronous append of one change event
// in a transaction of its own (what a mutation adds to its transaction).
func BenchmarkAppendInTx(b *testing.B) {
	for _, name := range benchDBs() {
		b.Run(name, func(b *testing.B) {
			db := openBench(b, name)
			s := benchStore(b, db)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
					return s.Append(ctx, tx, event(1, "create_chantier"))
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func benchStore(b *testing.B, db *testenv.DB) *audit.Store {
	if err := audit.CreateSchema(context.Background(), db.DB); err != nil {
		b.Fatal(err)
	}
	return audit.NewStore(db.DB)
}

func benchDBs() []string {
	if testenv.PostgresURL() != "" {
		return []string{"sqlite", "postgres"}
	}
	return []string{"sqlite"}
}

func openBench(b *testing.B, name string) *testenv.DB {
	if name == "postgres" {
		return testenv.Postgres(b)
	}
	return testenv.SQLite(b)
}
