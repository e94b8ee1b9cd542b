package jobs_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/hubchantier/hubchantier/connectors"
	"github.com/hubchantier/hubchantier/connectors/quickbooks"
	qbfake "github.com/hubchantier/hubchantier/connectors/quickbooks/fake"
	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/hubapi/jobs"
	"github.com/hubchantier/hubchantier/hubapi/store"
	"github.com/hubchantier/hubchantier/internal/testenv"
)

const qbRealm = "9130357766900516"

// qbToken runs the authorization against the fake and returns the token.
func qbToken(t testing.TB, f *qbfake.Server) *oauth2.Token {
	t.Helper()
	oc := connectors.OAuthSpec{AuthURL: f.URL + "/connect/oauth2", TokenURL: f.URL + "/oauth2/v1/tokens/bearer",
		Scopes: []string{quickbooks.Scope}}.Config(f.ClientID, f.ClientSecret, "https://hub.example/return")
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(oc.AuthCodeURL("s"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	tok, err := oc.Exchange(context.Background(), loc.Query().Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

type qbSetup struct {
	db   *store.DB
	fake *qbfake.Server
	q    *jobs.Queue
	conn *hubapi.Connector
	ids  []int64 // chantiers CH-0 …
}

func newQBSetup(t *testing.T, tdb *testenv.DB) *qbSetup {
	db := migrated(t, tdb)
	sealer := testSealer(t, "k1:"+testKeysB64())
	f := qbfake.New("qb-client", "qb-secret-0123456789", qbRealm)
	t.Cleanup(f.Close)
	tok := qbToken(t, f)
	ctx := context.Background()
	now := store.Now()
	user := newUser(t, db, "compta@example.com", hubapi.RoleAdmin)
	c := &hubapi.Connector{UserID: user, Type: quickbooks.Type, Name: "QBO", Enabled: true, ConfigKeyID: "-", ConfigSealed: []byte{0},
		SyncStatus: hubapi.SyncNever, CreatedAt: now, UpdatedAt: now, Version: 1}
	if _, err := db.NewInsert().Model(c).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	var err error
	if c.ConfigKeyID, c.ConfigSealed, err = sealer.Seal(connectors.Config{Settings: map[string]string{"realm_id": qbRealm}}, jobs.ConnectorConfigBinding(c.ID)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.NewUpdate().Model(c).Column("config_key_id", "config_sealed").WherePK().Exec(ctx); err != nil {
		t.Fatal(err)
	}
	s := &qbSetup{db: db, fake: f, conn: c}
	for i := range 7 {
		ch := &hubapi.Chantier{Code: fmt.Sprintf("CH-%d", i), Nom: fmt.Sprintf("Chantier %d", i), Adresse: "1 rue", Ville: "Lyon", CodePostal: "69001",
			Statut: hubapi.ChantierEnCours, ClientNom: "Client du chantier", CreatedAt: now, UpdatedAt: now, Version: 1}
		if _, err := db.NewInsert().Model(ch).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		s.ids = append(s.ids, ch.ID)
	}
	reg := connectors.NewRegistry().AllowBaseURLOverride()
	reg.MustRegister(quickbooks.Spec, quickbooks.New)
	cc := connectorJobs(reg, sealer, map[string]string{quickbooks.Type: f.URL})
	cc.Runner.CallTimeout = 5 * time.Second
	// The product's service.ConnectorAccess hands the token; here the
	// token of the authorization.
	cc.Prepare = func(_ context.Context, _ int64, _ string, cfg connectors.Config) (connectors.Config, error) {
		out := cfg.Clone()
		out.Secrets = map[string]string{connectors.AccessTokenSecret: tok.AccessToken}
		return out, nil
	}
	s.q = start(t, db, jobs.Config{Connectors: cc})
	return s
}

// syncOnce queues a sync and waits for its log.
func (s *qbSetup) syncOnce(t *testing.T) hubapi.ConnectorSyncLog {
	t.Helper()
	n := len(syncLogs(t, s.db, s.conn.ID))
	waitFor(t, "the sync to be queued", func() bool { return enqueueSync(t, s.db, s.q, s.conn.ID) })
	waitFor(t, "the sync", func() bool {
		l := syncLogs(t, s.db, s.conn.ID)
		return len(l) == n+1 && l[n].CompletedAt != nil
	})
	return syncLogs(t, s.db, s.conn.ID)[n]
}

func depenses(t testing.TB, db *store.DB) []hubapi.Depense {
	t.Helper()
	var ds []hubapi.Depense
	if err := db.NewSelect().Model(&ds).Order("id").Scan(context.Background()); err != nil {
		t.Fatal(err)
	}
	return ds
}

func TestQuickBooksPurchasesBecomeDepensesAndFacturesInvoices(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		s := newQBSetup(t, tdb)
		ctx := context.Background()
		s.fake.AddPurchases(30, 5) // classes CH-0 … CH-4
		s.fake.AddPurchases(4, 0)  // customers "Chantier 5", "Chantier 6", …: by chantier nom
		if l := s.syncOnce(t); l.Status != hubapi.SyncSucceeded || l.RecordsSynced != 34 {
			t.Fatalf("log %+v", l)
		}
		ds := depenses(t, s.db)
		if len(ds) != 34 {
			t.Fatalf("%d dépenses", len(ds))
		}
		for _, d := range ds {
			if d.ChantierID == nil || d.ExternalID == nil || *d.ExternalSource != "quickbooks" || d.Fournisseur != "Point.P" {
				t.Fatalf("dépense %+v", d)
			}
		}
		// purchase 101 has class CH-1
		if *ds[0].ChantierID != s.ids[1] || ds[0].MontantCents != 1335 {
			t.Fatalf("first dépense %+v (chantier %d)", ds[0], *ds[0].ChantierID)
		}

		// A purchase updated at QuickBooks updates its dépense; nothing doubles.
		s.fake.TouchPurchase("105", 777_00)
		s.syncOnce(t)
		ds = depenses(t, s.db)
		if len(ds) != 34 || ds[4].MontantCents != 77700 || ds[4].Version != 2 {
			t.Fatalf("%d dépenses; 105: %+v", len(ds), ds[4])
		}

		// Factures issued are pushed as invoices, their customer created.
		now := store.Now()
		cl := &hubapi.Client{Nom: "L'Atelier Dupont", CreatedAt: now, UpdatedAt: now, Version: 1}
		if _, err := s.db.NewInsert().Model(cl).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		f1 := &hubapi.Facture{Numero: "F-001", ChantierID: s.ids[0], ClientID: &cl.ID, Libelle: "Travaux novembre", MontantHTCents: 1_000_00,
			TVACents: 200_00, MontantTTCCents: 1_200_00, Statut: hubapi.FactureEmise, DateEmission: hubapi.NewDate(2026, 11, 30), CreatedAt: now, UpdatedAt: now, Version: 1}
		f2 := &hubapi.Facture{Numero: "F-002", ChantierID: s.ids[1], MontantHTCents: 500_00, Statut: hubapi.FacturePayee, CreatedAt: now, UpdatedAt: now, Version: 1}
		draft := &hubapi.Facture{Numero: "F-003", ChantierID: s.ids[1], MontantHTCents: 1, Statut: hubapi.FactureBrouillon, CreatedAt: now, UpdatedAt: now, Version: 1}
		for _, f := range []*hubapi.Facture{f1, f2, draft} {
			if _, err := s.db.NewInsert().Model(f).Exec(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if l := s.syncOnce(t); l.Status != hubapi.SyncSucceeded {
			t.Fatalf("log %+v", l)
		}
		invs := s.fake.Invoices()
		if len(invs) != 2 || s.fake.Customers()["L'Atelier Dupont"] == "" || s.fake.Customers()["Client du chantier"] == "" {
			t.Fatalf("invoices %v, customers %v", invs, s.fake.Customers())
		}
		// Run again: nothing new is created.
		s.syncOnce(t)
		if s.fake.Creates.Load() != 2 {
			t.Fatalf("%d invoices created after a rerun", s.fake.Creates.Load())
		}
		// The facture changes: its invoice is updated (SyncToken kept).
		later := store.Now().Add(time.Second)
		if _, err := s.db.NewUpdate().Model((*hubapi.Facture)(nil)).Set("montant_ht_cents = ?", 1_500_00).Set("updated_at = ?", later).
			Set("version = 2").Where("id = ?", f1.ID).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		s.syncOnce(t)
		id, _ := store.ExternalIDOf(ctx, s.db, s.conn.ID, hubapi.ResourceFactures, f1.ID)
		inv := s.fake.Invoices()[id]
		if s.fake.Creates.Load() != 2 || inv["SyncToken"] != "1" || inv["Line"].([]any)[0].(map[string]any)["Amount"] != 1500.0 {
			t.Fatalf("after the change: %d creates, invoice %v", s.fake.Creates.Load(), inv)
		}
	})
}

// 10,000 purchases synced through the job (pages, checkpoints, dépenses
// written in the checkpoint's transaction), on SQLite and PostgreSQL.
func TestQuickBooksSyncTenThousandPurchases(t *testing.T) {
	if testing.Short() {
		t.Skip("scale")
	}
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		n := 10_000
		if raceDetector {
			n = 1_000
		}
		s := newQBSetup(t, tdb)
		s.fake.AddPurchases(n, 5)
		begin := time.Now()
		l := s.syncOnce(t)
		t.Logf("%s: %d purchases synced into dépenses in %v", tdb.Name, n, time.Since(begin))
		if l.Status != hubapi.SyncSucceeded || l.RecordsSynced != int64(n) || len(depenses(t, s.db)) != n {
			t.Fatalf("log %+v", l)
		}
	})
}

func TestQuickBooksVendorFaultsAreLoggedAndRetried(t *testing.T) {
	testenv.EachDB(t, func(t *testing.T, tdb *testenv.DB) {
		s := newQBSetup(t, tdb)
		s.fake.AddPurchases(1200, 5)
		// Two tries per call in these jobs: 503 then 429 fail the first
		// run (logged), the job's retry goes on from the first page's
		// checkpoint; a malformed answer on the retry is tried again in
		// place.
		s.fake.Inject(qbfake.None, qbfake.Unavailable, qbfake.TooMany, qbfake.Malformed)
		waitFor(t, "the sync to be queued", func() bool { return enqueueSync(t, s.db, s.q, s.conn.ID) })
		waitFor(t, "the sync to succeed", func() bool { return connectorRow(t, s.db, s.conn.ID).SyncStatus == hubapi.SyncSucceeded })
		logs := syncLogs(t, s.db, s.conn.ID)
		if len(logs) != 2 || logs[0].Status != hubapi.SyncFailed || logs[0].ErrorDetails == nil || logs[0].RecordsSynced != 500 ||
			logs[1].Status != hubapi.SyncSucceeded || logs[1].RecordsSynced != 700 {
			t.Fatalf("logs %+v", logs)
		}
		if n := len(depenses(t, s.db)); n != 1200 {
			t.Fatalf("%d dépenses", n)
		}
	})
}
