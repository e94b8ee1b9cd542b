package seed

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// sqliteTimeLayout is how bun's SQLite dialect writes time.Time, so seeded
// rows compare and sort like the rows the service writes.
const sqliteTimeLayout = "2006-01-02 15:04:05.999999-07:00"

// sqliteMaxVars stays under SQLite's default limit of bound parameters per
// statement (32766).
const (
	sqliteMaxVars  = 32000
	sqliteMaxBatch = 500
)

// withSQLite runs fn in one write transaction on conn (BEGIN IMMEDIATE with
// the product's DSN, so the write lock is taken up front).
func withSQLite(ctx context.Context, conn *sql.Conn, fn func(b backend) error) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	b := &sqliteBackend{conn: conn, tx: tx}
	if err := fn(b); err != nil {
		if !b.committed {
			_ = tx.Rollback()
		}
		return err
	}
	return nil
}

type sqliteBackend struct {
	conn      *sql.Conn
	tx        *sql.Tx
	committed bool
	indexes   []string
}

func (b *sqliteBackend) dialect() string { return "sqlite" }

func (b *sqliteBackend) state(ctx context.Context) (*dbState, error) {
	st := &dbState{lastIDs: map[string]int64{}, emails: map[string]struct{}{}, empty: true}
	for _, t := range allTables {
		var hasRows, last int64
		// The names come from allTables, constants of this package.
		// #nosec G201 -- t.name is a constant of this package.
		q := fmt.Sprintf(`SELECT EXISTS (SELECT 1 FROM %[1]s), max(
			(SELECT coalesce(max(id), 0) FROM %[1]s),
			coalesce((SELECT seq FROM sqlite_sequence WHERE name = '%[1]s'), 0))`, t.name)
		if err := b.tx.QueryRowContext(ctx, q).Scan(&hasRows, &last); err != nil {
			return nil, fmt.Errorf("seed: reading %s: %w", t.name, err)
		}
		st.lastIDs[t.name] = last
		if t == chantiersTable {
			st.hasChantiers = hasRows != 0
		}
		if t != usersTable && hasRows != 0 {
			st.empty = false
		}
	}
	if st.hasChantiers {
		var created any
		if err := b.tx.QueryRowContext(ctx, "SELECT created_at FROM chantiers ORDER BY created_at DESC, id DESC LIMIT 1").Scan(&created); err != nil {
			return nil, fmt.Errorf("seed: %w", err)
		}
		t, err := sqliteTime(created)
		if err != nil {
			return nil, err
		}
		st.lastCreated = t
		for _, rt := range []*tableSpec{pointagesTable, signalementsTable, affectationsTable, documentsTable} {
			var created any
			err := b.tx.QueryRowContext(ctx, "SELECT created_at FROM "+rt.name+" ORDER BY created_at DESC LIMIT 1").Scan(&created)
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("seed: %w", err)
			}
			t, err := sqliteTime(created)
			if err != nil {
				return nil, err
			}
			if t.After(st.lastRelated) {
				st.lastRelated = t
			}
		}
		rows, err := b.tx.QueryContext(ctx, `SELECT code FROM chantiers WHERE code LIKE 'CH-____-%' ORDER BY length(code) DESC, substr(code, 9) DESC`)
		if err != nil {
			return nil, fmt.Errorf("seed: %w", err)
		}
		for rows.Next() {
			var code string
			if err := rows.Scan(&code); err != nil {
				_ = rows.Close()
				return nil, fmt.Errorf("seed: %w", err)
			}
			if n, ok := parseCodeSeq(code); ok {
				st.maxCodeSeq = n
				break
			}
		}
		_ = rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("seed: %w", err)
		}
	}
	rows, err := b.tx.QueryContext(ctx, "SELECT id, role, email FROM users ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	defer func() { _ = rows.Close() }()
	for rows.Next() {
		var u existingUser
		var role, email string
		if err := rows.Scan(&u.id, &role, &email); err != nil {
			return nil, fmt.Errorf("seed: %w", err)
		}
		u.role = roleOf(role)
		st.users = append(st.users, u)
		st.emails[email] = struct{}{}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	return st, nil
}

// sqliteTime reads a TIMESTAMP column: the driver returns time.Time for the
// declared type, or the text when it cannot parse it.
func sqliteTime(v any) (time.Time, error) {
	switch t := v.(type) {
	case time.Time:
		return t.UTC(), nil
	case string:
		for _, layout := range []string{sqliteTimeLayout, time.RFC3339Nano, "2006-01-02 15:04:05.999999999"} {
			if p, err := time.Parse(layout, t); err == nil {
				return p.UTC(), nil
			}
		}
	}
	return time.Time{}, fmt.Errorf("seed: unreadable chantiers.created_at %v", v)
}

func (b *sqliteBackend) prepareBulk(ctx context.Context) error {
	rows, err := b.tx.QueryContext(ctx, `SELECT name, sql FROM sqlite_master
		WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ('chantiers', 'pointages', 'signalements', 'affectations', 'documents')
		ORDER BY name`)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	var names []string
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			_ = rows.Close()
			return fmt.Errorf("seed: %w", err)
		}
		// Unique indexes stay: they enforce constraints.
		if strings.HasPrefix(strings.ToUpper(strings.TrimSpace(def)), "CREATE UNIQUE") {
			continue
		}
		names = append(names, name)
		b.indexes = append(b.indexes, def)
	}
	_ = rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	for _, name := range names {
		// The name comes from sqlite_master; quoted as an identifier.
		if _, err := b.tx.ExecContext(ctx, `DROP INDEX "`+strings.ReplaceAll(name, `"`, `""`)+`"`); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
	}
	return nil
}

