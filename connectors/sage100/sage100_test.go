package sage100_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hubchantier/hubchantier/connectors"
	"github.com/hubchantier/hubchantier/connectors/sage100"
	"github.com/hubchantier/hubchantier/connectors/sage100/sage100fake"
)

const apiKey = "sk_sage_test_0123456789abcdef"

func setup(t *testing.T, tiers, affaires int) (*sage100fake.Server, connectors.Connector, connectors.Spec, connectors.Config) {
	t.Helper()
	fake := sage100fake.New("BIJOU", apiKey, tiers, affaires)
	t.Cleanup(fake.Close)
	reg := connectors.NewRegistry().AllowBaseURLOverride()
	if err := sage100.Register(reg); err != nil {
		t.Fatal(err)
	}
	c, spec, err := reg.New(sage100.Type, connectors.Options{BaseURL: fake.URL})
	if err != nil {
		t.Fatal(err)
	}
	cfg := connectors.Config{Settings: map[string]string{"api_url": "https://sage.example.fr/api", "company_id": "BIJOU"},
		Secrets: map[string]string{"api_key": apiKey}}
	return fake, c, spec, cfg
}

// memory is a Checkpointer keeping records by (stream, id), like the
// product's connector_records, and counting every delivery.
type memory struct {
	mu        sync.Mutex
	rows      map[string]json.RawMessage
	delivered int
	state     connectors.State
	failAfter int // fail the commit after that many (0: never)
	commits   int
}

func newMemory() *memory { return &memory{rows: map[string]json.RawMessage{}} }

func (m *memory) Commit(_ context.Context, recs []connectors.Record, st connectors.State) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failAfter > 0 && m.commits >= m.failAfter {
		return errors.New("crash")
	}
	m.commits++
	for _, r := range recs {
		m.rows[r.Stream+"/"+r.ID] = r.Data
		m.delivered++
	}
	m.state = st
	return nil
}

func (m *memory) count(stream string) int {
	n := 0
	for k := range m.rows {
		if strings.HasPrefix(k, stream+"/") {
			n++
		}
	}
	return n
}

func fastRunner() *connectors.Runner {
	return connectors.NewRunner(connectors.RunnerConfig{CallTimeout: 500 * time.Millisecond, Backoff: connectors.Backoff{Base: time.Millisecond, Max: 5 * time.Millisecond}})
}

