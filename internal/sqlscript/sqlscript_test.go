package sqlscript_test

import (
	"context"
	"testing"

	"github.com/hubchantier/hubchantier/internal/sqlscript"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

func TestExecRunsEachStatementAndStopsAtTheFirstError(t *testing.T) {
	db := testenv.SQLite(t)
	ctx := context.Background()
	script := "CREATE TABLE a (x INTEGER);\n--bun:split\n\n--bun:split\nINSERT INTO a VALUES (1);\n--bun:split\nINSERT INTO nope VALUES (2);\n--bun:split\nINSERT INTO a VALUES (3);"
	if err := sqlscript.Exec(ctx, db.DB, script); err == nil {
		t.Fatal("a failing statement was not reported")
	}
	var n int
	if err := db.DB.QueryRowContext(ctx, "SELECT count(*) FROM a").Scan(&n); err != nil || n != 1 {
		t.Fatalf("rows %d, err %v: want the statements before the error only", n, err)
	}
}
