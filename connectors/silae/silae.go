// Package silae is the connector to Silae Paie (payroll): it exports the
// validated pointages of a month as worked hours per employee, each
// pointage type (normal, nuit, weekend, ferie) mapped to a Silae payroll
// code (rubrique) by a table in the connector's settings.
//
// It follows Silae's documented REST surface (API REST Silae Paie):
//
//	POST https://payroll-api-auth.silae.fr/oauth2/v2.0/token   OAuth2 client credentials (form), scope Scope
//	POST https://payroll-api.silae.fr/payroll/v1/<Groupe>/<Fonction>
//	     Authorization: Bearer <access_token>
//	     Ocp-Apim-Subscription-Key: <clé de configuration d'accès API>
//	     JSON bodies in camelCase French (numeroDossier, matriculeSalarie), dates AAAA-MM-JJ
//
// The import of the month's hours is one request in replace mode: the
// month of the company (numeroDossier) is replaced as a whole, so an export
// run twice, retried or re-run after a crash never doubles the hours. The
// function's name (ImportPath) is not in Silae's public pages; see
// docs/INTEGRATIONS.md for what was followed and why.
//
// Package fake is an httptest fake of that surface.
package silae

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/hubchantier/hubchantier/connectors"
)

// Type is the connector's type.
const Type = "silae"

// Silae's endpoints.
const (
	// APIURL is the base of every API call (production).
	APIURL = "https://payroll-api.silae.fr/payroll"
	// TokenURL is the authentication service (OAuth2 client credentials).
	TokenURL = "https://payroll-api-auth.silae.fr/oauth2/v2.0/token" // #nosec G101 -- an endpoint URL, not a credential
	// Scope is the scope of the access token, as Silae documents it.
	Scope = "https://silaecloudb2c.onmicrosoft.com/36658aca-9556-41b7-9e48-77e90b006f34/.default"
	// CheckPath lists the employees of the company: the check reads it.
	CheckPath = "/v1/SalarieEmplois/ListeSalarieEmplois"
	// ImportPath imports the variable pay elements of a period.
	ImportPath = "/v1/VariablesPaie/ImportVariablesPaie"
	// SubscriptionHeader carries the access-configuration key (Azure API
	// Management's subscription key).
	SubscriptionHeader = "Ocp-Apim-Subscription-Key"
)

// ModeReplace is the import mode: the period of the company is replaced.
const ModeReplace = "remplacement"

// PointageTypes are the pointage types the mapping table covers, each with
// its setting ("code_<type>").
var PointageTypes = []string{"normal", "nuit", "weekend", "ferie"}

