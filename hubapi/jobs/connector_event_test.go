package jobs_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/connectors"
	"github.com/hubchantier/hubchantier/connectors/example"
	"github.com/hubchantier/hubchantier/connectors/example/examplefake"
	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/jobs"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

// pushType is an example connector whose spec subscribes to
// chantier.created and document.created.
const pushType = "pushing"

type pushing struct{ connectors.Connector }

func (pushing) Type() string { return pushType }

func chantierCreated(id int64) hubapi.Event {
	return hubapi.Event{ID: hubapi.NewEventID(), Type: hubapi.EventChantierCreated, Resource: string(hubapi.ResourceChantiers),
		ResourceID: id, At: store.Now(), Data: map[string]any{"id": id, "nom": "Tour Eiffel"}}
}

func connectorDeliveries(t testing.TB, db *store.DB, id int64) []hubapi.ConnectorDelivery {
	t.Helper()
	var ds []hubapi.ConnectorDelivery
	if err := db.NewSelect().Model(&ds).Where("connector_id = ?", id).Order("id").Scan(context.Background()); err != nil {
		t.Fatal(err)
	}
	return ds
}

// eventIDs are the ids of the events a fake received.
func eventIDs(t testing.TB, f *examplefake.Server) []string {
	t.Helper()
	var ids []string
	for _, raw := range f.Events() {
		var ev connectors.Event
		if err := json.Unmarshal(raw, &ev); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ev.ID)
	}
	return ids
}

// An event recorded in a committed transaction reaches, through its own
// job, each enabled connector whose spec subscribes to its type, and is
// logged delivered; connectors that do not subscribe, disabled ones and an
// event of another type get nothing.
func TestConnectorEventsReachSubscribedConnectors(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		db := migrated(t, tdb)
		sealer := testSealer(t, "k1:"+testKeysB64())
		fake := examplefake.New("acme", connectorAPIKey, 0)
		defer fake.Close()
		user := newUser(t, db, "owner@example.com", hubapi.RoleAdmin)
		subscribed := newConnectorRow(t, db, sealer, user, pushType)
		plain := newConnectorRow(t, db, sealer, user, example.Type)
		disabled := newConnectorRow(t, db, sealer, user, pushType)
		if _, err := db.NewUpdate().Model((*hubapi.Connector)(nil)).Set("enabled = FALSE").Where("id = ?", disabled.ID).Exec(context.Background()); err != nil {
			t.Fatal(err)
		}
		q := start(t, db, jobs.Config{Connectors: connectorJobs(testRegistry(t), sealer,
			map[string]string{pushType: fake.URL, example.Type: fake.URL})})
		ev := chantierCreated(41)
		enqueueEvent(t, db, q, ev)
		other := chantierCreated(42)
		other.Type = hubapi.EventChantierDeleted
		enqueueEvent(t, db, q, other)
		waitFor(t, "the delivery", func() bool {
			ds := connectorDeliveries(t, db, subscribed.ID)
			return len(ds) == 1 && ds[0].Status == hubapi.ConnectorDeliveryDelivered
		})
		if got := eventIDs(t, fake); !slices.Equal(got, []string{ev.ID}) {
			t.Fatalf("vendor received %v, want [%s]", got, ev.ID)
		}
		var pushed connectors.Event
		_ = json.Unmarshal(fake.Events()[0], &pushed)
		if pushed.Type != "chantier.created" || pushed.ResourceID != 41 || !strings.Contains(string(pushed.Data), "Tour Eiffel") {
			t.Fatalf("pushed %+v", pushed)
		}
		d := connectorDeliveries(t, db, subscribed.ID)[0]
		if d.EventID != ev.ID || d.Attempts != 1 || d.DeliveredAt == nil || d.LastError != nil {
			t.Fatalf("delivery %+v", d)
		}
		if n := len(connectorDeliveries(t, db, plain.ID)) + len(connectorDeliveries(t, db, disabled.ID)); n != 0 {
			t.Fatalf("%d deliveries to connectors that do not take the event", n)
		}
	})
}