func (b *sqliteBackend) bulkSteps() int { return len(b.indexes) }

func (b *sqliteBackend) finishBulk(ctx context.Context, step func()) error {
	for _, def := range b.indexes {
		if _, err := b.tx.ExecContext(ctx, def); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
		step()
	}
	return nil
}

func (b *sqliteBackend) commit(_ context.Context, _ map[string]int64) error {
	// AUTOINCREMENT tables move sqlite_sequence past explicit ids by
	// themselves.
	if err := b.tx.Commit(); err != nil {
		return fmt.Errorf("seed: commit: %w", err)
	}
	b.committed = true
	return nil
}

func (b *sqliteBackend) analyze(ctx context.Context) error {
	// A bounded sample keeps ANALYZE fast on large tables.
	if _, err := b.conn.ExecContext(ctx, "PRAGMA analysis_limit = 2000"); err != nil {
		return fmt.Errorf("seed: analyze: %w", err)
	}
	if _, err := b.conn.ExecContext(ctx, "ANALYZE"); err != nil {
		return fmt.Errorf("seed: analyze: %w", err)
	}
	_, _ = b.conn.ExecContext(ctx, "PRAGMA analysis_limit = 0")
	return nil
}

func (b *sqliteBackend) open(ctx context.Context, t *tableSpec) (rowSink, error) {
	batch := min(sqliteMaxBatch, sqliteMaxVars/len(t.cols))
	s := &sqliteSink{ctx: ctx, tx: b.tx, t: t, batch: batch, args: make([]any, 0, batch*len(t.cols))}
	stmt, err := b.tx.PrepareContext(ctx, insertSQL(t, batch))
	if err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	s.stmt = stmt
	return s, nil
}

// insertSQL is a multi-row INSERT of rows rows of t.
func insertSQL(t *tableSpec, rows int) string {
	one := "(" + strings.TrimSuffix(strings.Repeat("?,", len(t.cols)), ",") + ")"
	var b strings.Builder
	b.Grow(32 + len(t.columnList()) + rows*(len(one)+1))
	b.WriteString("INSERT INTO ")
	b.WriteString(t.name)
	b.WriteString(" (")
	b.WriteString(t.columnList())
	b.WriteString(") VALUES ")
	for i := range rows {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(one)
	}
	return b.String()
}

// sqliteSink collects rows and inserts them batch by batch.
type sqliteSink struct {
	ctx   context.Context
	tx    *sql.Tx
	t     *tableSpec
	stmt  *sql.Stmt
	batch int
	args  []any
	rows  int   // rows in args
	total int64 // rows inserted
	err   error
}

func (s *sqliteSink) exec() {
	if s.err != nil || s.rows == 0 {
		return
	}
	stmt := s.stmt
	if s.rows != s.batch {
		var err error
		stmt, err = s.tx.PrepareContext(s.ctx, insertSQL(s.t, s.rows))
		if err != nil {
			s.err = err
			return
		}
		defer func() { _ = stmt.Close() }()
	}
	if _, err := stmt.ExecContext(s.ctx, s.args...); err != nil {
		s.err = err
		return
	}
	s.total += int64(s.rows)
	s.rows, s.args = 0, s.args[:0]
}

func (s *sqliteSink) beginRow() error {
	if s.rows == s.batch {
		s.exec()
	}
	if s.err != nil {
		return s.err
	}
	s.rows++
	return nil
}

func (s *sqliteSink) int8(v int64)     { s.args = append(s.args, v) }
func (s *sqliteSink) int4(v int32)     { s.args = append(s.args, int64(v)) }
func (s *sqliteSink) float8(v float64) { s.args = append(s.args, v) }
func (s *sqliteSink) text(v string)    { s.args = append(s.args, v) }
func (s *sqliteSink) null()            { s.args = append(s.args, nil) }

func (s *sqliteSink) date(day int32) {
	s.args = append(s.args, time.UnixMicro(int64(day)*usPerDay).UTC().Format("2006-01-02"))
}

func (s *sqliteSink) timestamptz(us int64) {
	s.args = append(s.args, time.UnixMicro(us).UTC().Format(sqliteTimeLayout))
}

func (s *sqliteSink) close() (int64, error) {
	s.exec()
	if err := s.stmt.Close(); err != nil && s.err == nil {
		s.err = err
	}
	if s.err != nil {
		return 0, s.err
	}
	return s.total, nil
}

func (s *sqliteSink) abort(error) {
	_ = s.stmt.Close()
	if s.err == nil {
		s.err = errors.New("aborted")
	}
}
