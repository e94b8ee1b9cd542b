// Package fake is an httptest fake of QuickBooks Online (see package
// quickbooks): Intuit's OAuth 2.0 authorization-code flow (the redirect
// carries realmId; refresh tokens rotate at every refresh and an old one
// is refused with invalid_grant), and the Accounting API under
// /v3/company/{realmId}: companyinfo, the query endpoint (SELECT ... WHERE
// ... ORDERBY ... STARTPOSITION ... MAXRESULTS, for Purchase, Customer and
// Invoice), customer and invoice create, invoice update with SyncToken
// (stale: fault 5010), requestid idempotence, minorversion required,
// Fault error bodies, and throttling per realm (429 ThrottleExceeded past
// Limit requests a minute). Faults to inject on the query endpoint: 429,
// 503, a hang, a malformed answer.
package fake

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hubchantier/hubchantier/connectors/quickbooks"
)

// Fault is an injected failure of one answer of the query endpoint.
type Fault int

// Faults.
const (
	None Fault = iota
	TooMany
	Unavailable
	Hang
	Malformed
)

type token struct {
	realm string
	exp   time.Time
}

type purchase struct {
	ID, ClassName, CustomerName string
	SyncToken                   int
	Amount                      int64 // cents
	Date                        string
	Updated                     time.Time
}

type invoice struct {
	ID        string
	SyncToken int
	Body      map[string]any
}

// Server is the fake QuickBooks Online.
type Server struct {
	*httptest.Server
	ClientID, ClientSecret, Realm string
	// Limit is the requests a realm may make a minute (Intuit: 500).
	Limit int
	// ExpiresIn is the life of access tokens, in seconds (Intuit: 3600).
	ExpiresIn int

	mu        sync.Mutex
	codes     map[string]string // code → redirect_uri
	access    map[string]token
	refresh   string // the one valid refresh token
	purchases []*purchase
	customers map[string]string // id → DisplayName
	invoices  map[string]*invoice
	requests  map[string][]byte // requestid → answer
	clock     time.Time
	window    time.Time
	count     int
	faults    []Fault
	hang      chan struct{}
	nextID    int

	Refreshes atomic.Int64
	Queries   atomic.Int64
	Creates   atomic.Int64
}

// New starts a fake for one app (client) and one company (realm).
func New(clientID, clientSecret, realm string) *Server {
	s := &Server{ClientID: clientID, ClientSecret: clientSecret, Realm: realm, Limit: 500, ExpiresIn: 3600,
		codes: map[string]string{}, access: map[string]token{}, customers: map[string]string{}, invoices: map[string]*invoice{},
		requests: map[string][]byte{}, clock: time.Date(2026, 1, 5, 9, 0, 0, 0, time.FixedZone("PST", -8*3600)),
		hang: make(chan struct{}), nextID: 100}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /connect/oauth2", s.serveAuthorize)
	mux.HandleFunc("POST /oauth2/v1/tokens/bearer", s.serveToken)
	mux.HandleFunc("GET /v3/company/{realm}/companyinfo/{id}", s.api(s.serveCompany))
	mux.HandleFunc("GET /v3/company/{realm}/query", s.api(s.serveQuery))
	mux.HandleFunc("POST /v3/company/{realm}/customer", s.api(s.serveCustomer))
	mux.HandleFunc("POST /v3/company/{realm}/invoice", s.api(s.serveInvoice))
	mux.HandleFunc("GET /v3/company/{realm}/invoice/{id}", s.api(s.serveGetInvoice))
	s.Server = httptest.NewServer(mux)
	return s
}

// Close releases hanging requests and stops the server.
func (s *Server) Close() {
	s.mu.Lock()
	select {
	case <-s.hang:
	default:
		close(s.hang)
	}
	s.mu.Unlock()
	s.Server.CloseClientConnections()
	s.Server.Close()
}

// Inject queues faults for the next answers of the query endpoint.
func (s *Server) Inject(f ...Fault) {
	s.mu.Lock()
	s.faults = append(s.faults, f...)
	s.mu.Unlock()
}

