package seed

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"golang.org/x/sync/errgroup"

	"github.com/hubchantier/hubchantier/hubapi/store"
)

// Session settings of the seeding transaction on PostgreSQL. A larger
// maintenance_work_mem lets each index build sort in memory.
const (
	pgLockTimeout        = "15s"
	pgMaintenanceWorkMem = "512MB"
)

// withPostgres runs fn with a backend on the pgx connection under conn,
// inside one transaction.
func withPostgres(ctx context.Context, pool *sql.DB, conn *sql.Conn, fn func(b backend) error) error {
	return conn.Raw(func(dc any) error {
		sc, ok := store.DriverConn(dc).(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("seed: PostgreSQL connection is %T, want pgx's database/sql driver", dc)
		}
		tx, err := sc.Conn().Begin(ctx)
		if err != nil {
			return fmt.Errorf("seed: %w", err)
		}
		b := &pgBackend{pool: pool, tx: tx}
		if err := fn(b); err != nil {
			if !b.committed {
				rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
				defer cancel()
				_ = tx.Rollback(rctx)
			}
			return err
		}
		return nil
	})
}

type pgBackend struct {
	pool      *sql.DB // for work after commit
	tx        pgx.Tx
	committed bool
	freeze    bool // tables truncated in this transaction: COPY FREEZE allowed
	indexes   []string
	fkeys     []pgForeignKey
}

type pgForeignKey struct{ table, name, def string }

func (b *pgBackend) dialect() string { return "pg" }

func tableNames(ts []*tableSpec) []string {
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = t.name
	}
	return names
}

func (b *pgBackend) exec(ctx context.Context, sql string, args ...any) error {
	if _, err := b.tx.Exec(ctx, sql, args...); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	return nil
}

