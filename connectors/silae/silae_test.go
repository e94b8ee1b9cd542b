package silae_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/hubchantier/hubchantier/connectors"
	"github.com/hubchantier/hubchantier/connectors/silae"
	"github.com/hubchantier/hubchantier/connectors/silae/fake"
)

const (
	clientID     = "hub-client-0001"
	clientSecret = "s3cr3t-client-secret-XYZW"
	subKey       = "subscription-key-ABCD1234"
	dossier      = "ACME01"
)

func config() connectors.Config {
	return connectors.Config{
		Settings: map[string]string{"company_code": dossier, "client_id": clientID,
			"code_normal": "HN", "code_nuit": "HNUIT", "code_weekend": "HWE", "code_ferie": "HFER"},
		Secrets: map[string]string{"client_secret": clientSecret, "subscription_key": subKey},
	}
}

func newConnector(t testing.TB, f *fake.Server) *silae.Connector {
	t.Helper()
	reg := connectors.NewRegistry().AllowBaseURLOverride()
	if err := silae.Register(reg); err != nil {
		t.Fatal(err)
	}
	c, _, err := reg.New(silae.Type, connectors.Options{BaseURL: f.URL, HTTPClient: &http.Client{Timeout: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	sc := c.(*silae.Connector)
	sc.Retry = connectors.Backoff{Base: 10 * time.Millisecond, Max: 50 * time.Millisecond}
	return sc
}

func day(d int) time.Time { return time.Date(2026, time.November, d, 0, 0, 0, 0, time.UTC) }

// november is a month of pointages: employee 7 works normal, night and
// weekend hours; employee 12 normal and a public holiday.
func november() silae.Export {
	return silae.Export{Year: 2026, Month: time.November, Pointages: []silae.Pointage{
		{Matricule: "7", Date: day(2), Type: "normal", Minutes: 450},
		{Matricule: "7", Date: day(3), Type: "normal", Minutes: 480},
		{Matricule: "7", Date: day(3), Type: "nuit", Minutes: 125},
		{Matricule: "7", Date: day(7), Type: "weekend", Minutes: 240},
		{Matricule: "12", Date: day(4), Type: "normal", Minutes: 420},
		{Matricule: "12", Date: day(11), Type: "ferie", Minutes: 420},
	}}
}

func TestCheck(t *testing.T) {
	f := fake.New(clientID, clientSecret, subKey, dossier)
	defer f.Close()
	c := newConnector(t, f)
	ctx := context.Background()
	if err := c.Check(ctx, config()); err != nil {
		t.Fatalf("valid credentials: %v", err)
	}
	cases := map[string]func(*connectors.Config){
		"wrong client secret → auth":        func(c *connectors.Config) { c.Secrets["client_secret"] = "wrong-secret-000000" },
		"wrong subscription key → auth":     func(c *connectors.Config) { c.Secrets["subscription_key"] = "wrong-key-00000000" },
		"dossier without API access → auth": func(c *connectors.Config) { c.Settings["company_code"] = "OTHER" },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := config().Clone()
			mutate(&cfg)
			err := newConnector(t, f).Check(ctx, cfg)
			if e := connectors.AsError(err); err == nil || e.Kind != connectors.KindAuth {
				t.Fatalf("err %v, want kind auth", err)
			}
			for _, s := range cfg.Secrets {
				if strings.Contains(err.Error(), s) {
					t.Fatal("a secret is in the error")
				}
			}
		})
	}
}

func TestSettingsAreValidated(t *testing.T) {
	if err := silae.Spec.Validate(config()); err != nil {
		t.Fatalf("valid configuration: %v", err)
	}
	cases := map[string]struct {
		key, value, field string
	}{
		"code with a space":            {"code_nuit", "H NUIT", "settings.code_nuit"},
		"code too long":                {"code_normal", strings.Repeat("H", 21), "settings.code_normal"},
		"api_url on another host":      {"api_url", "https://evil.example/payroll", "settings.api_url"},
		"api_url in clear http":        {"api_url", "http://payroll-api.silae.fr/payroll", "settings.api_url"},
		"api_url with credentials":     {"api_url", "https://u:p@payroll-api.silae.fr/payroll", "settings.api_url"},
		"api_url suffix trick":         {"api_url", "https://payroll-api.silae.fr.evil.example/", "settings.api_url"},
		"company code with a new line": {"company_code", "ACME\n01", "settings.company_code"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := config().Clone()
			cfg.Settings[tc.key] = tc.value
			var ve *connectors.ValidationError
			err := silae.Spec.Validate(cfg)
			if !asValidation(err, &ve) || ve.Fields[tc.field] == "" {
				t.Fatalf("err %v, want an error on %s", err, tc.field)
			}
			if strings.Contains(err.Error(), tc.value) {
				t.Fatal("the value is quoted in the error")
			}
		})
	}
	t.Run("a missing code is required", func(t *testing.T) {
		cfg := config().Clone()
		delete(cfg.Settings, "code_ferie")
		if err := silae.Spec.Validate(cfg); err == nil {
			t.Fatal("accepted")
		}
	})
	t.Run("the test environment's URL is accepted", func(t *testing.T) {
		cfg := config().Clone()
		cfg.Settings["api_url"] = "https://payroll-api-test.silae.fr/payroll"
		if err := silae.Spec.Validate(cfg); err != nil {
			t.Fatal(err)
		}
	})
}

