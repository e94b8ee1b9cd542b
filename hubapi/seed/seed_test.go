package seed_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/blob"
	"github.com/hubchantier/hubchantier/hubapi/seed"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

var testNow = time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)

func migrated(t *testing.T, db *testenv.DB) *store.DB {
	t.Helper()
	s := store.Wrap(db.DB)
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

func count(t *testing.T, db bun.IDB, query string) int64 {
	t.Helper()
	var n int64
	if err := db.NewRaw(query).Scan(context.Background(), &n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// indexNames lists the indexes of the seeded tables.
func indexNames(t *testing.T, db *store.DB) []string {
	t.Helper()
	var names []string
	q := `SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('chantiers','pointages','signalements','affectations','documents') ORDER BY name`
	if db.IsPostgres() {
		q = `SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename IN ('chantiers','pointages','signalements','affectations','documents') ORDER BY indexname`
	}
	if err := db.NewRaw(q).Scan(context.Background(), &names); err != nil {
		t.Fatal(err)
	}
	return names
}

var (
	codeRe    = regexp.MustCompile(`^CH-(\d{4})-\d{7}$`)
	sha256Re  = regexp.MustCompile(`^[0-9a-f]{64}$`)
	blobKeyRe = regexp.MustCompile(`^[a-f0-9]{16,64}$`)
)

func TestRunSeedsEveryResource(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		ctx := context.Background()
		db := migrated(t, tdb)
		before := indexNames(t, db)
		var phases []string
		var lastDone, lastTotal int64
		var progressErr string
		res, err := seed.Run(ctx, db, seed.Options{Chantiers: 2000, Seed: 42, Now: testNow,
			Phase: func(p string) { phases = append(phases, p) },
			Progress: func(done, total int64) {
				if done < lastDone || done > total {
					progressErr = fmt.Sprintf("progress %d/%d after %d/%d", done, total, lastDone, lastTotal)
				}
				lastDone, lastTotal = done, total
			}})
		if err != nil {
			t.Fatal(err)
		}

		t.Run("counts match the result and the expected averages", func(t *testing.T) {
			for table, want := range map[string]int64{"users": res.Users, "chantiers": res.Chantiers, "pointages": res.Pointages,
				"signalements": res.Signalements, "affectations": res.Affectations, "documents": res.Documents} {
				if got := count(t, db, "SELECT count(*) FROM "+table); got != want {
					t.Errorf("%s: %d rows, result says %d", table, got, want)
				}
			}
			counted := map[string]func() (int, error){
				"chantiers":    func() (int, error) { return store.CountChantiers(ctx, db, hubapi.ChantierFilter{}) },
				"pointages":    func() (int, error) { return store.CountPointages(ctx, db, hubapi.PointageFilter{}) },
				"signalements": func() (int, error) { return store.CountSignalements(ctx, db, hubapi.SignalementFilter{}) },
				"affectations": func() (int, error) { return store.CountAffectations(ctx, db, hubapi.AffectationFilter{}) },
				"documents":    func() (int, error) { return store.CountDocuments(ctx, db, hubapi.DocumentFilter{}) },
			}
			for table, n := range counted { // the bulk load goes through the counter triggers too
				if got, err := n(); err != nil || int64(got) != count(t, db, "SELECT count(*) FROM "+table) {
					t.Errorf("%s: counters say %d (%v), the table has %d rows", table, got, err, count(t, db, "SELECT count(*) FROM "+table))
				}
			}
			if res.Chantiers != 2000 || res.Users != 50 {
				t.Errorf("chantiers=%d users=%d, want 2000 and 50", res.Chantiers, res.Users)
			}
			for name, c := range map[string]struct {
				n        int64
				min, max float64
			}{"pointages": {res.Pointages, 1.7, 2.3}, "signalements": {res.Signalements, 0.4, 0.6},
				"affectations": {res.Affectations, 0.85, 1.15}, "documents": {res.Documents, 0.22, 0.38}} {
				if avg := float64(c.n) / 2000; avg < c.min || avg > c.max {
					t.Errorf("%s per chantier = %.2f, want %.2f..%.2f", name, avg, c.min, c.max)
				}
			}
			if !res.BulkLoad {
				t.Error("an empty database should take the bulk-load path")
			}
			// Rebuilding the indexes counts for half a unit per row.
			if want := res.Rows() + res.Rows()/2; lastDone != want || lastTotal != want {
				t.Errorf("last progress %d/%d, want %d/%d", lastDone, lastTotal, want, want)
			}
			if progressErr != "" {
				t.Error(progressErr)
			}
			want := []string{"users", "chantiers", "pointages", "signalements", "affectations", "documents", "indexes", "analyze"}
			if !slices.Equal(phases, want) {
				t.Errorf("phases %v, want %v", phases, want)
			}
		})

		t.Run("codes are unique CH-YYYY-NNNNNNN with the creation year", func(t *testing.T) {
			if n := count(t, db, "SELECT count(DISTINCT code) FROM chantiers"); n != 2000 {
				t.Errorf("%d distinct codes", n)
			}
			var cs []hubapi.Chantier
			if err := db.NewSelect().Model(&cs).Order("id").Scan(ctx); err != nil {
				t.Fatal(err)
			}
			for i, c := range cs {
				m := codeRe.FindStringSubmatch(c.Code)
				if m == nil || m[1] != strconv.Itoa(c.CreatedAt.Year()) {
					t.Fatalf("code %q of a chantier created %s", c.Code, c.CreatedAt)
				}
				if want := fmt.Sprintf("%07d", i+1); c.Code[8:] != want {
					t.Fatalf("chantier %d has code %s, want number %s", c.ID, c.Code, want)
				}
			}
			if res.FirstCode != cs[0].Code || res.LastCode != cs[len(cs)-1].Code {
				t.Errorf("result codes %s..%s, table %s..%s", res.FirstCode, res.LastCode, cs[0].Code, cs[len(cs)-1].Code)
			}
		})

		t.Run("foreign keys hold and are enforced again", func(t *testing.T) {
			for _, q := range []string{
				"SELECT count(*) FROM chantiers c LEFT JOIN users u ON u.id = c.responsable_id WHERE c.responsable_id IS NOT NULL AND u.id IS NULL",
				"SELECT count(*) FROM pointages p LEFT JOIN chantiers c ON c.id = p.chantier_id WHERE c.id IS NULL",
				"SELECT count(*) FROM pointages p LEFT JOIN users u ON u.id = p.user_id WHERE u.id IS NULL",
				"SELECT count(*) FROM signalements s LEFT JOIN chantiers c ON c.id = s.chantier_id WHERE c.id IS NULL",
				"SELECT count(*) FROM signalements s LEFT JOIN users u ON u.id = s.created_by WHERE u.id IS NULL",
				"SELECT count(*) FROM signalements s LEFT JOIN users u ON u.id = s.assigned_to WHERE s.assigned_to IS NOT NULL AND u.id IS NULL",
				"SELECT count(*) FROM affectations a LEFT JOIN chantiers c ON c.id = a.chantier_id WHERE c.id IS NULL",
				"SELECT count(*) FROM affectations a LEFT JOIN users u ON u.id = a.user_id WHERE u.id IS NULL",
				"SELECT count(*) FROM documents d LEFT JOIN chantiers c ON c.id = d.chantier_id WHERE c.id IS NULL",
				"SELECT count(*) FROM documents d LEFT JOIN users u ON u.id = d.uploaded_by WHERE u.id IS NULL",
			} {
				if n := count(t, db, q); n != 0 {
					t.Errorf("%d dangling references: %s", n, q)
				}
			}
			if db.IsPostgres() {
				if n := count(t, db, `SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND convalidated
					AND conrelid IN (SELECT to_regclass(t) FROM unnest(ARRAY['chantiers','pointages','signalements','affectations','documents']) t)`); n != 10 {
					t.Errorf("%d validated foreign keys, want 10", n)
				}
			} else if n := count(t, db, "SELECT count(*) FROM pragma_foreign_key_check"); n != 0 {
				t.Errorf("foreign_key_check reports %d rows", n)
			}
			_, err := db.NewInsert().Model(&hubapi.Pointage{UserID: 1, ChantierID: 999_999, Date: hubapi.NewDate(2026, 1, 5), Minutes: 60,
				Type: hubapi.PointageNormal, Statut: hubapi.PointageBrouillon, CreatedAt: testNow, UpdatedAt: testNow, Version: 1}).Exec(ctx)
			if err == nil {
				t.Error("a pointage on a missing chantier was accepted after the load")
			}
		})

		t.Run("secondary indexes are rebuilt", func(t *testing.T) {
			if after := indexNames(t, db); !slices.Equal(before, after) {
				t.Errorf("indexes before %v, after %v", before, after)
			}
		})

		t.Run("ids follow created_at in every table", func(t *testing.T) {
			for _, table := range []string{"users", "chantiers", "pointages", "signalements", "affectations", "documents"} {
				q := "SELECT count(*) FROM " + table + " a JOIN " + table + " b ON b.id = a.id + 1 WHERE b.created_at < a.created_at"
				if n := count(t, db, q); n != 0 {
					t.Errorf("%s: %d ids out of created_at order", table, n)
				}
				q = "SELECT count(*) FROM " + table + " WHERE updated_at < created_at"
				if n := count(t, db, q); n != 0 {
					t.Errorf("%s: %d rows updated before created", table, n)
				}
			}
		})

		t.Run("sequences continue after the seeded ids", func(t *testing.T) {
			c := &hubapi.Chantier{Code: "NEW-1", Nom: "Nouveau", Adresse: "1 rue Neuve", Statut: hubapi.ChantierOuvert,
				CreatedAt: testNow, UpdatedAt: testNow, Version: 1}
			if err := store.Insert(ctx, db, c); err != nil {
				t.Fatal(err)
			}
			if c.ID != 2001 {
				t.Errorf("next chantier id %d, want 2001", c.ID)
			}
		})

		if db.IsPostgres() {
			t.Run("rows are written frozen and the tables analyzed", func(t *testing.T) {
				for _, table := range []string{"chantiers", "pointages", "signalements", "affectations", "documents"} {
					var pages, visible, tuples int64
					err := db.NewRaw("SELECT relpages, relallvisible, reltuples::bigint FROM pg_class WHERE oid = to_regclass(?)", table).
						Scan(ctx, &pages, &visible, &tuples)
					if err != nil {
						t.Fatal(err)
					}
					if pages == 0 || visible != pages || tuples <= 0 {
						t.Errorf("%s: %d pages, %d all-visible, %d tuples estimated", table, pages, visible, tuples)
					}
				}
			})
		}

		t.Run("sampled rows pass the domain validation", func(t *testing.T) {
			checkRows(t, db, testNow)
		})
	})
}

func checkRows(t *testing.T, db *store.DB, now time.Time) {
	ctx := context.Background()
	var users []hubapi.User
	if err := db.NewSelect().Model(&users).Scan(ctx); err != nil {
		t.Fatal(err)
	}
	roles := map[hubapi.Role]int{}
	for i := range users {
		u := users[i]
		if err := u.Validate(); err != nil {
			t.Errorf("user %d: %v", u.ID, err)
		}
		roles[u.Role]++
	}
	if len(roles) != 4 {
		t.Errorf("roles %v, want all four", roles)
	}

	var cs []hubapi.Chantier
	if err := db.NewSelect().Model(&cs).Where("id % 7 = 0").Scan(ctx); err != nil {
		t.Fatal(err)
	}
	statuts := map[hubapi.ChantierStatut]int{}
	for _, c := range cs {
		in := c.Input()
		in.Normalize()
		if err := in.Validate(); err != nil {
			t.Errorf("chantier %d: %v", c.ID, err)
		}
		statuts[c.Statut]++
		if c.Latitude != nil && (*c.Latitude < 41 || *c.Latitude > 51.2 || *c.Longitude < -5 || *c.Longitude > 9.7) {
			t.Errorf("chantier %d at %v,%v: outside France", c.ID, *c.Latitude, *c.Longitude)
		}
		if c.CreatedAt.After(now) || c.UpdatedAt.After(now) || c.CreatedAt.Before(testNow.AddDate(-seed.DefaultYears, 0, 0)) {
			t.Errorf("chantier %d: created %s updated %s outside the window", c.ID, c.CreatedAt, c.UpdatedAt)
		}
		if c.BudgetCents <= 0 || c.Nom == "" || c.Ville == "" || c.ClientNom == "" {
			t.Errorf("chantier %d lacks realistic values: %+v", c.ID, c)
		}
	}
	for _, s := range hubapi.ChantierStatuts {
		if statuts[s] == 0 {
			t.Errorf("no chantier %s among %v", s, statuts)
		}
	}

	var ps []hubapi.Pointage
	if err := db.NewSelect().Model(&ps).Where("id % 11 = 0").Scan(ctx); err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if !slices.Contains(hubapi.PointageStatuts, p.Statut) {
			t.Errorf("pointage %d: statut %q", p.ID, p.Statut)
		}
		// Input validation accepts only the states a client may write.
		in := p.Input()
		in.Statut = hubapi.PointageSoumis
		in.Normalize()
		if err := in.Validate(); err != nil {
			t.Errorf("pointage %d: %v", p.ID, err)
		}
		if !p.Date.Before(hubapi.DateOf(now)) {
			t.Errorf("pointage %d dated %s, in the future", p.ID, p.Date)
		}
	}

	var ss []hubapi.Signalement
	if err := db.NewSelect().Model(&ss).Scan(ctx); err != nil {
		t.Fatal(err)
	}
	for _, s := range ss {
		in := s.Input()
		in.Normalize()
		if err := in.Validate(); err != nil {
			t.Errorf("signalement %d: %v", s.ID, err)
		}
		resolved := s.Statut == hubapi.SignalementResolu || s.Statut == hubapi.SignalementFerme
		if resolved != (s.ResolvedAt != nil) {
			t.Errorf("signalement %d is %s with resolved_at %v", s.ID, s.Statut, s.ResolvedAt)
		}
		if s.ResolvedAt != nil && (s.ResolvedAt.Before(s.CreatedAt) || s.ResolvedAt.After(now)) {
			t.Errorf("signalement %d resolved at %s, created %s", s.ID, s.ResolvedAt, s.CreatedAt)
		}
	}

	var as []hubapi.Affectation
	if err := db.NewSelect().Model(&as).Where("id % 5 = 0").Scan(ctx); err != nil {
		t.Fatal(err)
	}
	for _, a := range as {
		in := a.Input()
		in.Normalize()
		if err := in.Validate(); err != nil {
			t.Errorf("affectation %d: %v", a.ID, err)
		}
	}

	var ds []hubapi.Document
	if err := db.NewSelect().Model(&ds).Scan(ctx); err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		in := d.Input()
		in.Normalize()
		if err := in.Validate(); err != nil {
			t.Errorf("document %d: %v", d.ID, err)
		}
		if !sha256Re.MatchString(d.SHA256) || !blobKeyRe.MatchString(d.StorageKey) || d.Size <= 0 || d.MimeType == "" {
			t.Errorf("document %d: sha256 %q key %q size %d mime %q", d.ID, d.SHA256, d.StorageKey, d.Size, d.MimeType)
		}
	}
}