func (b *pgBackend) state(ctx context.Context) (*dbState, error) {
	// A bulk load runs statements longer than a server's usual limits, and
	// pauses between them while the next table is prepared.
	for _, set := range []string{"SET LOCAL lock_timeout = '" + pgLockTimeout + "'", "SET LOCAL statement_timeout = 0",
		"SET LOCAL idle_in_transaction_session_timeout = 0"} {
		if err := b.exec(ctx, set); err != nil {
			return nil, err
		}
	}
	// Readers go on; writers wait until the run commits, so the ids and
	// codes read below stay the highest.
	if err := b.exec(ctx, "LOCK TABLE users, chantiers, pointages, signalements, affectations, documents IN SHARE ROW EXCLUSIVE MODE"); err != nil {
		return nil, err
	}
	if err := b.checkColumns(ctx); err != nil {
		return nil, err
	}
	st := &dbState{lastIDs: map[string]int64{}, emails: map[string]struct{}{}, empty: true}
	for _, t := range allTables {
		var hasRows bool
		var last int64
		// The names come from allTables, constants of this package.
		// #nosec G201 -- t.name is a constant of this package.
		q := fmt.Sprintf(`SELECT EXISTS (SELECT 1 FROM %[1]s), GREATEST(
			(SELECT coalesce(max(id), 0) FROM %[1]s),
			coalesce(pg_sequence_last_value(pg_get_serial_sequence('%[1]s', 'id')::regclass), 0))`, t.name)
		if err := b.tx.QueryRow(ctx, q).Scan(&hasRows, &last); err != nil {
			return nil, fmt.Errorf("seed: reading %s: %w", t.name, err)
		}
		st.lastIDs[t.name] = last
		if t == chantiersTable {
			st.hasChantiers = hasRows
		}
		if t != usersTable && hasRows {
			st.empty = false
		}
	}
	if st.hasChantiers {
		if err := b.tx.QueryRow(ctx, "SELECT created_at FROM chantiers ORDER BY created_at DESC, id DESC LIMIT 1").Scan(&st.lastCreated); err != nil {
			return nil, fmt.Errorf("seed: %w", err)
		}
		for _, rt := range []*tableSpec{pointagesTable, signalementsTable, affectationsTable, documentsTable} {
			var created *time.Time
			if err := b.tx.QueryRow(ctx, "SELECT max(created_at) FROM "+rt.name).Scan(&created); err != nil {
				return nil, fmt.Errorf("seed: %w", err)
			}
			if created != nil && created.After(st.lastRelated) {
				st.lastRelated = *created
			}
		}
		rows, err := b.tx.Query(ctx, `SELECT code FROM chantiers WHERE code LIKE 'CH-____-%' ORDER BY length(code) DESC, substr(code, 9) DESC`)
		if err != nil {
			return nil, fmt.Errorf("seed: %w", err)
		}
		for rows.Next() {
			var code string
			if err := rows.Scan(&code); err != nil {
				rows.Close()
				return nil, fmt.Errorf("seed: %w", err)
			}
			if n, ok := parseCodeSeq(code); ok {
				st.maxCodeSeq = n
				break
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("seed: %w", err)
		}
	}
	rows, err := b.tx.Query(ctx, "SELECT id, role, email FROM users ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	defer rows.Close()
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

// checkColumns makes sure every column the run writes has the type its
// binary encoding assumes, so a schema change fails clearly.
func (b *pgBackend) checkColumns(ctx context.Context) error {
	for _, t := range allTables {
		rows, err := b.tx.Query(ctx, `SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
			WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped`, t.name)
		if err != nil {
			return fmt.Errorf("seed: %w", err)
		}
		types := map[string]string{}
		for rows.Next() {
			var name, typ string
			if err := rows.Scan(&name, &typ); err != nil {
				rows.Close()
				return fmt.Errorf("seed: %w", err)
			}
			types[name] = typ
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
		for _, c := range t.cols {
			if got, want := types[c.name], pgTypeNames[c.kind]; got != want {
				return fmt.Errorf("seed: column %s.%s has type %q, the seed writes %q (is the schema migrated?)", t.name, c.name, got, want)
			}
		}
	}
	return nil
}

// emptyReferencing returns the empty tables, other than names, that have a
// foreign key to one of names; nil when one of them holds rows (TRUNCATE
// then fails on it, and the load goes without FREEZE).
func (b *pgBackend) emptyReferencing(ctx context.Context, names []string) ([]string, error) {
	rows, err := b.tx.Query(ctx, `SELECT DISTINCT c.conrelid::regclass::text FROM pg_constraint c
		WHERE c.contype = 'f' AND c.confrelid IN (SELECT to_regclass(t) FROM unnest($1::text[]) t)
		  AND c.conrelid NOT IN (SELECT to_regclass(t) FROM unnest($1::text[]) t)
		ORDER BY 1`, names)
	if err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	refs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	for _, t := range refs {
		var used bool
		if err := b.tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM "+t+")").Scan(&used); err != nil {
			return nil, fmt.Errorf("seed: %w", err)
		}
		if used {
			return nil, nil
		}
	}
	return refs, nil
}

func (b *pgBackend) prepareBulk(ctx context.Context) error {
	names := tableNames(bulkTables)
	// Truncating the (empty) tables in this transaction lets COPY write
	// the rows frozen: no hint-bit rewrite or vacuum pass afterwards. Another
	// table referencing them makes TRUNCATE fail; then load without FREEZE.
	// Tables that reference them (factures, dépenses) are truncated with
	// them when they are empty too, as they must be on a fresh database.
	refs, err := b.emptyReferencing(ctx, names)
	if err != nil {
		return err
	}
	if err := b.exec(ctx, "SAVEPOINT seed_truncate"); err != nil {
		return err
	}
	if _, err := b.tx.Exec(ctx, "TRUNCATE "+strings.Join(append(slices.Clone(names), refs...), ", ")); err != nil {
		if err := b.exec(ctx, "ROLLBACK TO SAVEPOINT seed_truncate"); err != nil {
			return err
		}
	} else {
		b.freeze = true
	}
	if err := b.exec(ctx, "RELEASE SAVEPOINT seed_truncate"); err != nil {
		return err
	}

	rows, err := b.tx.Query(ctx, `SELECT i.oid::regclass::text, pg_get_indexdef(i.oid)
		FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
		WHERE x.indrelid IN (SELECT to_regclass(t) FROM unnest($1::text[]) t)
		  AND NOT x.indisprimary AND NOT x.indisunique AND NOT x.indisexclusion
		ORDER BY i.relname`, names)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	var idxNames []string
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			rows.Close()
			return fmt.Errorf("seed: %w", err)
		}
		idxNames = append(idxNames, name)
		b.indexes = append(b.indexes, def)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("seed: %w", err)
	}

	rows, err = b.tx.Query(ctx, `SELECT conrelid::regclass::text, quote_ident(conname), pg_get_constraintdef(oid)
		FROM pg_constraint
		WHERE contype = 'f' AND conrelid IN (SELECT to_regclass(t) FROM unnest($1::text[]) t)
		ORDER BY conrelid::regclass::text, conname`, names)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	for rows.Next() {
		var fk pgForeignKey
		if err := rows.Scan(&fk.table, &fk.name, &fk.def); err != nil {
			rows.Close()
			return fmt.Errorf("seed: %w", err)
		}
		b.fkeys = append(b.fkeys, fk)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("seed: %w", err)
	}

	// The names below come from the catalog, already quoted by regclass
	// output and quote_ident.
	for _, fk := range b.fkeys {
		if err := b.exec(ctx, "ALTER TABLE "+fk.table+" DROP CONSTRAINT "+fk.name); err != nil {
			return err
		}
	}
	for _, name := range idxNames {
		if err := b.exec(ctx, "DROP INDEX "+name); err != nil {
			return err
		}
	}
	return nil
}

