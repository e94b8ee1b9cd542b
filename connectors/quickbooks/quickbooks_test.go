package quickbooks_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/hubchantier/hubchantier/connectors"
	"github.com/hubchantier/hubchantier/connectors/quickbooks"
	"github.com/hubchantier/hubchantier/connectors/quickbooks/fake"
)

const (
	clientID     = "ABkQ2xFakeClientId"
	clientSecret = "fake-client-secret-0123456789"
	realm        = "9130357766900516"
	redirect     = "https://hub.example/integrations/quickbooks/return"
)

// connect runs the authorization-code flow against the fake and returns a
// configuration holding its access token, and the token.
func connect(t testing.TB, f *fake.Server) (connectors.Config, *oauth2.Token) {
	t.Helper()
	oc := connectors.OAuthSpec{AuthURL: f.URL + "/connect/oauth2", TokenURL: f.URL + "/oauth2/v1/tokens/bearer",
		Scopes: quickbooks.Spec.OAuth.Scopes}.Config(clientID, clientSecret, redirect)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(oc.AuthCodeURL("st-1"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	q := loc.Query()
	if q.Get("state") != "st-1" || q.Get("realmId") != realm {
		t.Fatalf("redirect %s", loc)
	}
	tok, err := oc.Exchange(context.Background(), q.Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	return connectors.Config{Settings: map[string]string{"realm_id": q.Get("realmId")},
		Secrets: map[string]string{quickbooks.AccessTokenSecret: tok.AccessToken}}, tok
}

func newConnector(t testing.TB, f *fake.Server) *quickbooks.Connector {
	t.Helper()
	reg := connectors.NewRegistry().AllowBaseURLOverride()
	if err := quickbooks.Register(reg); err != nil {
		t.Fatal(err)
	}
	c, _, err := reg.New(quickbooks.Type, connectors.Options{BaseURL: f.URL, HTTPClient: &http.Client{Timeout: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	return c.(*quickbooks.Connector)
}

// memStore is a TokenStore in memory.
type memStore struct {
	mu  sync.Mutex
	tok *oauth2.Token
}

func (m *memStore) LoadToken(context.Context, string) (*oauth2.Token, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := *m.tok
	return &t, nil
}

func (m *memStore) SaveToken(_ context.Context, _ string, t *oauth2.Token) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tok = t
	return nil
}

func TestOAuthRealmIDAndRefreshTokenRotation(t *testing.T) {
	f := fake.New(clientID, clientSecret, realm)
	defer f.Close()
	cfg, tok := connect(t, f)
	c := newConnector(t, f)
	if err := c.Check(context.Background(), cfg); err != nil {
		t.Fatalf("check with a fresh token: %v", err)
	}
	first := tok.RefreshToken
	store := &memStore{tok: &oauth2.Token{AccessToken: tok.AccessToken, RefreshToken: first, Expiry: time.Now().Add(30 * time.Second)}}
	oc := connectors.OAuthSpec{TokenURL: f.URL + "/oauth2/v1/tokens/bearer"}.Config(clientID, clientSecret, redirect)
	toks := &connectors.Tokens{Config: oc, Store: store}
	nt, err := toks.Token(context.Background(), "1")
	if err != nil {
		t.Fatal(err)
	}
	if nt.RefreshToken == first || store.tok.RefreshToken != nt.RefreshToken || f.RefreshToken() != nt.RefreshToken {
		t.Fatal("the rotated refresh token was not stored")
	}
	// The old refresh token is refused, as Intuit does once rotated.
	_, err = oc.TokenSource(context.Background(), &oauth2.Token{RefreshToken: first, Expiry: time.Unix(1, 0)}).Token()
	var re *oauth2.RetrieveError
	if !asRetrieve(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Fatalf("old refresh token: %v", err)
	}
	// A second refresh uses the stored (rotated) one and rotates again.
	store.tok.Expiry = time.Now()
	nt2, err := toks.Token(context.Background(), "1")
	if err != nil || nt2.RefreshToken == nt.RefreshToken {
		t.Fatalf("second refresh: %v", err)
	}
	cfg.Secrets[quickbooks.AccessTokenSecret] = nt2.AccessToken
	if err := c.Check(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if f.Refreshes.Load() != 2 {
		t.Fatalf("%d refreshes", f.Refreshes.Load())
	}
	t.Run("a stale refresh token is an auth error", func(t *testing.T) {
		st := &memStore{tok: &oauth2.Token{AccessToken: "x", RefreshToken: first, Expiry: time.Now()}}
		_, err := (&connectors.Tokens{Config: oc, Store: st}).Token(context.Background(), "1")
		if e := connectors.AsError(err); e.Kind != connectors.KindAuth {
			t.Fatalf("err %v", err)
		}
	})
}

func asRetrieve(err error, re **oauth2.RetrieveError) bool {
	r, ok := err.(*oauth2.RetrieveError)
	*re = r
	return ok
}

func TestCheckFailures(t *testing.T) {
	f := fake.New(clientID, clientSecret, realm)
	defer f.Close()
	cfg, _ := connect(t, f)
	c := newConnector(t, f)
	cases := map[string]func(){
		"expired access token → auth": func() { f.ExpireAccessTokens() },
	}
	for name, do := range cases {
		t.Run(name, func(t *testing.T) {
			do()
			err := c.Check(context.Background(), cfg)
			if e := connectors.AsError(err); e.Kind != connectors.KindAuth || e.Status != 401 {
				t.Fatalf("err %v", err)
			}
			if strings.Contains(err.Error(), cfg.Secret(quickbooks.AccessTokenSecret)) {
				t.Fatal("token in the error")
			}
		})
	}
	t.Run("token of another realm → auth", func(t *testing.T) {
		cfg, _ := connect(t, f)
		cfg.Settings["realm_id"] = "123"
		if e := connectors.AsError(c.Check(context.Background(), cfg)); e.Kind != connectors.KindAuth {
			t.Fatalf("err %v", e)
		}
	})
	t.Run("no realm yet → auth, nothing sent", func(t *testing.T) {
		n := f.Queries.Load()
		err := c.Check(context.Background(), connectors.Config{Secrets: map[string]string{quickbooks.AccessTokenSecret: "x"}})
		if e := connectors.AsError(err); e.Kind != connectors.KindAuth || f.Queries.Load() != n {
			t.Fatalf("err %v", err)
		}
	})
}

func TestMinorVersionIsPinned(t *testing.T) {
	f := fake.New(clientID, clientSecret, realm)
	defer f.Close()
	cfg, _ := connect(t, f)
	req, _ := http.NewRequest(http.MethodGet, f.URL+"/v3/company/"+realm+"/companyinfo/"+realm, nil)
	req.Header.Set("Authorization", "Bearer "+cfg.Secret(quickbooks.AccessTokenSecret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("the fake accepts a request without minorversion (%d)", resp.StatusCode)
	}
	if err := newConnector(t, f).Check(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
}

// collect is a Checkpointer keeping every committed record, with how many
// times each id was committed.
type collect struct {
	mu      sync.Mutex
	ids     map[string]int
	data    map[string]quickbooks.Expense
	state   connectors.State
	commits int
	failAt  int // the commit that "crashes" (0: none)
}

func newCollect() *collect {
	return &collect{ids: map[string]int{}, data: map[string]quickbooks.Expense{}}
}

func (c *collect) Commit(_ context.Context, recs []connectors.Record, st connectors.State) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.commits++
	if c.commits == c.failAt {
		return errCrash
	}
	for _, r := range recs {
		c.ids[r.ID]++
		var e quickbooks.Expense
		_ = json.Unmarshal(r.Data, &e)
		c.data[r.ID] = e
	}
	c.state = st
	return nil
}

var errCrash = &connectors.Error{Kind: connectors.KindUnavailable, Msg: "process killed"}

func run(t testing.TB, c connectors.Connector, cfg connectors.Config, sink *collect, rc connectors.RunnerConfig) (connectors.Summary, error) {
	t.Helper()
	return connectors.NewRunner(rc).Run(context.Background(), connectors.Job{Key: "qb", Connector: c,
		Spec: quickbooks.Spec, Config: cfg, State: sink.state, Sink: sink})
}

func TestIncrementalSyncOfPurchasesFromState(t *testing.T) {
	f := fake.New(clientID, clientSecret, realm)
	defer f.Close()
	cfg, _ := connect(t, f)
	c := newConnector(t, f)
	f.AddPurchases(1234, 5)
	sink := newCollect()
	sum, err := run(t, c, cfg, sink, connectors.RunnerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if len(sink.ids) != 1234 || sum.Calls != 3 {
		t.Fatalf("%d purchases in %d calls", len(sink.ids), sum.Calls)
	}
	e := sink.data["101"]
	if e.AmountCents != 1335 || e.ClassRef == nil || e.ClassRef.Name != "CH-1" || e.Currency != "EUR" || e.Vendor.Name != "Point.P" {
		t.Fatalf("expense %+v", e)
	}
	// Later: 10 new purchases and one updated at QuickBooks.
	f.AddPurchases(10, 0)
	f.TouchPurchase("150", 99_00)
	before := map[string]int{}
	for k, v := range sink.ids {
		before[k] = v
	}
	sum, err = run(t, c, cfg, sink, connectors.RunnerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	read := 0
	for id, n := range sink.ids {
		read += n - before[id]
	}
	// The 10 new, the updated one, and the latest of the previous sync
	// (read again at its own second: >=).
	if read != 12 || sum.Calls != 1 || sink.data["150"].AmountCents != 9900 || sink.data["1344"].CustomerRef == nil {
		t.Fatalf("second sync read %d records in %d calls; 150: %+v", read, sum.Calls, sink.data["150"])
	}
	// Nothing new: one call, the last purchase only.
	sum, _ = run(t, c, cfg, sink, connectors.RunnerConfig{})
	if sum.Records > 1 {
		t.Fatalf("an idle sync read %d records", sum.Records)
	}
}

func TestVendorFaultsAreRetriedWithBackoff(t *testing.T) {
	f := fake.New(clientID, clientSecret, realm)
	defer f.Close()
	cfg, _ := connect(t, f)
	f.AddPurchases(1200, 3)
	f.Inject(fake.TooMany, fake.None, fake.Unavailable, fake.Malformed)
	sink := newCollect()
	rc := connectors.RunnerConfig{Backoff: connectors.Backoff{Base: 20 * time.Millisecond, Max: 100 * time.Millisecond}}
	sum, err := run(t, newConnector(t, f), cfg, sink, rc)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Retries != 3 || len(sink.ids) != 1200 {
		t.Fatalf("%d retries, %d purchases", sum.Retries, len(sink.ids))
	}
	for id, n := range sink.ids {
		if n != 1 {
			t.Fatalf("purchase %s committed %d times", id, n)
		}
	}
	t.Run("a hang is a timeout, tried again", func(t *testing.T) {
		f.Inject(fake.Hang)
		sink := newCollect()
		rc := rc
		rc.CallTimeout = 200 * time.Millisecond
		sum, err := run(t, newConnector(t, f), cfg, sink, rc)
		if err != nil || sum.Retries != 1 || len(sink.ids) != 1200 {
			t.Fatalf("err %v, %d retries", err, sum.Retries)
		}
	})
	t.Run("throttled past Intuit's limit: 429 ThrottleExceeded, rate limited", func(t *testing.T) {
		f.Limit = 0
		defer func() { f.Limit = 500 }()
		err := newConnector(t, f).Check(context.Background(), cfg)
		e := connectors.AsError(err)
		if e.Kind != connectors.KindRateLimited || e.Status != 429 || !strings.Contains(e.Msg, "3001") {
			t.Fatalf("err %v", err)
		}
	})
}

func TestSyncResumesAfterACrashWithoutDuplicates(t *testing.T) {
	f := fake.New(clientID, clientSecret, realm)
	defer f.Close()
	cfg, _ := connect(t, f)
	f.AddPurchases(1700, 4)
	sink := newCollect()
	sink.failAt = 3 // dies while committing the third page
	if _, err := run(t, newConnector(t, f), cfg, sink, connectors.RunnerConfig{}); err == nil {
		t.Fatal("the crash did not end the sync")
	}
	if len(sink.ids) != 2*quickbooks.PageSize || quickbooks.PositionOf(sink.state) != 2*quickbooks.PageSize+1 {
		t.Fatalf("%d committed, position %d", len(sink.ids), quickbooks.PositionOf(sink.state))
	}
	// A new process resumes from the last committed state.
	if _, err := run(t, newConnector(t, f), cfg, sink, connectors.RunnerConfig{}); err != nil {
		t.Fatal(err)
	}
	if len(sink.ids) != 1700 {
		t.Fatalf("%d purchases after the resume", len(sink.ids))
	}
	for id, n := range sink.ids {
		if n != 1 {
			t.Fatalf("purchase %s committed %d times", id, n)
		}
	}
}

func TestPushInvoices(t *testing.T) {
	f := fake.New(clientID, clientSecret, realm)
	defer f.Close()
	cfg, _ := connect(t, f)
	c := newConnector(t, f)
	ctx := context.Background()
	inv := quickbooks.Invoice{CustomerName: "L'Atelier \\ Dupont", DocNumber: "F-2026-001", TxnDate: "2026-11-30",
		Lines: []quickbooks.InvoiceLine{{Description: "Main d'œuvre novembre", AmountCents: 1_234_56}}, RequestID: "conn-1/facture-1/v1"}
	p1, err := c.PushInvoice(ctx, cfg, inv)
	if err != nil {
		t.Fatal(err)
	}
	if p1.CustomerID == "" || p1.ID == "" || p1.SyncToken != "0" || f.Customers()[inv.CustomerName] != p1.CustomerID {
		t.Fatalf("pushed %+v, customers %v", p1, f.Customers())
	}
	if got := f.Invoices()[p1.ID]["Line"].([]any)[0].(map[string]any)["Amount"]; got != 1234.56 {
		t.Fatalf("amount %v", got)
	}
	t.Run("the same create again (answer lost) returns the same invoice", func(t *testing.T) {
		p, err := c.PushInvoice(ctx, cfg, inv)
		if err != nil || p.ID != p1.ID || f.Creates.Load() != 1 {
			t.Fatalf("%+v %v, %d creates", p, err, f.Creates.Load())
		}
	})
	t.Run("another invoice of the customer matches it by DisplayName", func(t *testing.T) {
		other := inv
		other.DocNumber, other.RequestID = "F-2026-002", "conn-1/facture-2/v1"
		p, err := c.PushInvoice(ctx, cfg, other)
		if err != nil || p.CustomerID != p1.CustomerID || len(f.Customers()) != 1 || p.ID == p1.ID {
			t.Fatalf("%+v %v; customers %v", p, err, f.Customers())
		}
	})
	t.Run("an update with the stored ids updates", func(t *testing.T) {
		upd := inv
		upd.ID, upd.SyncToken, upd.CustomerID = p1.ID, p1.SyncToken, p1.CustomerID
		upd.Lines = []quickbooks.InvoiceLine{{Description: "Main d'œuvre", AmountCents: 2_000_00}}
		p, err := c.PushInvoice(ctx, cfg, upd)
		if err != nil || p.ID != p1.ID || p.SyncToken != "1" {
			t.Fatalf("%+v %v", p, err)
		}
		// Edited at QuickBooks meanwhile: the stored SyncToken is stale.
		f.BumpInvoice(p1.ID)
		upd.SyncToken = p.SyncToken
		upd.Lines[0].AmountCents = 3_000_00
		p, err = c.PushInvoice(ctx, cfg, upd)
		if err != nil || p.SyncToken != "3" {
			t.Fatalf("%+v %v", p, err)
		}
		if got := f.Invoices()[p1.ID]["Line"].([]any)[0].(map[string]any)["Amount"]; got != 3000.0 || f.Creates.Load() != 2 {
			t.Fatalf("amount %v, %d creates", got, f.Creates.Load())
		}
	})
	t.Run("a refused invoice carries the fault code, not its text", func(t *testing.T) {
		bad := inv
		bad.CustomerID, bad.RequestID = "424242", ""
		_, err := c.PushInvoice(ctx, cfg, bad)
		e := connectors.AsError(err)
		if e.Kind != connectors.KindRejected || !strings.Contains(e.Msg, "code 2500") || strings.Contains(e.Msg, "CustomerRef") {
			t.Fatalf("err %v", err)
		}
	})
}

func TestSettingsAreValidated(t *testing.T) {
	ok := connectors.Config{Settings: map[string]string{"realm_id": realm, "environment": "sandbox"}}
	if err := quickbooks.Spec.Validate(ok); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []map[string]string{{"realm_id": "12a"}, {"environment": "staging"}, {"item_id": "x"}} {
		if err := quickbooks.Spec.Validate(connectors.Config{Settings: bad}); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	// The access token is a runtime secret, never a field a user sets.
	if err := quickbooks.Spec.Validate(connectors.Config{Secrets: map[string]string{"access_token": "x"}}); err == nil {
		t.Error("a user-given access token was accepted")
	}
}

// 10,000 purchases synced against the fake (the framework's Runner, a
// memory sink): the connector's and fake's share of the scale figure.
func TestSyncTenThousandPurchases(t *testing.T) {
	if testing.Short() {
		t.Skip("scale")
	}
	f := fake.New(clientID, clientSecret, realm)
	defer f.Close()
	cfg, _ := connect(t, f)
	f.AddPurchases(10_000, 50)
	sink := newCollect()
	start := time.Now()
	sum, err := run(t, newConnector(t, f), cfg, sink, connectors.RunnerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("10,000 purchases in %d calls, %v", sum.Calls, time.Since(start))
	if len(sink.ids) != 10_000 {
		t.Fatalf("%d", len(sink.ids))
	}
}

func FuzzCheckSettings(f *testing.F) {
	f.Add("9130357766900516", "production", "1")
	f.Add("1 OR 1=1", "prod\n", "'")
	f.Fuzz(func(t *testing.T, realmID, env, item string) {
		err := quickbooks.Spec.Validate(connectors.Config{Settings: map[string]string{"realm_id": realmID, "environment": env, "item_id": item}})
		if err == nil && strings.ContainsAny(realmID+item, "'\\ /?#") {
			t.Fatalf("accepted %q %q", realmID, item)
		}
	})
}
