package store

import (
	"context"
	"time"
)

// MigrationLockClass is the advisory lock's first key.
const MigrationLockClass = migrationLockClass

// LockMigrations takes the migration lock as Migrate does.
func (db *DB) LockMigrations(ctx context.Context, wait time.Duration) (func(), error) {
	return db.lockMigrations(ctx, wait)
}