func TestRunRefusesAPopulatedDatabaseUnlessAppending(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		ctx := context.Background()
		db := migrated(t, tdb)
		first, err := seed.Run(ctx, db, seed.Options{Chantiers: 300, Seed: 1, Now: testNow})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := seed.Run(ctx, db, seed.Options{Chantiers: 10, Seed: 2, Now: testNow}); !errors.Is(err, seed.ErrNotEmpty) {
			t.Fatalf("second run without append: %v, want ErrNotEmpty", err)
		}
		if n := count(t, db, "SELECT count(*) FROM chantiers"); n != 300 {
			t.Fatalf("refused run changed the table: %d chantiers", n)
		}
		later := testNow.AddDate(0, 1, 0)
		second, err := seed.Run(ctx, db, seed.Options{Chantiers: 200, Seed: 2, Now: later, Append: true})
		if err != nil {
			t.Fatal(err)
		}
		if second.BulkLoad {
			t.Error("append must not take the bulk-load path")
		}
		if second.Users != 0 {
			t.Errorf("append created %d users, the database already has 50", second.Users)
		}
		if second.FirstCode[8:] != "0000301" || second.LastCode[8:] != "0000500" {
			t.Errorf("appended codes %s..%s, want numbers 301..500 after %s", second.FirstCode, second.LastCode, first.LastCode)
		}
		if n := count(t, db, "SELECT count(DISTINCT code) FROM chantiers"); n != 500 {
			t.Errorf("%d distinct codes, want 500", n)
		}
		q := "SELECT count(*) FROM chantiers a JOIN chantiers b ON b.id = a.id + 1 WHERE b.created_at < a.created_at"
		if n := count(t, db, q); n != 0 {
			t.Errorf("%d chantier ids out of created_at order after append", n)
		}
		if n := count(t, db, "SELECT count(*) FROM pointages"); n != first.Pointages+second.Pointages {
			t.Errorf("%d pointages, want %d", n, first.Pointages+second.Pointages)
		}
		if n, err := store.CountPointages(ctx, db, hubapi.PointageFilter{}); err != nil || int64(n) != first.Pointages+second.Pointages {
			t.Errorf("counters: %d pointages (%v), want %d", n, err, first.Pointages+second.Pointages)
		}
		checkRows(t, db, later)
	})
}

