package main

import (
	"context"
	"fmt"
	"io"

	"github.com/hubchantier/hubchantier/hubapi/store"
)

// runCounters checks or rebuilds the row counters behind list totals and
// /stats (store.CheckCounters, store.RebuildCounters). Triggers keep them
// exact; they drift only when writes bypass triggers, e.g. a restore with
// pg_restore --disable-triggers.
func runCounters(ctx context.Context, action string, stdout io.Writer) error {
	db, err := openDB(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = db.Close() }()
	if action == "rebuild" {
		if err := store.RebuildCounters(ctx, db); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "counters rebuilt")
		return nil
	}
	diffs, err := store.CheckCounters(ctx, db)
	if err != nil {
		return err
	}
	for _, d := range diffs {
		key := d.K1
		if d.K2 != "" {
			key += "/" + d.K2
		}
		fmt.Fprintf(stdout, "%s %q: counters %d, table %d\n", d.Name, key, d.Counted, d.Actual)
	}
	if len(diffs) > 0 {
		return fmt.Errorf("counters: %d disagree with their tables (run: hubchantier counters rebuild)", len(diffs))
	}
	fmt.Fprintln(stdout, "counters exact")
	return nil
}
