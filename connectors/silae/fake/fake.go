// Package fake is an httptest fake of Silae Paie's REST surface (see
// package silae): the OAuth2 client-credentials token service, Azure API
// Management's subscription key and its error bodies (401, 429 with
// Retry-After), the employees' list of a company, and the import of a
// period's variables in replace mode, kept per company and month so tests
// can check totals after repeated exports. Faults to inject: 429, 503, a
// hang, a malformed answer.
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
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hubchantier/hubchantier/connectors/silae"
)

// Fault is an injected failure of one answer of the import.
type Fault int

// Faults.
const (
	None Fault = iota
	// TooMany answers 429 with Retry-After: 1 (API Management's quota).
	TooMany
	// Unavailable answers 503.
	Unavailable
	// Hang never answers (until the client gives up or the fake closes).
	Hang
	// Malformed answers 200 with a truncated body.
	Malformed
)

// Server is the fake Silae.
type Server struct {
	*httptest.Server
	ClientID, ClientSecret, SubscriptionKey string
	// Dossiers are the company codes the access configuration reaches.
	Dossiers map[string]bool

	mu      sync.Mutex
	tokens  map[string]time.Time
	periods map[string]map[string]map[string]int64 // dossier|periode → matricule → code → centi-hours
	faults  []Fault
	bodies  [][]byte
	hang    chan struct{}

	// Imports counts the imports stored; TokenRequests the tokens issued.
	Imports       atomic.Int64
	TokenRequests atomic.Int64
}

// New starts a fake with one client and the given companies.
func New(clientID, clientSecret, subscriptionKey string, dossiers ...string) *Server {
	s := &Server{ClientID: clientID, ClientSecret: clientSecret, SubscriptionKey: subscriptionKey, Dossiers: map[string]bool{},
		tokens: map[string]time.Time{}, periods: map[string]map[string]map[string]int64{}, hang: make(chan struct{})}
	for _, d := range dossiers {
		s.Dossiers[d] = true
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth2/v2.0/token", s.serveToken)
	mux.HandleFunc("POST /payroll"+silae.CheckPath, s.api(s.serveEmployees))
	mux.HandleFunc("POST /payroll"+silae.ImportPath, s.api(s.serveImport))
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

// Inject queues faults for the next answers of the import, in order.
func (s *Server) Inject(f ...Fault) {
	s.mu.Lock()
	s.faults = append(s.faults, f...)
	s.mu.Unlock()
}

// Bodies returns the import bodies received (faulted ones included).
func (s *Server) Bodies() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.bodies...)
}

// Hours returns the hours stored for a company's period (first day,
// AAAA-MM-JJ): matricule → code → hours.
func (s *Server) Hours(dossier, periode string) map[string]map[string]float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]map[string]float64{}
	for m, codes := range s.periods[dossier+"|"+periode] {
		out[m] = map[string]float64{}
		for c, v := range codes {
			out[m][c] = float64(v) / 100
		}
	}
	return out
}

// Total returns the sum of a company's period's hours, in hundredths.
func (s *Server) Total(dossier, periode string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for _, codes := range s.periods[dossier+"|"+periode] {
		for _, v := range codes {
			n += v
		}
	}
	return n
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// apim answers as Azure API Management does: {"statusCode", "message"}.
func apim(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"statusCode": status, "message": msg})
}

func eq(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request"})
		return
	}
	switch {
	case r.PostForm.Get("grant_type") != "client_credentials":
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type"})
		return
	case r.PostForm.Get("scope") != silae.Scope:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_scope", "error_description": "AADB2C90205: the scope is not valid"})
		return
	case !eq(r.PostForm.Get("client_id"), s.ClientID) || !eq(r.PostForm.Get("client_secret"), s.ClientSecret):
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client", "error_description": "AADB2C90081: the client credentials are not valid"})
		return
	}
	s.TokenRequests.Add(1)
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	tok := hex.EncodeToString(b)
	now := time.Now()
	s.mu.Lock()
	s.tokens[tok] = now.Add(time.Hour)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": 3600,
		"not_before": now.Unix(), "expires_on": now.Add(time.Hour).Unix(), "resource": "36658aca-9556-41b7-9e48-77e90b006f34"})
}