func random() string {
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// IssueCode registers an authorization code for redirectURI, as the
// consent screen would (tests that skip the browser).
func (s *Server) IssueCode(redirectURI string) string {
	c := random()
	s.mu.Lock()
	s.codes[c] = redirectURI
	s.mu.Unlock()
	return c
}

// ExpireAccessTokens makes every access token expired (401 from now on).
func (s *Server) ExpireAccessTokens() {
	s.mu.Lock()
	for k, t := range s.access {
		t.exp = time.Now().Add(-time.Second)
		s.access[k] = t
	}
	s.mu.Unlock()
}

// RefreshToken is the refresh token currently valid.
func (s *Server) RefreshToken() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refresh
}

// AddPurchases adds n purchases, each updated one second after the last,
// with classes "CH-<i%classes>" (0: none) and 12.34 + i cents.
func (s *Server) AddPurchases(n, classes int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.nextID++
		s.clock = s.clock.Add(time.Second)
		p := &purchase{ID: strconv.Itoa(s.nextID), Amount: 1234 + int64(s.nextID), Date: s.clock.Format(time.DateOnly), Updated: s.clock}
		if classes > 0 {
			p.ClassName = "CH-" + strconv.Itoa(s.nextID%classes)
		} else {
			p.CustomerName = "Chantier " + strconv.Itoa(s.nextID%7)
		}
		s.purchases = append(s.purchases, p)
	}
}

// TouchPurchase updates a purchase (new amount, SyncToken, LastUpdatedTime).
func (s *Server) TouchPurchase(id string, amountCents int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.purchases {
		if p.ID == id {
			s.clock = s.clock.Add(time.Second)
			p.Amount, p.Updated = amountCents, s.clock
			p.SyncToken++
		}
	}
}

// Customers returns DisplayName → id.
func (s *Server) Customers() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]string{}
	for id, n := range s.customers {
		out[n] = id
	}
	return out
}

// Invoices returns the invoices by id (their JSON body).
func (s *Server) Invoices() map[string]map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]map[string]any{}
	for id, inv := range s.invoices {
		out[id] = inv.Body
	}
	return out
}

