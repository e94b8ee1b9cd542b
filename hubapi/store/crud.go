package store

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"

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

// GetForUpdate is Get that locks the row on PostgreSQL until the end of the
// transaction (SQLite write transactions are already exclusive).
func GetForUpdate[T any](ctx context.Context, db bun.IDB, id int64) (*T, error) {
	m := new(T)
	q := db.NewSelect().Model(m).Where("?TableAlias.id = ?", id).Limit(1)
	if db.Dialect().Name().String() == "pg" {
		q = q.For("UPDATE")
	}
	if err := q.Scan(ctx); err != nil {
		return nil, mapErr(err)
	}
	return m, nil
}

// Insert inserts m and reads back the generated id.
func Insert[T any](ctx context.Context, db bun.IDB, m *T) error {
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

// Columns maps the sortable field names of a resource to SQL columns.
type Columns map[string]string

// List runs q (a select of T's table with its filters) with the legacy
// offset pagination and the sort order; count gives the total of the same
// filters (the Count* functions) unless p.NoCount. Sort fields must come
// from cols (the adapter validates them against the same whitelist); id is
// always the last key so the order is total.
func List[T any](ctx context.Context, q *bun.SelectQuery, cols Columns, p hubapi.ListParams, count func() (int, error)) (*hubapi.List[T], error) {
	if err := ApplySort(q, cols, p.Sort); err != nil {
		return nil, err
	}
	var items []T
	if err := q.Offset(int64(p.Offset)).Limit(int64(p.Limit)).Scan(ctx, &items); err != nil {
		return nil, mapErr(err)
	}
	out := &hubapi.List[T]{Items: items, Total: -1}
	if out.Items == nil {
		out.Items = []T{}
	}
	if !p.NoCount {
		n, err := count()
		if err != nil {
			return nil, err
		}
		out.Total = n
	}
	return out, nil
}

// ApplySort adds ORDER BY for sort fields, then id.
func ApplySort(q *bun.SelectQuery, cols Columns, sort []hubapi.SortField) error {
	for _, s := range sort {
		col, ok := cols[s.Field]
		if !ok {
			return hubapi.Errorf(hubapi.ErrInvalid, "cannot sort on %q", s.Field)
		}
		if col == "id" {
			continue
		}
		dir := "ASC"
		if s.Desc {
			dir = "DESC"
		}
		q.OrderExpr(fmt.Sprintf("?TableAlias.%s %s", col, dir))
	}
	dir := "ASC"
	if len(sort) > 0 && sort[len(sort)-1].Desc {
		dir = "DESC"
	}
	q.OrderExpr("?TableAlias.id " + dir)
	return nil
}
