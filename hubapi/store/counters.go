package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"github.com/hubchantier/hubchantier/hubapi"
)

// Row counts. The counters (migration 20261202000001) hold, per table, the
// number of rows for each value of its counted columns, kept exact by
// triggers in the transaction of every insert, update and delete, whoever
// issues it. A count whose filters are all counted columns reads a few
// counter rows; any other filter counts the matching rows with COUNT(*),
// which the indexes on those columns (chantier_id, user_id, ...) keep
// selective.
//
// On PostgreSQL the triggers append deltas (table counter_deltas) rather
// than update shared rows, so writers never wait for each other on a
// counter; a count reads its row and its pending deltas in one statement,
// and CompactCounters folds the deltas in. On SQLite (one writer at a time)
// the triggers update the counters in place.
//
//	chantiers         statut
//	pointages         statut
//	documents         categorie
//	signalements      statut, gravite
//	affectations      (total only)
//	pointage_minutes  date → SUM(minutes) of the pointages not rejected
//	clients, depenses (total only), factures statut (migration 20261208010000)

// counterRows selects name's counters with their pending deltas, as rows
// (k1, k2, n), k1 and k2 restricted unless "".
func counterRows(db bun.IDB, name, k1, k2 string) *bun.SelectQuery {
	part := func(table string) *bun.SelectQuery {
		q := db.NewSelect().Table(table).Column("k1", "k2", "n").Where("name = ?", name)
		if k1 != "" {
			q = q.Where("k1 = ?", k1)
		}
		if k2 != "" {
			q = q.Where("k2 = ?", k2)
		}
		return q
	}
	return part("counters").UnionAll(part("counter_deltas"))
}

// counter sums the counters of name whose keys match k1 and k2 ("": any).
func counter(ctx context.Context, db bun.IDB, name, k1, k2 string) (int, error) {
	var n int64
	err := db.NewSelect().TableExpr("(?) AS c", counterRows(db, name, k1, k2)).ColumnExpr("COALESCE(SUM(n), 0)").Scan(ctx, &n)
	return int(n), mapErr(err)
}

// CompactCounters folds the pending deltas into the counters, in one
// statement: a count read at the same time sees the deltas either still
// pending or already folded, never both. Concurrent compactions (several
// instances) are safe. A no-op on SQLite.
func CompactCounters(ctx context.Context, db bun.IDB) error {
	if db.Dialect().Name() != dialect.PG {
		return nil
	}
	_, err := db.ExecContext(ctx, `WITH moved AS (DELETE FROM counter_deltas RETURNING name, k1, k2, n)
		INSERT INTO counters AS c (name, k1, k2, n)
		SELECT name, k1, k2, sum(n) FROM moved GROUP BY name, k1, k2 ORDER BY name, k1, k2
		ON CONFLICT (name, k1, k2) DO UPDATE SET n = c.n + EXCLUDED.n`)
	return mapErr(err)
}

// countRows counts the rows of q (COUNT(*)).
func countRows(ctx context.Context, q *bun.SelectQuery) (int, error) {
	n, err := q.Count(ctx)
	return int(n), mapErr(err)
}

// CountChantiers counts the chantiers matching f.
func CountChantiers(ctx context.Context, db bun.IDB, f hubapi.ChantierFilter) (int, error) {
	if f.Ville == "" && f.ResponsableID == 0 {
		return counter(ctx, db, "chantiers", string(f.Statut), "")
	}
	return countRows(ctx, ChantierQuery(db.NewSelect().Model((*hubapi.Chantier)(nil)), f))
}

// CountPointages counts the pointages matching f.
func CountPointages(ctx context.Context, db bun.IDB, f hubapi.PointageFilter) (int, error) {
	if f.ChantierID == 0 && f.UserID == 0 && f.From.IsZero() && f.To.IsZero() {
		return counter(ctx, db, "pointages", string(f.Statut), "")
	}
	return countRows(ctx, PointageQuery(db.NewSelect().Model((*hubapi.Pointage)(nil)), f))
}

// CountDocuments counts the documents matching f.
func CountDocuments(ctx context.Context, db bun.IDB, f hubapi.DocumentFilter) (int, error) {
	if f.ChantierID == 0 {
		return counter(ctx, db, "documents", f.Categorie, "")
	}
	return countRows(ctx, DocumentQuery(db.NewSelect().Model((*hubapi.Document)(nil)), f))
}

// CountSignalements counts the signalements matching f.
func CountSignalements(ctx context.Context, db bun.IDB, f hubapi.SignalementFilter) (int, error) {
	if f.ChantierID == 0 {
		return counter(ctx, db, "signalements", string(f.Statut), string(f.Gravite))
	}
	return countRows(ctx, SignalementQuery(db.NewSelect().Model((*hubapi.Signalement)(nil)), f))
}

// CountAffectations counts the affectations matching f.
func CountAffectations(ctx context.Context, db bun.IDB, f hubapi.AffectationFilter) (int, error) {
	if f == (hubapi.AffectationFilter{}) {
		return counter(ctx, db, "affectations", "", "")
	}
	return countRows(ctx, AffectationQuery(db.NewSelect().Model((*hubapi.Affectation)(nil)), f))
}

// Counter is one row of the counters: the count of name's rows whose
// counted columns hold K1 (and K2).
type Counter struct {
	K1, K2 string
	N      int
}

