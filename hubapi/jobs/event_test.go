package jobs_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/blob"
	"github.com/hubchantier/hubchantier/hubapi/jobs"
	"github.com/hubchantier/hubchantier/hubapi/service"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

// eventLog records events, from the in-process bus or from event jobs.
type eventLog struct {
	mu     sync.Mutex
	events []jobs.EventArgs
}

func (l *eventLog) add(e jobs.EventArgs) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

func (l *eventLog) ids() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var ids []string
	for _, e := range l.events {
		ids = append(ids, e.ID+" "+string(e.Type))
	}
	slices.Sort(ids)
	return ids
}

// Every committed write's events are recorded in its transaction, and
// survive the instance: here the instance that wrote never works its queue
// (as if killed right after the commits), and a queue started afterwards
// delivers each event once, with the ID published in-process at commit. A
// write that rolls back records nothing.
func TestEventsAreRecordedInTheWriteTransaction(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		db := migrated(t, tdb)
		writer, err := jobs.New(context.Background(), db, jobs.Config{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = writer.Stop(context.Background()) })
		blobs, err := blob.NewDir(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		published := &eventLog{}
		svc := service.New(db, blobs, service.WithOutbox(writer), service.WithPublisher(hubapi.PublisherFunc(func(_ context.Context, e hubapi.Event) {
			published.add(jobs.EventArgs{ID: e.ID, Type: e.Type})
		})))
		ctx := hubapi.WithPrincipal(context.Background(), &hubapi.Principal{UserID: 1, Role: hubapi.RoleAdmin, Scopes: hubapi.RoleScopes(hubapi.RoleAdmin)})

		c, err := svc.CreateChantier(ctx, hubapi.ChantierInput{Code: "EVT-1", Nom: "Gare", Adresse: "1 rue"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.CreateChantier(ctx, hubapi.ChantierInput{Code: "EVT-1", Nom: "Doublon", Adresse: "2 rue"}); !errors.Is(err, hubapi.ErrConflict) {
			t.Fatalf("duplicate code: %v", err)
		}
		if _, err := svc.UpdateChantier(ctx, c.ID, hubapi.ChantierInput{Code: "EVT-1", Nom: "Gare du Nord", Adresse: "1 rue"}, 99); !errors.Is(err, hubapi.ErrPrecondition) {
			t.Fatalf("stale version: %v", err)
		}
		if _, err := svc.UpdateChantier(ctx, c.ID, hubapi.ChantierInput{Code: "EVT-1", Nom: "Gare du Nord", Adresse: "1 rue"}, 1); err != nil {
			t.Fatal(err)
		}
		if err := svc.DeleteChantier(ctx, c.ID, 0); err != nil {
			t.Fatal(err)
		}
		if got := published.ids(); len(got) != 3 {
			t.Fatalf("published in-process: %v, want 3 events", got)
		}

		worked := &eventLog{}
		start(t, db, jobs.Config{EventHandlers: []jobs.EventHandler{func(_ context.Context, e jobs.EventArgs) error {
			worked.add(e)
			return nil
		}}})
		waitFor(t, "the 3 committed events", func() bool { return len(worked.ids()) >= 3 })
		if got, want := worked.ids(), published.ids(); !slices.Equal(got, want) {
			t.Fatalf("events worked %v, published %v", got, want)
		}
		worked.mu.Lock()
		defer worked.mu.Unlock()
		for _, e := range worked.events {
			if e.Resource != "chantiers" || e.ResourceID != c.ID || e.ActorID != 1 || e.At.IsZero() {
				t.Fatalf("event %+v", e)
			}
			if e.Type == hubapi.EventChantierUpdated {
				var data struct {
					Nom string `json:"nom"`
				}
				if err := json.Unmarshal(e.Data, &data); err != nil || data.Nom != "Gare du Nord" {
					t.Fatalf("data %s: %v", e.Data, err)
				}
			}
			if e.Type == hubapi.EventChantierDeleted && e.Data != nil {
				t.Fatalf("deletion with data %s", e.Data)
			}
		}
	})
}

// A failing handler leaves the event to be retried: it is not lost, and
// completes at the next attempt.
func TestEventHandlerFailureRetries(t *testing.T) {
	db := migrated(t, testenv.SQLite(t))
	var mu sync.Mutex
	calls := 0
	q := start(t, db, jobs.Config{EventHandlers: []jobs.EventHandler{func(context.Context, jobs.EventArgs) error {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls == 1 {
			return errors.New("receiver down")
		}
		return nil
	}}})
	blobs, _ := blob.NewDir(t.TempDir())
	svc := service.New(db, blobs, service.WithOutbox(q))
	ctx := hubapi.WithPrincipal(context.Background(), &hubapi.Principal{UserID: 1, Role: hubapi.RoleAdmin, Scopes: hubapi.RoleScopes(hubapi.RoleAdmin)})
	if _, err := svc.CreateChantier(ctx, hubapi.ChantierInput{Code: "R-1", Nom: "n", Adresse: "a"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the retry", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return calls >= 2
	})
	var job struct {
		State   string `bun:"state"`
		Attempt int    `bun:"attempt"`
	}
	waitFor(t, "the job to complete", func() bool {
		_ = db.NewSelect().TableExpr("river_job").Column("state", "attempt").Where("kind = 'event'").Scan(context.Background(), &job)
		return job.State == "completed"
	})
	if job.Attempt != 2 {
		t.Fatalf("completed at attempt %d, want 2", job.Attempt)
	}
}

// Two instances (two pools, two River clients) working one PostgreSQL
// schema: each event is handled once, by one of them.
func TestEventsHandledOnceAcrossInstances(t *testing.T) {
	tdb := testenv.Postgres(t)
	db1 := migrated(t, tdb)
	other, err := sql.Open("pgx", tdb.DSN)
	if err != nil {
		t.Fatal(err)
	}
	db2 := store.Wrap(bun.NewDB(other, pgdialect.New()))
	t.Cleanup(func() { _ = db2.Close() })

	var mu sync.Mutex
	handled := map[string][]string{}
	handler := func(instance string) jobs.EventHandler {
		return func(_ context.Context, e jobs.EventArgs) error {
			mu.Lock()
			defer mu.Unlock()
			handled[e.ID] = append(handled[e.ID], instance)
			return nil
		}
	}
	q1 := start(t, db1, jobs.Config{EventHandlers: []jobs.EventHandler{handler("one")}})
	start(t, db2, jobs.Config{EventHandlers: []jobs.EventHandler{handler("two")}})
	const n = 200
	for i := range n {
		if err := db1.RunInTx(context.Background(), nil, func(ctx context.Context, tx bun.Tx) error {
			return q1.Enqueue(ctx, tx, hubapi.Event{ID: hubapi.NewEventID(), Type: hubapi.EventChantierCreated, Resource: "chantiers", ResourceID: int64(i)})
		}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "every event handled", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(handled) == n
	})
	mu.Lock()
	defer mu.Unlock()
	by := map[string]int{}
	for id, who := range handled {
		if len(who) != 1 {
			t.Fatalf("event %s handled by %v", id, who)
		}
		by[who[0]]++
	}
	t.Logf("handled by instance: %v", by)
}
