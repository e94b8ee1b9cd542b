package store

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/schema"
)

// Deferred holds the inserts of one PostgreSQL transaction that wait to be
// written together: consecutive inserts into one table become one
// multi-row INSERT. Each row gets its id at once, drawn from its table's
// identity sequence (in blocks, one round trip per block), so the caller
// knows everything about the row it inserted without waiting for it.
//
// The pending rows are written (flushed) before any other statement runs
// in the transaction: a query built with bun whose context carries the
// Deferred (WithDeferred) flushes it first, provided the DB it runs on was
// made by WithDeferredFlush; statements that bypass bun (River's job
// inserts through the *sql.Tx) and the commit need an explicit Flush. So
// every read sees every earlier write, and rows are written in the order
// they were inserted (foreign keys between them hold).
//
// A failing flush fails the transaction: PostgreSQL refuses every later
// statement of it, and Err reports the failure. The write that caused it
// is not known (the multi-row INSERT fails as a whole); a caller that must
// answer for each write runs its work again without deferring.
//
// A Deferred is used by one goroutine at a time, like its transaction.
type Deferred struct {
	tx    bun.Tx
	runs  []deferredRun
	ids   map[string]*idBlock
	first int // size of the first block of ids of a table
	err   error
}

// NewDeferred returns an empty Deferred for tx, a PostgreSQL transaction.
// expected is how many rows the transaction may insert in one table (0:
// unknown): the first block of ids drawn for a table has that size (at
// most maxIDBlock), later blocks double.
func NewDeferred(tx bun.Tx, expected int) *Deferred {
	return &Deferred{tx: tx, ids: map[string]*idBlock{}, first: min(max(expected, firstIDBlock), maxIDBlock)}
}

type deferredKey struct{}

// flushingKey marks the context of the Deferred's own statements, which
// must not flush it.
type flushingKey struct{}

// WithDeferred returns ctx carrying d: inserts through Insert with that
// context are deferred, and bun queries with it flush d first.
func WithDeferred(ctx context.Context, d *Deferred) context.Context {
	return context.WithValue(ctx, deferredKey{}, d)
}

func deferredFrom(ctx context.Context) *Deferred {
	if ctx.Value(flushingKey{}) != nil {
		return nil
	}
	d, _ := ctx.Value(deferredKey{}).(*Deferred)
	return d
}

// Err reports the failure of an earlier flush (nil if none).
func (d *Deferred) Err() error { return d.err }

// Pending is the number of rows waiting to be written.
func (d *Deferred) Pending() int {
	n := 0
	for _, r := range d.runs {
		n += r.len()
	}
	return n
}

// Flush writes the pending rows, one statement per run of consecutive rows
// of one table. After a failure, every call reports it.
func (d *Deferred) Flush(ctx context.Context) error {
	if d.err != nil {
		return d.err
	}
	if len(d.runs) == 0 {
		return nil
	}
	ctx = context.WithValue(ctx, flushingKey{}, true)
	runs := d.runs
	d.runs = nil
	for _, r := range runs {
		if err := r.flush(ctx, d.tx); err != nil {
			d.err = fmt.Errorf("store: writing %d deferred rows of %s: %w", r.len(), r.table(), err)
			return d.err
		}
	}
	return nil
}

// idBlock is a block of ids drawn from a table's sequence and not used
// yet.
type idBlock struct {
	next []int64
	size int
}

// First and largest number of ids drawn at once: a unit of work that
// inserts one row wastes few ids, one that inserts a hundred draws them in
// a handful of round trips.
const (
	firstIDBlock = 4
	maxIDBlock   = 128
)

// nextID returns an unused id of table, drawing a new block from its
// identity sequence when none is left.
func (d *Deferred) nextID(ctx context.Context, table string) (int64, error) {
	b := d.ids[table]
	if b == nil {
		b = &idBlock{}
		d.ids[table] = b
	}
	if len(b.next) == 0 {
		b.size = min(max(b.size*2, d.first), maxIDBlock)
		var ids []int64
		err := d.tx.NewRaw("SELECT nextval(pg_get_serial_sequence(?, 'id')) FROM generate_series(1, ?)", table, b.size).
			Scan(context.WithValue(ctx, flushingKey{}, true), &ids)
		if err != nil {
			return 0, mapErr(err)
		}
		if len(ids) == 0 {
			return 0, errors.New("store: the id sequence of " + table + " returned nothing")
		}
		b.next = ids
	}
	id := b.next[0]
	b.next = b.next[1:]
	return id, nil
}

type deferredRun interface {
	table() string
	len() int
	flush(ctx context.Context, tx bun.Tx) error
}

// run is consecutive pending rows of one model type.
type run[T any] struct {
	name string
	rows []*T
}

func (r *run[T]) table() string { return r.name }
func (r *run[T]) len() int      { return len(r.rows) }

func (r *run[T]) flush(ctx context.Context, tx bun.Tx) error {
	_, err := tx.NewInsert().Model(&r.rows).Returning("NULL").Exec(ctx)
	return mapErr(err)
}

// deferrable reports whether rows of T can be deferred: their table has an
// int64 primary key id (drawn from its sequence).
func deferrable[T any](d *Deferred) bool {
	_, err := idField(d.tx.Dialect().Tables().Get(reflect.TypeFor[T]()))
	return err == nil
}

// deferInsert gives m its id and queues it behind the pending rows.
func deferInsert[T any](ctx context.Context, d *Deferred, m *T) error {
	if d.err != nil {
		return d.err
	}
	t := d.tx.Dialect().Tables().Get(reflect.TypeFor[T]())
	pk, err := idField(t)
	if err != nil {
		return err
	}
	id, err := d.nextID(ctx, t.Name)
	if err != nil {
		return err
	}
	pk.Value(reflect.ValueOf(m).Elem()).SetInt(id)
	if n := len(d.runs); n > 0 {
		if last, ok := d.runs[n-1].(*run[T]); ok {
			last.rows = append(last.rows, m)
			return nil
		}
	}
	d.runs = append(d.runs, &run[T]{name: t.Name, rows: []*T{m}})
	return nil
}

// idField is the int64 primary key "id" of t.
func idField(t *schema.Table) (*schema.Field, error) {
	if len(t.PKs) != 1 || t.PKs[0].Name != "id" || t.PKs[0].IndirectType.Kind() != reflect.Int64 {
		return nil, fmt.Errorf("store: %s has no int64 primary key id to defer inserts", t.Name)
	}
	return t.PKs[0], nil
}

// WithDeferredFlush returns db with a query hook that flushes the Deferred
// carried by a query's context before the query runs (see Deferred). Use
// it for the DB whose transactions defer inserts.
func (db *DB) WithDeferredFlush() *DB {
	return &DB{DB: db.DB.WithQueryHook(deferredHook{}), connWait: db.connWait}
}

type deferredHook struct{}

func (deferredHook) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context {
	if d := deferredFrom(ctx); d != nil && d.err == nil && len(d.runs) > 0 {
		// On failure the transaction is aborted: the query fails too, and
		// d.Err says why.
		_ = d.Flush(ctx)
	}
	return ctx
}

func (deferredHook) AfterQuery(context.Context, *bun.QueryEvent) {}
