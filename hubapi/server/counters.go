package server

import (
	"context"
	"log/slog"
	"time"

	"github.com/hubchantier/hubchantier/hubapi/store"
)

// CounterCompactionInterval is how often a PostgreSQL server folds the
// counter deltas appended by writes into the counters (store.CompactCounters):
// counts stay exact in between; compaction keeps them a few rows to read.
const CounterCompactionInterval = time.Second

// startCounterCompaction runs store.CompactCounters every interval until
// Close. Every instance may run it: concurrent compactions are safe.
func (s *Server) startCounterCompaction(log *slog.Logger) {
	if !s.DB.IsPostgres() {
		return // SQLite's triggers update the counters in place
	}
	ctx, stop := context.WithCancel(context.Background())
	s.stop = stop
	s.bg.Go(func() {
		t := time.NewTicker(CounterCompactionInterval)
		defer t.Stop()
		failing := false // log the first failure and the recovery, not every second
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				err := store.CompactCounters(cctx, s.DB)
				cancel()
				switch {
				case ctx.Err() != nil:
					return
				case err != nil && !failing:
					failing = true
					log.Warn("counter compaction failing (counts stay exact; pending deltas grow until it recovers)", slog.String("error", err.Error()))
				case err == nil && failing:
					failing = false
					log.Info("counter compaction recovered")
				}
			}
		}
	})
}
