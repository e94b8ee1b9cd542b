// Package quickbooks is the connector to QuickBooks Online (Intuit's
// Accounting API): Hub factures become QuickBooks Invoices (their customer
// matched by stored id or DisplayName, or created), and QuickBooks
// Purchases (expenses) are read incrementally as records the product maps
// onto dépenses, linked to a chantier by their class or customer reference.
//
// Protocol, as Intuit documents it:
//
//	OAuth 2.0 authorization code: https://appcenter.intuit.com/connect/oauth2 (the redirect
//	carries code, state and realmId), tokens at https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer;
//	access tokens last an hour, refresh tokens rotate (always keep the last one returned).
//	https://quickbooks.api.intuit.com/v3/company/{realmId}/{entity}?minorversion=MinorVersion
//	GET  /query?query=SELECT * FROM Purchase WHERE ... ORDERBY ... STARTPOSITION n MAXRESULTS m
//	POST /customer, POST /invoice (create; with Id and SyncToken: update), GET /invoice/{id}
//	errors: {"Fault": {"Error": [{"Message", "Detail", "code"}], "type"}}; 429 when throttled.
//
// The access token is handed to the connector by the product, freshly
// refreshed, as the runtime secret "access_token" (it is not a field a
// user may set); the realm is the setting "realm_id", captured by the OAuth
// callback.
package quickbooks

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/hubchantier/hubchantier/connectors"
)

// Type is the connector's type.
const Type = "quickbooks"

// Intuit's endpoints.
const (
	BaseURL        = "https://quickbooks.api.intuit.com"
	SandboxBaseURL = "https://sandbox-quickbooks.api.intuit.com"
	AuthURL        = "https://appcenter.intuit.com/connect/oauth2"
	TokenURL       = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer" // #nosec G101 -- an endpoint URL, not a credential
	// Scope is the Accounting API's.
	Scope = "com.intuit.quickbooks.accounting"
	// MinorVersion is pinned: every request names it, so a change of
	// Intuit's default never changes what we read.
	MinorVersion = "75"
	// PageSize is how many purchases one Sync call reads (Intuit's
	// MAXRESULTS is at most 1000).
	PageSize = 500
	// AccessTokenSecret is the runtime secret that carries the access
	// token.
	AccessTokenSecret = connectors.AccessTokenSecret
)

// Streams of records.
const StreamPurchases = "purchases"

var realmPattern = regexp.MustCompile(`^[0-9]{1,32}$`)

// Spec is the QuickBooks connector's spec.
var Spec = connectors.Spec{
	Type: Type,
	Settings: []connectors.Field{
		{Name: "realm_id", MaxLen: 32},
		{Name: "environment", MaxLen: 20},
		{Name: "item_id", MaxLen: 32},
	},
	// Intuit: 500 requests per minute per realm (and 10 at once).
	RateLimit: connectors.Rate{Limit: 500, Period: time.Minute},
	OAuth: &connectors.OAuthSpec{AuthURL: AuthURL, TokenURL: TokenURL, Scopes: []string{Scope},
		CallbackSettings: map[string]string{"realmId": "realm_id"}},
	CheckSettings: checkSettings,
}

func checkSettings(c connectors.Config) map[string]string {
	bad := map[string]string{}
	if v := c.Setting("realm_id"); v != "" && !realmPattern.MatchString(v) {
		bad["settings.realm_id"] = "digits (the realmId the authorization returned)"
	}
	switch c.Setting("environment") {
	case "", "production", "sandbox":
	default:
		bad["settings.environment"] = "production or sandbox"
	}
	if v := c.Setting("item_id"); v != "" && !realmPattern.MatchString(v) {
		bad["settings.item_id"] = "digits (the id of a QuickBooks item)"
	}
	return bad
}

// Register adds the QuickBooks connector to reg.
func Register(reg *connectors.Registry) error { return reg.Register(Spec, New) }