func asValidation(err error, ve **connectors.ValidationError) bool {
	v, ok := err.(*connectors.ValidationError)
	*ve = v
	return ok
}

func compileSchema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open("testdata/import.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("import.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("import.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func validate(t testing.TB, s *jsonschema.Schema, body []byte) {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(v); err != nil {
		t.Fatalf("payload does not match the schema: %v\n%s", err, body)
	}
}

func TestPayloadMatchesTheSchemaAndMapsTypesToCodes(t *testing.T) {
	schema := compileSchema(t)
	pl, err := silae.BuildPayload(config(), november())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(pl)
	validate(t, schema, b)
	want := `{"numeroDossier":"ACME01","periode":"2026-11-01","modeImport":"remplacement","salaries":[` +
		`{"matriculeSalarie":"12","variables":[{"codeRubrique":"HFER","valeur":7.00},{"codeRubrique":"HN","valeur":7.00}]},` +
		`{"matriculeSalarie":"7","variables":[{"codeRubrique":"HN","valeur":15.50},{"codeRubrique":"HNUIT","valeur":2.08},{"codeRubrique":"HWE","valeur":4.00}]}]}`
	if string(b) != want {
		t.Fatalf("payload\n%s\nwant\n%s", b, want)
	}
	// The schema is strict: it would catch a payload drifting from it.
	for name, bad := range map[string]string{
		"unknown field":    strings.Replace(want, `"modeImport"`, `"extra":1,"modeImport"`, 1),
		"period mid-month": strings.Replace(want, "2026-11-01", "2026-11-15", 1),
		"negative hours":   strings.Replace(want, "7.00", "-7.00", 1),
		"three decimals":   strings.Replace(want, "2.08", "2.083", 1),
	} {
		v, _ := jsonschema.UnmarshalJSON(strings.NewReader(bad))
		if schema.Validate(v) == nil {
			t.Errorf("%s: the schema accepted it", name)
		}
	}
	t.Run("types sharing a code add up", func(t *testing.T) {
		cfg := config().Clone()
		cfg.Settings["code_weekend"] = "HN"
		pl, _ := silae.BuildPayload(cfg, november())
		if v := pl.Salaries[1].Variables[0]; v.CodeRubrique != "HN" || v.Valeur != "19.50" {
			t.Fatalf("%+v", v)
		}
	})
	t.Run("a pointage outside the month, of an unknown type or without matricule is refused", func(t *testing.T) {
		for _, p := range []silae.Pointage{
			{Matricule: "7", Date: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), Type: "normal", Minutes: 60},
			{Matricule: "7", Date: day(2), Type: "astreinte", Minutes: 60},
			{Matricule: "", Date: day(2), Type: "normal", Minutes: 60},
			{Matricule: "7", Date: day(2), Type: "normal", Minutes: -5},
		} {
			x := november()
			x.Pointages = append(x.Pointages, p)
			if _, err := silae.BuildPayload(config(), x); connectors.AsError(err).Kind != connectors.KindRejected {
				t.Errorf("%+v: err %v", p, err)
			}
		}
	})
}

