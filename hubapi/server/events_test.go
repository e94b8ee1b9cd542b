package server_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/jobs"
	"github.com/hubchantier/hubchantier/hubapi/server"
	"github.com/hubchantier/hubchantier/internal/apitest"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

// Writes through the API reach the server's event handlers through the job
// queue: a committed creation and a signalement turned urgent each give
// their events; a refused write (409) gives none.
func TestServerEventHandlersReceiveCommittedEvents(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, db *testenv.DB) {
		var mu sync.Mutex
		var got []jobs.EventArgs
		env := apitest.Start(t, db, apitest.Config{RateLimits: apitest.LiftedRateLimits, Configure: func(c *server.Config) {
			c.EventHandlers = []jobs.EventHandler{func(_ context.Context, e jobs.EventArgs) error {
				mu.Lock()
				defer mu.Unlock()
				got = append(got, e)
				return nil
			}}
		}})
		admin := env.As(hubapi.RoleAdmin)
		ch := newChantier(t, admin, nil)
		admin.Post(t, v1+"/chantiers", map[string]any{"code": ch.Code, "nom": "doublon", "adresse": "a"}).Expect(409)
		var sg hubapi.Signalement
		admin.Post(t, v1+"/signalements", map[string]any{"chantier_id": ch.ID, "titre": "Fuite", "gravite": "urgente"}).Expect(201).JSON(&sg)

		types := func() []hubapi.EventType {
			mu.Lock()
			defer mu.Unlock()
			var ts []hubapi.EventType
			for _, e := range got {
				ts = append(ts, e.Type)
			}
			return ts
		}
		for deadline := time.Now().Add(30 * time.Second); len(types()) < 3; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("events so far: %v", types())
			}
		}
		counts := map[hubapi.EventType]int{}
		for _, ty := range types() {
			counts[ty]++
		}
		if len(types()) != 3 || counts[hubapi.EventChantierCreated] != 1 || counts[hubapi.EventSignalementCreated] != 1 || counts[hubapi.EventSignalementUrgent] != 1 {
			t.Fatalf("events: %v", types())
		}
	})
}