// Counters returns the counters of name (keys whose count fell to zero may
// be listed with N = 0).
func Counters(ctx context.Context, db bun.IDB, name string) ([]Counter, error) {
	var rows []Counter
	err := db.NewSelect().TableExpr("(?) AS c", counterRows(db, name, "", "")).
		ColumnExpr("k1, k2, SUM(n) AS n").Group("k1", "k2").Order("k1", "k2").Scan(ctx, &rows)
	return rows, mapErr(err)
}

// PointageMinutes returns the SUM(minutes) of the pointages not rejected
// dated from..to (inclusive), all users, from the daily counters.
func PointageMinutes(ctx context.Context, db bun.IDB, from, to hubapi.Date) (int64, error) {
	var n int64
	days := func(table string) *bun.SelectQuery {
		return db.NewSelect().Table(table).Column("n").Where("name = 'pointage_minutes'").
			Where("k1 >= ?", from.String()).Where("k1 <= ?", to.String())
	}
	err := db.NewSelect().TableExpr("(?) AS c", days("counters").UnionAll(days("counter_deltas"))).
		ColumnExpr("COALESCE(SUM(n), 0)").Scan(ctx, &n)
	return n, mapErr(err)
}

// counterSources are the aggregates the counters must equal, as selects of
// (name, k1, k2, n); day is the dialect's YYYY-MM-DD of a date column.
func counterSources(day string) []string {
	return []string{
		`SELECT 'chantiers' AS name, statut AS k1, '' AS k2, count(*) AS n FROM chantiers GROUP BY statut`,
		`SELECT 'pointages' AS name, statut AS k1, '' AS k2, count(*) AS n FROM pointages GROUP BY statut`,
		`SELECT 'documents' AS name, categorie AS k1, '' AS k2, count(*) AS n FROM documents GROUP BY categorie`,
		`SELECT 'signalements' AS name, statut AS k1, gravite AS k2, count(*) AS n FROM signalements GROUP BY statut, gravite`,
		`SELECT 'affectations' AS name, '' AS k1, '' AS k2, count(*) AS n FROM affectations HAVING count(*) > 0`,
		`SELECT 'pointage_minutes' AS name, ` + day + ` AS k1, '' AS k2, sum(minutes) AS n FROM pointages WHERE statut <> 'rejete' GROUP BY ` + day,
		`SELECT 'clients' AS name, '' AS k1, '' AS k2, count(*) AS n FROM clients HAVING count(*) > 0`,
		`SELECT 'factures' AS name, statut AS k1, '' AS k2, count(*) AS n FROM factures GROUP BY statut`,
		`SELECT 'depenses' AS name, '' AS k1, '' AS k2, count(*) AS n FROM depenses HAVING count(*) > 0`,
	}
}

func dayExpr(db bun.IDB) string {
	if db.Dialect().Name() == dialect.PG {
		return "to_char(date, 'YYYY-MM-DD')"
	}
	return "date(date)"
}

// CounterDiff is a counter that disagrees with its table.
type CounterDiff struct {
	Name    string `bun:"name"`
	K1      string `bun:"k1"`
	K2      string `bun:"k2"`
	Counted int    `bun:"counted"` // what the counters say
	Actual  int    `bun:"actual"`  // what the table holds
}

// CheckCounters recounts every table (full scans: an administration
// command, not a request path) and returns the counters that disagree with
// it, in one statement (one snapshot on PostgreSQL). The counters can only
// drift if triggers were bypassed, e.g. by a restore with
// session_replication_role = replica or pg_restore --disable-triggers.
func CheckCounters(ctx context.Context, db bun.IDB) ([]CounterDiff, error) {
	parts := []string{
		"SELECT name, k1, k2, n AS c, 0 AS a FROM counters",
		"SELECT name, k1, k2, n, 0 FROM counter_deltas",
	}
	for _, src := range counterSources(dayExpr(db)) {
		parts = append(parts, "SELECT name, k1, k2, 0, n FROM ("+src+") s")
	}
	q := "SELECT name, k1, k2, SUM(c) AS counted, SUM(a) AS actual FROM (" + strings.Join(parts, " UNION ALL ") +
		") x GROUP BY name, k1, k2 HAVING SUM(c) <> SUM(a) ORDER BY name, k1, k2"
	var diffs []CounterDiff
	if err := db.NewRaw(q).Scan(ctx, &diffs); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, mapErr(err)
	}
	return diffs, nil
}

// RebuildCounters recounts every table and replaces the counters, in one
// transaction that keeps writers out meanwhile (PostgreSQL: SHARE locks on
// the counted tables; SQLite: the write transaction).
func RebuildCounters(ctx context.Context, db bun.IDB) error {
	return db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		stmts := []string{}
		if tx.Dialect().Name() == dialect.PG {
			stmts = append(stmts, "LOCK TABLE chantiers, pointages, documents, signalements, affectations, clients, factures, depenses IN SHARE MODE")
		}
		stmts = append(stmts, "DELETE FROM counters", "DELETE FROM counter_deltas")
		for _, src := range counterSources(dayExpr(tx)) {
			stmts = append(stmts, "INSERT INTO counters (name, k1, k2, n) "+src)
		}
		for _, q := range stmts {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return mapErr(err)
			}
		}
		return nil
	})
}
