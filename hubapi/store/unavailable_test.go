package store_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/sqlitedialect"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

// reopenWithTimeout opens the test database again through store's Open
// functions, with a statement timeout.
func reopenWithTimeout(t *testing.T, tdb *testenv.DB, d time.Duration) *store.DB {
	t.Helper()
	var db *store.DB
	var err error
	if tdb.Name == "postgres" {
		db, err = store.OpenPostgres(tdb.DSN, store.StatementTimeout(d))
	} else {
		db, err = store.OpenSQLite(tdb.DSN, store.StatementTimeout(d))
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// A write that waits for a lock past the statement timeout fails with
// ErrUnavailable; the caller's own cancellation while it waits is
// context.Canceled, never ErrUnavailable.
func TestLockWaitPastTheStatementTimeoutIsUnavailable(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		ctx := context.Background()
		setup := open(t, tdb)
		c := &hubapi.Chantier{Code: "UN-1", Nom: "N", Adresse: "A", Statut: hubapi.ChantierOuvert, Version: 1,
			CreatedAt: store.Now(), UpdatedAt: store.Now()}
		if err := store.Insert(ctx, setup, c); err != nil {
			t.Fatal(err)
		}
		holder, err := setup.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = holder.Rollback() }()
		if _, err := store.GetForUpdate[hubapi.Chantier](ctx, holder, c.ID); err != nil {
			t.Fatal(err)
		}
		if tdb.Name != "postgres" { // SQLite: the holder must write to take the lock
			if _, err := holder.ExecContext(ctx, "UPDATE chantiers SET nom = nom WHERE id = ?", c.ID); err != nil {
				t.Fatal(err)
			}
		}
		db := reopenWithTimeout(t, tdb, 200*time.Millisecond)
		update := func(ctx context.Context) error {
			return db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
				_, err := store.GetForUpdate[hubapi.Chantier](ctx, tx, c.ID)
				return err
			})
		}

		t.Run("past the timeout → ErrUnavailable", func(t *testing.T) {
			if err := update(ctx); !errors.Is(err, hubapi.ErrUnavailable) {
				t.Fatalf("err = %v", err)
			}
		})
		t.Run("cancelled by the caller → context.Canceled, not ErrUnavailable", func(t *testing.T) {
			cctx, cancel := context.WithCancel(ctx)
			time.AfterFunc(50*time.Millisecond, cancel)
			err := update(cctx)
			if !errors.Is(err, context.Canceled) || errors.Is(err, hubapi.ErrUnavailable) {
				t.Fatalf("err = %v", err)
			}
		})
	})
}

// A database given as is (Wrap, no statement timeout): a transaction that
// cannot take SQLite's write lock within busy_timeout is ErrUnavailable
// (a 503 with Retry-After), not an unknown error (a 500).
func TestWrappedSQLiteBusyTransactionIsUnavailable(t *testing.T) {
	ctx := context.Background()
	tdb := testenv.SQLite(t)
	holder, err := tdb.DB.BeginTx(ctx, nil) // BEGIN IMMEDIATE: holds the write lock
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = holder.Rollback() }()
	other, err := sql.Open("sqlite", strings.Replace(tdb.DSN, "busy_timeout(10000)", "busy_timeout(50)", 1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Close() })
	db := store.Wrap(bun.NewDB(other, sqlitedialect.New()))
	err = db.RunInTx(ctx, nil, func(context.Context, bun.Tx) error { return nil })
	if !errors.Is(err, hubapi.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	// A domain error of the transaction's function keeps its kind.
	_ = holder.Rollback()
	err = db.RunInTx(ctx, nil, func(context.Context, bun.Tx) error { return hubapi.ErrConflict })
	if !errors.Is(err, hubapi.ErrConflict) || errors.Is(err, hubapi.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrConflict alone", err)
	}
}

// Errors that are not about availability keep their kind.
func TestClassifyLeavesOtherErrorsAlone(t *testing.T) {
	for _, err := range []error{hubapi.ErrNotFound, hubapi.ErrConflict, context.Canceled, errors.New("boom")} {
		if got := store.Classify(err); got != err {
			t.Errorf("Classify(%v) = %v", err, got)
		}
	}
	if err := store.Classify(context.DeadlineExceeded); !errors.Is(err, hubapi.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("deadline: %v", err)
	}
}

// The store's driver forwards what database/sql and bun use besides plain
// queries: prepared statements, column types (map scans), transactions.
func TestStoreDriverForwardsStatementsAndColumnTypes(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		ctx := context.Background()
		open(t, tdb) // migrated
		db := reopenWithTimeout(t, tdb, time.Second)
		ph := "?"
		if db.IsPostgres() {
			ph = "$1"
		}
		stmt, err := db.DB.DB.PrepareContext(ctx, "SELECT count(*) FROM chantiers WHERE id > "+ph)
		if err != nil {
			t.Fatal(err)
		}
		defer stmt.Close()
		var n int
		if err := stmt.QueryRowContext(ctx, 0).Scan(&n); err != nil || n != 0 {
			t.Fatalf("prepared query: %d, %v", n, err)
		}
		if _, err := stmt.ExecContext(ctx, 0); err != nil {
			t.Fatalf("prepared exec: %v", err)
		}
		var rows []map[string]any
		if err := db.NewSelect().ColumnExpr("1 AS one, 'a' AS letter").Scan(ctx, &rows); err != nil || len(rows) != 1 || rows[0]["letter"] != "a" {
			t.Fatalf("map scan: %v, %v", rows, err)
		}
		r, err := db.QueryContext(ctx, "SELECT 1 AS one")
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		types, err := r.ColumnTypes()
		if err != nil || len(types) != 1 || types[0].Name() != "one" || types[0].ScanType() == nil {
			t.Fatalf("column types: %v, %v", types, err)
		}
		_, _ = types[0].Nullable()
		_, _ = types[0].Length()
		_, _, _ = types[0].DecimalSize()
		if r.NextResultSet() {
			t.Error("a second result set")
		}
		if err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			_, err := tx.NewSelect().ColumnExpr("1").Exec(ctx)
			return err
		}); err != nil {
			t.Fatalf("transaction: %v", err)
		}
		if err := db.Ping(ctx); err != nil {
			t.Fatal(err)
		}
	})
}
