package server

import (
	"context"
	"time"

	"github.com/hubchantier/hubchantier/hubapi/jobs"
	"github.com/hubchantier/hubchantier/hubapi/store"
)

// CounterCompactionInterval is how often a PostgreSQL cluster folds the
// counter deltas appended by writes into the counters (store.CompactCounters):
// counts stay exact in between; compaction keeps them a few rows to read.
const CounterCompactionInterval = time.Second

// counterCompaction is the periodic job folding counter deltas, run on one
// instance of the cluster each interval (PostgreSQL only: SQLite's triggers
// update the counters in place).
func counterCompaction(db *store.DB) []jobs.Periodic {
	if !db.IsPostgres() {
		return nil
	}
	return []jobs.Periodic{{Name: "counter-compaction", Interval: CounterCompactionInterval,
		Run: func(ctx context.Context, _ time.Time) error {
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			return store.CompactCounters(cctx, db)
		}}}
}
