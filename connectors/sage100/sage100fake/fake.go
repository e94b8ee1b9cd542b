// Package sage100fake is an httptest fake of the API Sage 100 (its OData
// v4 REST surface; see package sage100): the company resource, tiers,
// affaires and sales documents under /companies('{id}')/, bearer
// authentication, OData paging ($top at most 100, $skip, $count,
// @odata.nextLink), the $filter expressions the connector sends
// (type, reference, and the keyset on dateModification), OData error
// bodies, and faults to inject: 429 with Retry-After, 500, 503, a hang,
// malformed JSON.
package sage100fake

import (
	"encoding/json"
	"fmt"
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
)

// Fault is an injected failure of one answer of a list (tiers, affaires).
type Fault int

// Faults.
const (
	None Fault = iota
	// TooMany answers 429 with Retry-After: 1 and an OData error body.
	TooMany
	// Unavailable answers 503 with an OData error body.
	Unavailable
	// ServerError answers 500 with an OData error body.
	ServerError
	// Hang never answers (until the client gives up or the fake closes).
	Hang
	// Malformed answers 200 with a body that is not JSON.
	Malformed
)

// Base is the modification date of the first record; record i is
// modified i seconds later.
var Base = time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)

// Server is the fake API.
type Server struct {
	*httptest.Server
	Company string
	APIKey  string

	mu        sync.Mutex
	tiers     []map[string]any
	affaires  []map[string]any
	documents []map[string]any
	clock     time.Time
	faults    []Fault
	always    Fault
	hang      chan struct{}
	onList    func(resource string, n int)
	lists     int

	Requests atomic.Int64
	// Filters are the $filter expressions of the lists served, in order.
	filters []string
}

// New starts a fake company with nTiers clients (C000001 …) and
// nAffaires affaires (AFF000001 …, each of client C000001 when it
// exists), modified in that order.
func New(company, apiKey string, nTiers, nAffaires int) *Server {
	s := &Server{Company: company, APIKey: apiKey, clock: Base, hang: make(chan struct{})}
	s.AddTiers(nTiers)
	s.AddAffaires(nAffaires)
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

func (s *Server) tick() string {
	s.clock = s.clock.Add(time.Second)
	return s.clock.Format(time.RFC3339)
}

// AddTiers adds n client tiers after the last.
func (s *Server) AddTiers(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.tiers) + 1; n > 0; i, n = i+1, n-1 {
		num := fmt.Sprintf("C%06d", i)
		s.tiers = append(s.tiers, map[string]any{"id": "t-" + num, "numero": num, "intitule": "Client " + strconv.Itoa(i), "type": "Client",
			"email": "compta" + strconv.Itoa(i) + "@client.example", "telephone": "01 23 45 67 89", "siret": "",
			"adresse":          map[string]any{"adresse": strconv.Itoa(i) + " rue des Lilas", "complement": "", "codePostal": "69001", "ville": "Lyon"},
			"dateModification": s.tick()})
	}
}

// AddSupplier adds a supplier tiers (not imported: the connector reads
// clients only).
func (s *Server) AddSupplier(numero string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tiers = append(s.tiers, map[string]any{"id": "t-" + numero, "numero": numero, "intitule": "Fournisseur " + numero, "type": "Fournisseur",
		"email": "", "telephone": "", "siret": "", "adresse": map[string]any{}, "dateModification": s.tick()})
}

// AddAffaires adds n affaires after the last.
func (s *Server) AddAffaires(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.affaires) + 1; n > 0; i, n = i+1, n-1 {
		code := fmt.Sprintf("AFF%06d", i)
		tiers, tiersName := "", ""
		if len(s.tiers) > 0 {
			tiers, tiersName = s.tiers[0]["numero"].(string), s.tiers[0]["intitule"].(string)
		}
		s.affaires = append(s.affaires, map[string]any{"id": "a-" + code, "code": code, "intitule": "Affaire " + strconv.Itoa(i),
			"tiersNumero": tiers, "tiersIntitule": tiersName, "sommeil": false,
			"adresse":   map[string]any{"adresse": strconv.Itoa(i) + " avenue du Chantier", "complement": "", "codePostal": "69003", "ville": "Lyon"},
			"dateDebut": "2026-09-01T00:00:00Z", "dateFin": nil, "dateModification": s.tick()})
	}
}