func TestExportTwiceReplacesTheMonth(t *testing.T) {
	f := fake.New(clientID, clientSecret, subKey, dossier)
	defer f.Close()
	c := newConnector(t, f)
	ctx := context.Background()
	schema := compileSchema(t)
	r, err := c.ExportMonth(ctx, config(), november())
	if err != nil {
		t.Fatal(err)
	}
	if r.NombreSalaries != 2 || r.NombreVariables != 5 {
		t.Fatalf("receipt %+v", r)
	}
	first := f.Total(dossier, "2026-11-01")
	if first != 700+700+1550+208+400 {
		t.Fatalf("total %d hundredths of hours", first)
	}
	// The same month again: replaced, not added.
	if _, err := c.ExportMonth(ctx, config(), november()); err != nil {
		t.Fatal(err)
	}
	if got := f.Total(dossier, "2026-11-01"); got != first {
		t.Fatalf("after a second export: %d, want %d (doubled?)", got, first)
	}
	// A corrected month: employee 12's pointages were withdrawn.
	x := november()
	x.Pointages = x.Pointages[:4]
	if _, err := c.ExportMonth(ctx, config(), x); err != nil {
		t.Fatal(err)
	}
	h := f.Hours(dossier, "2026-11-01")
	if _, still := h["12"]; still || h["7"]["HN"] != 15.5 || h["7"]["HNUIT"] != 2.08 {
		t.Fatalf("after the corrected export: %v", h)
	}
	// Another month is kept apart.
	if f.Total(dossier, "2026-10-01") != 0 {
		t.Fatal("another month was touched")
	}
	for _, b := range f.Bodies() {
		validate(t, schema, b)
	}
	if f.TokenRequests.Load() != 1 {
		t.Fatalf("%d token requests, want 1 (cached)", f.TokenRequests.Load())
	}
}

func TestExportRetriesVendorFaultsWithBackoff(t *testing.T) {
	f := fake.New(clientID, clientSecret, subKey, dossier)
	defer f.Close()
	c := newConnector(t, f)
	f.Inject(fake.Unavailable, fake.Malformed, fake.TooMany)
	start := time.Now()
	if _, err := c.ExportMonth(context.Background(), config(), november()); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < time.Second {
		t.Fatalf("Retry-After 1 s not honoured (%v)", el)
	}
	if n := len(f.Bodies()); n != 4 || f.Imports.Load() != 1 {
		t.Fatalf("%d requests, %d imports", n, f.Imports.Load())
	}
	if f.Total(dossier, "2026-11-01") != 3558 {
		t.Fatalf("total %d", f.Total(dossier, "2026-11-01"))
	}

	t.Run("a Retry-After longer than the inline wait ends the export, to be rescheduled", func(t *testing.T) {
		c := newConnector(t, f)
		c.MaxInlineWait = 100 * time.Millisecond
		f.Inject(fake.TooMany)
		_, err := c.ExportMonth(context.Background(), config(), november())
		e := connectors.AsError(err)
		if e.Kind != connectors.KindRateLimited || e.RetryAfter < time.Second {
			t.Fatalf("err %v (retry after %v)", err, e.RetryAfter)
		}
	})
	t.Run("faults on every try fail with the last one", func(t *testing.T) {
		c := newConnector(t, f)
		c.Attempts = 3
		f.Inject(fake.Unavailable, fake.Unavailable, fake.Unavailable)
		_, err := c.ExportMonth(context.Background(), config(), november())
		if e := connectors.AsError(err); e.Kind != connectors.KindUnavailable || e.Status != 503 {
			t.Fatalf("err %v", err)
		}
	})
}

