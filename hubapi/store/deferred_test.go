package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/uptrace/bun"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

func newChantierRow(code string) *hubapi.Chantier {
	now := store.Now()
	return &hubapi.Chantier{Code: code, Nom: "n", Adresse: "a", Statut: hubapi.ChantierOuvert, CreatedAt: now, UpdatedAt: now, Version: 1}
}

// Deferred inserts get their ids at once, are written before any other
// statement of the transaction that carries them (a read sees them), in
// insertion order across tables (a foreign key to an earlier deferred row
// holds), and a failing write fails the transaction and stays reported.
func TestDeferredInserts(t *testing.T) {
	tdb := testenv.Postgres(t)
	db := open(t, tdb).WithDeferredFlush()
	ctx := context.Background()
	u := seedUser(t, db)

	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		d := store.NewDeferred(tx, 0)
		dctx := store.WithDeferred(ctx, d)
		var rows []*hubapi.Chantier
		for i := range 10 {
			c := newChantierRow(fmt.Sprintf("D-%d", i))
			if err := store.Insert(dctx, tx, c); err != nil {
				return err
			}
			rows = append(rows, c)
		}
		sg := &hubapi.Signalement{ChantierID: rows[9].ID, Titre: "t", Gravite: hubapi.GraviteMoyenne, Statut: hubapi.SignalementOuvert,
			CreatedBy: u.ID, CreatedAt: store.Now(), UpdatedAt: store.Now(), Version: 1}
		if err := store.Insert(dctx, tx, sg); err != nil {
			return err
		}
		seen := map[int64]bool{}
		for _, c := range rows {
			if c.ID == 0 || seen[c.ID] {
				t.Fatalf("ids not drawn or drawn twice: %d", c.ID)
			}
			seen[c.ID] = true
		}
		if n := d.Pending(); n != 11 {
			t.Fatalf("%d rows pending, want 11", n)
		}
		// Outside the transaction of d, Insert writes at once (and, a
		// query carrying d, flushes d first).
		other := newChantierRow("D-outside")
		if err := store.Insert(dctx, db, other); err != nil || other.ID == 0 {
			t.Fatalf("insert outside the transaction: %v, id %d", err, other.ID)
		}
		if n, err := tdb.NewSelect().Model((*hubapi.Chantier)(nil)).Where("code = 'D-outside'").Count(ctx); err != nil || n != 1 {
			t.Fatalf("a row inserted outside the transaction is not committed: %d, %v", n, err)
		}
		got, err := store.Get[hubapi.Chantier](dctx, tx, rows[3].ID) // flushes first
		if err != nil || got.Code != "D-3" {
			t.Fatalf("read after deferred inserts: %+v, %v", got, err)
		}
		if d.Pending() != 0 {
			t.Fatalf("%d rows still pending after a read", d.Pending())
		}
		if _, err := store.Get[hubapi.Signalement](dctx, tx, sg.ID); err != nil {
			t.Fatalf("signalement: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	err = db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		d := store.NewDeferred(tx, 0)
		dctx := store.WithDeferred(ctx, d)
		for _, code := range []string{"D-new", "D-3"} { // D-3 exists: the write fails
			if err := store.Insert(dctx, tx, newChantierRow(code)); err != nil {
				t.Fatalf("deferring %s: %v", code, err)
			}
		}
		if _, err := store.Get[hubapi.Chantier](dctx, tx, 1); err == nil {
			t.Fatal("a query after a failed flush succeeded")
		}
		if err := d.Err(); !errors.Is(err, hubapi.ErrConflict) {
			t.Fatalf("Err after a failed flush: %v", err)
		}
		if err := d.Flush(ctx); !errors.Is(err, hubapi.ErrConflict) {
			t.Fatalf("Flush after a failed flush: %v", err)
		}
		if err := store.Insert(dctx, tx, newChantierRow("D-later")); !errors.Is(err, hubapi.ErrConflict) {
			t.Fatalf("Insert after a failed flush: %v", err)
		}
		return d.Err()
	})
	if !errors.Is(err, hubapi.ErrConflict) {
		t.Fatalf("transaction: %v", err)
	}
	if n, _ := db.NewSelect().Model((*hubapi.Chantier)(nil)).Where("code = 'D-new'").Count(ctx); n != 0 {
		t.Fatal("a row of the failed transaction is visible")
	}
}