func (b *pgBackend) bulkSteps() int { return len(b.indexes) + len(b.fkeys) }

func (b *pgBackend) finishBulk(ctx context.Context, step func()) error {
	if err := b.exec(ctx, "SET LOCAL maintenance_work_mem = '"+pgMaintenanceWorkMem+"'"); err != nil {
		return err
	}
	for _, def := range b.indexes {
		if err := b.exec(ctx, def); err != nil {
			return err
		}
		step()
	}
	// Adding a foreign key checks every row in one join, much faster than
	// the per-row triggers during the load.
	for _, fk := range b.fkeys {
		if err := b.exec(ctx, "ALTER TABLE "+fk.table+" ADD CONSTRAINT "+fk.name+" "+fk.def); err != nil {
			return err
		}
		step()
	}
	return nil
}

func (b *pgBackend) commit(ctx context.Context, lastIDs map[string]int64) error {
	for _, t := range allTables {
		last, ok := lastIDs[t.name]
		if !ok || last == 0 {
			continue
		}
		if err := b.exec(ctx, "SELECT setval(pg_get_serial_sequence($1, 'id'), $2)", t.name, last); err != nil {
			return err
		}
	}
	if err := b.tx.Commit(ctx); err != nil {
		return fmt.Errorf("seed: commit: %w", err)
	}
	b.committed = true
	return nil
}

// analyze runs ANALYZE on the tables concurrently, on pooled connections:
// the data is committed, and each table's sample is independent.
func (b *pgBackend) analyze(ctx context.Context) error {
	var eg errgroup.Group
	eg.SetLimit(3)
	for _, t := range allTables {
		eg.Go(func() error {
			if _, err := b.pool.ExecContext(ctx, "ANALYZE "+t.name); err != nil {
				return fmt.Errorf("seed: analyze %s: %w", t.name, err)
			}
			return nil
		})
	}
	return eg.Wait()
}

// open starts a binary COPY of t. The rows are encoded into a buffer and
// handed to pgconn through a pipe; pgconn sends them while the next buffer
// fills.
func (b *pgBackend) open(ctx context.Context, t *tableSpec) (rowSink, error) {
	opts := "FORMAT binary"
	if b.freeze && t != usersTable {
		opts += ", FREEZE"
	}
	query := "COPY " + t.name + " (" + t.columnList() + ") FROM STDIN WITH (" + opts + ")"
	pr, pw := io.Pipe()
	s := &pgSink{pw: pw, ncols: uint16(len(t.cols)), // #nosec G115 -- a table has fewer than 1600 columns
		done: make(chan copyResult, 1), buf: make([]byte, 0, pgFlushSize+4096)}
	pgc := b.tx.Conn().PgConn()
	go func() {
		tag, err := pgc.CopyFrom(ctx, pr, query)
		if err != nil {
			_ = pr.CloseWithError(err)
		} else {
			_ = pr.CloseWithError(errCopyEnded)
		}
		s.done <- copyResult{tag.RowsAffected(), err}
	}()
	s.buf = append(s.buf, pgCopySignature...)
	s.buf = binary.BigEndian.AppendUint32(s.buf, 0) // flags
	s.buf = binary.BigEndian.AppendUint32(s.buf, 0) // header extension length
	return s, nil
}

