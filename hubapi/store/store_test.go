package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/uptrace/bun"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

func open(t *testing.T, tdb *testenv.DB) *store.DB {
	t.Helper()
	db := store.Wrap(tdb.DB)
	ctx := context.Background()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx); err != nil { // idempotent
		t.Fatalf("second migrate: %v", err)
	}
	return db
}

func seedUser(t *testing.T, db *store.DB) *hubapi.User {
	now := store.Now()
	u := &hubapi.User{Email: "a@b.fr", Role: hubapi.RoleAdmin, CreatedAt: now, UpdatedAt: now, Version: 1}
	if err := store.Insert(context.Background(), db, u); err != nil {
		t.Fatal(err)
	}
	return u
}

func TestRoundTripAndConstraints(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		db := open(t, tdb)
		ctx := context.Background()
		u := seedUser(t, db)
		now := store.Now()
		lat := 45.76
		c := &hubapi.Chantier{Code: "CH-1", Nom: "Résidence", Adresse: "1 rue", Statut: hubapi.ChantierOuvert, ResponsableID: &u.ID,
			DateDebut: hubapi.NewDate(2026, 1, 31), Latitude: &lat, CreatedAt: now, UpdatedAt: now, Version: 1}
		if err := store.Insert(ctx, db, c); err != nil || c.ID == 0 {
			t.Fatalf("insert: %v id=%d", err, c.ID)
		}
		got, err := store.Get[hubapi.Chantier](ctx, db, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !got.CreatedAt.Equal(now) || got.DateDebut != c.DateDebut || !got.DateFin.IsZero() || *got.Latitude != lat || *got.ResponsableID != u.ID {
			t.Fatalf("round trip: %+v", got)
		}
		if _, err := store.Get[hubapi.Chantier](ctx, db, 999); !errors.Is(err, hubapi.ErrNotFound) {
			t.Fatalf("missing row: %v", err)
		}
		dup := *c
		dup.ID = 0
		if err := store.Insert(ctx, db, &dup); !errors.Is(err, hubapi.ErrConflict) {
			t.Fatalf("duplicate code: %v", err)
		}
		bad := *c
		bad.ID, bad.Code, bad.Statut = 0, "CH-2", "nope"
		if err := store.Insert(ctx, db, &bad); !errors.Is(err, hubapi.ErrInvalid) {
			t.Fatalf("check constraint: %v", err)
		}
		p := &hubapi.Pointage{UserID: u.ID, ChantierID: c.ID, Date: hubapi.NewDate(2026, 2, 1), Minutes: 60, Type: hubapi.PointageNormal,
			Statut: hubapi.PointageBrouillon, CreatedAt: now, UpdatedAt: now, Version: 1}
		if err := store.Insert(ctx, db, p); err != nil {
			t.Fatal(err)
		}
		if err := store.DeleteVersioned[hubapi.Chantier](ctx, db, c.ID, 0); !errors.Is(err, hubapi.ErrConflict) {
			t.Fatalf("delete referenced chantier: %v", err)
		}
		pointages := func(f hubapi.PointageFilter) (rows []hubapi.Pointage, total int, err error) {
			err = store.PointageQuery(db.NewSelect().Model((*hubapi.Pointage)(nil)), f).Scan(ctx, &rows)
			if err == nil {
				total, err = store.CountPointages(ctx, db, f)
			}
			return rows, total, err
		}
		rows, total, err := pointages(hubapi.PointageFilter{From: hubapi.NewDate(2026, 2, 1), To: hubapi.NewDate(2026, 2, 1)})
		if err != nil || total != 1 || len(rows) != 1 {
			t.Fatalf("date filter: %v %d %+v", err, total, rows)
		}
		rows, total, _ = pointages(hubapi.PointageFilter{From: hubapi.NewDate(2026, 2, 2)})
		if total != 0 || len(rows) != 0 {
			t.Fatalf("date filter excludes: %d %+v", total, rows)
		}
	})
}

// Concurrent writers that all based their change on version 1: exactly one
// wins, the others get ErrPrecondition, and nothing is lost.
func TestUpdateVersionedIsAtomic(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		db := open(t, tdb)
		ctx := context.Background()
		now := store.Now()
		c := &hubapi.Chantier{Code: "CH-1", Nom: "n", Adresse: "a", Statut: hubapi.ChantierOuvert, CreatedAt: now, UpdatedAt: now, Version: 1}
		if err := store.Insert(ctx, db, c); err != nil {
			t.Fatal(err)
		}
		const n = 16
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				m := *c
				m.Nom, m.Version = "writer", 2
				m.BudgetCents = int64(i)
				errs[i] = db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
					return store.UpdateVersioned(ctx, tx, &m, c.ID, 1)
				})
			}(i)
		}
		wg.Wait()
		ok, stale := 0, 0
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil:
				ok++
				winner = i
			case errors.Is(err, hubapi.ErrPrecondition):
				stale++
			default:
				t.Fatalf("writer %d: %v", i, err)
			}
		}
		if ok != 1 || stale != n-1 {
			t.Fatalf("ok=%d stale=%d", ok, stale)
		}
		got, _ := store.Get[hubapi.Chantier](ctx, db, c.ID)
		if got.Version != 2 || got.BudgetCents != int64(winner) {
			t.Fatalf("stored %+v, winner %d", got, winner)
		}
		if err := store.DeleteVersioned[hubapi.Chantier](ctx, db, c.ID, 1); !errors.Is(err, hubapi.ErrPrecondition) {
			t.Fatalf("stale delete: %v", err)
		}
		if err := store.DeleteVersioned[hubapi.Chantier](ctx, db, c.ID, 2); err != nil {
			t.Fatal(err)
		}
		if err := store.DeleteVersioned[hubapi.Chantier](ctx, db, c.ID, 0); !errors.Is(err, hubapi.ErrNotFound) {
			t.Fatalf("delete twice: %v", err)
		}
	})
}

func TestOpenURLs(t *testing.T) {
	for _, bad := range []string{"", "mysql://x", "sqlite:", "sqlite::memory:"} {
		if _, err := store.Open(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	db, err := store.Open("sqlite:" + t.TempDir() + "/sub/x.db")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// store.Open on PostgreSQL (simple protocol, bun-inlined arguments) round-trips
// every column type.
func TestOpenPostgresURL(t *testing.T) {
	tdb := testenv.Postgres(t)
	db, err := store.Open(tdb.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	now := store.Now()
	lat := 48.85
	c := &hubapi.Chantier{Code: "CH-P", Nom: "l'Étoile \"quoted\"", Adresse: "a", Statut: hubapi.ChantierOuvert,
		DateDebut: hubapi.NewDate(2026, 2, 28), Latitude: &lat, CreatedAt: now, UpdatedAt: now, Version: 1}
	if err := store.Insert(ctx, db, c); err != nil {
		t.Fatal(err)
	}
	got, err := store.Get[hubapi.Chantier](ctx, db, c.ID)
	if err != nil || got.Nom != c.Nom || got.DateDebut != c.DateDebut || !got.CreatedAt.Equal(now) || *got.Latitude != lat {
		t.Fatalf("%v %+v", err, got)
	}
}
