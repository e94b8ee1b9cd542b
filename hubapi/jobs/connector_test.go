package jobs_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/uptrace/bun"

	"github.com/hubchantier/hubchantier/connectors"
	"github.com/hubchantier/hubchantier/connectors/example"
	"github.com/hubchantier/hubchantier/connectors/example/examplefake"
	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/jobs"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/internal/testenv"
	"github.com/hubchantier/hubchantier/secretbox"
)

const connectorAPIKey = "sk_test_connector_key_9876WXYZ"

// panicsOnce counts the Sync calls of every "flaky" connector; the call
// numbered panicAt panics.
var (
	flakyCalls atomic.Int64
	panicAt    atomic.Int64
)

type flaky struct{ connectors.Connector }

func (flaky) Type() string { return "flaky" }

func (f flaky) Sync(ctx context.Context, c connectors.Config, s connectors.State) (connectors.Result, connectors.State, error) {
	if flakyCalls.Add(1) == panicAt.Load() {
		panic("injected panic")
	}
	return f.Connector.Sync(ctx, c, s)
}

func testRegistry(t testing.TB) *connectors.Registry {
	t.Helper()
	reg := connectors.NewRegistry().AllowBaseURLOverride()
	if err := example.Register(reg); err != nil {
		t.Fatal(err)
	}
	spec := example.Spec
	spec.Type = "flaky"
	reg.MustRegister(spec, func(o connectors.Options) (connectors.Connector, error) {
		c, err := example.New(o)
		return flaky{c}, err
	})
	push := example.Spec
	push.Type = pushType
	push.Events = []string{string(hubapi.EventChantierCreated), string(hubapi.EventDocumentCreated)}
	reg.MustRegister(push, func(o connectors.Options) (connectors.Connector, error) {
		c, err := example.New(o)
		return pushing{c}, err
	})
	return reg
}