var errCopyEnded = errors.New("seed: COPY ended before all rows were sent")

// PostgreSQL binary COPY format (https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.4).
var pgCopySignature = []byte("PGCOPY\n\xff\r\n\x00")

// Epoch of PostgreSQL's binary date and timestamp values: 2000-01-01 UTC.
const (
	pgEpochDays = 10957
	pgEpochUS   = pgEpochDays * usPerDay
)

const pgFlushSize = 256 << 10

type copyResult struct {
	rows int64
	err  error
}

// pgSink encodes rows in PostgreSQL's binary COPY format.
type pgSink struct {
	buf   []byte
	pw    *io.PipeWriter
	done  chan copyResult
	ncols uint16
	rows  int64
	err   error
}

func (s *pgSink) flush() {
	if s.err != nil || len(s.buf) == 0 {
		return
	}
	if _, err := s.pw.Write(s.buf); err != nil {
		s.err = err
	}
	s.buf = s.buf[:0]
}

func (s *pgSink) beginRow() error {
	if len(s.buf) >= pgFlushSize {
		s.flush()
	}
	if s.err != nil {
		return s.err
	}
	s.buf = binary.BigEndian.AppendUint16(s.buf, s.ncols)
	s.rows++
	return nil
}

func (s *pgSink) int8(v int64) {
	s.buf = binary.BigEndian.AppendUint32(s.buf, 8)
	s.buf = binary.BigEndian.AppendUint64(s.buf, uint64(v)) // #nosec G115 -- two's complement, as the format wants
}

func (s *pgSink) int4(v int32) {
	s.buf = binary.BigEndian.AppendUint32(s.buf, 4)
	s.buf = binary.BigEndian.AppendUint32(s.buf, uint32(v)) // #nosec G115 -- two's complement, as the format wants
}

func (s *pgSink) float8(v float64) {
	s.buf = binary.BigEndian.AppendUint32(s.buf, 8)
	s.buf = binary.BigEndian.AppendUint64(s.buf, math.Float64bits(v))
}

func (s *pgSink) text(v string) {
	s.buf = binary.BigEndian.AppendUint32(s.buf, uint32(len(v))) // #nosec G115 -- generated texts are short
	s.buf = append(s.buf, v...)
}

func (s *pgSink) date(day int32) {
	s.buf = binary.BigEndian.AppendUint32(s.buf, 4)
	s.buf = binary.BigEndian.AppendUint32(s.buf, uint32(day-pgEpochDays)) // #nosec G115 -- two's complement, as the format wants
}

func (s *pgSink) timestamptz(us int64) {
	s.buf = binary.BigEndian.AppendUint32(s.buf, 8)
	s.buf = binary.BigEndian.AppendUint64(s.buf, uint64(us-pgEpochUS)) // #nosec G115 -- two's complement, as the format wants
}

func (s *pgSink) null() { s.buf = binary.BigEndian.AppendUint32(s.buf, math.MaxUint32) } // length -1

func (s *pgSink) close() (int64, error) {
	s.buf = binary.BigEndian.AppendUint16(s.buf, math.MaxUint16) // trailer: -1
	s.flush()
	_ = s.pw.Close()
	res := <-s.done
	if res.err != nil {
		return 0, res.err
	}
	if s.err != nil {
		return 0, s.err
	}
	return res.rows, nil
}

func (s *pgSink) abort(err error) {
	_ = s.pw.CloseWithError(err)
	<-s.done
}
