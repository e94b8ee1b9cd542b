package jobs_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/hubchantier/hubchantier/connectors"
	"github.com/hubchantier/hubchantier/connectors/gcal"
	"github.com/hubchantier/hubchantier/connectors/gcal/fake"
	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/jobs"
	"github.com/hubchantier/hubchantier/hubapi/service"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

const gcalSecret = "gcal-client-S3CR3T-jobs"

// gcalJobs is the connector jobs' configuration of a Google Calendar
// connector against the fake at base, with its OAuth tokens in db.
func gcalJobs(t testing.TB, db *store.DB, sealer *connectors.Sealer, base string) *jobs.ConnectorConfig {
	t.Helper()
	reg := connectors.NewRegistry().AllowBaseURLOverride()
	if err := gcal.RegisterWith(reg, gcal.OAuth(base+"/o/oauth2/auth", base+"/token")); err != nil {
		t.Fatal(err)
	}
	cc := connectorJobs(reg, sealer, map[string]string{gcal.Type: base})
	spec, _ := reg.Spec(gcal.Type)
	st := service.NewConnectorTokens(db, sealer)
	tokens := &connectors.Tokens{Config: spec.OAuth.Config("hub-client", gcalSecret, "https://hub.example/cb"), Store: st, Locker: st}
	cc.Tokens = func(typ string) *connectors.Tokens {
		if typ == gcal.Type {
			return tokens
		}
		return nil
	}
	return cc
}

func affectationCreated(id int64) hubapi.Event {
	return hubapi.Event{ID: hubapi.NewEventID(), Type: hubapi.EventAffectationCreated, Resource: "affectations", ResourceID: id, At: store.Now(),
		Data: map[string]any{"id": id, "user_id": 3, "chantier_id": 5, "date": "2026-12-22", "heure_debut": "08:00", "heure_fin": "16:00", "note": ""}}
}

// The helper process of TestGoogleCalendarEventKilledBetweenCommitAndPush.
func TestHelperGoogleCalendarInstance(t *testing.T) {
	dsn := os.Getenv("HUB_TEST_GCAL_DSN")
	if dsn == "" {
		t.Skip("helper process")
	}
	db, err := store.Open(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cc := gcalJobs(t, db, testSealer(t, os.Getenv("HUB_TEST_CONNECTOR_KEYS")), os.Getenv("HUB_TEST_GCAL_URL"))
	cc.Runner.CallTimeout = time.Minute // the push is in flight when the instance dies
	start(t, db, jobs.Config{Connectors: cc})
	time.Sleep(time.Minute) // killed before
}

// An affectation's event is committed, its push to Google Calendar is in
// flight, and the server is killed (kill -9): once an instance is back,
// the calendar gets the event, once.
//
// PostgreSQL only, and not with -short: it waits for River's rescuer.
func TestGoogleCalendarEventKilledBetweenCommitAndPush(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for River's rescuer (30 s period)")
	}
	tdb := testenv.Postgres(t)
	db := migrated(t, tdb)
	keys := "k1:" + testKeysB64()
	sealer := testSealer(t, keys)
	g := fake.New("hub-client", gcalSecret)
	defer g.Close()
	inFlight := make(chan struct{})
	var once sync.Once
	g.SetOnWrite(func(n int) bool {
		if n == 0 {
			once.Do(func() { close(inFlight) })
			time.Sleep(10 * time.Second) // the instance dies meanwhile
			return false                 // and would have got a 503, had it lived
		}
		return true
	})
	user := newUser(t, db, "owner@example.com", hubapi.RoleAdmin)
	c := newConnectorRow(t, db, sealer, user, gcal.Type)
	ctx := context.Background()
	cfg := connectors.Config{Settings: map[string]string{"calendar_id": "primary"}}
	var err error
	if c.ConfigKeyID, c.ConfigSealed, err = sealer.Seal(cfg, jobs.ConnectorConfigBinding(c.ID)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.NewUpdate().Model(c).Column("config_key_id", "config_sealed").WherePK().Exec(ctx); err != nil {
		t.Fatal(err)
	}
	access, refresh := g.Issue(time.Hour)
	if err := service.NewConnectorTokens(db, sealer).SaveToken(ctx, jobs.ConnectorConfigBinding(c.ID),
		&oauth2.Token{AccessToken: access, RefreshToken: refresh, TokenType: "Bearer", Expiry: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperGoogleCalendarInstance$", "-test.v")
	cmd.Env = append(os.Environ(), "HUB_TEST_GCAL_DSN="+tdb.DSN, "HUB_TEST_CONNECTOR_KEYS="+keys, "HUB_TEST_GCAL_URL="+g.URL)
	out, _ := os.Create(filepath.Join(t.TempDir(), "helper.log"))
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	nq, err := jobs.New(ctx, db, jobs.Config{Connectors: gcalJobs(t, db, sealer, g.URL)})
	if err != nil {
		t.Fatal(err)
	}
	enqueueEvent(t, db, nq, affectationCreated(77))
	select {
	case <-inFlight:
	case <-time.After(60 * time.Second):
		t.Fatal("the helper never pushed")
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	if n := len(g.Events("primary")); n != 0 {
		t.Fatalf("%d events before the restart", n)
	}
	g.SetOnWrite(nil)
	cc := gcalJobs(t, db, sealer, g.URL)
	start(t, db, jobs.Config{Connectors: cc, RescueStuckJobsAfter: 4 * time.Second})
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
		ds := connectorDeliveries(t, db, c.ID)
		if len(ds) == 1 && ds[0].Status == hubapi.ConnectorDeliveryDelivered {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the killed push never happened: %+v", ds)
		}
	}
	evs := g.Events("primary")
	if ev, ok := evs[gcal.EventID(77)]; len(evs) != 1 || !ok || ev.Status != "confirmed" || ev.Start.DateTime != "2026-12-22T08:00:00+01:00" {
		t.Fatalf("calendar after the restart: %+v", evs)
	}
}