func testSealer(t testing.TB, keys string) *connectors.Sealer {
	t.Helper()
	s, err := connectors.ParseSealer(keys)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// newConnectorRow adds an enabled connector of type typ for user, its
// configuration sealed as the product seals it.
func newConnectorRow(t testing.TB, db *store.DB, sealer *connectors.Sealer, user int64, typ string) *hubapi.Connector {
	t.Helper()
	ctx := context.Background()
	now := store.Now()
	c := &hubapi.Connector{UserID: user, Type: typ, Name: typ, Enabled: true, ConfigKeyID: "-", ConfigSealed: []byte{0},
		SyncStatus: hubapi.SyncNever, CreatedAt: now, UpdatedAt: now, Version: 1}
	if _, err := db.NewInsert().Model(c).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	cfg := connectors.Config{Settings: map[string]string{"account": "acme"}, Secrets: map[string]string{"api_key": connectorAPIKey}}
	var err error
	if c.ConfigKeyID, c.ConfigSealed, err = sealer.Seal(cfg, jobs.ConnectorConfigBinding(c.ID)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.NewUpdate().Model(c).Column("config_key_id", "config_sealed").WherePK().Exec(ctx); err != nil {
		t.Fatal(err)
	}
	return c
}

// connectorJobs is a ConnectorConfig for the tests: fakes by type, short
// timeouts and backoffs.
func connectorJobs(reg *connectors.Registry, sealer *connectors.Sealer, urls map[string]string) *jobs.ConnectorConfig {
	var mu sync.Mutex
	return &jobs.ConnectorConfig{Registry: reg, Sealer: sealer, SyncInterval: -1,
		Runner: connectors.RunnerConfig{CallTimeout: 500 * time.Millisecond, CallAttempts: 2,
			Backoff: connectors.Backoff{Base: 10 * time.Millisecond, Max: 50 * time.Millisecond}, MaxInlineWait: 100 * time.Millisecond},
		Retry:      connectors.Backoff{Base: 100 * time.Millisecond, Max: 300 * time.Millisecond},
		EventRetry: connectors.Backoff{Base: 100 * time.Millisecond, Max: 300 * time.Millisecond},
		Lease:      3 * time.Second,
		Options: func(typ string) connectors.Options {
			mu.Lock()
			defer mu.Unlock()
			return connectors.Options{BaseURL: urls[typ]}
		}}
}

func enqueueSync(t testing.TB, db *store.DB, q *jobs.Queue, id int64) bool {
	t.Helper()
	var queued bool
	err := db.RunInTx(context.Background(), nil, func(ctx context.Context, tx bun.Tx) error {
		var err error
		queued, err = q.EnqueueConnectorSync(ctx, tx, id)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return queued
}

func connectorRow(t testing.TB, db *store.DB, id int64) *hubapi.Connector {
	t.Helper()
	c, err := store.Get[hubapi.Connector](context.Background(), db, id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func syncLogs(t testing.TB, db *store.DB, id int64) []hubapi.ConnectorSyncLog {
	t.Helper()
	var logs []hubapi.ConnectorSyncLog
	if err := db.NewSelect().Model(&logs).Where("connector_id = ?", id).Order("id").Scan(context.Background()); err != nil {
		t.Fatal(err)
	}
	return logs
}

func recordIDs(t testing.TB, db *store.DB, id int64) []string {
	t.Helper()
	var ids []string
	if err := db.NewSelect().Model((*hubapi.ConnectorRecord)(nil)).Column("external_id").Where("connector_id = ?", id).
		Order("external_id").Scan(context.Background(), &ids); err != nil {
		t.Fatal(err)
	}
	return ids
}

// checkAllRecords fails unless the connector holds e000001 … e<n>.
func checkAllRecords(t testing.TB, db *store.DB, id int64, n int) {
	t.Helper()
	ids := recordIDs(t, db, id)
	if len(ids) != n {
		t.Fatalf("%d records, want %d", len(ids), n)
	}
	for i, got := range ids {
		if want := fmt.Sprintf("e%06d", i+1); got != want {
			t.Fatalf("record %d is %s, want %s (gap)", i, got, want)
		}
	}
}

func TestConnectorSyncRunsAsAJobAndLogs(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		db := migrated(t, tdb)
		sealer := testSealer(t, "k1:"+testKeysB64())
		fake := examplefake.New("acme", connectorAPIKey, 130)
		defer fake.Close()
		user := newUser(t, db, "owner@example.com", hubapi.RoleAdmin)
		c := newConnectorRow(t, db, sealer, user, example.Type)
		q := start(t, db, jobs.Config{Connectors: connectorJobs(testRegistry(t), sealer, map[string]string{example.Type: fake.URL})})
		if !enqueueSync(t, db, q, c.ID) {
			t.Fatal("not queued")
		}
		waitFor(t, "the sync to succeed", func() bool { return connectorRow(t, db, c.ID).SyncStatus == hubapi.SyncSucceeded })
		checkAllRecords(t, db, c.ID, 130)
		row := connectorRow(t, db, c.ID)
		logs := syncLogs(t, db, c.ID)
		if row.LastSyncAt == nil || row.ErrorMessage != nil || row.State == nil || row.LeaseOwner != nil {
			t.Fatalf("connector after sync: %+v", row)
		}
		if len(logs) != 1 || logs[0].Status != hubapi.SyncSucceeded || logs[0].RecordsSynced != 130 || logs[0].CompletedAt == nil ||
			logs[0].StateCheckpoint == nil || *logs[0].StateCheckpoint != *row.State {
			t.Fatalf("logs %+v", logs)
		}
		// The next sync reads only the new entries.
		fake.Add(3)
		// River completes a finished job a moment after its worker
		// returns; until then a new request joins it.
		waitFor(t, "the second sync to be queued", func() bool { return enqueueSync(t, db, q, c.ID) })
		waitFor(t, "the second sync", func() bool { return len(syncLogs(t, db, c.ID)) == 2 && syncLogs(t, db, c.ID)[1].CompletedAt != nil })
		if l := syncLogs(t, db, c.ID)[1]; l.RecordsSynced != 3 {
			t.Fatalf("incremental sync: %+v", l)
		}
		checkAllRecords(t, db, c.ID, 133)
	})
}

func TestConnectorSyncPanicResumesFromCheckpoint(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		db := migrated(t, tdb)
		sealer := testSealer(t, "k1:"+testKeysB64())
		fake := examplefake.New("acme", connectorAPIKey, 260)
		defer fake.Close()
		user := newUser(t, db, "owner@example.com", hubapi.RoleAdmin)
		c := newConnectorRow(t, db, sealer, user, "flaky")
		flakyCalls.Store(0)
		panicAt.Store(4) // after 3 pages committed
		q := start(t, db, jobs.Config{Connectors: connectorJobs(testRegistry(t), sealer, map[string]string{"flaky": fake.URL})})
		enqueueSync(t, db, q, c.ID)
		waitFor(t, "the sync to succeed", func() bool { return connectorRow(t, db, c.ID).SyncStatus == hubapi.SyncSucceeded })
		checkAllRecords(t, db, c.ID, 260)
		logs := syncLogs(t, db, c.ID)
		if len(logs) != 2 || logs[0].Status != hubapi.SyncFailed || logs[0].ErrorDetails == nil ||
			!strings.Contains(*logs[0].ErrorDetails, "panic") || logs[0].RecordsSynced != 3*example.PageSize {
			t.Fatalf("first run: %+v", logs[0])
		}
		// The second run started at the first one's checkpoint: together
		// they read every record once.
		if logs[1].Status != hubapi.SyncSucceeded || logs[0].RecordsSynced+logs[1].RecordsSynced != 260 {
			t.Fatalf("runs: %+v", logs)
		}
		// 6 pages of 50 for 260 entries, plus the panicking call: no page re-read.
		if n := fake.Requests.Load(); n != 6 {
			t.Fatalf("%d vendor requests, want 6 (no page read twice)", n)
		}
	})
}

func TestConnectorVendorFaultsBackOffAndDoNotDelayOthers(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		for _, tc := range []struct {
			name  string
			fault examplefake.Fault
			kind  string
		}{
			{"429 Retry-After", examplefake.TooMany, "rate_limited"},
			{"503", examplefake.Unavailable, "unavailable"},
			{"hang", examplefake.Hang, "timeout"},
			{"malformed JSON", examplefake.Malformed, "malformed"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				db := migrated(t, tdb)
				sealer := testSealer(t, "k1:"+testKeysB64())
				bad := examplefake.New("acme", connectorAPIKey, 60)
				defer bad.Close()
				bad.Always(tc.fault)
				good := examplefake.New("acme", connectorAPIKey, 60)
				defer good.Close()
				user := newUser(t, db, strings.ReplaceAll(tc.name, " ", "")+"@example.com", hubapi.RoleAdmin)
				cb := newConnectorRow(t, db, sealer, user, "flaky")
				cg := newConnectorRow(t, db, sealer, user, example.Type)
				flakyCalls.Store(0)
				panicAt.Store(-1)
				q := start(t, db, jobs.Config{Connectors: connectorJobs(testRegistry(t), sealer,
					map[string]string{"flaky": bad.URL, example.Type: good.URL})})
				enqueueSync(t, db, q, cb.ID)
				enqueueSync(t, db, q, cg.ID)
				// The healthy connector completes while the other fails.
				waitFor(t, "the healthy sync to succeed", func() bool { return connectorRow(t, db, cg.ID).SyncStatus == hubapi.SyncSucceeded })
				checkAllRecords(t, db, cg.ID, 60)
				// The failing one logs its runs with the error and is
				// retried (backoff) — at least twice.
				waitFor(t, "two failed runs", func() bool {
					logs := syncLogs(t, db, cb.ID)
					return len(logs) >= 2 && logs[1].CompletedAt != nil
				})
				for _, l := range syncLogs(t, db, cb.ID)[:2] {
					if l.Status != hubapi.SyncFailed || l.ErrorDetails == nil || !strings.Contains(*l.ErrorDetails, tc.kind) ||
						strings.Contains(*l.ErrorDetails, connectorAPIKey) || strings.Contains(*l.ErrorDetails, bad.URL) {
						t.Fatalf("log %+v", l)
					}
				}
				row := connectorRow(t, db, cb.ID)
				if row.SyncStatus != hubapi.SyncFailed && row.SyncStatus != hubapi.SyncRunning {
					t.Fatalf("status %s", row.SyncStatus)
				}
				// The vendor recovers: the retried sync completes.
				bad.Always(examplefake.None)
				waitFor(t, "the recovered sync to succeed", func() bool { return connectorRow(t, db, cb.ID).SyncStatus == hubapi.SyncSucceeded })
				checkAllRecords(t, db, cb.ID, 60)
			})
		}
	})
}

