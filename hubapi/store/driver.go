package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"reflect"
)

// The database/sql driver of every DB this package opens is the real one
// (pgx, modernc) wrapped so that each error it returns passes through
// Classify: unavailability is recognised in one place, whichever query —
// a store helper, a use case's own query, a transaction's BEGIN or COMMIT,
// authentication — met it. The wrappers forward every interface both
// drivers implement; driver.ErrSkip, driver.ErrBadConn and io.EOF keep
// their meaning for database/sql (Classify returns them unchanged, or
// wrapped so that errors.Is still finds them).

// classifyingConnector opens connections of base; init, when set, runs on
// each new connection before database/sql uses it.
type classifyingConnector struct {
	base driver.Connector
	init func(ctx context.Context, c driver.Conn) error
}

func (c *classifyingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	dc, err := c.base.Connect(ctx)
	if err != nil {
		return nil, Classify(err)
	}
	if c.init != nil {
		if err := c.init(ctx, dc); err != nil {
			_ = dc.Close()
			return nil, Classify(err)
		}
	}
	return &classifyingConn{Conn: dc}, nil
}

func (c *classifyingConnector) Driver() driver.Driver { return c.base.Driver() }

// DriverConn returns the driver's own connection under dc, the value
// sql.Conn.Raw passes to its function (pgx's *stdlib.Conn for COPY).
func DriverConn(dc any) any {
	if c, ok := dc.(*classifyingConn); ok {
		return c.Conn
	}
	return dc
}

type classifyingConn struct{ driver.Conn }

var (
	_ driver.ConnBeginTx        = (*classifyingConn)(nil)
	_ driver.ConnPrepareContext = (*classifyingConn)(nil)
	_ driver.ExecerContext      = (*classifyingConn)(nil)
	_ driver.QueryerContext     = (*classifyingConn)(nil)
	_ driver.Pinger             = (*classifyingConn)(nil)
	_ driver.SessionResetter    = (*classifyingConn)(nil)
	_ driver.Validator          = (*classifyingConn)(nil)
	_ driver.NamedValueChecker  = (*classifyingConn)(nil)
)

// Unwrap returns the driver's connection (for a caller that needs its own
// API, e.g. pgx's COPY through database/sql's Conn.Raw).
func (c *classifyingConn) Unwrap() driver.Conn { return c.Conn }

func (c *classifyingConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *classifyingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	var s driver.Stmt
	var err error
	if p, ok := c.Conn.(driver.ConnPrepareContext); ok {
		s, err = p.PrepareContext(ctx, query)
	} else {
		s, err = c.Conn.Prepare(query)
	}
	if err != nil {
		return nil, Classify(err)
	}
	return &classifyingStmt{Stmt: s}, nil
}

func (c *classifyingConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *classifyingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	b, ok := c.Conn.(driver.ConnBeginTx)
	if !ok {
		return nil, errors.New("store: the database driver does not support BeginTx")
	}
	tx, err := b.BeginTx(ctx, opts)
	if err != nil {
		return nil, Classify(err)
	}
	return classifyingTx{tx}, nil
}

