package store_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/uptrace/bun"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

// aggregates recomputes from the tables what the counters must hold.
func aggregates(t *testing.T, db *store.DB) map[string]int {
	t.Helper()
	day := "date(date)"
	if db.IsPostgres() {
		day = "to_char(date, 'YYYY-MM-DD')"
	}
	queries := []string{
		`SELECT 'chantiers', statut, '', count(*) FROM chantiers GROUP BY statut`,
		`SELECT 'pointages', statut, '', count(*) FROM pointages GROUP BY statut`,
		`SELECT 'documents', categorie, '', count(*) FROM documents GROUP BY categorie`,
		`SELECT 'signalements', statut, gravite, count(*) FROM signalements GROUP BY statut, gravite`,
		`SELECT 'affectations', '', '', count(*) FROM affectations HAVING count(*) > 0`,
		`SELECT 'pointage_minutes', ` + day + `, '', sum(minutes) FROM pointages WHERE statut <> 'rejete' GROUP BY date`,
	}
	out := map[string]int{}
	for _, q := range queries {
		rows, err := db.QueryContext(context.Background(), q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		for rows.Next() {
			var name, k1, k2 string
			var n int
			if err := rows.Scan(&name, &k1, &k2, &n); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				out[name+"|"+k1+"|"+k2] = n
			}
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// counters reads the maintained counters (zero rows left out).
func counters(t *testing.T, db *store.DB) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, name := range []string{"chantiers", "pointages", "documents", "signalements", "affectations", "pointage_minutes"} {
		cs, err := store.Counters(context.Background(), db, name)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			if c.N != 0 {
				out[name+"|"+c.K1+"|"+c.K2] = c.N
			}
		}
	}
	return out
}

func checkCounters(t *testing.T, db *store.DB, when string) {
	t.Helper()
	want, got := aggregates(t, db), counters(t, db)
	if !maps.Equal(want, got) {
		for _, k := range slices.Sorted(maps.Keys(want)) {
			if want[k] != got[k] {
				t.Errorf("%s: %s = %d, tables say %d", when, k, got[k], want[k])
			}
		}
		for k := range got {
			if _, ok := want[k]; !ok {
				t.Errorf("%s: %s = %d, tables say 0", when, k, got[k])
			}
		}
		t.FailNow()
	}
}

// fixture writes rows through plain SQL, the way any client of the
// database could.
type fixture struct {
	t   *testing.T
	db  *store.DB
	rng *rand.Rand
	ctx context.Context
}

func pick[T any](rng *rand.Rand, xs []T) T { return xs[rng.IntN(len(xs))] }

func (f *fixture) exec(q string, args ...any) error {
	_, err := f.db.ExecContext(f.ctx, q, args...)
	return err
}

func (f *fixture) must(q string, args ...any) {
	f.t.Helper()
	if err := f.exec(q, args...); err != nil {
		f.t.Fatalf("%s: %v", q, err)
	}
}

func (f *fixture) ids(table string) []int64 {
	f.t.Helper()
	var ids []int64
	if err := f.db.NewSelect().Table(table).Column("id").Order("id").Scan(f.ctx, &ids); err != nil {
		f.t.Fatal(err)
	}
	return ids
}

func (f *fixture) user(i int) int64 {
	f.t.Helper()
	now := store.Now()
	u := &hubapi.User{Email: fmt.Sprintf("u%d-%d@hub.fr", i, f.rng.Int64()), Role: hubapi.RoleCompagnon, CreatedAt: now, UpdatedAt: now, Version: 1}
	if err := store.Insert(f.ctx, f.db, u); err != nil {
		f.t.Fatal(err)
	}
	return u.ID
}

var (
	pointageStatuts    = []string{"brouillon", "soumis", "valide", "rejete"}
	signalementStatuts = []string{"ouvert", "en_cours", "resolu", "ferme"}
	gravites           = []string{"basse", "moyenne", "haute", "urgente"}
	chantierStatuts    = []string{"ouvert", "en_cours", "receptionne", "ferme"}
)

func (f *fixture) day() string { return fmt.Sprintf("2026-11-%02d", 1+f.rng.IntN(5)) }

// step performs one random write; some fail on a constraint, which must
// leave the counters as they were.
func (f *fixture) step(users []int64, seq int) {
	now := store.Now()
	chantiers := f.ids("chantiers")
	ch := func() int64 { return pick(f.rng, chantiers) }
	id := func(table string) (int64, bool) {
		ids := f.ids(table)
		if len(ids) == 0 {
			return 0, false
		}
		return pick(f.rng, ids), true
	}
	switch f.rng.IntN(16) {
	case 0:
		f.must(`INSERT INTO chantiers (code, nom, adresse, statut, created_at, updated_at) VALUES (?, 'c', 'a', ?, ?, ?)`,
			fmt.Sprintf("C-%d", seq), pick(f.rng, chantierStatuts), now, now)
	case 1:
		f.must(`UPDATE chantiers SET statut = ? WHERE id = ?`, pick(f.rng, chantierStatuts), ch())
	case 2: // counted column untouched
		f.must(`UPDATE chantiers SET description = ?, version = version + 1 WHERE id = ?`, fmt.Sprint(seq), ch())
	case 3: // fails while the chantier is referenced
		_ = f.exec(`DELETE FROM chantiers WHERE id = ?`, ch())
	case 4:
		f.must(`INSERT INTO pointages (user_id, chantier_id, date, minutes, type, statut, created_at, updated_at) VALUES (?, ?, ?, ?, 'normal', ?, ?, ?)`,
			pick(f.rng, users), ch(), f.day(), 1+f.rng.IntN(600), pick(f.rng, pointageStatuts), now, now)
	case 5: // several rows in one statement
		f.must(`UPDATE pointages SET statut = ? WHERE id % 3 = ?`, pick(f.rng, pointageStatuts), f.rng.IntN(3))
	case 6:
		if p, ok := id("pointages"); ok {
			f.must(`UPDATE pointages SET minutes = ?, date = ? WHERE id = ?`, 1+f.rng.IntN(600), f.day(), p)
		}
	case 7:
		if p, ok := id("pointages"); ok {
			f.must(`DELETE FROM pointages WHERE id = ?`, p)
		}
	case 8: // CHECK violation: nothing written
		if err := f.exec(`INSERT INTO pointages (user_id, chantier_id, date, minutes, type, statut, created_at, updated_at) VALUES (?, ?, ?, 0, 'normal', 'valide', ?, ?)`,
			pick(f.rng, users), ch(), f.day(), now, now); err == nil {
			f.t.Fatal("minutes = 0 accepted")
		}
	case 9:
		f.must(`INSERT INTO signalements (chantier_id, titre, gravite, statut, created_by, created_at, updated_at) VALUES (?, 't', ?, ?, ?, ?, ?)`,
			ch(), pick(f.rng, gravites), pick(f.rng, signalementStatuts), users[0], now, now)
	case 10:
		if s, ok := id("signalements"); ok {
			f.must(`UPDATE signalements SET statut = ?, gravite = ? WHERE id = ?`, pick(f.rng, signalementStatuts), pick(f.rng, gravites), s)
		}
	case 11:
		if s, ok := id("signalements"); ok {
			f.must(`DELETE FROM signalements WHERE id = ?`, s)
		}
	case 12:
		f.must(`INSERT INTO documents (chantier_id, nom, categorie, mime_type, size, sha256, uploaded_by, storage_key, created_at, updated_at) VALUES (?, 'd', ?, 'text/plain', 1, 'x', ?, ?, ?, ?)`,
			ch(), pick(f.rng, hubapi.DocumentCategories), users[0], fmt.Sprintf("k-%d", seq), now, now)
	case 13:
		if d, ok := id("documents"); ok {
			if f.rng.IntN(2) == 0 {
				f.must(`UPDATE documents SET categorie = ? WHERE id = ?`, pick(f.rng, hubapi.DocumentCategories), d)
			} else {
				f.must(`DELETE FROM documents WHERE id = ?`, d)
			}
		}
	case 14:
		f.must(`INSERT INTO affectations (user_id, chantier_id, date, heure_debut, heure_fin, created_at, updated_at) VALUES (?, ?, ?, '08:00', '17:00', ?, ?)`,
			pick(f.rng, users), ch(), f.day(), now, now)
	case 15:
		if a, ok := id("affectations"); ok {
			f.must(`DELETE FROM affectations WHERE id = ?`, a)
		}
	}
}

// populated returns a fixture over db with two users, one chantier and
// steps random writes.
func populated(t *testing.T, db *store.DB, seed uint64, steps int) (*fixture, []int64) {
	t.Helper()
	f := &fixture{t: t, db: db, rng: rand.New(rand.NewPCG(seed, seed+1)), ctx: context.Background()}
	users := []int64{f.user(0), f.user(1)}
	f.must(`INSERT INTO chantiers (code, nom, adresse, statut, created_at, updated_at) VALUES (?, 'c', 'a', 'ferme', ?, ?)`,
		fmt.Sprintf("P-%d", seed), store.Now(), store.Now())
	for i := range steps {
		f.step(users, i)
	}
	return f, users
}

func TestCountersFollowEveryWrite(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		db := open(t, tdb)
		ctx := context.Background()
		f := &fixture{t: t, db: db, rng: rand.New(rand.NewPCG(1, 2)), ctx: ctx}
		users := []int64{f.user(0), f.user(1), f.user(2)}
		for i := range 4 {
			f.must(`INSERT INTO chantiers (code, nom, adresse, statut, created_at, updated_at) VALUES (?, 'c', 'a', 'ouvert', ?, ?)`, fmt.Sprintf("S-%d", i), store.Now(), store.Now())
		}
		checkCounters(t, db, "start")
		for i := range 400 {
			f.step(users, i)
			if i%100 == 50 {
				if err := store.CompactCounters(ctx, db); err != nil {
					t.Fatal(err)
				}
			}
			if i%20 == 0 {
				checkCounters(t, db, fmt.Sprintf("after step %d", i))
			}
		}
		checkCounters(t, db, "after the random writes")

		// A user's deletion cascades to their pointages and affectations.
		leaver := f.user(9)
		c := f.ids("chantiers")[0]
		for i := range 5 {
			f.must(`INSERT INTO pointages (user_id, chantier_id, date, minutes, type, statut, created_at, updated_at) VALUES (?, ?, '2026-11-02', ?, 'normal', 'soumis', ?, ?)`, leaver, c, 60+i, store.Now(), store.Now())
			f.must(`INSERT INTO affectations (user_id, chantier_id, date, heure_debut, heure_fin, created_at, updated_at) VALUES (?, ?, '2026-11-02', '08:00', '12:00', ?, ?)`, leaver, c, store.Now(), store.Now())
		}
		f.must(`DELETE FROM users WHERE id = ?`, leaver)
		checkCounters(t, db, "after a cascading delete")

		// A rolled back transaction leaves nothing behind.
		before := counters(t, db)
		errRollback := errors.New("rollback")
		err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			if _, err := tx.ExecContext(ctx, `UPDATE chantiers SET statut = 'ferme'`); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM signalements`); err != nil {
				return err
			}
			return errRollback
		})
		if !errors.Is(err, errRollback) {
			t.Fatal(err)
		}
		if got := counters(t, db); !maps.Equal(before, got) {
			t.Fatalf("rolled back writes changed the counters: %v → %v", before, got)
		}

		// Every filter of the lists counts what COUNT(*) counts.
		for _, st := range append([]string{""}, chantierStatuts...) {
			cf := hubapi.ChantierFilter{Statut: hubapi.ChantierStatut(st)}
			want, _ := store.ChantierQuery(db.NewSelect().Model((*hubapi.Chantier)(nil)), cf).Count(ctx)
			if got, err := store.CountChantiers(ctx, db, cf); err != nil || int64(got) != want {
				t.Errorf("chantiers statut=%q: %d, %v; COUNT(*) %d", st, got, err, want)
			}
		}
		for _, st := range append([]string{""}, signalementStatuts...) {
			for _, g := range append([]string{""}, gravites...) {
				sf := hubapi.SignalementFilter{Statut: hubapi.SignalementStatut(st), Gravite: hubapi.Gravite(g)}
				want, _ := store.SignalementQuery(db.NewSelect().Model((*hubapi.Signalement)(nil)), sf).Count(ctx)
				if got, err := store.CountSignalements(ctx, db, sf); err != nil || int64(got) != want {
					t.Errorf("signalements statut=%q gravite=%q: %d, %v; COUNT(*) %d", st, g, got, err, want)
				}
			}
		}
		for _, st := range append([]string{""}, pointageStatuts...) {
			for _, u := range []int64{0, users[1]} {
				pf := hubapi.PointageFilter{Statut: hubapi.PointageStatut(st), UserID: u}
				want, _ := store.PointageQuery(db.NewSelect().Model((*hubapi.Pointage)(nil)), pf).Count(ctx)
				if got, err := store.CountPointages(ctx, db, pf); err != nil || int64(got) != want {
					t.Errorf("pointages statut=%q user=%d: %d, %v; COUNT(*) %d", st, u, got, err, want)
				}
			}
		}
		for _, cat := range append([]string{""}, hubapi.DocumentCategories...) {
			df := hubapi.DocumentFilter{Categorie: cat}
			want, _ := store.DocumentQuery(db.NewSelect().Model((*hubapi.Document)(nil)), df).Count(ctx)
			if got, err := store.CountDocuments(ctx, db, df); err != nil || int64(got) != want {
				t.Errorf("documents categorie=%q: %d, %v; COUNT(*) %d", cat, got, err, want)
			}
		}
		want, _ := db.NewSelect().Model((*hubapi.Affectation)(nil)).Count(ctx)
		if got, err := store.CountAffectations(ctx, db, hubapi.AffectationFilter{}); err != nil || int64(got) != want {
			t.Errorf("affectations: %d, %v; COUNT(*) %d", got, err, want)
		}
		var minutes int64
		if err := db.NewSelect().Table("pointages").ColumnExpr("COALESCE(SUM(minutes), 0)").
			Where("date >= '2026-11-02' AND date <= '2026-11-04' AND statut <> 'rejete'").Scan(ctx, &minutes); err != nil {
			t.Fatal(err)
		}
		if got, err := store.PointageMinutes(ctx, db, hubapi.NewDate(2026, 11, 2), hubapi.NewDate(2026, 11, 4)); err != nil || got != minutes || got == 0 {
			t.Errorf("minutes 2–4 Nov: %d, %v; SUM %d", got, err, minutes)
		}

		if db.IsPostgres() {
			f.must(`TRUNCATE pointages`)
			checkCounters(t, db, "after TRUNCATE pointages")
			if cs, _ := store.Counters(ctx, db, "pointage_minutes"); len(cs) != 0 {
				t.Fatalf("minutes counters after TRUNCATE: %v", cs)
			}
		}
	})
}

// Writers whose transactions each move two rows between counted values, in
// opposite orders (half of them move A then B, the others B then A), while
// two compactions run at once: no writer waits on another's counter (updating
// shared counter rows in place would deadlock here), and no delta is lost.
func TestCountersConcurrentWriters(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		db := open(t, tdb)
		ctx := context.Background()
		f := &fixture{t: t, db: db, rng: rand.New(rand.NewPCG(3, 4)), ctx: ctx}
		const writers, rounds = 6, 40
		for i := range 2 * writers {
			f.must(`INSERT INTO chantiers (code, nom, adresse, statut, created_at, updated_at) VALUES (?, 'c', 'a', ?, ?, ?)`,
				fmt.Sprintf("W-%d", i), chantierStatuts[2*(i%2)], store.Now(), store.Now())
		}
		ids := f.ids("chantiers")
		var wg sync.WaitGroup
		errs := make(chan error, writers+2)
		done := make(chan struct{})
		var compactors sync.WaitGroup
		for range 2 { // two instances compacting meanwhile, as servers do
			compactors.Go(func() {
				for {
					select {
					case <-done:
						return
					default:
					}
					if err := store.CompactCounters(ctx, db); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		for w := range writers {
			wg.Go(func() {
				a, b := ids[2*w], ids[2*w+1] // a: ouvert ⇄ en_cours, b: receptionne ⇄ ferme
				for r := range rounds {
					moves := []struct {
						id int64
						st string
					}{{a, chantierStatuts[(r+1)%2]}, {b, chantierStatuts[2+(r+1)%2]}}
					if w%2 == 1 {
						moves[0], moves[1] = moves[1], moves[0]
					}
					err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
						for _, m := range moves {
							if _, err := tx.ExecContext(ctx, `UPDATE chantiers SET statut = ? WHERE id = ?`, m.st, m.id); err != nil {
								return err
							}
						}
						return nil
					})
					if err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(done)
		compactors.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("writer or compaction: %v", err)
		}
		checkCounters(t, db, "after concurrent writers")
		if err := store.CompactCounters(ctx, db); err != nil {
			t.Fatal(err)
		}
		if n, err := db.NewSelect().Table("counter_deltas").Count(ctx); err != nil || n != 0 {
			t.Fatalf("deltas left after compaction: %d, %v", n, err)
		}
		checkCounters(t, db, "after compaction")
	})
}

// The migration counts the rows already there when it is applied to a
// database that has data.
func TestCountersMigrationCountsExistingRows(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		db := open(t, tdb)
		ctx := context.Background()
		f, users := populated(t, db, 5, 60)
		// Back to the schema before the counters, data kept.
		if db.IsPostgres() {
			f.must(`DROP TABLE counters, counter_deltas`)
			for _, fn := range []string{"chantiers", "pointages", "documents", "signalements", "affectations"} {
				f.must(`DROP FUNCTION ` + fn + `_counters() CASCADE`)
			}
			f.must(`DROP FUNCTION counters_reset() CASCADE`)
		} else {
			var triggers []string
			if err := db.NewSelect().Table("sqlite_master").Column("name").Where("type = 'trigger'").Scan(ctx, &triggers); err != nil {
				t.Fatal(err)
			}
			for _, name := range triggers {
				f.must(`DROP TRIGGER ` + name)
			}
			f.must(`DROP TABLE counters`)
			f.must(`DROP TABLE counter_deltas`)
		}
		f.must(`DELETE FROM bun_migrations WHERE name = '20261202000001'`)
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		if len(counters(t, db)) == 0 {
			t.Fatal("no counters after the migration")
		}
		checkCounters(t, db, "after migrating a database with data")
		for i := range 40 {
			f.step(users, 100+i)
		}
		checkCounters(t, db, "after writes on the migrated database")
	})
}

// Counters that drifted (here: changed by hand) are reported, then
// rebuilt from the tables.
func TestCheckAndRebuildCounters(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		db := open(t, tdb)
		ctx := context.Background()
		f, users := populated(t, db, 7, 80)
		if diffs, err := store.CheckCounters(ctx, db); err != nil || len(diffs) != 0 {
			t.Fatalf("exact counters reported: %+v, %v", diffs, err)
		}
		if err := store.CompactCounters(ctx, db); err != nil {
			t.Fatal(err)
		}
		want := aggregates(t, db)
		f.must(`UPDATE counters SET n = n + 5 WHERE name = 'chantiers' AND k1 = 'ferme'`)
		f.must(`DELETE FROM counters WHERE name = 'pointage_minutes'`)
		diffs, err := store.CheckCounters(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		var minutes int
		for _, d := range diffs {
			switch {
			case d.Name == "chantiers" && d.K1 == "ferme":
				if d.Counted != d.Actual+5 || d.Actual != want["chantiers|ferme|"] {
					t.Errorf("chantiers ferme: %+v, table has %d", d, want["chantiers|ferme|"])
				}
			case d.Name == "pointage_minutes":
				if d.Counted != 0 || d.Actual != want["pointage_minutes|"+d.K1+"|"] {
					t.Errorf("minutes: %+v", d)
				}
				minutes++
			default:
				t.Errorf("unexpected difference %+v", d)
			}
		}
		days := 0
		for k := range want {
			if strings.HasPrefix(k, "pointage_minutes|") {
				days++
			}
		}
		if minutes != days || days == 0 {
			t.Errorf("%d minute days reported, %d days have minutes", minutes, days)
		}
		if err := store.RebuildCounters(ctx, db); err != nil {
			t.Fatal(err)
		}
		checkCounters(t, db, "after rebuild")
		if diffs, err := store.CheckCounters(ctx, db); err != nil || len(diffs) != 0 {
			t.Fatalf("after rebuild: %+v, %v", diffs, err)
		}
		for i := range 20 { // the triggers carry on from the rebuilt counters
			f.step(users, 200+i)
		}
		checkCounters(t, db, "after writes on rebuilt counters")
	})
}