// Update changes a field of the tiers numero (or the affaire code) and
// moves its modification date to now (after every other record).
func (s *Server) Update(key, field string, value any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, list := range [][]map[string]any{s.tiers, s.affaires} {
		for _, r := range list {
			if r["numero"] == key || r["code"] == key {
				r[field] = value
				r["dateModification"] = s.tick()
			}
		}
	}
}

// Documents returns the sales documents created.
func (s *Server) Documents() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]map[string]any, len(s.documents))
	for i, d := range s.documents {
		out[i] = map[string]any{}
		for k, v := range d {
			out[i][k] = v
		}
	}
	return out
}

// Filters returns the $filter expressions of the lists served.
func (s *Server) Filters() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.filters...)
}

// Inject queues faults for the next list answers, in order.
func (s *Server) Inject(f ...Fault) {
	s.mu.Lock()
	s.faults = append(s.faults, f...)
	s.mu.Unlock()
}

// Always makes every list answer fail with f (None: back to normal).
func (s *Server) Always(f Fault) {
	s.mu.Lock()
	s.always = f
	s.mu.Unlock()
}

// SetOnList sets a function called before each list page is served, with
// the resource and the number of pages served before it since this call.
func (s *Server) SetOnList(f func(resource string, n int)) {
	s.mu.Lock()
	s.onList, s.lists = f, 0
	s.mu.Unlock()
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

// odataError writes an OData error body.
func odataError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json; odata.metadata=minimal")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": code, "message": msg}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; odata.metadata=minimal")
	w.Header().Set("OData-Version", "4.0")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

var pathRe = regexp.MustCompile(`^/companies\('([^'/]*)'\)(/(tiers|affaires|documentsVente)(\('([^'/]*)'\))?)?$`)

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.Requests.Add(1)
	if r.Header.Get("Authorization") != "Bearer "+s.APIKey {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		odataError(w, http.StatusUnauthorized, "Unauthorized", "Jeton d'accès absent ou invalide.")
		return
	}
	m := pathRe.FindStringSubmatch(r.URL.Path)
	if m == nil {
		odataError(w, http.StatusNotFound, "NotFound", "Ressource inconnue.")
		return
	}
	if m[1] != s.Company {
		odataError(w, http.StatusNotFound, "NotFound", "Société inconnue.")
		return
	}
	resource, id := m[3], m[5]
	switch {
	case resource == "" && r.Method == http.MethodGet:
		writeJSON(w, 200, map[string]any{"@odata.context": "$metadata#companies/$entity", "id": s.Company, "raisonSociale": "Société " + s.Company,
			"application": "Gestion commerciale"})
	case (resource == "tiers" || resource == "affaires") && id == "" && r.Method == http.MethodGet:
		s.serveList(w, r, resource)
	case resource == "documentsVente" && id == "" && r.Method == http.MethodGet:
		s.serveDocuments(w, r)
	case resource == "documentsVente" && id == "" && r.Method == http.MethodPost:
		s.saveDocument(w, r, "")
	case resource == "documentsVente" && id != "" && r.Method == http.MethodPatch:
		s.saveDocument(w, r, id)
	default:
		odataError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "Méthode non autorisée.")
	}
}

var (
	typeClause      = regexp.MustCompile(`^type eq '([A-Za-z]+)'$`)
	referenceClause = regexp.MustCompile(`^reference eq '((?:[^']|'')*)'$`)
	keysetClause    = regexp.MustCompile(`^\(dateModification gt (\S+) or \(dateModification eq (\S+) and (numero|code) gt '((?:[^']|'')*)'\)\)$`)
)