// New builds the connector.
func New(opts connectors.Options) (connectors.Connector, error) {
	c := &Connector{client: opts.HTTPClient}
	if c.client == nil {
		c.client = &http.Client{Timeout: connectors.DefaultCallTimeout}
	}
	if opts.BaseURL != "" {
		u, err := url.Parse(opts.BaseURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, errors.New("quickbooks: invalid base URL")
		}
		c.override = strings.TrimRight(u.String(), "/")
	}
	return c, nil
}

// Connector is the QuickBooks Online connector.
type Connector struct {
	client   *http.Client
	override string
}

// Type implements connectors.Connector.
func (c *Connector) Type() string { return Type }

func (c *Connector) base(cfg connectors.Config) string {
	switch {
	case c.override != "":
		return c.override
	case cfg.Setting("environment") == "sandbox":
		return SandboxBaseURL
	}
	return BaseURL
}

// Fault is Intuit's error body.
type Fault struct {
	Error []FaultError `json:"Error"`
	Type  string       `json:"type"`
}

// FaultError is one error of a Fault.
type FaultError struct {
	Message string `json:"Message"`
	Detail  string `json:"Detail"`
	Code    string `json:"code"`
	Element string `json:"element,omitempty"`
}

// Fault codes the connector acts on.
const (
	CodeStaleObject   = "5010"
	CodeDuplicateName = "6240"
)

// VendorError is a refused request with Intuit's fault code.
type VendorError struct {
	Err  *connectors.Error
	Code string
}

func (e *VendorError) Error() string { return e.Err.Error() }

// Unwrap lets connectors.AsError classify it.
func (e *VendorError) Unwrap() error { return e.Err }

// maxBody bounds an answer.
const maxBody = 16 << 20

// do sends one request to the realm's API and decodes the answer, or
// classifies its failure: 429 (Retry-After when sent), 5xx, 401/403,
// other 4xx with the Fault's code, timeouts, bodies that do not decode.
// Errors hold neither the URL nor the body.
func (c *Connector) do(ctx context.Context, cfg connectors.Config, method, path string, q url.Values, body, out any) error {
	realm := cfg.Setting("realm_id")
	if !realmPattern.MatchString(realm) {
		return &connectors.Error{Kind: connectors.KindAuth, Msg: "the connector has no realm: authorize it (GET /integrations/quickbooks/authorize)"}
	}
	tok := cfg.Secret(AccessTokenSecret)
	if tok == "" {
		return &connectors.Error{Kind: connectors.KindAuth, Msg: "no access token: authorize the connector"}
	}
	if q == nil {
		q = url.Values{}
	}
	q.Set("minorversion", MinorVersion)
	u := c.base(cfg) + "/v3/company/" + realm + path + "?" + q.Encode()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return &connectors.Error{Kind: connectors.KindRejected, Msg: "unencodable request"}
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return &connectors.Error{Kind: connectors.KindRejected, Msg: "building the request"}
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.client.Do(req) // #nosec G704 -- the base URL is Intuit's (Options.BaseURL only on a registry allowing overrides)
	if err != nil {
		var ne net.Error
		if ctx.Err() != nil || errors.As(err, &ne) && ne.Timeout() {
			return &connectors.Error{Kind: connectors.KindTimeout, Msg: "QuickBooks did not answer in time"}
		}
		return &connectors.Error{Kind: connectors.KindUnavailable, Msg: "connection to QuickBooks failed"}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return &connectors.Error{Kind: connectors.KindTimeout, Status: resp.StatusCode, Msg: "QuickBooks's answer did not arrive whole"}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return faultError(resp, raw)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return &connectors.Error{Kind: connectors.KindMalformed, Status: resp.StatusCode, Msg: "QuickBooks's answer is not the JSON expected"}
	}
	return nil
}