func TestExportAfterACrashMidRequestStoresTheMonthOnce(t *testing.T) {
	f := fake.New(clientID, clientSecret, subKey, dossier)
	defer f.Close()
	c := newConnector(t, f)
	c.Attempts = 1
	// The first export never gets its answer (the process dies, or the
	// call times out): nothing tells whether Silae stored it.
	f.Inject(fake.Hang)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	_, err := c.ExportMonth(ctx, config(), november())
	cancel()
	if e := connectors.AsError(err); e.Kind != connectors.KindTimeout {
		t.Fatalf("err %v", err)
	}
	// Run again from scratch (a new connector, as after a restart), twice.
	for range 2 {
		if _, err := newConnector(t, f).ExportMonth(context.Background(), config(), november()); err != nil {
			t.Fatal(err)
		}
	}
	if got := f.Total(dossier, "2026-11-01"); got != 3558 {
		t.Fatalf("total %d, want 3558", got)
	}
}

func TestHandleEventExportsTheMonthOfAnExportEvent(t *testing.T) {
	f := fake.New(clientID, clientSecret, subKey, dossier)
	defer f.Close()
	c := newConnector(t, f)
	data, _ := json.Marshal(november())
	r := connectors.NewRunner(connectors.RunnerConfig{})
	if err := r.HandleEvent(context.Background(), c, config(), connectors.Event{ID: "1", Type: silae.EventExport, Data: data}); err != nil {
		t.Fatal(err)
	}
	if err := r.HandleEvent(context.Background(), c, config(), connectors.Event{ID: "2", Type: "pointage.created", Data: data}); err != nil {
		t.Fatal(err)
	}
	if f.Imports.Load() != 1 || f.Total(dossier, "2026-11-01") != 3558 {
		t.Fatalf("%d imports, total %d", f.Imports.Load(), f.Total(dossier, "2026-11-01"))
	}
}

// A month of 10,000 pointages (500 employees) exports in one import.
func TestExportTenThousandPointages(t *testing.T) {
	f := fake.New(clientID, clientSecret, subKey, dossier)
	defer f.Close()
	c := newConnector(t, f)
	x := silae.Export{Year: 2026, Month: time.November}
	types := silae.PointageTypes
	for i := range 10_000 {
		x.Pointages = append(x.Pointages, silae.Pointage{Matricule: "M" + strconv.Itoa(i%500), Date: day(1 + i%30), Type: types[i%4], Minutes: 60})
	}
	start := time.Now()
	r, err := c.ExportMonth(context.Background(), config(), x)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("10,000 pointages exported in %v", time.Since(start))
	if r.NombreSalaries != 500 || f.Total(dossier, "2026-11-01") != 10_000*100 {
		t.Fatalf("receipt %+v, total %d", r, f.Total(dossier, "2026-11-01"))
	}
	validate(t, compileSchema(t), f.Bodies()[0])
}

func FuzzCheckSettings(f *testing.F) {
	f.Add("https://payroll-api.silae.fr/payroll", "HN", "ACME01")
	f.Add("https://a.silae.fr.evil/", "H NUIT", "\n")
	f.Add("https://[::1]:443/", "", "")
	f.Fuzz(func(t *testing.T, apiURL, code, company string) {
		cfg := config().Clone()
		cfg.Settings["api_url"], cfg.Settings["code_nuit"], cfg.Settings["company_code"] = apiURL, code, company
		err := silae.Spec.Validate(cfg)
		if err == nil {
			if !strings.HasPrefix(apiURL, "https://") && apiURL != "" {
				t.Fatalf("accepted api_url %q", apiURL)
			}
			return
		}
		if _, ok := err.(*connectors.ValidationError); !ok {
			t.Fatalf("not a validation error: %v", err)
		}
	})
}