func TestRunIsAllOrNothing(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		db := migrated(t, tdb)
		before := indexNames(t, db)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		_, err := seed.Run(ctx, db, seed.Options{Chantiers: 3000, Seed: 3, Now: testNow,
			Progress: func(done, _ int64) {
				if done > 5000 { // after the chantiers, among the related rows
					cancel()
				}
			}})
		if err == nil {
			t.Fatal("a cancelled run reported success")
		}
		for _, table := range []string{"users", "chantiers", "pointages"} {
			if n := count(t, db, "SELECT count(*) FROM "+table); n != 0 {
				t.Errorf("%s holds %d rows after a failed run", table, n)
			}
		}
		if after := indexNames(t, db); !slices.Equal(before, after) {
			t.Errorf("indexes before %v, after the failed run %v", before, after)
		}
		if _, err := seed.Run(context.Background(), db, seed.Options{Chantiers: 50, Seed: 3, Now: testNow}); err != nil {
			t.Errorf("seeding after a failed run: %v", err)
		}
	})
}

// digest hashes every seeded row in id order.
func digest(t *testing.T, db *store.DB) string {
	t.Helper()
	h := sha256.New()
	ctx := context.Background()
	dump := func(model any) {
		if err := db.NewSelect().Model(model).Order("id").Scan(ctx); err != nil {
			t.Fatal(err)
		}
		if err := json.NewEncoder(h).Encode(model); err != nil {
			t.Fatal(err)
		}
	}
	dump(&[]hubapi.User{})
	dump(&[]hubapi.Chantier{})
	dump(&[]hubapi.Pointage{})
	dump(&[]hubapi.Signalement{})
	dump(&[]hubapi.Affectation{})
	dump(&[]hubapi.Document{})
	return hex.EncodeToString(h.Sum(nil))
}