// filter is a parsed $filter: the conjunction of the clauses the fake
// knows.
type filter struct {
	typ, reference  *string
	after           time.Time
	afterKey, field string
	keyset          bool
}

// splitAnd splits e on the top-level " and " (outside parentheses and
// string literals).
func splitAnd(e string) []string {
	var parts []string
	depth, inStr, start := 0, false, 0
	for i := 0; i < len(e); i++ {
		switch c := e[i]; {
		case c == '\'':
			inStr = !inStr
		case inStr:
		case c == '(':
			depth++
		case c == ')':
			depth--
		case depth == 0 && strings.HasPrefix(e[i:], " and "):
			parts = append(parts, e[start:i])
			i += len(" and ") - 1
			start = i + 1
		}
	}
	return append(parts, e[start:])
}

func parseFilter(e string) (filter, bool) {
	var f filter
	if e == "" {
		return f, true
	}
	for _, c := range splitAnd(e) {
		switch {
		case typeClause.MatchString(c):
			t := typeClause.FindStringSubmatch(c)[1]
			f.typ = &t
		case referenceClause.MatchString(c):
			ref := strings.ReplaceAll(referenceClause.FindStringSubmatch(c)[1], "''", "'")
			f.reference = &ref
		case keysetClause.MatchString(c):
			m := keysetClause.FindStringSubmatch(c)
			t1, err1 := time.Parse(time.RFC3339Nano, m[1])
			t2, err2 := time.Parse(time.RFC3339Nano, m[2])
			if err1 != nil || err2 != nil || !t1.Equal(t2) {
				return f, false
			}
			f.keyset, f.after, f.field, f.afterKey = true, t1, m[3], strings.ReplaceAll(m[4], "''", "'")
		default:
			return f, false
		}
	}
	return f, true
}

func (s *Server) nextFault() Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.always
	if f == None && len(s.faults) > 0 {
		f, s.faults = s.faults[0], s.faults[1:]
	}
	return f
}

