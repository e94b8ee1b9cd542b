package store

import (
	"context"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"github.com/hubchantier/hubchantier/hubapi"
)

// Get loads the row of type T with the given id. Errors: hubapi.ErrNotFound.
func Get[T any](ctx context.Context, db bun.IDB, id int64) (*T, error) {
	m := new(T)
	if err := db.NewSelect().Model(m).Where("?TableAlias.id = ?", id).Limit(1).Scan(ctx); err != nil {
		return nil, mapErr(err)
	}
	return m, nil
}

// GetForUpdate is Get inside a write transaction: on PostgreSQL it locks
// the row until the transaction ends (SELECT ... FOR UPDATE), so writers of
// one row take turns and each reads the version the one before it wrote;
// SQLite's write transactions are already exclusive (_txlock=immediate).
func GetForUpdate[T any](ctx context.Context, db bun.IDB, id int64) (*T, error) {
	m := new(T)
	q := db.NewSelect().Model(m).Where("?TableAlias.id = ?", id).Limit(1)
	if db.Dialect().Name() == dialect.PG {
		q = q.For("UPDATE")
	}
	if err := q.Scan(ctx); err != nil {
		return nil, mapErr(err)
	}
	return m, nil
}

// Insert inserts m and reads back the generated id. In the transaction of
// a Deferred carried by ctx (WithDeferred), the insert is deferred: m gets
// its id now and is written with the Deferred's next flush (unless its
// table has no int64 primary key id: then it is written at once, after the
// pending rows).
func Insert[T any](ctx context.Context, db bun.IDB, m *T) error {
	if d := deferredFrom(ctx); d != nil {
		if tx, ok := db.(bun.Tx); ok && tx.Tx == d.tx.Tx && deferrable[T](d) {
			return deferInsert(ctx, d, m)
		}
	}
	_, err := db.NewInsert().Model(m).Returning("id").Exec(ctx)
	return mapErr(err)
}

// UpdateVersioned writes every column of m but id and created_at, only if
// the stored row still has oldVersion: the check and the write are one
// statement, so a concurrent writer can never be overwritten silently.
// The caller sets m's new version (oldVersion+1). Errors: ErrPrecondition
// when the row changed or vanished.
func UpdateVersioned[T any](ctx context.Context, db bun.IDB, m *T, id, oldVersion int64) error {
	res, err := db.NewUpdate().Model(m).ExcludeColumn("id", "created_at").
		Where("id = ?", id).Where("version = ?", oldVersion).Exec(ctx)
	if err != nil {
		return mapErr(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return hubapi.Errorf(hubapi.ErrPrecondition, "the resource was modified concurrently")
	}
	return nil
}

// DeleteVersioned deletes the row with id, and when oldVersion is not zero
// only if it still has that version. Errors: ErrNotFound, ErrPrecondition,
// ErrConflict (still referenced).
func DeleteVersioned[T any](ctx context.Context, db bun.IDB, id, oldVersion int64) error {
	q := db.NewDelete().Model((*T)(nil)).Where("id = ?", id)
	if oldVersion != 0 {
		q = q.Where("version = ?", oldVersion)
	}
	res, err := q.Exec(ctx)
	if err != nil {
		return mapErr(err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	exists, err := db.NewSelect().Model((*T)(nil)).Where("id = ?", id).Exists(ctx)
	if err != nil {
		return mapErr(err)
	}
	if exists {
		return hubapi.Errorf(hubapi.ErrPrecondition, "the resource was modified concurrently")
	}
	return hubapi.ErrNotFound
}

// Exists reports whether a row of T has the id.
func Exists[T any](ctx context.Context, db bun.IDB, id int64) (bool, error) {
	ok, err := db.NewSelect().Model((*T)(nil)).Where("?TableAlias.id = ?", id).Exists(ctx)
	return ok, mapErr(err)
}
