package main

import (
	"context"
	"fmt"
	"io"

	"github.com/hubchantier/hubchantier/hubapi/store"
)

// unlockMigrations removes the bun_migration_locks rows that versions before
// the advisory lock left when killed while migrating (migrate --unlock).
func unlockMigrations(ctx context.Context, stdout io.Writer) error {
	cfg, err := config()
	if err != nil {
		return err
	}
	db, err := store.Open(cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	removed, err := db.UnlockMigrations(ctx)
	if err != nil {
		return fmt.Errorf("migrate --unlock: %w", err)
	}
	fmt.Fprintf(stdout, "removed %d stale migration lock row(s)\n", removed)
	return nil
}