// api checks the subscription key and the bearer token, as API Management
// and the API do.
func (s *Server) api(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get(silae.SubscriptionHeader)
		if key == "" {
			apim(w, http.StatusUnauthorized, "Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API.")
			return
		}
		if !eq(key, s.SubscriptionKey) {
			apim(w, http.StatusUnauthorized, "Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription.")
			return
		}
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		s.mu.Lock()
		exp, known := s.tokens[tok]
		s.mu.Unlock()
		if !ok || !known || time.Now().After(exp) {
			apim(w, http.StatusUnauthorized, "Unauthorized. Access token is missing or invalid.")
			return
		}
		h(w, r)
	}
}

// problem answers a refused request as the API does (ASP.NET problem details).
func problem(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"type": "https://tools.ietf.org/html/rfc9110#section-15.5.1",
		"title": "One or more validation errors occurred.", "status": status, "detail": detail})
}

func (s *Server) serveEmployees(w http.ResponseWriter, r *http.Request) {
	var in struct {
		NumeroDossier string `json:"numeroDossier"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&in); err != nil {
		problem(w, http.StatusBadRequest, "the body is not JSON")
		return
	}
	if !s.Dossiers[in.NumeroDossier] {
		problem(w, http.StatusForbidden, "no API access to this dossier")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"salarieEmplois": []map[string]any{{"matriculeSalarie": "1", "identifiantEmploi": 1}}})
}

func (s *Server) serveImport(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 32<<20))
	s.mu.Lock()
	s.bodies = append(s.bodies, body)
	var f Fault
	if len(s.faults) > 0 {
		f, s.faults = s.faults[0], s.faults[1:]
	}
	s.mu.Unlock()
	switch f {
	case TooMany:
		w.Header().Set("Retry-After", "1")
		apim(w, http.StatusTooManyRequests, "Rate limit is exceeded. Try again in 1 seconds.")
		return
	case Unavailable:
		apim(w, http.StatusServiceUnavailable, "Service Unavailable")
		return
	case Hang:
		select {
		case <-r.Context().Done():
		case <-s.hang:
		}
		return
	case Malformed:
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"numeroDossier": "`))
		return
	}
	var in silae.Payload
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(&in); err != nil {
		problem(w, http.StatusBadRequest, "the body does not match the import: "+err.Error())
		return
	}
	if !s.Dossiers[in.NumeroDossier] {
		problem(w, http.StatusForbidden, "no API access to this dossier")
		return
	}
	p, err := time.Parse(time.DateOnly, in.Periode)
	if err != nil || p.Day() != 1 {
		problem(w, http.StatusBadRequest, "periode: the first day of a month, AAAA-MM-JJ")
		return
	}
	if in.ModeImport != silae.ModeReplace {
		problem(w, http.StatusBadRequest, "modeImport: only remplacement is supported")
		return
	}
	period := map[string]map[string]int64{}
	variables := 0
	for _, sal := range in.Salaries {
		if sal.MatriculeSalarie == "" || period[sal.MatriculeSalarie] != nil {
			problem(w, http.StatusBadRequest, "matriculeSalarie: required and unique")
			return
		}
		codes := map[string]int64{}
		for _, v := range sal.Variables {
			centi, err := centiHours(string(v.Valeur))
			if err != nil || v.CodeRubrique == "" {
				problem(w, http.StatusBadRequest, fmt.Sprintf("salarié %s: invalid variable", sal.MatriculeSalarie))
				return
			}
			codes[v.CodeRubrique] += centi
			variables++
		}
		period[sal.MatriculeSalarie] = codes
	}
	s.mu.Lock()
	s.periods[in.NumeroDossier+"|"+in.Periode] = period // replace: the period as a whole
	s.mu.Unlock()
	s.Imports.Add(1)
	writeJSON(w, http.StatusOK, silae.Receipt{NumeroDossier: in.NumeroDossier, Periode: in.Periode,
		NombreSalaries: len(in.Salaries), NombreVariables: variables})
}

// centiHours reads "12.34" (at most two decimals, not negative).
func centiHours(v string) (int64, error) {
	whole, frac, _ := strings.Cut(v, ".")
	if len(frac) > 2 || whole == "" || strings.HasPrefix(whole, "-") {
		return 0, fmt.Errorf("invalid hours")
	}
	for len(frac) < 2 {
		frac += "0"
	}
	n, err := strconv.ParseInt(whole+frac, 10, 64)
	if err != nil || n > 1_000_000 {
		return 0, fmt.Errorf("invalid hours")
	}
	return n, nil
}