func TestConnectorWrongKeyFailsClearlyAndOverwritesNothing(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		db := migrated(t, tdb)
		fake := examplefake.New("acme", connectorAPIKey, 10)
		defer fake.Close()
		user := newUser(t, db, "owner@example.com", hubapi.RoleAdmin)
		c := newConnectorRow(t, db, testSealer(t, "k1:"+testKeysB64()), user, example.Type)
		other := testSealer(t, "k2:"+testKeysB64())
		q := start(t, db, jobs.Config{Connectors: connectorJobs(testRegistry(t), other, map[string]string{example.Type: fake.URL})})
		enqueueSync(t, db, q, c.ID)
		waitFor(t, "the sync to fail", func() bool { return connectorRow(t, db, c.ID).SyncStatus == hubapi.SyncFailed })
		row := connectorRow(t, db, c.ID)
		if row.ErrorMessage == nil || !strings.Contains(*row.ErrorMessage, `"k1"`) || !strings.Contains(*row.ErrorMessage, connectors.EnvKeys) {
			t.Fatalf("error %v", row.ErrorMessage)
		}
		if row.ConfigKeyID != c.ConfigKeyID || string(row.ConfigSealed) != string(c.ConfigSealed) {
			t.Fatal("the sealed configuration was overwritten")
		}
		if fake.Requests.Load() != 0 {
			t.Fatal("the vendor was called")
		}
	})
}