// BumpInvoice changes an invoice at QuickBooks (someone edited it there):
// its SyncToken moves on.
func (s *Server) BumpInvoice(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if inv := s.invoices[id]; inv != nil {
		inv.SyncToken++
		inv.Body["SyncToken"] = strconv.Itoa(inv.SyncToken)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// fault answers Intuit's error body.
func fault(w http.ResponseWriter, status int, typ, code, msg, detail string) {
	writeJSON(w, status, map[string]any{"Fault": map[string]any{"Error": []map[string]string{{"Message": msg, "Detail": detail, "code": code}},
		"type": typ}, "time": time.Now().Format("2006-01-02T15:04:05.000-07:00")})
}

func eq(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

func (s *Server) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("client_id") != s.ClientID || q.Get("response_type") != "code" || q.Get("scope") != quickbooks.Scope || q.Get("state") == "" {
		http.Error(w, "invalid authorization request", http.StatusBadRequest)
		return
	}
	ru, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || ru.Host == "" {
		http.Error(w, "invalid redirect_uri", http.StatusBadRequest)
		return
	}
	code := s.IssueCode(q.Get("redirect_uri"))
	v := ru.Query()
	v.Set("code", code)
	v.Set("state", q.Get("state"))
	v.Set("realmId", s.Realm)
	ru.RawQuery = v.Encode()
	http.Redirect(w, r, ru.String(), http.StatusFound) // #nosec G710 -- a test fake of Intuit's consent: it redirects to the client's redirect_uri, as an OAuth server does
}

func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	id, secret, ok := r.BasicAuth()
	if !ok || !eq(id, s.ClientID) || !eq(secret, s.ClientSecret) {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return
	}
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch r.PostForm.Get("grant_type") {
	case "authorization_code":
		ru, known := s.codes[r.PostForm.Get("code")]
		delete(s.codes, r.PostForm.Get("code"))
		if !known || ru != r.PostForm.Get("redirect_uri") {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant"})
			return
		}
	case "refresh_token":
		if s.refresh == "" || !eq(r.PostForm.Get("refresh_token"), s.refresh) {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant", "error_description": "Incorrect or invalid refresh token"})
			return
		}
		s.Refreshes.Add(1)
	default:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type"})
		return
	}
	at, rt := random(), random()
	s.access[at] = token{realm: s.Realm, exp: time.Now().Add(time.Duration(s.ExpiresIn) * time.Second)}
	s.refresh = rt // rotated: the previous one is refused from now on
	writeJSON(w, http.StatusOK, map[string]any{"token_type": "bearer", "access_token": at, "expires_in": s.ExpiresIn,
		"refresh_token": rt, "x_refresh_token_expires_in": 8726400})
}

// api checks the bearer token, the realm, minorversion and the throttle.
func (s *Server) api(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		s.mu.Lock()
		t, ok := s.access[tok]
		s.mu.Unlock()
		if !ok || time.Now().After(t.exp) || t.realm != r.PathValue("realm") {
			writeJSON(w, http.StatusUnauthorized, map[string]any{"fault": map[string]any{"error": []map[string]string{{
				"message": "message=AuthenticationFailed; errorCode=003200; statusCode=401", "detail": "Token expired or invalid", "code": "3200"}},
				"type": "AUTHENTICATION"}})
			return
		}
		if r.URL.Query().Get("minorversion") != quickbooks.MinorVersion {
			fault(w, http.StatusBadRequest, "ValidationFault", "2010", "Request has invalid or unsupported property", "minorversion must be "+quickbooks.MinorVersion)
			return
		}
		now := time.Now().Truncate(time.Minute)
		s.mu.Lock()
		if !now.Equal(s.window) {
			s.window, s.count = now, 0
		}
		s.count++
		over := s.count > s.Limit
		s.mu.Unlock()
		if over {
			fault(w, http.StatusTooManyRequests, "SERVICE", "3001", "message=ThrottleExceeded; errorCode=003001; statusCode=429", "The request limit was reached.")
			return
		}
		h(w, r)
	}
}

func (s *Server) serveCompany(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("id") != r.PathValue("realm") {
		fault(w, http.StatusBadRequest, "ValidationFault", "610", "Object Not Found", "no such company")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"CompanyInfo": map[string]any{"Id": s.Realm, "CompanyName": "Fake BTP", "SyncToken": "0"}})
}

var queryPattern = regexp.MustCompile(`^SELECT \* FROM (\w+)(?: WHERE (.+?))?(?: ORDERBY ([\w.]+)(?: (?:ASC|DESC))?)?(?: STARTPOSITION (\d+))?(?: MAXRESULTS (\d+))?$`)
var condPattern = regexp.MustCompile(`^([\w.]+) (=|>=|>|<) '((?:[^'\\]|\\.)*)'$`)