func (c *classifyingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	e, ok := c.Conn.(driver.ExecerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	r, err := e.ExecContext(ctx, query, args)
	return r, Classify(err)
}

func (c *classifyingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	q, ok := c.Conn.(driver.QueryerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	rows, err := q.QueryContext(ctx, query, args)
	if err != nil {
		return nil, Classify(err)
	}
	return &classifyingRows{Rows: rows}, nil
}

func (c *classifyingConn) Ping(ctx context.Context) error {
	if p, ok := c.Conn.(driver.Pinger); ok {
		return Classify(p.Ping(ctx))
	}
	return nil
}

func (c *classifyingConn) ResetSession(ctx context.Context) error {
	if r, ok := c.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *classifyingConn) IsValid() bool {
	if v, ok := c.Conn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

func (c *classifyingConn) CheckNamedValue(nv *driver.NamedValue) error {
	if ch, ok := c.Conn.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

type classifyingTx struct{ driver.Tx }

func (t classifyingTx) Commit() error   { return Classify(t.Tx.Commit()) }
func (t classifyingTx) Rollback() error { return Classify(t.Tx.Rollback()) }

type classifyingStmt struct{ driver.Stmt }

var (
	_ driver.StmtExecContext   = (*classifyingStmt)(nil)
	_ driver.StmtQueryContext  = (*classifyingStmt)(nil)
	_ driver.NamedValueChecker = (*classifyingStmt)(nil)
)

func (s *classifyingStmt) Exec(args []driver.Value) (driver.Result, error) {
	//lint:ignore SA1019 forwards the interface's own method
	r, err := s.Stmt.Exec(args)
	return r, Classify(err)
}

func (s *classifyingStmt) Query(args []driver.Value) (driver.Rows, error) {
	//lint:ignore SA1019 forwards the interface's own method
	rows, err := s.Stmt.Query(args)
	if err != nil {
		return nil, Classify(err)
	}
	return &classifyingRows{Rows: rows}, nil
}

func (s *classifyingStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	if e, ok := s.Stmt.(driver.StmtExecContext); ok {
		r, err := e.ExecContext(ctx, args)
		return r, Classify(err)
	}
	vals, err := values(args)
	if err != nil {
		return nil, err
	}
	return s.Exec(vals)
}

func (s *classifyingStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	if q, ok := s.Stmt.(driver.StmtQueryContext); ok {
		rows, err := q.QueryContext(ctx, args)
		if err != nil {
			return nil, Classify(err)
		}
		return &classifyingRows{Rows: rows}, nil
	}
	vals, err := values(args)
	if err != nil {
		return nil, err
	}
	return s.Query(vals)
}

func (s *classifyingStmt) CheckNamedValue(nv *driver.NamedValue) error {
	if ch, ok := s.Stmt.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

// values converts positional arguments for a statement without the context
// methods (as database/sql does).
func values(args []driver.NamedValue) ([]driver.Value, error) {
	out := make([]driver.Value, len(args))
	for i, a := range args {
		if a.Name != "" {
			return nil, errors.New("store: the database driver does not support named parameters")
		}
		out[i] = a.Value
	}
	return out, nil
}

// classifyingRows forwards the column metadata database/sql and bun ask
// for; an interface the driver's rows lack answers what database/sql
// answers without it.
type classifyingRows struct{ driver.Rows }

func (r *classifyingRows) Next(dest []driver.Value) error {
	err := r.Rows.Next(dest)
	if err == io.EOF {
		return err
	}
	return Classify(err)
}

func (r *classifyingRows) HasNextResultSet() bool {
	if n, ok := r.Rows.(driver.RowsNextResultSet); ok {
		return n.HasNextResultSet()
	}
	return false
}

func (r *classifyingRows) NextResultSet() error {
	if n, ok := r.Rows.(driver.RowsNextResultSet); ok {
		err := n.NextResultSet()
		if err == io.EOF {
			return err
		}
		return Classify(err)
	}
	return io.EOF
}

func (r *classifyingRows) ColumnTypeScanType(i int) reflect.Type {
	if c, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return c.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}

func (r *classifyingRows) ColumnTypeDatabaseTypeName(i int) string {
	if c, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return c.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r *classifyingRows) ColumnTypeLength(i int) (int64, bool) {
	if c, ok := r.Rows.(driver.RowsColumnTypeLength); ok {
		return c.ColumnTypeLength(i)
	}
	return 0, false
}

func (r *classifyingRows) ColumnTypeNullable(i int) (nullable, ok bool) {
	if c, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return c.ColumnTypeNullable(i)
	}
	return false, false
}

func (r *classifyingRows) ColumnTypePrecisionScale(i int) (precision, scale int64, ok bool) {
	if c, ok := r.Rows.(driver.RowsColumnTypePrecisionScale); ok {
		return c.ColumnTypePrecisionScale(i)
	}
	return 0, 0, false
}