func TestCheck(t *testing.T) {
	_, c, _, cfg := setup(t, 1, 1)
	r := fastRunner()
	t.Run("the key opens the company → ok", func(t *testing.T) {
		if err := r.Check(t.Context(), c, cfg); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a wrong key → auth, the key never in the error", func(t *testing.T) {
		bad := cfg.Clone()
		bad.Secrets["api_key"] = "sk_wrong_key_000000000000"
		err := r.Check(t.Context(), c, bad)
		if e := connectors.AsError(err); err == nil || e.Kind != connectors.KindAuth || e.Status != 401 || strings.Contains(err.Error(), "sk_wrong") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("another company → auth", func(t *testing.T) {
		other := cfg.Clone()
		other.Settings["company_id"] = "AUTRE"
		if e := connectors.AsError(r.Check(t.Context(), c, other)); e.Kind != connectors.KindAuth {
			t.Fatalf("got %v", e)
		}
	})
	t.Run("an invalid company_id → rejected, no request", func(t *testing.T) {
		other := cfg.Clone()
		other.Settings["company_id"] = "a')/../x"
		if e := connectors.AsError(r.Check(t.Context(), c, other)); e.Kind != connectors.KindRejected {
			t.Fatalf("got %v", e)
		}
	})
}

func TestAPIURLMustBeHTTPS(t *testing.T) {
	c, err := sage100.New(connectors.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := connectors.Config{Settings: map[string]string{"api_url": "http://10.0.0.1/api", "company_id": "X"}, Secrets: map[string]string{"api_key": "k"}}
	if e := connectors.AsError(c.Check(t.Context(), cfg)); e.Kind != connectors.KindRejected || !strings.Contains(e.Msg, "https") {
		t.Fatalf("got %v", e)
	}
}

func run(t *testing.T, c connectors.Connector, spec connectors.Spec, cfg connectors.Config, m *memory) (connectors.Summary, error) {
	t.Helper()
	return fastRunner().Run(t.Context(), connectors.Job{Key: "1", Connector: c, Spec: spec, Config: cfg, State: m.state, Sink: m})
}

func TestSyncImportsClientsAndAffaires(t *testing.T) {
	fake, c, spec, cfg := setup(t, 250, 130)
	fake.AddSupplier("F0001")
	m := newMemory()
	sum, err := run(t, c, spec, cfg, m)
	if err != nil {
		t.Fatal(err)
	}
	if m.count("clients") != 250 || m.count("chantiers") != 130 || m.delivered != 380 || sum.Records != 380 {
		t.Fatalf("clients %d chantiers %d delivered %d", m.count("clients"), m.count("chantiers"), m.delivered)
	}
	var cl map[string]any
	_ = json.Unmarshal(m.rows["clients/C000001"], &cl)
	if cl["nom"] != "Client 1" || cl["code"] != "C000001" || cl["code_postal"] != "69001" || cl["external_source"] != "sage100" || cl["external_id"] != "C000001" {
		t.Errorf("client %v", cl)
	}
	var ch map[string]any
	_ = json.Unmarshal(m.rows["chantiers/AFF000002"], &ch)
	if ch["code"] != "AFF000002" || ch["nom"] != "Affaire 2" || ch["client_nom"] != "Client 1" || ch["date_debut"] != "2026-09-01" {
		t.Errorf("chantier %v", ch)
	}
	if _, ok := m.rows["clients/F0001"]; ok {
		t.Error("a supplier was imported as a client")
	}
	for _, f := range fake.Filters() {
		if strings.Contains(f, "tiers") || (strings.HasPrefix(f, "type") && !strings.HasPrefix(f, "type eq 'Client'")) {
			t.Errorf("filter %q", f)
		}
	}
}

func TestIncrementalSyncFromState(t *testing.T) {
	fake, c, spec, cfg := setup(t, 120, 10)
	m := newMemory()
	if _, err := run(t, c, spec, cfg, m); err != nil {
		t.Fatal(err)
	}
	first := m.delivered
	before := len(fake.Filters())
	fake.Update("C000007", "intitule", "Client Sept (renommé)")
	fake.AddAffaires(3)
	sum, err := run(t, c, spec, cfg, m)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Records != 4 || m.delivered != first+4 {
		t.Fatalf("the second sync read %d records, want the 4 changed since", sum.Records)
	}
	var cl map[string]any
	_ = json.Unmarshal(m.rows["clients/C000007"], &cl)
	if cl["nom"] != "Client Sept (renommé)" {
		t.Errorf("update not read: %v", cl)
	}
	filters := fake.Filters()[before:]
	if len(filters) == 0 || !strings.Contains(filters[0], "dateModification gt 2026-11-01T08:02:00Z") {
		t.Errorf("the incremental sync did not start from the stored date: %q", filters)
	}
	// Nothing changed: a third sync reads nothing.
	if sum, err := run(t, c, spec, cfg, m); err != nil || sum.Records != 0 {
		t.Fatalf("third sync: %d records, %v", sum.Records, err)
	}
}

func TestResumesAfterACrashWithoutLossOrDuplicate(t *testing.T) {
	_, c, spec, cfg := setup(t, 350, 150)
	m := newMemory()
	m.failAfter = 3 // the process dies after 3 commits
	if _, err := run(t, c, spec, cfg, m); err == nil {
		t.Fatal("the crash did not end the sync")
	}
	committed := m.delivered
	if committed != 300 {
		t.Fatalf("%d records committed before the crash, want 300", committed)
	}
	m.failAfter = 0
	sum, err := run(t, c, spec, cfg, m)
	if err != nil {
		t.Fatal(err)
	}
	if m.delivered != 500 || sum.Records != 200 || m.count("clients") != 350 || m.count("chantiers") != 150 {
		t.Fatalf("after resuming: delivered %d (resumed %d), clients %d, chantiers %d", m.delivered, sum.Records, m.count("clients"), m.count("chantiers"))
	}
}

func TestVendorFaultsAreRetried(t *testing.T) {
	for _, f := range []struct {
		name  string
		fault sage100fake.Fault
	}{{"429 with Retry-After", sage100fake.TooMany}, {"503", sage100fake.Unavailable}, {"500", sage100fake.ServerError},
		{"malformed JSON", sage100fake.Malformed}, {"a hang (timeout)", sage100fake.Hang}} {
		t.Run(f.name+" → retried with backoff, nothing lost", func(t *testing.T) {
			fake, c, spec, cfg := setup(t, 150, 0)
			fake.Inject(sage100fake.None, f.fault) // the second page fails once
			m := newMemory()
			sum, err := run(t, c, spec, cfg, m)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Retries != 1 || m.count("clients") != 150 || m.delivered != 150 {
				t.Fatalf("retries %d, clients %d, delivered %d", sum.Retries, m.count("clients"), m.delivered)
			}
		})
	}
	t.Run("a vendor that keeps failing → the sync fails with the kind, from its checkpoint", func(t *testing.T) {
		fake, c, spec, cfg := setup(t, 150, 0)
		fake.Inject(sage100fake.None)
		fake.SetOnList(func(_ string, n int) {
			if n == 0 {
				fake.Always(sage100fake.Unavailable)
			}
		})
		m := newMemory()
		_, err := run(t, c, spec, cfg, m)
		if e := connectors.AsError(err); err == nil || e.Kind != connectors.KindUnavailable || e.Status != 503 {
			t.Fatalf("got %v", err)
		}
		if m.delivered != 100 {
			t.Fatalf("%d committed before the failure", m.delivered)
		}
	})
}

func TestExportFactures(t *testing.T) {
	fake, c, _, cfg := setup(t, 2, 2)
	cfg.Settings["taux_horaire_cents"] = "6000"
	r := fastRunner()
	client := int64(5)
	item := func(ch int64, tiers string, minutes int64) connectors.ExportItem {
		b, _ := json.Marshal(sage100.FactureItem{ChantierID: ch, ChantierCode: "AFF000001", ChantierNom: "Affaire 1", AffaireCode: "AFF000001",
			ClientID: &client, TiersNumero: tiers, Minutes: minutes})
		return connectors.ExportItem{Key: "2026-11-01/2026-11-30/" + string(rune('0'+ch)), Data: b}
	}
	req := connectors.ExportRequest{Kind: "factures", From: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC),
		Items: []connectors.ExportItem{item(1, "C000001", 450), item(2, "C000002", 60)}}
	recs, err := r.Export(t.Context(), c, cfg, req)
	if err != nil {
		t.Fatal(err)
	}
	docs := fake.Documents()
	if len(recs) != 2 || len(docs) != 2 {
		t.Fatalf("%d records, %d documents", len(recs), len(docs))
	}
	if docs[0]["totalHT"].(float64) != 450 || docs[0]["totalTVA"].(float64) != 90 || docs[0]["tiersNumero"] != "C000001" ||
		docs[0]["reference"] != sage100.Reference(req.Items[0].Key) || docs[0]["affaireCode"] != "AFF000001" {
		t.Errorf("document %v", docs[0])
	}
	var f map[string]any
	_ = json.Unmarshal(recs[0].Data, &f)
	if recs[0].Stream != "factures" || f["montant_ht_cents"].(float64) != 45000 || f["tva_cents"].(float64) != 9000 ||
		f["external_id"] != docs[0]["numero"] || f["periode_debut"] != "2026-11-01" || f["chantier_id"].(float64) != 1 {
		t.Errorf("record %s %v", recs[0].Stream, f)
	}

	t.Run("exported again with more hours → the same invoices, updated", func(t *testing.T) {
		req.Items[0] = item(1, "C000001", 480)
		again, err := r.Export(t.Context(), c, cfg, req)
		if err != nil {
			t.Fatal(err)
		}
		docs := fake.Documents()
		if len(docs) != 2 || docs[0]["totalHT"].(float64) != 480 || again[0].ID != recs[0].ID {
			t.Fatalf("%d documents, first %v", len(docs), docs[0])
		}
	})

	t.Run("a client unknown to Sage → the vendor's 422 is a rejection, not retried", func(t *testing.T) {
		bad := req
		bad.Items = []connectors.ExportItem{item(3, "C999999", 60)}
		before := fake.Requests.Load()
		_, err := r.Export(t.Context(), c, cfg, bad)
		if e := connectors.AsError(err); err == nil || e.Kind != connectors.KindRejected || e.Status != 422 {
			t.Fatalf("got %v", err)
		}
		if n := fake.Requests.Load() - before; n != 2 {
			t.Errorf("%d requests, want 2 (lookup, refused create)", n)
		}
	})

	t.Run("a chantier without a Sage client → rejected before any request", func(t *testing.T) {
		bad := req
		bad.Items = []connectors.ExportItem{item(4, "", 60)}
		if e := connectors.AsError(func() error { _, err := r.Export(t.Context(), c, cfg, bad); return err }()); e.Kind != connectors.KindRejected {
			t.Fatalf("got %v", e)
		}
	})
}