func (s *Server) fault(w http.ResponseWriter, r *http.Request, f Fault) bool {
	switch f {
	case TooMany:
		w.Header().Set("Retry-After", "1")
		odataError(w, http.StatusTooManyRequests, "TooManyRequests", "Trop de requêtes, réessayez plus tard.")
	case Unavailable:
		odataError(w, http.StatusServiceUnavailable, "ServiceUnavailable", "Le serveur Sage 100 est indisponible.")
	case ServerError:
		odataError(w, http.StatusInternalServerError, "InternalServerError", "Erreur interne.")
	case Hang:
		select {
		case <-r.Context().Done():
		case <-s.hang:
		}
	case Malformed:
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"value": [{"numero": "C1", "intitule": `))
	default:
		return false
	}
	return true
}

// paging reads $top (1..100; default and above: 100) and $skip.
func paging(q url.Values) (top, skip int, ok bool) {
	top, skip = 100, 0
	if v := q.Get("$top"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, 0, false
		}
		top = min(n, 100)
	}
	if v := q.Get("$skip"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, 0, false
		}
		skip = n
	}
	return top, skip, true
}

func (s *Server) serveList(w http.ResponseWriter, r *http.Request, resource string) {
	if s.fault(w, r, s.nextFault()) {
		return
	}
	q := r.URL.Query()
	key := "numero"
	if resource == "affaires" {
		key = "code"
	}
	f, ok := parseFilter(q.Get("$filter"))
	if !ok || (f.keyset && f.field != key) {
		odataError(w, http.StatusBadRequest, "BadRequest", "Expression $filter invalide.")
		return
	}
	if ob := q.Get("$orderby"); ob != "" && ob != "dateModification,"+key {
		odataError(w, http.StatusBadRequest, "BadRequest", "Expression $orderby non supportée.")
		return
	}
	top, skip, ok := paging(q)
	if !ok {
		odataError(w, http.StatusBadRequest, "BadRequest", "$top ou $skip invalide.")
		return
	}
	s.mu.Lock()
	s.filters = append(s.filters, q.Get("$filter"))
	src := s.tiers
	if resource == "affaires" {
		src = s.affaires
	}
	var rows []map[string]any
	for _, x := range src {
		mod, _ := time.Parse(time.RFC3339, x["dateModification"].(string))
		k := x[key].(string)
		if f.typ != nil && x["type"] != *f.typ {
			continue
		}
		if f.keyset && !(mod.After(f.after) || (mod.Equal(f.after) && k > f.afterKey)) {
			continue
		}
		c := map[string]any{}
		for kk, v := range x {
			c[kk] = v
		}
		rows = append(rows, c)
	}
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := rows[i]["dateModification"].(string), rows[j]["dateModification"].(string)
		if a != b {
			return a < b
		}
		return rows[i][key].(string) < rows[j][key].(string)
	})
	n := s.lists
	s.lists++
	onList := s.onList
	s.mu.Unlock()
	if onList != nil {
		onList(resource, n)
	}
	total := len(rows)
	start := min(skip, total)
	end := min(start+top, total)
	body := map[string]any{"@odata.context": "$metadata#" + resource, "value": rows[start:end]}
	if q.Get("$count") == "true" {
		body["@odata.count"] = total
	}
	if end < total {
		next := *r.URL
		nq := next.Query()
		nq.Set("$skip", strconv.Itoa(end))
		next.RawQuery = nq.Encode()
		body["@odata.nextLink"] = s.URL + next.RequestURI()
	}
	writeJSON(w, 200, body)
}

func (s *Server) serveDocuments(w http.ResponseWriter, r *http.Request) {
	f, ok := parseFilter(r.URL.Query().Get("$filter"))
	if !ok || f.keyset {
		odataError(w, http.StatusBadRequest, "BadRequest", "Expression $filter invalide.")
		return
	}
	s.mu.Lock()
	var rows []map[string]any
	for _, d := range s.documents {
		if (f.typ == nil || d["type"] == *f.typ) && (f.reference == nil || d["reference"] == *f.reference) {
			rows = append(rows, d)
		}
	}
	s.mu.Unlock()
	writeJSON(w, 200, map[string]any{"@odata.context": "$metadata#documentsVente", "value": rows})
}

func (s *Server) saveDocument(w http.ResponseWriter, r *http.Request, id string) {
	var doc map[string]any
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	if err := dec.Decode(&doc); err != nil {
		odataError(w, http.StatusBadRequest, "BadRequest", "Corps JSON invalide.")
		return
	}
	ref, _ := doc["reference"].(string)
	tiers, _ := doc["tiersNumero"].(string)
	if doc["type"] != "Facture" || len(ref) > 17 || tiers == "" {
		odataError(w, http.StatusUnprocessableEntity, "ValidationError", "type, reference (17 caractères au plus) et tiersNumero sont requis.")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	known := false
	for _, t := range s.tiers {
		if t["numero"] == tiers {
			known = true
		}
	}
	if !known {
		odataError(w, http.StatusUnprocessableEntity, "ValidationError", "Tiers inconnu : "+tiers)
		return
	}
	if id == "" {
		for _, d := range s.documents {
			if d["reference"] == ref && ref != "" {
				odataError(w, http.StatusConflict, "Conflict", "Un document porte déjà cette référence.")
				return
			}
		}
		n := len(s.documents) + 1
		doc["id"], doc["numero"] = fmt.Sprintf("d-%06d", n), fmt.Sprintf("FA%05d", n)
		s.documents = append(s.documents, doc)
		writeJSON(w, http.StatusCreated, doc)
		return
	}
	for i, d := range s.documents {
		if d["id"] == id {
			doc["id"], doc["numero"] = d["id"], d["numero"]
			s.documents[i] = doc
			writeJSON(w, http.StatusOK, doc)
			return
		}
	}
	odataError(w, http.StatusNotFound, "NotFound", "Document inconnu.")
}
