package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/hubchantier/hubchantier/hubapi"
)

// Classify wraps err with hubapi.ErrUnavailable when it says that the
// database cannot serve the request now, and returns it unchanged otherwise:
//   - PostgreSQL unreachable or refusing connections (connection and network
//     errors, SQLSTATE class 08, 53300 too_many_connections, 57P01–57P03
//     shutdown, crash, not accepting connections yet);
//   - a statement that ran past the statement timeout (57014) or waited too
//     long for a lock (55P03 lock_not_available; SQLite SQLITE_BUSY and
//     SQLITE_LOCKED past the busy timeout);
//   - a context deadline: requests carry none of their own, so it is the
//     store's statement timeout, which also bounds the wait for a pooled
//     connection.
//
// A caller's own cancellation (context.Canceled) is never unavailability.
// The wrapped error keeps its cause for the logs (errors.Is and errors.As
// see both); adapters show clients neither. Every driver error of a DB
// opened by this package passes through Classify.
func Classify(err error) error {
	if err == nil || errors.Is(err, hubapi.ErrUnavailable) || !unavailable(err) {
		return err
	}
	return &unavailableError{cause: err}
}

type unavailableError struct{ cause error }

func (e *unavailableError) Error() string   { return "database unavailable: " + e.cause.Error() }
func (e *unavailableError) Unwrap() []error { return []error{hubapi.ErrUnavailable, e.cause} }

func unavailable(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch c := pgErr.Code; {
		case c == "57014", // query_canceled: statement_timeout
			c == "55P03",                             // lock_not_available: lock_timeout
			c == "53300",                             // too_many_connections
			c == "57P01", c == "57P02", c == "57P03", // admin shutdown, crash shutdown, cannot connect now
			strings.HasPrefix(c, "08"): // connection exception
			return true
		}
		return false
	}
	var sqErr *sqlite.Error
	if errors.As(err, &sqErr) {
		switch sqErr.Code() & 0xff { // primary result code
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return true
		}
		return false
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	// SafeToRetry: pgx refused to send anything, e.g. "conn closed" for a
	// pooled connection the server side already cut.
	return errors.As(err, &connectErr) || errors.As(err, &netErr) || pgconn.SafeToRetry(err) ||
		errors.Is(err, driver.ErrBadConn) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed)
}
