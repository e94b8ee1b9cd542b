package jobs_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/connectors"
	"github.com/hubchantier/hubchantier/connectors/silae"
	silaefake "github.com/hubchantier/hubchantier/connectors/silae/fake"
	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/jobs"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

const (
	silaeSecret = "silae-client-secret-S3CR3T"
	silaeSubKey = "silae-subscription-key-S3CR3T"
	silaeCo     = "ACME01"
)

// silaeRegistry registers Silae with quick inline retries (one try: the
// job's retries do the rest).
func silaeRegistry() *connectors.Registry {
	reg := connectors.NewRegistry().AllowBaseURLOverride()
	reg.MustRegister(silae.Spec, func(o connectors.Options) (connectors.Connector, error) {
		c, err := silae.New(o)
		if err == nil {
			c.(*silae.Connector).Attempts = 1
		}
		return c, err
	})
	return reg
}

func newSilaeRow(t testing.TB, db *store.DB, sealer *connectors.Sealer, user int64) *hubapi.Connector {
	t.Helper()
	ctx := context.Background()
	now := store.Now()
	c := &hubapi.Connector{UserID: user, Type: silae.Type, Name: "Paie", Enabled: true, ConfigKeyID: "-", ConfigSealed: []byte{0},
		SyncStatus: hubapi.SyncNever, CreatedAt: now, UpdatedAt: now, Version: 1}
	if _, err := db.NewInsert().Model(c).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	cfg := connectors.Config{Settings: map[string]string{"company_code": silaeCo, "client_id": "hub",
		"code_normal": "HN", "code_nuit": "HNUIT", "code_weekend": "HWE", "code_ferie": "HFER"},
		Secrets: map[string]string{"client_secret": silaeSecret, "subscription_key": silaeSubKey}}
	if err := silae.Spec.Validate(cfg); err != nil {
		t.Fatal(err)
	}
	var err error
	if c.ConfigKeyID, c.ConfigSealed, err = sealer.Seal(cfg, jobs.ConnectorConfigBinding(c.ID)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.NewUpdate().Model(c).Column("config_key_id", "config_sealed").WherePK().Exec(ctx); err != nil {
		t.Fatal(err)
	}
	return c
}

// addPointages adds n pointages of 60 minutes in November 2026 for users,
// cycling through the types, with statut; returns the chantier.
func addPointages(t testing.TB, db *store.DB, users []int64, n int, statut hubapi.PointageStatut, month time.Month) {
	t.Helper()
	ctx := context.Background()
	now := store.Now()
	ch := &hubapi.Chantier{Code: fmt.Sprintf("CH-%d-%d", month, now.UnixNano()%1e6), Nom: "Chantier", Adresse: "1 rue", Ville: "Lyon", CodePostal: "69001",
		Statut: hubapi.ChantierEnCours, CreatedAt: now, UpdatedAt: now, Version: 1}
	if _, err := db.NewInsert().Model(ch).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	rows := make([]hubapi.Pointage, 0, n)
	for i := range n {
		rows = append(rows, hubapi.Pointage{UserID: users[i%len(users)], ChantierID: ch.ID, Date: hubapi.NewDate(2026, month, 1+i%28),
			Minutes: 60, Type: hubapi.PointageTypes[i%4], Statut: statut, CreatedAt: now, UpdatedAt: now, Version: 1})
	}
	for start := 0; start < len(rows); start += 1000 {
		batch := rows[start:min(start+1000, len(rows))]
		if _, err := db.NewInsert().Model(&batch).Exec(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

func TestMonthlyPayrollExportReplacesTheMonth(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		db := migrated(t, tdb)
		sealer := testSealer(t, "k1:"+testKeysB64())
		fake := silaefake.New("hub", silaeSecret, silaeSubKey, silaeCo)
		defer fake.Close()
		users := []int64{newUser(t, db, "a@example.com", hubapi.RoleCompagnon), newUser(t, db, "b@example.com", hubapi.RoleCompagnon)}
		owner := newUser(t, db, "rh@example.com", hubapi.RoleAdmin)
		c := newSilaeRow(t, db, sealer, owner)
		addPointages(t, db, users, 40, hubapi.PointageValide, time.November)
		addPointages(t, db, users, 8, hubapi.PointageSoumis, time.November) // not validated: not exported
		addPointages(t, db, users, 8, hubapi.PointageValide, time.December) // another month
		cc := connectorJobs(silaeRegistry(), sealer, map[string]string{silae.Type: fake.URL})
		q := start(t, db, jobs.Config{Connectors: cc})
		ctx := context.Background()

		// Any day but the 1st queues nothing.
		if err := q.RunMonthlyPayroll(ctx, db, time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
		if len(syncLogs(t, db, c.ID)) != 0 {
			t.Fatal("exported on the 2nd")
		}
		// The 1st of December exports November; a vendor failure first is
		// logged and retried with backoff.
		fake.Inject(silaefake.Unavailable, silaefake.TooMany)
		if err := q.RunMonthlyPayroll(ctx, db, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the export", func() bool {
			return fake.Imports.Load() == 1 && connectorRow(t, db, c.ID).SyncStatus == hubapi.SyncSucceeded
		})
		logs := syncLogs(t, db, c.ID)
		if len(logs) != 3 || logs[0].Status != hubapi.SyncFailed || logs[0].ErrorDetails == nil || logs[1].Status != hubapi.SyncFailed ||
			logs[2].Status != hubapi.SyncSucceeded || logs[2].RecordsSynced != 40 {
			t.Fatalf("logs %+v", logs)
		}
		h := fake.Hours(silaeCo, "2026-11-01")
		a, b := fmt.Sprint(users[0]), fmt.Sprint(users[1])
		// 20 pointages each of 1 h: user a has even indexes (normal, weekend), b odd (nuit, ferie).
		if h[a]["HN"] != 10 || h[a]["HWE"] != 10 || h[b]["HNUIT"] != 10 || h[b]["HFER"] != 10 || len(h) != 2 {
			t.Fatalf("hours %v", h)
		}
		total := fake.Total(silaeCo, "2026-11-01")
		// Run again (a re-run, or the periodic job on another instance
		// after a restart): the month is replaced, never doubled.
		waitFor(t, "the re-run to be queued and done", func() bool {
			_ = q.RunMonthlyPayroll(ctx, db, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
			return fake.Imports.Load() >= 2
		})
		if got := fake.Total(silaeCo, "2026-11-01"); got != total || total != 4000 {
			t.Fatalf("total after the re-run %d, want %d", got, total)
		}
		for _, l := range syncLogs(t, db, c.ID) {
			if l.ErrorDetails != nil && (strings.Contains(*l.ErrorDetails, silaeSecret) || strings.Contains(*l.ErrorDetails, silaeSubKey)) {
				t.Fatal("a secret in the sync log")
			}
		}
	})
}

func TestPayrollExportAnsweredNeverIsTriedAgainAndStoredOnce(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		db := migrated(t, tdb)
		sealer := testSealer(t, "k1:"+testKeysB64())
		fake := silaefake.New("hub", silaeSecret, silaeSubKey, silaeCo)
		defer fake.Close()
		users := []int64{newUser(t, db, "a@example.com", hubapi.RoleCompagnon)}
		c := newSilaeRow(t, db, sealer, newUser(t, db, "rh@example.com", hubapi.RoleAdmin))
		addPointages(t, db, users, 12, hubapi.PointageValide, time.November)
		q := start(t, db, jobs.Config{Connectors: connectorJobs(silaeRegistry(), sealer, map[string]string{silae.Type: fake.URL})})
		// The first request hangs past the call timeout: whether Silae
		// stored it is unknown; the job is retried and the month replaced.
		fake.Inject(silaefake.Hang)
		if err := q.RunMonthlyPayroll(context.Background(), db, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the export", func() bool { return connectorRow(t, db, c.ID).SyncStatus == hubapi.SyncSucceeded })
		if got := fake.Total(silaeCo, "2026-11-01"); got != 1200 || len(fake.Bodies()) != 2 {
			t.Fatalf("total %d after %d requests", got, len(fake.Bodies()))
		}
	})
}

// A month of 10,000 validated pointages (200 employees) read from the
// database and exported to the fake, on SQLite and PostgreSQL.
func TestPayrollExportTenThousandPointages(t *testing.T) {
	if testing.Short() {
		t.Skip("scale")
	}
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		db := migrated(t, tdb)
		sealer := testSealer(t, "k1:"+testKeysB64())
		fake := silaefake.New("hub", silaeSecret, silaeSubKey, silaeCo)
		defer fake.Close()
		var users []int64
		for i := range 200 {
			users = append(users, newUser(t, db, fmt.Sprintf("u%d@example.com", i), hubapi.RoleCompagnon))
		}
		c := newSilaeRow(t, db, sealer, users[0])
		n := 10_000
		if raceDetector {
			n = 1_000
		}
		addPointages(t, db, users, n, hubapi.PointageValide, time.November)
		q := start(t, db, jobs.Config{Connectors: connectorJobs(silaeRegistry(), sealer, map[string]string{silae.Type: fake.URL})})
		begin := time.Now()
		if err := q.RunMonthlyPayroll(context.Background(), db, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the export", func() bool { return connectorRow(t, db, c.ID).SyncStatus == hubapi.SyncSucceeded })
		t.Logf("%s: %d pointages exported in %v (job queued → succeeded)", tdb.Name, n, time.Since(begin))
		if fake.Total(silaeCo, "2026-11-01") != int64(n)*100 || syncLogs(t, db, c.ID)[0].RecordsSynced != int64(n) {
			t.Fatalf("total %d", fake.Total(silaeCo, "2026-11-01"))
		}
	})
}
