package service_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/uptrace/bun"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/blob"
	"github.com/hubchantier/hubchantier/hubapi/service"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

// recorder is both the in-process publisher and the outbox of a service.
type recorder struct {
	mu                sync.Mutex
	published         []hubapi.Event
	enqueued, batches int
}

func (r *recorder) Publish(_ context.Context, e hubapi.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.published = append(r.published, e)
}

func (r *recorder) Enqueue(_ context.Context, _ bun.Tx, _ hubapi.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.enqueued++
	return nil
}

func (r *recorder) EnqueueMany(_ context.Context, _ bun.Tx, events []hubapi.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.enqueued += len(events)
	r.batches++
	return nil
}

func (r *recorder) counts() (published, enqueued, batches int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.published), r.enqueued, r.batches
}

// Use cases called in an Atomically context share one transaction: it
// commits or rolls back as a whole; events are recorded together in it and
// published after its commit only; reads see the unit's writes; nested
// units join the outer one.
func TestAtomically(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		db := store.Wrap(tdb.DB)
		if err := db.Migrate(t.Context()); err != nil {
			t.Fatal(err)
		}
		blobs, err := blob.NewDir(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		rec := &recorder{}
		svc := service.New(db, blobs, service.WithPublisher(rec), service.WithOutbox(rec))
		admin := &hubapi.User{Email: "uow@test.fr", Nom: "Unit", Prenom: "Work", Role: hubapi.RoleAdmin}
		if err := service.NewOperator(svc).CreateUser(t.Context(), admin, ""); err != nil {
			t.Fatal(err)
		}
		ctx := hubapi.WithPrincipal(t.Context(), &hubapi.Principal{UserID: admin.ID, Role: hubapi.RoleAdmin, Scopes: hubapi.AllScopes})
		in := func(code string) hubapi.ChantierInput {
			return hubapi.ChantierInput{Code: code, Nom: "Chantier " + code, Adresse: "1 rue de l'Unité"}
		}
		exists := func(id int64) bool {
			_, err := svc.GetChantier(ctx, id, nil)
			return err == nil
		}

		t.Run("a failure rolls back every use case; nothing is published or recorded", func(t *testing.T) {
			p0, e0, _ := rec.counts()
			var created int64
			boom := errors.New("boom")
			err := svc.Atomically(ctx, func(ctx context.Context) error {
				c, err := svc.CreateChantier(ctx, in("UOW-1"))
				if err != nil {
					return err
				}
				created = c.ID
				if _, err := svc.GetChantier(ctx, c.ID, nil); err != nil {
					return err // the unit reads its own write
				}
				return svc.Atomically(ctx, func(ctx context.Context) error { // joins
					if _, err := svc.PatchChantier(ctx, c.ID, func(i hubapi.ChantierInput) (hubapi.ChantierInput, error) {
						i.Nom = "changé"
						return i, nil
					}, 0); err != nil {
						return err
					}
					return boom
				})
			})
			if !errors.Is(err, boom) || created == 0 {
				t.Fatalf("err %v, created %d", err, created)
			}
			if exists(created) {
				t.Fatal("the rolled-back chantier exists")
			}
			if p, e, _ := rec.counts(); p != p0 || e != e0 {
				t.Fatalf("published %d, recorded %d events of a rolled-back unit", p-p0, e-e0)
			}
		})

		t.Run("a success commits everything, records its events at once, then publishes them", func(t *testing.T) {
			p0, e0, b0 := rec.counts()
			var ids []int64
			err := svc.Atomically(ctx, func(ctx context.Context) error {
				for _, code := range []string{"UOW-2", "UOW-3"} {
					c, err := svc.CreateChantier(ctx, in(code))
					if err != nil {
						return err
					}
					ids = append(ids, c.ID)
				}
				if p, _, _ := rec.counts(); p != p0 {
					t.Error("an event was published before the commit")
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			for _, id := range ids {
				if !exists(id) {
					t.Fatalf("chantier %d missing after commit", id)
				}
			}
			if p, e, b := rec.counts(); p-p0 != 2 || e-e0 != 2 || b-b0 != 1 {
				t.Fatalf("published %d, recorded %d in %d statements; want 2, 2 in 1", p-p0, e-e0, b-b0)
			}
		})

		t.Run("a revocation is announced after the commit only", func(t *testing.T) {
			k, _, err := service.NewOperator(svc).IssueAPIKey(t.Context(), hubapi.APIKeyInput{UserID: admin.ID, Name: "k", Scopes: []hubapi.Scope{hubapi.ScopeStatsRead}})
			if err != nil {
				t.Fatal(err)
			}
			p0, _, _ := rec.counts()
			_ = svc.Atomically(ctx, func(ctx context.Context) error {
				if err := svc.RevokeAPIKey(ctx, k.ID); err != nil {
					return err
				}
				return errors.New("undo")
			})
			if p, _, _ := rec.counts(); p != p0 {
				t.Fatal("a rolled-back revocation was announced")
			}
			keys, err := svc.ListAPIKeys(ctx, admin.ID)
			if err != nil || len(keys) != 1 || keys[0].RevokedAt != nil {
				t.Fatalf("keys %+v, %v", keys, err)
			}
			if err := svc.Atomically(ctx, func(ctx context.Context) error { return svc.RevokeAPIKey(ctx, k.ID) }); err != nil {
				t.Fatal(err)
			}
			if p, _, _ := rec.counts(); p != p0+1 {
				t.Fatalf("%d announcements after a committed revocation", p-p0)
			}
		})

		t.Run("without a principal, no unit of work", func(t *testing.T) {
			ran := false
			err := svc.Atomically(t.Context(), func(context.Context) error { ran = true; return nil })
			if !errors.Is(err, hubapi.ErrUnauthenticated) || ran {
				t.Fatalf("err %v, ran %t", err, ran)
			}
		})
	})
}