func TestRunIsDeterministic(t *testing.T) {
	run := func(seedValue uint64) string {
		db := migrated(t, testenv.SQLite(t))
		if _, err := seed.Run(context.Background(), db, seed.Options{Chantiers: 1500, Seed: seedValue, Now: testNow}); err != nil {
			t.Fatal(err)
		}
		return digest(t, db)
	}
	a, b, c := run(7), run(7), run(8)
	if a != b {
		t.Error("same seed, options and Now gave different rows")
	}
	if a == c {
		t.Error("different seeds gave the same rows")
	}
}

func TestRunCreatesUsersUpToTheDefault(t *testing.T) {
	db := migrated(t, testenv.SQLite(t))
	ctx := context.Background()
	// An operator created an admin before seeding: it is kept and counted.
	admin := &hubapi.User{Email: "admin@example.fr", Role: hubapi.RoleAdmin, CreatedAt: testNow, UpdatedAt: testNow, Version: 1}
	if err := store.Insert(ctx, db, admin); err != nil {
		t.Fatal(err)
	}
	res, err := seed.Run(ctx, db, seed.Options{Chantiers: 500, Seed: 5, Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	if res.Users != 49 {
		t.Errorf("created %d users, want 49 (50 in total)", res.Users)
	}
	if !res.BulkLoad {
		t.Error("users alone must not prevent the bulk-load path")
	}
	if n := count(t, db, "SELECT count(DISTINCT email) FROM users"); n != 50 {
		t.Errorf("%d distinct e-mails, want 50", n)
	}
	if n := count(t, db, "SELECT count(*) FROM chantiers WHERE responsable_id = 1"); n != 0 {
		t.Errorf("%d chantiers run by the operator's admin, want none (admins do not run sites)", n)
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  seed.Options
		ok   bool
	}{
		{"one chantier is enough", seed.Options{Chantiers: 1}, true},
		{"the maximum is accepted", seed.Options{Chantiers: seed.MaxChantiers, Users: seed.MaxUsers, Years: 50}, true},
		{"zero chantiers is refused", seed.Options{}, false},
		{"negative chantiers are refused", seed.Options{Chantiers: -1}, false},
		{"too many chantiers are refused", seed.Options{Chantiers: seed.MaxChantiers + 1}, false},
		{"negative users are refused", seed.Options{Chantiers: 1, Users: -1}, false},
		{"too many users are refused", seed.Options{Chantiers: 1, Users: seed.MaxUsers + 1}, false},
		{"negative years are refused", seed.Options{Chantiers: 1, Years: -1}, false},
		{"a date in the distant past is refused", seed.Options{Chantiers: 1, Now: time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)}, false},
		{"a date in the distant future is refused", seed.Options{Chantiers: 1, Now: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.opt.Validate(); (err == nil) != tc.ok {
				t.Errorf("Validate() = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

// Appending on the day of the first run (the usual case) still gives the
// new chantiers a history: pointages, signalements, affectations and
// documents, entered after the rows already there.
func TestAppendCreatesRelatedRows(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		ctx := context.Background()
		db := migrated(t, tdb)
		if _, err := seed.Run(ctx, db, seed.Options{Chantiers: 300, Seed: 1, Now: testNow}); err != nil {
			t.Fatal(err)
		}
		tables := []string{"pointages", "signalements", "affectations", "documents"}
		before := map[string]int64{}
		for _, table := range tables {
			before[table] = count(t, db, "SELECT count(*) FROM "+table)
		}
		res, err := seed.Run(ctx, db, seed.Options{Chantiers: 200, Seed: 2, Now: testNow, Append: true})
		if err != nil {
			t.Fatal(err)
		}
		added := map[string]int64{"pointages": res.Pointages, "signalements": res.Signalements,
			"affectations": res.Affectations, "documents": res.Documents}
		for _, table := range tables {
			after := count(t, db, "SELECT count(*) FROM "+table)
			if added[table] == 0 || after != before[table]+added[table] {
				t.Errorf("%s: %d rows before, %d after, the append reports %d", table, before[table], after, added[table])
			}
			// The appended rows belong to the appended chantiers.
			q := "SELECT count(*) FROM " + table + " WHERE chantier_id > 300"
			if n := count(t, db, q); n != added[table] {
				t.Errorf("%s: %d rows on appended chantiers, want %d", table, n, added[table])
			}
		}
		if avg := float64(res.Pointages) / 200; avg < 1.5 || avg > 2.5 {
			t.Errorf("%.2f pointages per appended chantier, want about 2", avg)
		}
		for _, table := range append([]string{"chantiers"}, tables...) {
			q := "SELECT count(*) FROM " + table + " a JOIN " + table + " b ON b.id = a.id + 1 WHERE b.created_at < a.created_at"
			if n := count(t, db, q); n != 0 {
				t.Errorf("%s: %d ids out of created_at order after the append", table, n)
			}
			if n := count(t, db, "SELECT count(*) FROM "+table+" WHERE updated_at < created_at"); n != 0 {
				t.Errorf("%s: %d rows updated before created", table, n)
			}
		}
		// Rows are entered after their chantier exists.
		for _, table := range tables {
			q := "SELECT count(*) FROM " + table + " r JOIN chantiers c ON c.id = r.chantier_id WHERE r.created_at < c.created_at"
			if n := count(t, db, q); n != 0 {
				t.Errorf("%s: %d rows created before their chantier", table, n)
			}
		}
		var ps []hubapi.Pointage
		if err := db.NewSelect().Model(&ps).Where("chantier_id > 300").Scan(ctx); err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			if !p.Date.Before(hubapi.DateOf(p.CreatedAt.Add(24 * time.Hour))) {
				t.Errorf("pointage %d dated %s, entered %s", p.ID, p.Date, p.CreatedAt)
			}
		}
	})
}

// Seeded documents have a content: a small valid file of their type, whose
// size and SHA-256 are those the rows record. Deleting one document's
// content leaves the others of its format intact.
func TestSeededDocumentsHaveContent(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		ctx := context.Background()
		db := migrated(t, tdb)
		blobs, err := blob.NewDir(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := seed.Run(ctx, db, seed.Options{Chantiers: 200, Seed: 3, Now: testNow, Blobs: blobs}); err != nil {
			t.Fatal(err)
		}
		if _, err := seed.Run(ctx, db, seed.Options{Chantiers: 50, Seed: 4, Now: testNow, Blobs: blobs, Append: true}); err != nil {
			t.Fatal(err)
		}
		var ds []hubapi.Document
		if err := db.NewSelect().Model(&ds).Order("id").Scan(ctx); err != nil {
			t.Fatal(err)
		}
		if len(ds) < 20 {
			t.Fatalf("only %d documents", len(ds))
		}
		sniffed := map[string]string{"application/pdf": "application/pdf", "image/png": "image/png", "image/jpeg": "image/jpeg",
			"application/vnd.openxmlformats-officedocument.wordprocessingml.document": "application/zip",
			"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":       "application/zip",
			"image/vnd.dwg": "application/octet-stream"}
		byType := map[string][]hubapi.Document{}
		for _, d := range ds {
			rc, err := blobs.Open(ctx, d.StorageKey)
			if err != nil {
				t.Fatalf("document %d (%s): %v", d.ID, d.Nom, err)
			}
			b, err := io.ReadAll(rc)
			_ = rc.Close()
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(b)
			if int64(len(b)) != d.Size || hex.EncodeToString(sum[:]) != d.SHA256 {
				t.Errorf("document %d: %d bytes, sha256 %x; the row says %d bytes, %s", d.ID, len(b), sum, d.Size, d.SHA256)
			}
			if got := http.DetectContentType(b); got != sniffed[d.MimeType] && !strings.HasPrefix(got, sniffed[d.MimeType]) {
				t.Errorf("document %d of type %s sniffs as %s", d.ID, d.MimeType, got)
			}
			byType[d.MimeType] = append(byType[d.MimeType], d)
		}
		for mt, docs := range byType {
			if len(docs) < 2 {
				continue
			}
			if err := blobs.Delete(ctx, docs[0].StorageKey); err != nil {
				t.Fatal(err)
			}
			rc, err := blobs.Open(ctx, docs[1].StorageKey)
			if err != nil {
				t.Errorf("%s: deleting one document's content removed another's: %v", mt, err)
				continue
			}
			_ = rc.Close()
		}
	})
}