func TestTwoInstancesNeverRunOneConnectorAtOnce(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		db := migrated(t, tdb)
		sealer := testSealer(t, "k1:"+testKeysB64())
		fake := examplefake.New("acme", connectorAPIKey, 400)
		defer fake.Close()
		fake.SetOnPage(func(int) { time.Sleep(20 * time.Millisecond) })
		user := newUser(t, db, "owner@example.com", hubapi.RoleAdmin)
		c := newConnectorRow(t, db, sealer, user, example.Type)
		reg := testRegistry(t)
		urls := map[string]string{example.Type: fake.URL}
		a := start(t, db, jobs.Config{Connectors: connectorJobs(reg, sealer, urls)})
		_ = start(t, db, jobs.Config{Connectors: connectorJobs(reg, sealer, urls)})
		// The unique job already joins concurrent requests...
		if !enqueueSync(t, db, a, c.ID) || enqueueSync(t, db, a, c.ID) {
			t.Fatal("a second sync was queued beside the first")
		}
		// ...and the lease holds even when jobs are forced in beside it.
		for range 4 {
			if _, err := a.Client().Insert(context.Background(), jobs.ConnectorSyncJob(c.ID), &river.InsertOpts{Queue: jobs.QueueConnectors}); err != nil {
				t.Fatal(err)
			}
		}
		waitFor(t, "five runs", func() bool {
			var n int64
			n, _ = db.NewSelect().Model((*hubapi.ConnectorSyncLog)(nil)).Where("connector_id = ? AND completed_at IS NOT NULL", c.ID).Count(context.Background())
			return n >= 5
		})
		if m := fake.MaxInFlight.Load(); m != 1 {
			t.Fatalf("%d requests in flight at once for one connector, want 1", m)
		}
		logs := syncLogs(t, db, c.ID)
		for i := 1; i < len(logs); i++ {
			if logs[i-1].CompletedAt == nil || logs[i].StartedAt.Before(*logs[i-1].CompletedAt) {
				t.Fatalf("runs overlap: %+v", logs)
			}
		}
		checkAllRecords(t, db, c.ID, 400)
	})
}

// The helper process of TestConnectorSyncKilledResumesFromCheckpoint: an
// instance that syncs until it is killed.
func TestHelperConnectorInstance(t *testing.T) {
	dsn := os.Getenv("HUB_TEST_CONNECTOR_DSN")
	if dsn == "" {
		t.Skip("helper process")
	}
	db, err := store.Open(dsn)
	if err != nil {
		t.Fatal(err)
	}
	sealer := testSealer(t, os.Getenv("HUB_TEST_CONNECTOR_KEYS"))
	cc := connectorJobs(testRegistry(t), sealer, map[string]string{example.Type: os.Getenv("HUB_TEST_CONNECTOR_URL")})
	cc.MaxDuration = 2 * time.Second
	start(t, db, jobs.Config{Connectors: cc})
	time.Sleep(time.Minute) // killed before
}

