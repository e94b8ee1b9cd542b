package txconn_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"

	"github.com/hubchantier/hubchantier/internal/testenv"
	"github.com/hubchantier/hubchantier/internal/txconn"
)

func TestCopyFromRunsInsideTheRecordedTransaction(t *testing.T) {
	db := testenv.Postgres(t)
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, "CREATE TABLE t (n BIGINT NOT NULL, s TEXT NOT NULL, j JSONB NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	count := func(t *testing.T) (n int) {
		t.Helper()
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	run := func(t *testing.T, commit bool) {
		t.Helper()
		conn, err := db.DB.DB.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = conn.Close() }()
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = tx.Rollback() }()
		tctx := txconn.With(ctx, tx, conn)
		n, err := txconn.CopyFrom(tctx, tx, "t", []string{"n", "s", "j"}, [][]any{{1, "a", []byte(`{"k":1}`)}, {2, "b", []byte(`[]`)}})
		if err != nil || n != 2 {
			t.Fatalf("CopyFrom: %d %v", n, err)
		}
		// the rows are the transaction's: it sees them, nobody else does
		var inTx int
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM t WHERE j ? 'k' OR jsonb_typeof(j) = 'array'").Scan(&inTx); err != nil {
			t.Fatal(err)
		}
		if inTx != count(t)+2 {
			t.Fatalf("inside the transaction %d rows, outside %d", inTx, count(t))
		}
		if commit {
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
		}
	}
	run(t, false)
	if n := count(t); n != 0 {
		t.Fatalf("after a rollback, %d rows", n)
	}
	run(t, true)
	if n := count(t); n != 2 {
		t.Fatalf("after the commit, %d rows, want 2", n)
	}
}

func TestCopyFromNeedsTheRecordedTransaction(t *testing.T) {
	db := testenv.Postgres(t)
	ctx := context.Background()
	conn, err := db.DB.DB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	other, err := db.DB.DB.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = other.Rollback() }()
	tctx := txconn.With(ctx, tx, conn)
	for name, c := range map[string]struct {
		ctx context.Context
		tx  *sql.Tx
	}{
		"unrecorded context":  {ctx, tx},
		"another transaction": {tctx, other},
		"no transaction":      {tctx, nil},
	} {
		if _, err := txconn.CopyFrom(c.ctx, c.tx, "t", []string{"n"}, [][]any{{1}}); !errors.Is(err, txconn.ErrNoCopy) {
			t.Errorf("%s: %v, want ErrNoCopy", name, err)
		}
	}
	if txconn.Conn(tctx, tx) != conn {
		t.Error("Conn does not return the recorded connection")
	}
}

func TestCopyFromOnSQLiteIsNoCopy(t *testing.T) {
	db := testenv.SQLite(t)
	ctx := context.Background()
	conn, err := db.DB.DB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := txconn.CopyFrom(txconn.With(ctx, tx, conn), tx, "t", []string{"n"}, [][]any{{1}}); !errors.Is(err, txconn.ErrNoCopy) {
		t.Errorf("SQLite: %v, want ErrNoCopy", err)
	}
}