func unquote(s string) string { return strings.NewReplacer(`\'`, `'`, `\\`, `\`).Replace(s) }

func (s *Server) serveQuery(w http.ResponseWriter, r *http.Request) {
	s.Queries.Add(1)
	s.mu.Lock()
	var f Fault
	if len(s.faults) > 0 {
		f, s.faults = s.faults[0], s.faults[1:]
	}
	s.mu.Unlock()
	switch f {
	case TooMany:
		fault(w, http.StatusTooManyRequests, "SERVICE", "3001", "message=ThrottleExceeded; errorCode=003001; statusCode=429", "The request limit was reached.")
		return
	case Unavailable:
		fault(w, http.StatusServiceUnavailable, "SERVICE", "10000", "An application error has occurred while processing your request", "System Failure Error")
		return
	case Hang:
		select {
		case <-r.Context().Done():
		case <-s.hang:
		}
		return
	case Malformed:
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"QueryResponse": {"Purchase": [{"Id": "1", `))
		return
	}
	m := queryPattern.FindStringSubmatch(r.URL.Query().Get("query"))
	if m == nil {
		fault(w, http.StatusBadRequest, "ValidationFault", "4000", "Error parsing query", "QueryParserError: Encountered an unexpected token")
		return
	}
	start, maxRes := 1, 100
	if m[4] != "" {
		start, _ = strconv.Atoi(m[4])
	}
	if m[5] != "" {
		maxRes, _ = strconv.Atoi(m[5])
	}
	if start < 1 || maxRes < 1 || maxRes > 1000 {
		fault(w, http.StatusBadRequest, "ValidationFault", "4001", "Invalid query", "STARTPOSITION >= 1, MAXRESULTS 1 to 1000")
		return
	}
	var conds [][]string
	if m[2] != "" {
		for _, c := range strings.Split(m[2], " AND ") {
			cm := condPattern.FindStringSubmatch(c)
			if cm == nil {
				fault(w, http.StatusBadRequest, "ValidationFault", "4000", "Error parsing query", "unsupported condition")
				return
			}
			conds = append(conds, []string{cm[1], cm[2], unquote(cm[3])})
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var items []any
	switch m[1] {
	case "Purchase":
		ps := append([]*purchase(nil), s.purchases...)
		sort.SliceStable(ps, func(i, j int) bool {
			if !ps[i].Updated.Equal(ps[j].Updated) {
				return ps[i].Updated.Before(ps[j].Updated)
			}
			return ps[i].ID < ps[j].ID
		})
		for _, p := range ps {
			if matchTime(p.Updated, conds) {
				items = append(items, purchaseJSON(p))
			}
		}
	case "Customer":
		ids := make([]string, 0, len(s.customers))
		for id := range s.customers {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			ok := true
			for _, c := range conds {
				ok = ok && c[0] == "DisplayName" && c[1] == "=" && strings.EqualFold(c[2], s.customers[id])
			}
			if ok {
				items = append(items, map[string]any{"Id": id, "DisplayName": s.customers[id], "SyncToken": "0"})
			}
		}
	default:
		fault(w, http.StatusBadRequest, "ValidationFault", "4000", "Error parsing query", "unsupported entity in this fake")
		return
	}
	from := min(start-1, len(items))
	page := items[from:min(from+maxRes, len(items))]
	qr := map[string]any{}
	if len(page) > 0 {
		qr[m[1]] = page
		qr["startPosition"], qr["maxResults"] = start, len(page)
	}
	writeJSON(w, http.StatusOK, map[string]any{"QueryResponse": qr, "time": time.Now().Format(time.RFC3339)})
}

func matchTime(t time.Time, conds [][]string) bool {
	for _, c := range conds {
		if c[0] != "MetaData.LastUpdatedTime" {
			return false
		}
		v, err := time.Parse(time.RFC3339, c[2])
		if err != nil {
			return false
		}
		switch c[1] {
		case ">=":
			if t.Before(v) {
				return false
			}
		case ">":
			if !t.After(v) {
				return false
			}
		case "<":
			if !t.Before(v) {
				return false
			}
		case "=":
			if !t.Equal(v) {
				return false
			}
		}
	}
	return true
}

func purchaseJSON(p *purchase) map[string]any {
	detail := map[string]any{"AccountRef": map[string]string{"value": "7", "name": "Job Materials"}, "BillableStatus": "NotBillable"}
	if p.ClassName != "" {
		detail["ClassRef"] = map[string]string{"value": "5" + p.ClassName[3:], "name": p.ClassName}
	}
	if p.CustomerName != "" {
		detail["CustomerRef"] = map[string]string{"value": "9" + p.CustomerName[9:], "name": p.CustomerName}
	}
	return map[string]any{"Id": p.ID, "SyncToken": strconv.Itoa(p.SyncToken), "domain": "QBO", "sparse": false,
		"TxnDate": p.Date, "TotalAmt": float64(p.Amount) / 100, "PaymentType": "Cash",
		"AccountRef": map[string]string{"value": "35", "name": "Checking"}, "CurrencyRef": map[string]string{"value": "EUR", "name": "Euro"},
		"EntityRef": map[string]string{"value": "56", "name": "Point.P", "type": "Vendor"},
		"Line": []map[string]any{{"Id": "1", "Amount": float64(p.Amount) / 100, "Description": "Matériaux",
			"DetailType": "AccountBasedExpenseLineDetail", "AccountBasedExpenseLineDetail": detail}},
		"MetaData": map[string]string{"CreateTime": p.Updated.Format(time.RFC3339), "LastUpdatedTime": p.Updated.Format(time.RFC3339)}}
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(v); err != nil {
		fault(w, http.StatusBadRequest, "ValidationFault", "2500", "Invalid Request", "the body is not JSON")
		return false
	}
	return true
}

func (s *Server) serveCustomer(w http.ResponseWriter, r *http.Request) {
	var in struct {
		DisplayName string `json:"DisplayName"`
	}
	if !decode(w, r, &in) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range s.customers {
		if strings.EqualFold(n, in.DisplayName) {
			fault(w, http.StatusBadRequest, "ValidationFault", "6240", "Duplicate Name Exists Error", "The name supplied already exists.")
			return
		}
	}
	if in.DisplayName == "" {
		fault(w, http.StatusBadRequest, "ValidationFault", "2020", "Required param missing, need to supply the required value for the API", "DisplayName")
		return
	}
	s.nextID++
	id := strconv.Itoa(s.nextID)
	s.customers[id] = in.DisplayName
	writeJSON(w, http.StatusOK, map[string]any{"Customer": map[string]any{"Id": id, "DisplayName": in.DisplayName, "SyncToken": "0"}})
}

func (s *Server) serveInvoice(w http.ResponseWriter, r *http.Request) {
	var in map[string]any
	if !decode(w, r, &in) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rid := r.URL.Query().Get("requestid")
	if prev, ok := s.requests[rid]; ok && rid != "" {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(prev)
		return
	}
	cref, _ := in["CustomerRef"].(map[string]any)
	if cref == nil || s.customers[fmt.Sprint(cref["value"])] == "" {
		fault(w, http.StatusBadRequest, "ValidationFault", "2500", "Invalid Reference Id", "CustomerRef")
		return
	}
	lines, _ := in["Line"].([]any)
	if len(lines) == 0 {
		fault(w, http.StatusBadRequest, "ValidationFault", "2020", "Required param missing, need to supply the required value for the API", "Line")
		return
	}
	for _, l := range lines {
		lm, _ := l.(map[string]any)
		d, _ := lm["SalesItemLineDetail"].(map[string]any)
		if lm["DetailType"] != "SalesItemLineDetail" || d == nil || d["ItemRef"] == nil {
			fault(w, http.StatusBadRequest, "ValidationFault", "2020", "Required param missing, need to supply the required value for the API", "Line.SalesItemLineDetail.ItemRef")
			return
		}
	}
	var inv *invoice
	if id, _ := in["Id"].(string); id != "" {
		inv = s.invoices[id]
		if inv == nil {
			fault(w, http.StatusBadRequest, "ValidationFault", "610", "Object Not Found", "Invoice "+id)
			return
		}
		if in["SyncToken"] != strconv.Itoa(inv.SyncToken) {
			fault(w, http.StatusBadRequest, "ValidationFault", "5010", "Stale Object Error", "You and another user were working on the same thing.")
			return
		}
		inv.SyncToken++
		for k, v := range in {
			if k != "sparse" {
				inv.Body[k] = v
			}
		}
	} else {
		s.nextID++
		s.Creates.Add(1)
		inv = &invoice{ID: strconv.Itoa(s.nextID), Body: in}
		delete(in, "sparse")
		s.invoices[inv.ID] = inv
	}
	inv.Body["Id"], inv.Body["SyncToken"] = inv.ID, strconv.Itoa(inv.SyncToken)
	b, _ := json.Marshal(map[string]any{"Invoice": inv.Body, "time": time.Now().Format(time.RFC3339)})
	if rid != "" {
		s.requests[rid] = b
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

func (s *Server) serveGetInvoice(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inv := s.invoices[r.PathValue("id")]
	if inv == nil {
		fault(w, http.StatusBadRequest, "ValidationFault", "610", "Object Not Found", "Invoice")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"Invoice": inv.Body})
}
