// Package txconn lets code that is handed a database/sql transaction reach
// the connection it runs on, to use what database/sql does not offer on it:
// PostgreSQL's COPY through pgx, inside that same transaction.
//
// The code that begins the transaction on a connection of its own records
// the pair in the context (With); CopyFrom finds the connection only for
// that very transaction, so a context that outlives it, or a transaction
// begun elsewhere with the same context, never copies into another session.
package txconn

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"

	"github.com/jackc/pgx/v5"
)

type key struct{}

type pair struct {
	tx   *sql.Tx
	conn *sql.Conn
}

// With returns ctx recording that tx runs on conn.
func With(ctx context.Context, tx *sql.Tx, conn *sql.Conn) context.Context {
	return context.WithValue(ctx, key{}, pair{tx, conn})
}

// Conn returns the connection recorded for tx in ctx, or nil.
func Conn(ctx context.Context, tx *sql.Tx) *sql.Conn {
	p, ok := ctx.Value(key{}).(pair)
	if !ok || tx == nil || p.tx != tx {
		return nil
	}
	return p.conn
}

// Pgx returns the pgx connection under a database/sql driver connection
// (pgx's stdlib driver, possibly wrapped by a driver that offers
// Unwrap() driver.Conn), or nil.
func Pgx(dc any) *pgx.Conn {
	for range 8 {
		switch c := dc.(type) {
		case interface{ Conn() *pgx.Conn }:
			return c.Conn()
		case interface{ Unwrap() driver.Conn }:
			dc = c.Unwrap()
		default:
			return nil
		}
	}
	return nil
}

// ErrNoCopy reports a transaction CopyFrom cannot copy in: its connection
// is unknown (not recorded with With) or not pgx's. The caller inserts the
// rows another way; nothing was written.
var ErrNoCopy = errors.New("txconn: no COPY on this transaction")

// CopyFrom copies rows into table's columns with COPY (binary) inside tx,
// which must be the transaction recorded in ctx. Enum columns need their
// type registered on the connection: leave them to their defaults.
func CopyFrom(ctx context.Context, tx *sql.Tx, table string, columns []string, rows [][]any) (int64, error) {
	conn := Conn(ctx, tx)
	if conn == nil {
		return 0, ErrNoCopy
	}
	var n int64
	err := conn.Raw(func(dc any) error {
		pc := Pgx(dc)
		if pc == nil {
			return ErrNoCopy
		}
		var err error
		n, err = pc.CopyFrom(ctx, pgx.Identifier{table}, columns, pgx.CopyFromRows(rows))
		return err
	})
	return n, err
}
