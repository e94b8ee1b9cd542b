package store

import (
	"context"
	"errors"
	"time"

	"github.com/uptrace/bun"
)

// DefaultStatementTimeout bounds each statement when no other timeout is
// chosen (see StatementTimeout).
const DefaultStatementTimeout = 5 * time.Second

// OpenOption configures Open, OpenSQLite and OpenPostgres.
type OpenOption func(*openConfig)

type openConfig struct {
	statementTimeout time.Duration
}

// StatementTimeout bounds how long one statement may run, waiting for a lock
// included, and how long a query built with bun or a transaction (RunInTx)
// waits for a pooled connection; past it the statement fails with an error
// wrapping hubapi.ErrUnavailable (see Classify). d ≤ 0 disables it. Without this
// option, Open and the Open functions set no timeout (the server's
// configuration applies DefaultStatementTimeout).
//
//   - PostgreSQL: statement_timeout and lock_timeout are set to d for each
//     session, in the connection's start-up parameters (a value given in the
//     URL wins), so the server ends the statement and the connection stays
//     usable. Queries built with bun also carry a context deadline one
//     second later, for a server that does not answer at all.
//   - SQLite: busy_timeout is set to d on each connection, so a write
//     waiting for another writer's lock gives up with SQLITE_BUSY, and
//     queries built with bun carry a context deadline of d (the driver
//     interrupts the statement).
//
// Migrations run without these timeouts (PostgreSQL: SET LOCAL in their
// transaction).
func StatementTimeout(d time.Duration) OpenOption {
	return func(c *openConfig) { c.statementTimeout = d }
}

func openOptions(opts []OpenOption) openConfig {
	var c openConfig
	for _, o := range opts {
		o(&c)
	}
	return c
}

// errStatementTimeout is the cause of the deadline deadlineHook sets.
var errStatementTimeout = errors.New("store: statement timeout")

// deadlineHook gives each query built with bun (Scan, Exec, Count, Exists:
// everything but raw SQL and BEGIN, COMMIT, ROLLBACK) a context deadline,
// which bounds both the wait for a pooled connection and the statement.
// Raw SQL is left alone: a transaction's context must outlive its BEGIN, and
// migrations run raw statements that may be long.
type deadlineHook struct{ d time.Duration }

type deadlineCancelKey struct{}

func (h deadlineHook) BeforeQuery(ctx context.Context, e *bun.QueryEvent) context.Context {
	if e.IQuery == nil {
		return ctx
	}
	ctx, cancel := context.WithTimeoutCause(ctx, h.d, errStatementTimeout)
	if e.Stash == nil {
		e.Stash = map[any]any{}
	}
	e.Stash[deadlineCancelKey{}] = cancel
	return ctx
}

func (h deadlineHook) AfterQuery(_ context.Context, e *bun.QueryEvent) {
	cancel, ok := e.Stash[deadlineCancelKey{}].(context.CancelFunc)
	if !ok {
		return
	}
	// SelectQuery.Rows returns rows still to be read (no result, no
	// error): its deadline must run on, and ends by itself. Every other
	// query has read its rows by now.
	if e.Result == nil && e.Err == nil {
		return
	}
	cancel()
}