// A vendor failing with 429, 5xx or a hang is retried with backoff and
// logged on the delivery, without delaying another connector's
// deliveries; refused credentials fail the delivery at once.
func TestConnectorEventFailuresRetryAndDoNotDelayOthers(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		for _, tc := range []struct {
			name  string
			fault examplefake.Fault
			kind  string
		}{
			{"429 Retry-After", examplefake.TooMany, "rate_limited"},
			{"503", examplefake.Unavailable, "unavailable"},
			{"hang", examplefake.Hang, "timeout"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				db := migrated(t, tdb)
				sealer := testSealer(t, "k1:"+testKeysB64())
				bad := examplefake.New("acme", connectorAPIKey, 0)
				defer bad.Close()
				bad.InjectEvents(tc.fault, tc.fault)
				good := examplefake.New("acme", connectorAPIKey, 0)
				defer good.Close()
				user := newUser(t, db, strings.ReplaceAll(tc.name, " ", "")+"@example.com", hubapi.RoleAdmin)
				cb := newConnectorRow(t, db, sealer, user, pushType)
				reg := testRegistry(t)
				// the healthy connector: the same type under another name
				spec, _ := reg.Spec(pushType)
				spec.Type = "pushing_ok"
				reg.MustRegister(spec, func(o connectors.Options) (connectors.Connector, error) {
					c, err := example.New(o)
					return pushingOK{c}, err
				})
				cg := newConnectorRow(t, db, sealer, user, "pushing_ok")
				q := start(t, db, jobs.Config{Connectors: connectorJobs(reg, sealer, map[string]string{pushType: bad.URL, "pushing_ok": good.URL})})
				var sent []string
				for i := range 3 {
					ev := chantierCreated(int64(i + 1))
					sent = append(sent, ev.ID)
					enqueueEvent(t, db, q, ev)
				}
				waitFor(t, "the healthy connector's deliveries", func() bool {
					ds := connectorDeliveries(t, db, cg.ID)
					return len(ds) == 3 && !slices.ContainsFunc(ds, func(d hubapi.ConnectorDelivery) bool { return d.Status != hubapi.ConnectorDeliveryDelivered })
				})
				if n := len(eventIDs(t, good)); n != 3 {
					t.Fatalf("the healthy vendor got %d events, want 3", n)
				}
				for _, d := range connectorDeliveries(t, db, cg.ID) {
					if d.Attempts != 1 {
						t.Fatalf("healthy delivery %+v", d)
					}
				}
				waitFor(t, "every delivery of the failing vendor", func() bool {
					ds := connectorDeliveries(t, db, cb.ID)
					return len(ds) == 3 && !slices.ContainsFunc(ds, func(d hubapi.ConnectorDelivery) bool { return d.Status != hubapi.ConnectorDeliveryDelivered })
				})
				got := eventIDs(t, bad)
				slices.Sort(got)
				slices.Sort(sent)
				if !slices.Equal(got, sent) {
					t.Fatalf("the failing vendor got %v, want each of %v once", got, sent)
				}
				retried := 0
				for _, d := range connectorDeliveries(t, db, cb.ID) {
					if d.Attempts > 1 {
						retried++
						if d.LastError != nil {
							t.Fatalf("a delivered delivery keeps its error: %+v", d)
						}
					}
				}
				if retried == 0 {
					t.Fatal("no delivery was retried")
				}
			})
		}
		t.Run("refused credentials fail at once", func(t *testing.T) {
			db := migrated(t, tdb)
			sealer := testSealer(t, "k1:"+testKeysB64())
			fake := examplefake.New("acme", "another-key-entirely-1234", 0)
			defer fake.Close()
			user := newUser(t, db, "refused@example.com", hubapi.RoleAdmin)
			c := newConnectorRow(t, db, sealer, user, pushType)
			q := start(t, db, jobs.Config{Connectors: connectorJobs(testRegistry(t), sealer, map[string]string{pushType: fake.URL})})
			enqueueEvent(t, db, q, chantierCreated(7))
			waitFor(t, "the failed delivery", func() bool {
				ds := connectorDeliveries(t, db, c.ID)
				return len(ds) == 1 && ds[0].Status == hubapi.ConnectorDeliveryFailed
			})
			d := connectorDeliveries(t, db, c.ID)[0]
			if d.Attempts != 1 || d.LastError == nil || !strings.Contains(*d.LastError, "auth") ||
				strings.Contains(*d.LastError, connectorAPIKey) || strings.Contains(*d.LastError, fake.URL) {
				t.Fatalf("delivery %+v", d)
			}
		})
	})
}