// kill -9 of the instance in the middle of a sync: another instance takes
// over once the lease and River's rescue delay have passed, resumes at the
// last checkpoint, and ends with every record once, none skipped.
//
// PostgreSQL only, and not with -short: it waits for River's rescuer,
// which runs every 30 seconds.
func TestConnectorSyncKilledResumesFromCheckpoint(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for River's rescuer (30 s period)")
	}
	func(tdb *testenv.DB) {
		db := migrated(t, tdb)
		dsn := tdb.DSN
		keys := "k1:" + testKeysB64()
		sealer := testSealer(t, keys)
		fake := examplefake.New("acme", connectorAPIKey, 300)
		defer fake.Close()
		third := make(chan struct{})
		var once sync.Once
		fake.SetOnPage(func(n int) {
			if n == 3 {
				once.Do(func() { close(third) })
				time.Sleep(5 * time.Second) // in flight when the instance dies
			}
		})
		user := newUser(t, db, "owner@example.com", hubapi.RoleAdmin)
		c := newConnectorRow(t, db, sealer, user, example.Type)

		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperConnectorInstance$", "-test.v")
		cmd.Env = append(os.Environ(), "HUB_TEST_CONNECTOR_DSN="+dsn, "HUB_TEST_CONNECTOR_KEYS="+keys, "HUB_TEST_CONNECTOR_URL="+fake.URL)
		out, _ := os.Create(filepath.Join(t.TempDir(), "helper.log"))
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// enqueue through a queue that does not work jobs here yet
		nq, err := jobs.New(context.Background(), db, jobs.Config{Connectors: connectorJobs(testRegistry(t), sealer, nil)})
		if err != nil {
			t.Fatal(err)
		}
		enqueueSync(t, db, nq, c.ID)
		select {
		case <-third:
		case <-time.After(60 * time.Second):
			t.Fatal("the helper never synced")
		}
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		committed := connectorRow(t, db, c.ID)
		if committed.State == nil || len(recordIDs(t, db, c.ID)) != 3*example.PageSize {
			t.Fatalf("before the kill: state %v, %d records", committed.State, len(recordIDs(t, db, c.ID)))
		}
		fake.SetOnPage(nil)
		before := fake.Requests.Load()
		cc := connectorJobs(testRegistry(t), sealer, map[string]string{example.Type: fake.URL})
		cc.MaxDuration = 2 * time.Second // the killed job is rescued after 2 s + 30 s of margin
		cfg := jobs.Config{Connectors: cc, RescueStuckJobsAfter: 4 * time.Second}
		start(t, db, cfg)
		for deadline := time.Now().Add(2 * time.Minute); connectorRow(t, db, c.ID).SyncStatus != hubapi.SyncSucceeded; time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the killed sync was never resumed")
			}
		}
		checkAllRecords(t, db, c.ID, 300)
		// Resumed from the checkpoint: the 3 remaining pages only (300 = 6 × 50).
		if n := fake.Requests.Load() - before; n != 3 {
			t.Fatalf("%d requests after the restart, want 3", n)
		}
	}(testenv.Postgres(t))
}

func testKeysB64() string { return secretbox.GenerateKey() }

// The scheduled sync queues every enabled connector each period (not at
// start), and leaves a disabled one alone.
func TestScheduledSyncQueuesEnabledConnectors(t *testing.T) {
	tdb := testenv.SQLite(t)
	db := migrated(t, tdb)
	sealer := testSealer(t, "k1:"+testKeysB64())
	fake := examplefake.New("acme", connectorAPIKey, 20)
	defer fake.Close()
	user := newUser(t, db, "owner@example.com", hubapi.RoleAdmin)
	on := newConnectorRow(t, db, sealer, user, example.Type)
	off := newConnectorRow(t, db, sealer, user, example.Type)
	if _, err := db.NewUpdate().Model((*hubapi.Connector)(nil)).Set("enabled = FALSE").Where("id = ?", off.ID).Exec(context.Background()); err != nil {
		t.Fatal(err)
	}
	cc := connectorJobs(testRegistry(t), sealer, map[string]string{example.Type: fake.URL})
	cc.SyncInterval = time.Second
	start(t, db, jobs.Config{Connectors: cc})
	waitFor(t, "the scheduled sync", func() bool { return connectorRow(t, db, on.ID).SyncStatus == hubapi.SyncSucceeded })
	checkAllRecords(t, db, on.ID, 20)
	if len(syncLogs(t, db, off.ID)) != 0 {
		t.Fatal("a disabled connector was synced")
	}
}
