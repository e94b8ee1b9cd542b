// Package examplefake is an httptest fake of the example vendor (see
// package example), with faults to inject: 429 with Retry-After, 5xx, a
// hang, malformed JSON. Vendor packages ship the same kind of fake.
package examplefake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
)

// Fault is an injected failure of one answer of /v1/entries.
type Fault int

// Faults.
const (
	None Fault = iota
	// TooMany answers 429 with Retry-After: 1.
	TooMany
	// Unavailable answers 503.
	Unavailable
	// Hang never answers (until the client gives up or the fake closes).
	Hang
	// Malformed answers 200 with a body that is not JSON.
	Malformed
)

// Server is the fake vendor.
type Server struct {
	*httptest.Server
	Account string
	APIKey  string

	mu      sync.Mutex
	entries []map[string]any
	faults  []Fault
	always  Fault
	events  []json.RawMessage
	hang    chan struct{}
	// eventFaults fail the next answers of POST /v1/events, in order;
	// onEvent is called before each (with the number received before it).
	eventFaults []Fault
	onEvent     func(n int)
	eventCalls  int

	Requests    atomic.Int64
	inFlight    atomic.Int64
	MaxInFlight atomic.Int64
	// OnPage, when set, is called before each page of entries is served
	// (with the number of pages served before it).
	// Set it with SetOnPage once the server serves requests.
	OnPage func(n int)
	pages  int
}

// New starts a fake with n entries e0001 … (ids sort in order).
func New(account, apiKey string, n int) *Server {
	s := &Server{Account: account, APIKey: apiKey, hang: make(chan struct{})}
	for i := 1; i <= n; i++ {
		s.entries = append(s.entries, map[string]any{"id": fmt.Sprintf("e%06d", i), "employee": "emp" + strconv.Itoa(i%7),
			"date": "2026-12-01", "hours": 7.5})
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
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

// Inject queues faults for the next answers of /v1/entries, in order.
func (s *Server) Inject(f ...Fault) {
	s.mu.Lock()
	s.faults = append(s.faults, f...)
	s.mu.Unlock()
}

// Always makes every answer of /v1/entries fail with f (None: back to
// normal).
func (s *Server) Always(f Fault) {
	s.mu.Lock()
	s.always = f
	s.mu.Unlock()
}

// Events returns the events received.
func (s *Server) Events() []json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]json.RawMessage(nil), s.events...)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.Requests.Add(1)
	n := s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	for {
		m := s.MaxInFlight.Load()
		if n <= m || s.MaxInFlight.CompareAndSwap(m, n) {
			break
		}
	}
	if r.Header.Get("Authorization") != "Bearer "+s.APIKey {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":"invalid_api_key"}`))
		return
	}
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/v1/me":
		writeJSON(w, map[string]string{"account": s.Account})
	case r.Method == http.MethodGet && r.URL.Path == "/v1/entries":
		s.serveEntries(w, r)
	case r.Method == http.MethodPost && r.URL.Path == "/v1/events":
		s.mu.Lock()
		f := None
		if len(s.eventFaults) > 0 {
			f, s.eventFaults = s.eventFaults[0], s.eventFaults[1:]
		}
		onEvent, n := s.onEvent, s.eventCalls
		s.eventCalls++
		s.mu.Unlock()
		if onEvent != nil {
			onEvent(n)
		}
		if s.fail(w, r, f) {
			return
		}
		var ev json.RawMessage
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
			http.Error(w, `{"error":"bad_json"}`, http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.events = append(s.events, ev)
		s.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	default:
		http.NotFound(w, r)
	}
}

func (s *Server) serveEntries(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	f := s.always
	if f == None && len(s.faults) > 0 {
		f, s.faults = s.faults[0], s.faults[1:]
	}
	s.mu.Unlock()
	if s.fail(w, r, f) {
		return
	}
	limit, err := strconv.Atoi(r.URL.Query().Get("limit"))
	if err != nil || limit < 1 || limit > 500 {
		http.Error(w, `{"error":"bad_limit"}`, http.StatusBadRequest)
		return
	}
	after := r.URL.Query().Get("after")
	s.mu.Lock()
	start := 0
	for start < len(s.entries) && after != "" && s.entries[start]["id"].(string) <= after {
		start++
	}
	end := min(start+limit, len(s.entries))
	page := append([]map[string]any(nil), s.entries[start:end]...)
	more := end < len(s.entries)
	pages := s.pages
	s.pages++
	onPage := s.OnPage
	s.mu.Unlock()
	if onPage != nil {
		onPage(pages)
	}
	var next *string
	if more {
		id := page[len(page)-1]["id"].(string)
		next = &id
	}
	writeJSON(w, map[string]any{"entries": page, "next": next})
}

// Add appends n entries after the last.
func (s *Server) Add(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.entries) + 1; n > 0; i, n = i+1, n-1 {
		s.entries = append(s.entries, map[string]any{"id": fmt.Sprintf("e%06d", i), "employee": "emp", "date": "2026-12-02", "hours": 8})
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// SetOnPage sets OnPage while requests may be served (it is read under the
// server's lock).
func (s *Server) SetOnPage(f func(n int)) {
	s.mu.Lock()
	s.OnPage = f
	s.mu.Unlock()
}

// fail answers with fault f, reporting whether it did.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, f Fault) bool {
	switch f {
	case TooMany:
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusTooManyRequests)
	case Unavailable:
		w.WriteHeader(http.StatusServiceUnavailable)
	case Hang:
		select {
		case <-r.Context().Done():
		case <-s.hang:
		}
	case Malformed:
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"entries": [{"id": "e1", "hours": `))
	default:
		return false
	}
	return true
}

// InjectEvents queues faults for the next answers of POST /v1/events, in
// order.
func (s *Server) InjectEvents(f ...Fault) {
	s.mu.Lock()
	s.eventFaults = append(s.eventFaults, f...)
	s.mu.Unlock()
}

// SetOnEvent sets a function called before each answer of POST
// /v1/events, with the number of events posted before it.
func (s *Server) SetOnEvent(f func(n int)) {
	s.mu.Lock()
	s.onEvent = f
	s.mu.Unlock()
}