// codePattern is a Silae payroll code (rubrique): letters, digits, '_'
// and '-', 1 to 20 characters.
var codePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,20}$`)

// Spec is the Silae connector's spec.
var Spec = connectors.Spec{
	Type: Type,
	Settings: []connectors.Field{
		{Name: "api_url", MaxLen: 200},
		{Name: "company_code", Required: true, MaxLen: 50},
		{Name: "client_id", Required: true, MaxLen: 200},
		{Name: "code_normal", Required: true, MaxLen: 20},
		{Name: "code_nuit", Required: true, MaxLen: 20},
		{Name: "code_weekend", Required: true, MaxLen: 20},
		{Name: "code_ferie", Required: true, MaxLen: 20},
	},
	Secrets: []connectors.Field{
		{Name: "client_secret", Required: true, MaxLen: 500},
		{Name: "subscription_key", Required: true, MaxLen: 200},
	},
	// Silae publishes no figure; Azure API Management answers 429 with
	// Retry-After past the subscription's quota. A modest budget keeps a
	// monthly export (one import request per company) far below any.
	RateLimit:     connectors.Rate{Limit: 5, Period: time.Second},
	CheckSettings: checkSettings,
}

// checkSettings validates the mapping table and the API URL.
func checkSettings(c connectors.Config) map[string]string {
	bad := map[string]string{}
	for _, t := range PointageTypes {
		if v := c.Setting("code_" + t); !codePattern.MatchString(v) {
			bad["settings.code_"+t] = "a Silae payroll code: 1 to 20 letters, digits, '_' or '-'"
		}
	}
	if v := c.Setting("api_url"); v != "" {
		if _, err := apiURL(v); err != nil {
			bad["settings.api_url"] = err.Error()
		}
	}
	if v := c.Setting("company_code"); strings.TrimSpace(v) != v || strings.ContainsAny(v, "\r\n\t") {
		bad["settings.company_code"] = "no surrounding spaces or control characters"
	}
	return bad
}

// apiURL checks a configured API URL: https on a host of silae.fr, so a
// configuration can choose Silae's environment (production, test) but
// never send the credentials elsewhere.
func apiURL(v string) (*url.URL, error) {
	u, err := url.Parse(v)
	if err != nil || u.Scheme != "https" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("an https URL without credentials, query or fragment")
	}
	h := strings.ToLower(u.Hostname())
	if h != "silae.fr" && !strings.HasSuffix(h, ".silae.fr") {
		return nil, errors.New("must be a host of silae.fr")
	}
	return u, nil
}

// Register adds the Silae connector to reg.
func Register(reg *connectors.Registry) error { return reg.Register(Spec, New) }

// New builds the connector. Options.BaseURL (tests, fakes) replaces both
// Silae hosts: the API is served under <base>/payroll and the token at
// <base>/oauth2/v2.0/token.
func New(opts connectors.Options) (connectors.Connector, error) {
	c := &Connector{client: opts.HTTPClient, Retry: connectors.DefaultBackoff, Attempts: connectors.DefaultCallAttempts,
		MaxInlineWait: connectors.DefaultMaxInlineWait, tokens: map[[32]byte]*oauth2.Token{}}
	if c.client == nil {
		c.client = &http.Client{Timeout: connectors.DefaultCallTimeout}
	}
	if opts.BaseURL != "" {
		u, err := url.Parse(opts.BaseURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, errors.New("silae: invalid base URL")
		}
		c.override = strings.TrimRight(u.String(), "/")
	}
	return c, nil
}

// Connector is the Silae connector.
type Connector struct {
	client   *http.Client
	override string
	// Retry, Attempts and MaxInlineWait bound the tries of the import (a
	// replace: safe to repeat): 429 (after its Retry-After), 5xx, timeouts
	// and malformed answers are tried again; a wait longer than
	// MaxInlineWait ends the export with the error (its RetryAfter set),
	// for the caller to reschedule.
	Retry         connectors.Backoff
	Attempts      int
	MaxInlineWait time.Duration

	mu     sync.Mutex
	tokens map[[32]byte]*oauth2.Token
}

// Type implements connectors.Connector.
func (c *Connector) Type() string { return Type }

func (c *Connector) endpoints(cfg connectors.Config) (api, token string) {
	if c.override != "" {
		return c.override + "/payroll", c.override + "/oauth2/v2.0/token"
	}
	if v := cfg.Setting("api_url"); v != "" {
		if u, err := apiURL(v); err == nil {
			return strings.TrimRight(u.String(), "/"), TokenURL
		}
	}
	return APIURL, TokenURL
}

// token returns an access token of cfg's client, cached until a minute
// before its expiry (Silae's tokens last 60 minutes).
func (c *Connector) token(ctx context.Context, cfg connectors.Config) (string, error) {
	_, tokenURL := c.endpoints(cfg)
	key := sha256.Sum256([]byte(tokenURL + "\x00" + cfg.Setting("client_id") + "\x00" + cfg.Secret("client_secret")))
	c.mu.Lock()
	tok := c.tokens[key]
	c.mu.Unlock()
	if tok != nil && tok.AccessToken != "" && time.Until(tok.Expiry) > time.Minute {
		return tok.AccessToken, nil
	}
	cc := clientcredentials.Config{ClientID: cfg.Setting("client_id"), ClientSecret: cfg.Secret("client_secret"), TokenURL: tokenURL,
		Scopes: []string{Scope}, AuthStyle: oauth2.AuthStyleInParams}
	tok, err := cc.Token(context.WithValue(ctx, oauth2.HTTPClient, c.client))
	if err != nil {
		var re *oauth2.RetrieveError
		switch {
		case errors.As(err, &re) && re.Response != nil && re.Response.StatusCode == http.StatusTooManyRequests:
			return "", &connectors.Error{Kind: connectors.KindRateLimited, Status: 429, Msg: "the authentication service's rate limit was reached",
				RetryAfter: connectors.ParseRetryAfter(re.Response.Header.Get("Retry-After"), time.Now())}
		case errors.As(err, &re) && re.Response != nil && re.Response.StatusCode < 500:
			return "", &connectors.Error{Kind: connectors.KindAuth, Status: re.Response.StatusCode, Msg: "Silae refused the client credentials (" + re.ErrorCode + ")"}
		case ctx.Err() != nil:
			return "", &connectors.Error{Kind: connectors.KindTimeout, Msg: "the authentication service did not answer in time"}
		}
		return "", &connectors.Error{Kind: connectors.KindUnavailable, Msg: "the authentication service failed"}
	}
	c.mu.Lock()
	c.tokens[key] = tok
	c.mu.Unlock()
	return tok.AccessToken, nil
}

func (c *Connector) post(ctx context.Context, cfg connectors.Config, path string, body, out any) error {
	tok, err := c.token(ctx, cfg)
	if err != nil {
		return err
	}
	b, err := json.Marshal(body)
	if err != nil {
		return &connectors.Error{Kind: connectors.KindRejected, Msg: "unencodable request"}
	}
	api, _ := c.endpoints(cfg)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, api+path, bytes.NewReader(b))
	if err != nil {
		return &connectors.Error{Kind: connectors.KindRejected, Msg: "building the request"}
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set(SubscriptionHeader, cfg.Secret("subscription_key"))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	return connectors.DoJSON(ctx, c.client, req, out)
}

// Check implements connectors.Connector: the credentials open a token and
// the access configuration reaches the company's employees.
func (c *Connector) Check(ctx context.Context, cfg connectors.Config) error {
	var out struct {
		SalarieEmplois []json.RawMessage `json:"salarieEmplois"`
	}
	return c.post(ctx, cfg, CheckPath, map[string]string{"numeroDossier": cfg.Setting("company_code")}, &out)
}

// Sync implements connectors.Connector: Silae is an export target; there
// is nothing to read.
func (c *Connector) Sync(_ context.Context, _ connectors.Config, st connectors.State) (connectors.Result, connectors.State, error) {
	return connectors.Result{}, st, nil
}

// EventExport is the event type HandleEvent exports (Data: an Export).
const EventExport = "silae.export_month"

// HandleEvent implements connectors.Connector: an EventExport event
// exports its month; other events are ignored.
func (c *Connector) HandleEvent(ctx context.Context, cfg connectors.Config, ev connectors.Event) error {
	if ev.Type != EventExport {
		return nil
	}
	var x Export
	if err := json.Unmarshal(ev.Data, &x); err != nil {
		return &connectors.Error{Kind: connectors.KindRejected, Msg: "the export event does not decode"}
	}
	_, err := c.ExportMonth(ctx, cfg, x)
	return err
}

// Pointage is one validated time entry to export.
type Pointage struct {
	// Matricule is the employee's number in Silae (matriculeSalarie).
	Matricule string    `json:"matricule"`
	Date      time.Time `json:"date"`
	// Type is one of PointageTypes.
	Type    string `json:"type"`
	Minutes int    `json:"minutes"`
}

// Export is a month to export: its pointages, all dated in the month.
type Export struct {
	Year      int        `json:"year"`
	Month     time.Month `json:"month"`
	Pointages []Pointage `json:"pointages"`
}

// Payload is the body of the import (ImportPath).
type Payload struct {
	NumeroDossier string    `json:"numeroDossier"`
	Periode       string    `json:"periode"` // first day of the month, AAAA-MM-JJ
	ModeImport    string    `json:"modeImport"`
	Salaries      []Salarie `json:"salaries"`
}

// Salarie is one employee's variables of the period.
type Salarie struct {
	MatriculeSalarie string     `json:"matriculeSalarie"`
	Variables        []Variable `json:"variables"`
}

// Variable is the hours of one payroll code, in hours with two decimals.
type Variable struct {
	CodeRubrique string      `json:"codeRubrique"`
	Valeur       json.Number `json:"valeur"`
}

// Receipt is Silae's answer to an import.
type Receipt struct {
	NumeroDossier   string `json:"numeroDossier"`
	Periode         string `json:"periode"`
	NombreSalaries  int    `json:"nombreSalaries"`
	NombreVariables int    `json:"nombreVariables"`
}

// maxMatricule bounds an employee number.
const maxMatricule = 30

// BuildPayload turns the month's pointages into the import: minutes summed
// per employee and payroll code (types sharing a code add up), as hours
// rounded to two decimals, employees and codes in a stable order.
func BuildPayload(cfg connectors.Config, x Export) (Payload, error) {
	if x.Year < 2000 || x.Year > 9999 || x.Month < time.January || x.Month > time.December {
		return Payload{}, &connectors.Error{Kind: connectors.KindRejected, Msg: "invalid period"}
	}
	codes := map[string]string{}
	for _, t := range PointageTypes {
		v := cfg.Setting("code_" + t)
		if !codePattern.MatchString(v) {
			return Payload{}, &connectors.Error{Kind: connectors.KindRejected, Msg: "the mapping table has no valid code for type " + t}
		}
		codes[t] = v
	}
	minutes := map[string]map[string]int64{}
	for i, p := range x.Pointages {
		code, ok := codes[p.Type]
		switch {
		case !ok:
			return Payload{}, &connectors.Error{Kind: connectors.KindRejected, Msg: fmt.Sprintf("pointage %d: unknown type", i)}
		case p.Date.Year() != x.Year || p.Date.Month() != x.Month:
			return Payload{}, &connectors.Error{Kind: connectors.KindRejected, Msg: fmt.Sprintf("pointage %d: outside the period", i)}
		case p.Minutes < 0 || p.Minutes > 24*60:
			return Payload{}, &connectors.Error{Kind: connectors.KindRejected, Msg: fmt.Sprintf("pointage %d: minutes out of range", i)}
		case p.Matricule == "" || len(p.Matricule) > maxMatricule || strings.ContainsAny(p.Matricule, "\x00\r\n"):
			return Payload{}, &connectors.Error{Kind: connectors.KindRejected, Msg: fmt.Sprintf("pointage %d: invalid matricule", i)}
		}
		m := minutes[p.Matricule]
		if m == nil {
			m = map[string]int64{}
			minutes[p.Matricule] = m
		}
		m[code] += int64(p.Minutes)
	}
	pl := Payload{NumeroDossier: cfg.Setting("company_code"), ModeImport: ModeReplace,
		Periode: time.Date(x.Year, x.Month, 1, 0, 0, 0, 0, time.UTC).Format(time.DateOnly), Salaries: []Salarie{}}
	mats := make([]string, 0, len(minutes))
	for m := range minutes {
		mats = append(mats, m)
	}
	sort.Strings(mats)
	for _, m := range mats {
		s := Salarie{MatriculeSalarie: m}
		cs := make([]string, 0, len(minutes[m]))
		for c := range minutes[m] {
			cs = append(cs, c)
		}
		sort.Strings(cs)
		for _, c := range cs {
			s.Variables = append(s.Variables, Variable{CodeRubrique: c, Valeur: Hours(minutes[m][c])})
		}
		pl.Salaries = append(pl.Salaries, s)
	}
	return pl, nil
}

// Hours writes minutes as hours with two decimals (rounded half up).
func Hours(minutes int64) json.Number {
	centi := int64(math.Round(float64(minutes) * 100 / 60))
	return json.Number(fmt.Sprintf("%d.%02d", centi/100, centi%100))
}

// ExportMonth replaces the month's hours of the company at Silae with
// those of x. It tries again 429 (after its Retry-After), 5xx, timeouts
// and malformed answers, with backoff: the import replaces, so a repeated
// request never doubles the hours.
func (c *Connector) ExportMonth(ctx context.Context, cfg connectors.Config, x Export) (Receipt, error) {
	pl, err := BuildPayload(cfg, x)
	if err != nil {
		return Receipt{}, err
	}
	attempts := max(c.Attempts, 1)
	for attempt := 1; ; attempt++ {
		var r Receipt
		err := c.post(ctx, cfg, ImportPath, pl, &r)
		if err == nil {
			if r.Periode != pl.Periode || r.NumeroDossier != pl.NumeroDossier {
				err = &connectors.Error{Kind: connectors.KindMalformed, Msg: "the receipt is not the period's"}
			} else {
				return r, nil
			}
		}
		e := connectors.AsError(err)
		if ctx.Err() != nil || !e.Temporary() || attempt >= attempts {
			return Receipt{}, e
		}
		wait := max(c.Retry.Delay(attempt), e.RetryAfter)
		if wait > c.MaxInlineWait {
			if e.RetryAfter < wait {
				e = &connectors.Error{Kind: e.Kind, Status: e.Status, Msg: e.Msg, RetryAfter: wait}
			}
			return Receipt{}, e
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return Receipt{}, &connectors.Error{Kind: connectors.KindTimeout, Msg: "cancelled while waiting to try again"}
		case <-t.C:
		}
	}
}