// faultError classifies a refused request, keeping the Fault's code and
// type (never its message, which may quote data).
func faultError(resp *http.Response, raw []byte) error {
	var f struct {
		Fault *Fault `json:"Fault"`
		Lower *Fault `json:"fault"` // authentication faults come in lower case
	}
	_ = json.Unmarshal(raw, &f)
	fault := f.Fault
	if fault == nil {
		fault = f.Lower
	}
	code, ftype := "", ""
	if fault != nil {
		ftype = fault.Type
		if len(fault.Error) > 0 {
			code = fault.Error[0].Code
		}
	}
	desc := "QuickBooks refused the request"
	if code != "" || ftype != "" {
		desc += fmt.Sprintf(" (fault %s, code %s)", sanitize(ftype), sanitize(code))
	}
	st := resp.StatusCode
	retry := connectors.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	var e *connectors.Error
	switch {
	case st == http.StatusTooManyRequests:
		e = &connectors.Error{Kind: connectors.KindRateLimited, Status: st, RetryAfter: retry, Msg: "QuickBooks throttled the requests" + strings.TrimPrefix(desc, "QuickBooks refused the request")}
	case st >= 500:
		e = &connectors.Error{Kind: connectors.KindUnavailable, Status: st, RetryAfter: retry, Msg: "QuickBooks failed to answer"}
	case st == http.StatusUnauthorized || st == http.StatusForbidden:
		e = &connectors.Error{Kind: connectors.KindAuth, Status: st, Msg: desc}
	default:
		e = &connectors.Error{Kind: connectors.KindRejected, Status: st, Msg: desc}
	}
	return &VendorError{Err: e, Code: code}
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9_.-]`)

func sanitize(s string) string {
	if len(s) > 40 {
		s = s[:40]
	}
	return unsafeChars.ReplaceAllString(s, "?")
}

func faultCode(err error) string {
	var ve *VendorError
	if errors.As(err, &ve) {
		return ve.Code
	}
	return ""
}

// Check implements connectors.Connector: the token reads the realm's
// company information.
func (c *Connector) Check(ctx context.Context, cfg connectors.Config) error {
	var out struct {
		CompanyInfo struct {
			ID string `json:"Id"`
		} `json:"CompanyInfo"`
	}
	realm := cfg.Setting("realm_id")
	if err := c.do(ctx, cfg, http.MethodGet, "/companyinfo/"+realm, nil, nil, &out); err != nil {
		return err
	}
	if out.CompanyInfo.ID != realm {
		return &connectors.Error{Kind: connectors.KindMalformed, Msg: "the company information is not the realm's"}
	}
	return nil
}

// Ref is a reference to another entity ({"value": id, "name": name}).
type Ref struct {
	Value string `json:"value"`
	Name  string `json:"name,omitempty"`
}

// Purchase is a QuickBooks Purchase (an expense) as the API returns it
// (the fields the connector reads).
type Purchase struct {
	ID          string  `json:"Id"`
	SyncToken   string  `json:"SyncToken"`
	TxnDate     string  `json:"TxnDate"`
	TotalAmt    float64 `json:"TotalAmt"`
	PaymentType string  `json:"PaymentType"`
	PrivateNote string  `json:"PrivateNote,omitempty"`
	DocNumber   string  `json:"DocNumber,omitempty"`
	CurrencyRef *Ref    `json:"CurrencyRef,omitempty"`
	EntityRef   *Ref    `json:"EntityRef,omitempty"`
	Line        []struct {
		ID          string  `json:"Id"`
		Amount      float64 `json:"Amount"`
		Description string  `json:"Description,omitempty"`
		DetailType  string  `json:"DetailType"`
		Detail      *struct {
			AccountRef  *Ref `json:"AccountRef,omitempty"`
			ClassRef    *Ref `json:"ClassRef,omitempty"`
			CustomerRef *Ref `json:"CustomerRef,omitempty"`
		} `json:"AccountBasedExpenseLineDetail,omitempty"`
	} `json:"Line"`
	MetaData struct {
		CreateTime      string `json:"CreateTime"`
		LastUpdatedTime string `json:"LastUpdatedTime"`
	} `json:"MetaData"`
}

// Expense is the record of a purchase (stream StreamPurchases): amounts
// in cents; the chantier reference is the first line's class, else its
// customer (the product maps either onto a chantier).
type Expense struct {
	ID          string `json:"id"`
	SyncToken   string `json:"sync_token"`
	Date        string `json:"date"`
	AmountCents int64  `json:"amount_cents"`
	Currency    string `json:"currency,omitempty"`
	PaymentType string `json:"payment_type,omitempty"`
	Vendor      *Ref   `json:"vendor,omitempty"`
	Description string `json:"description,omitempty"`
	ClassRef    *Ref   `json:"class_ref,omitempty"`
	CustomerRef *Ref   `json:"customer_ref,omitempty"`
	UpdatedAt   string `json:"updated_at"`
}

func cents(v float64) int64 {
	if v < 0 {
		return -cents(-v)
	}
	return int64(v*100 + 0.5)
}

// ExpenseOf maps a purchase onto its record.
func ExpenseOf(p Purchase) Expense {
	e := Expense{ID: p.ID, SyncToken: p.SyncToken, Date: p.TxnDate, AmountCents: cents(p.TotalAmt), PaymentType: p.PaymentType,
		Vendor: p.EntityRef, Description: p.PrivateNote, UpdatedAt: p.MetaData.LastUpdatedTime}
	if p.CurrencyRef != nil {
		e.Currency = p.CurrencyRef.Value
	}
	for _, l := range p.Line {
		if l.Detail == nil {
			continue
		}
		if e.ClassRef == nil && l.Detail.ClassRef != nil {
			e.ClassRef = l.Detail.ClassRef
		}
		if e.CustomerRef == nil && l.Detail.CustomerRef != nil {
			e.CustomerRef = l.Detail.CustomerRef
		}
		if e.Description == "" {
			e.Description = l.Description
		}
	}
	return e
}

// state is the checkpoint of the purchases' sync: the purchases updated
// at or after Since are read in LastUpdatedTime order, from Position (1
// based); Max is the latest update read, Since of the next sync.
type state struct {
	Since    string `json:"since,omitempty"`
	Position int    `json:"position,omitempty"`
	Max      string `json:"max,omitempty"`
}

// quote writes a string literal of Intuit's query language.
func quote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// Sync implements connectors.Connector: one page of purchases after the
// checkpoint, in LastUpdatedTime order. A sync starts again at the latest
// update it read (>=: a purchase updated in the same second is read again
// and replaces its record), so nothing updated meanwhile is missed.
func (c *Connector) Sync(ctx context.Context, cfg connectors.Config, st connectors.State) (connectors.Result, connectors.State, error) {
	var cur state
	if len(st) > 0 {
		if err := json.Unmarshal(st, &cur); err != nil {
			return connectors.Result{}, nil, &connectors.Error{Kind: connectors.KindRejected, Msg: "unreadable checkpoint"}
		}
	}
	if cur.Position < 1 {
		cur.Position = 1
	}
	q := "SELECT * FROM Purchase"
	if cur.Since != "" {
		if _, err := time.Parse(time.RFC3339, cur.Since); err != nil {
			return connectors.Result{}, nil, &connectors.Error{Kind: connectors.KindRejected, Msg: "unreadable checkpoint"}
		}
		q += " WHERE MetaData.LastUpdatedTime >= " + quote(cur.Since)
	}
	q += fmt.Sprintf(" ORDERBY MetaData.LastUpdatedTime STARTPOSITION %d MAXRESULTS %d", cur.Position, PageSize)
	var out struct {
		QueryResponse struct {
			Purchase      []Purchase `json:"Purchase"`
			StartPosition int        `json:"startPosition"`
			MaxResults    int        `json:"maxResults"`
		} `json:"QueryResponse"`
	}
	if err := c.do(ctx, cfg, http.MethodGet, "/query", url.Values{"query": {q}}, nil, &out); err != nil {
		return connectors.Result{}, nil, err
	}
	page := out.QueryResponse.Purchase
	res := connectors.Result{Records: make([]connectors.Record, 0, len(page))}
	next := cur
	for _, p := range page {
		if p.ID == "" {
			return connectors.Result{}, nil, &connectors.Error{Kind: connectors.KindMalformed, Msg: "a purchase has no Id"}
		}
		data, _ := json.Marshal(ExpenseOf(p))
		res.Records = append(res.Records, connectors.Record{Stream: StreamPurchases, ID: p.ID, Data: data})
		if later(p.MetaData.LastUpdatedTime, next.Max) {
			next.Max = p.MetaData.LastUpdatedTime
		}
	}
	if len(page) == PageSize {
		next.Position += len(page)
		res.More = true
	} else {
		next = state{Since: cmpOr(next.Max, cur.Since), Max: cmpOr(next.Max, cur.Since)}
	}
	b, _ := json.Marshal(next)
	return res, b, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// later compares two of Intuit's RFC 3339 times (with offsets).
func later(a, b string) bool {
	ta, err := time.Parse(time.RFC3339, a)
	if err != nil {
		return false
	}
	tb, err := time.Parse(time.RFC3339, b)
	return err != nil || ta.After(tb)
}

// HandleEvent implements connectors.Connector: the product pushes
// invoices with PushInvoice; events carry nothing else to QuickBooks.
func (c *Connector) HandleEvent(context.Context, connectors.Config, connectors.Event) error {
	return nil
}

// Invoice is a Hub facture to push.
type Invoice struct {
	// CustomerID is the customer's id at QuickBooks when known (stored
	// from an earlier push); else the customer is matched by
	// CustomerName (DisplayName) or created.
	CustomerID   string
	CustomerName string
	DocNumber    string
	TxnDate      string // AAAA-MM-JJ
	DueDate      string
	Lines        []InvoiceLine
	// ID and SyncToken are the invoice's at QuickBooks when it was pushed
	// before: the push updates it.
	ID        string
	SyncToken string
	// RequestID makes a create idempotent at Intuit (requestid): a create
	// repeated after a lost answer returns the first one's invoice.
	RequestID string
}

// InvoiceLine is one line, in cents.
type InvoiceLine struct {
	Description string
	AmountCents int64
}

// Pushed is what a push stored at QuickBooks: the ids to keep.
type Pushed struct {
	CustomerID string `json:"customer_id"`
	ID         string `json:"id"`
	SyncToken  string `json:"sync_token"`
}

type qbInvoice struct {
	ID          string   `json:"Id,omitempty"`
	SyncToken   string   `json:"SyncToken,omitempty"`
	Sparse      bool     `json:"sparse,omitempty"`
	CustomerRef Ref      `json:"CustomerRef"`
	DocNumber   string   `json:"DocNumber,omitempty"`
	TxnDate     string   `json:"TxnDate,omitempty"`
	DueDate     string   `json:"DueDate,omitempty"`
	Line        []qbLine `json:"Line"`
}

type qbLine struct {
	Amount      json.Number `json:"Amount"`
	Description string      `json:"Description,omitempty"`
	DetailType  string      `json:"DetailType"`
	Detail      struct {
		ItemRef Ref `json:"ItemRef"`
	} `json:"SalesItemLineDetail"`
}

func amount(c int64) json.Number {
	sign := ""
	if c < 0 {
		sign, c = "-", -c
	}
	return json.Number(fmt.Sprintf("%s%d.%02d", sign, c/100, c%100))
}

// Customer finds the customer by DisplayName, or creates it.
func (c *Connector) Customer(ctx context.Context, cfg connectors.Config, name string) (string, error) {
	if name == "" || len(name) > 500 {
		return "", &connectors.Error{Kind: connectors.KindRejected, Msg: "a customer's DisplayName is 1 to 500 characters"}
	}
	find := func() (string, error) {
		var out struct {
			QueryResponse struct {
				Customer []struct {
					ID string `json:"Id"`
				} `json:"Customer"`
			} `json:"QueryResponse"`
		}
		q := "SELECT * FROM Customer WHERE DisplayName = " + quote(name) + " STARTPOSITION 1 MAXRESULTS 1"
		if err := c.do(ctx, cfg, http.MethodGet, "/query", url.Values{"query": {q}}, nil, &out); err != nil {
			return "", err
		}
		if len(out.QueryResponse.Customer) > 0 {
			return out.QueryResponse.Customer[0].ID, nil
		}
		return "", nil
	}
	id, err := find()
	if err != nil || id != "" {
		return id, err
	}
	var created struct {
		Customer struct {
			ID string `json:"Id"`
		} `json:"Customer"`
	}
	err = c.do(ctx, cfg, http.MethodPost, "/customer", nil, map[string]string{"DisplayName": name}, &created)
	if faultCode(err) == CodeDuplicateName {
		return find() // created meanwhile
	}
	if err != nil {
		return "", err
	}
	return created.Customer.ID, nil
}

// PushInvoice creates the invoice at QuickBooks, or updates it when it has
// an id; a stale SyncToken (fault 5010) is re-read once and the update
// tried again.
func (c *Connector) PushInvoice(ctx context.Context, cfg connectors.Config, inv Invoice) (Pushed, error) {
	if len(inv.Lines) == 0 {
		return Pushed{}, &connectors.Error{Kind: connectors.KindRejected, Msg: "an invoice needs a line"}
	}
	cust := inv.CustomerID
	if cust == "" {
		var err error
		if cust, err = c.Customer(ctx, cfg, inv.CustomerName); err != nil {
			return Pushed{}, err
		}
	}
	item := cmpOr(cfg.Setting("item_id"), "1")
	body := qbInvoice{CustomerRef: Ref{Value: cust}, DocNumber: inv.DocNumber, TxnDate: inv.TxnDate, DueDate: inv.DueDate}
	for _, l := range inv.Lines {
		ql := qbLine{Amount: amount(l.AmountCents), Description: l.Description, DetailType: "SalesItemLineDetail"}
		ql.Detail.ItemRef = Ref{Value: item}
		body.Line = append(body.Line, ql)
	}
	var out struct {
		Invoice struct {
			ID        string `json:"Id"`
			SyncToken string `json:"SyncToken"`
		} `json:"Invoice"`
	}
	if inv.ID == "" {
		q := url.Values{}
		if inv.RequestID != "" {
			q.Set("requestid", RequestID(inv.RequestID))
		}
		if err := c.do(ctx, cfg, http.MethodPost, "/invoice", q, body, &out); err != nil {
			return Pushed{}, err
		}
		return Pushed{CustomerID: cust, ID: out.Invoice.ID, SyncToken: out.Invoice.SyncToken}, nil
	}
	if !realmPattern.MatchString(inv.ID) {
		return Pushed{}, &connectors.Error{Kind: connectors.KindRejected, Msg: "invalid invoice id"}
	}
	body.ID, body.SyncToken, body.Sparse = inv.ID, inv.SyncToken, true
	err := c.do(ctx, cfg, http.MethodPost, "/invoice", nil, body, &out)
	if faultCode(err) == CodeStaleObject {
		var cur struct {
			Invoice struct {
				SyncToken string `json:"SyncToken"`
			} `json:"Invoice"`
		}
		if err := c.do(ctx, cfg, http.MethodGet, "/invoice/"+inv.ID, nil, nil, &cur); err != nil {
			return Pushed{}, err
		}
		body.SyncToken = cur.Invoice.SyncToken
		err = c.do(ctx, cfg, http.MethodPost, "/invoice", nil, body, &out)
	}
	if err != nil {
		return Pushed{}, err
	}
	return Pushed{CustomerID: cust, ID: out.Invoice.ID, SyncToken: out.Invoice.SyncToken}, nil
}

// RequestID derives Intuit's requestid (at most 50 characters) from a key
// of the product (connector, facture and version, say).
func RequestID(key string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:])[:40]
}

// PositionOf reads the position of a checkpoint (tests, logs).
func PositionOf(st connectors.State) int {
	var s state
	_ = json.Unmarshal(st, &s)
	return s.Position
}