type pushingOK struct{ connectors.Connector }

func (pushingOK) Type() string { return "pushing_ok" }

// The helper process of TestConnectorEventKilledBetweenCommitAndPush: an
// instance that delivers events until it is killed.
func TestHelperConnectorEventInstance(t *testing.T) {
	dsn := os.Getenv("HUB_TEST_CONNECTOR_EVENT_DSN")
	if dsn == "" {
		t.Skip("helper process")
	}
	db, err := store.Open(dsn)
	if err != nil {
		t.Fatal(err)
	}
	sealer := testSealer(t, os.Getenv("HUB_TEST_CONNECTOR_KEYS"))
	cc := connectorJobs(testRegistry(t), sealer, map[string]string{pushType: os.Getenv("HUB_TEST_CONNECTOR_URL")})
	cc.Runner.CallTimeout = time.Minute // the push is in flight when the instance dies
	start(t, db, jobs.Config{Connectors: cc})
	time.Sleep(time.Minute) // killed before
}

// The server is killed (kill -9) after the write committed its event and
// while the push to the vendor is in flight: once an instance is back, the
// push happens, and the delivery is logged delivered once.
//
// PostgreSQL only, and not with -short: it waits for River's rescuer,
// which runs every 30 seconds.
func TestConnectorEventKilledBetweenCommitAndPush(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for River's rescuer (30 s period)")
	}
	tdb := testenv.Postgres(t)
	db := migrated(t, tdb)
	keys := "k1:" + testKeysB64()
	sealer := testSealer(t, keys)
	fake := examplefake.New("acme", connectorAPIKey, 0)
	defer fake.Close()
	inFlight := make(chan struct{})
	var once sync.Once
	fake.SetOnEvent(func(n int) {
		if n == 0 {
			once.Do(func() { close(inFlight) })
			time.Sleep(10 * time.Second) // never answered: the instance dies meanwhile
		}
	})
	fake.InjectEvents(examplefake.Unavailable) // what the dying instance would have got, had it lived
	user := newUser(t, db, "owner@example.com", hubapi.RoleAdmin)
	c := newConnectorRow(t, db, sealer, user, pushType)

	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperConnectorEventInstance$", "-test.v")
	cmd.Env = append(os.Environ(), "HUB_TEST_CONNECTOR_EVENT_DSN="+tdb.DSN, "HUB_TEST_CONNECTOR_KEYS="+keys, "HUB_TEST_CONNECTOR_URL="+fake.URL)
	out, _ := os.Create(filepath.Join(t.TempDir(), "helper.log"))
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The write commits its event through a queue that works no jobs here.
	nq, err := jobs.New(context.Background(), db, jobs.Config{Connectors: connectorJobs(testRegistry(t), sealer, nil)})
	if err != nil {
		t.Fatal(err)
	}
	ev := chantierCreated(99)
	enqueueEvent(t, db, nq, ev)
	select {
	case <-inFlight:
	case <-time.After(60 * time.Second):
		t.Fatal("the helper never pushed")
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	if got := eventIDs(t, fake); len(got) != 0 {
		t.Fatalf("received before the restart: %v", got)
	}
	if ds := connectorDeliveries(t, db, c.ID); len(ds) != 1 || ds[0].Status == hubapi.ConnectorDeliveryDelivered {
		t.Fatalf("deliveries before the restart: %+v", ds)
	}
	fake.SetOnEvent(nil)
	cc := connectorJobs(testRegistry(t), sealer, map[string]string{pushType: fake.URL})
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
	if got := eventIDs(t, fake); !slices.Equal(got, []string{ev.ID}) {
		t.Fatalf("vendor received %v, want [%s] once", got, ev.ID)
	}
}
