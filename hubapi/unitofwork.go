package hubapi

import "context"

// UnitOfWork runs several use cases as one: every use case called with the
// context fn receives joins a single transaction, which commits when fn
// returns nil and rolls back when it returns an error. The domain events of
// the joined use cases are recorded in that transaction and published
// in-process (cache invalidation, notifications) only after its commit;
// after a rollback nothing of them remains. A call inside another unit of
// work joins the outer one.
//
// fn may be called more than once: after a rollback the unit may run it
// again in a new transaction (a store that defers its writes does so when
// a deferred write fails, to learn which use case it belonged to). Each
// call must start afresh; only the last call's work is kept.
//
// One transaction is one database connection, which runs one statement at
// a time: use the context of a unit of work from one goroutine at a time.
type UnitOfWork interface {
	Atomically(ctx context.Context, fn func(ctx context.Context) error) error
}

type batchOperationKey struct{}

// WithBatchOperation marks ctx as the context of one operation of a batch
// request, dispatched in-process after the batch itself was authenticated
// and charged to the caller's rate-limit quota.
func WithBatchOperation(ctx context.Context) context.Context {
	return context.WithValue(ctx, batchOperationKey{}, true)
}

// IsBatchOperation reports whether ctx is the context of a batch operation
// (see WithBatchOperation).
func IsBatchOperation(ctx context.Context) bool {
	v, _ := ctx.Value(batchOperationKey{}).(bool)
	return v
}

type expectedCreatesKey struct{}

// WithExpectedCreates tells the unit of work started with ctx how many
// resources fn may create at most (a batch's POST operations), so that it
// prepares for them at once (on PostgreSQL: ids drawn in one block). It is
// a hint: fn may create fewer, or more.
func WithExpectedCreates(ctx context.Context, n int) context.Context {
	return context.WithValue(ctx, expectedCreatesKey{}, n)
}

// ExpectedCreates returns the hint of WithExpectedCreates, or 0.
func ExpectedCreates(ctx context.Context) int {
	n, _ := ctx.Value(expectedCreatesKey{}).(int)
	return n
}
