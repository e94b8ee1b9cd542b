// Package fake is an httptest fake of Google Calendar API v3 and of
// Google's OAuth 2 endpoints, for the gcal connector's tests. It follows
// the public reference (developers.google.com/calendar/api/v3/reference):
//
//   - OAuth: GET /o/oauth2/auth (consent granted at once: 302 to the
//     redirect URI with a code), POST /token (authorization_code and
//     refresh_token grants; a refresh token only with access_type=offline);
//   - events: list (maxResults, pageToken, syncToken, showDeleted,
//     privateExtendedProperty; nextPageToken on every page but the last,
//     nextSyncToken on the last; syncToken with privateExtendedProperty is
//     a 400; an expired sync token is 410 fullSyncRequired), insert (a
//     client id must be base32hex, 5 to 1024 characters; an id in use is
//     409 duplicate), get (cancelled events too), patch, delete (410
//     deleted when already deleted), watch, channels.stop;
//   - errors in Google's shape: {"error":{"code","message","errors":
//     [{"domain","reason","message"}],"status"}}: 401 authError for an
//     expired or unknown access token, 403 rateLimitExceeded, 429, 503
//     backendError;
//   - push notifications: every change of a watched calendar POSTs an
//     empty body to the channel's address with the X-Goog-Channel-ID,
//     X-Goog-Channel-Token, X-Goog-Channel-Expiration, X-Goog-Resource-ID,
//     X-Goog-Resource-URI, X-Goog-Resource-State (sync once, then exists)
//     and X-Goog-Message-Number headers.
//
// Faults to inject (Inject, for the next API answers): 429, 403
// rateLimitExceeded, 503, a hang, malformed JSON; ExpireAccessTokens and
// ExpireSyncTokens make Google's 401 and 410 happen.
package fake

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hubchantier/hubchantier/connectors/gcal"
)

// Fault is an injected failure of one API answer.
type Fault int

// Faults.
const (
	None Fault = iota
	// TooMany answers 429 rateLimitExceeded with Retry-After: 1.
	TooMany
	// RateLimit403 answers 403 rateLimitExceeded (Google's usual way).
	RateLimit403
	// Unavailable answers 503 backendError.
	Unavailable
	// Hang never answers (until the client gives up or the fake closes).
	Hang
	// Malformed answers 200 with a body that is not JSON.
	Malformed
)

// Server is the fake Google.
type Server struct {
	*httptest.Server
	ClientID, ClientSecret string
	// AccessTTL is the lifetime of access tokens (default 1 h).
	AccessTTL time.Duration
	// Client sends the push notifications (default: a plain client).
	Client *http.Client

	mu        sync.Mutex
	seq       int64
	epoch     int64 // sync tokens of an earlier epoch answer 410
	calendars map[string]*calendar
	access    map[string]time.Time // access token → expiry
	refresh   map[string]bool
	codes     map[string]codeGrant
	channels  map[string]*channel
	faults    []Fault
	hang      chan struct{}
	notifyWG  sync.WaitGroup
	notified  []Notification
	onWrite   func(n int) bool
	writes    int

	Requests  atomic.Int64
	Refreshes atomic.Int64
	Writes    atomic.Int64
	// Exchanges counts code exchanges.
	Exchanges atomic.Int64
}

type codeGrant struct {
	offline  bool
	redirect string
}

type calendar struct {
	events map[string]*stored
}

type stored struct {
	ev  gcal.Event
	seq int64
}

type channel struct {
	id, token, address, resourceID, calendar string
	expiration                               time.Time
	messages                                 int64
}

// Notification is one push notification the fake sent, with the answer.
type Notification struct {
	ChannelID string
	State     string
	Status    int
}

// New starts a fake with an empty calendar "primary" and the OAuth client
// clientID/clientSecret.
func New(clientID, clientSecret string) *Server {
	s := &Server{ClientID: clientID, ClientSecret: clientSecret, calendars: map[string]*calendar{"primary": {events: map[string]*stored{}}},
		access: map[string]time.Time{}, refresh: map[string]bool{}, codes: map[string]codeGrant{}, channels: map[string]*channel{},
		hang: make(chan struct{})}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// AuthURL and TokenURL are the fake's OAuth endpoints.
func (s *Server) AuthURL() string  { return s.URL + "/o/oauth2/auth" }
func (s *Server) TokenURL() string { return s.URL + "/token" }

// Close releases hanging requests, waits for notifications and stops.
func (s *Server) Close() {
	s.mu.Lock()
	select {
	case <-s.hang:
	default:
		close(s.hang)
	}
	s.mu.Unlock()
	s.notifyWG.Wait()
	s.Server.CloseClientConnections()
	s.Server.Close()
}

// Inject queues faults for the next API answers, in order.
func (s *Server) Inject(f ...Fault) {
	s.mu.Lock()
	s.faults = append(s.faults, f...)
	s.mu.Unlock()
}

// ExpireAccessTokens makes every access token issued so far expire.
func (s *Server) ExpireAccessTokens() {
	s.mu.Lock()
	for k := range s.access {
		s.access[k] = time.Unix(0, 0)
	}
	s.mu.Unlock()
}

// ExpireSyncTokens makes every sync token issued so far answer 410.
func (s *Server) ExpireSyncTokens() {
	s.mu.Lock()
	s.epoch++
	s.mu.Unlock()
}

// AddCalendar creates an empty calendar.
func (s *Server) AddCalendar(id string) {
	s.mu.Lock()
	s.calendars[id] = &calendar{events: map[string]*stored{}}
	s.mu.Unlock()
}

// Events returns the calendar's events (cancelled ones too), by id.
func (s *Server) Events(cal string) map[string]gcal.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]gcal.Event{}
	if c := s.calendars[cal]; c != nil {
		for id, e := range c.events {
			out[id] = e.ev
		}
	}
	return out
}

// Issue gives an access token (and refresh token) without the
// authorization flow, as if the user had consented.
func (s *Server) Issue(ttl time.Duration) (access, refresh string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	access, refresh = "ya29."+random(), "1//"+random()
	s.access[access] = time.Now().Add(ttl)
	s.refresh[refresh] = true
	return access, refresh
}

// Edit changes an event as a user of Google Calendar would (or creates it
// when absent, with the id given), and notifies the watchers.
func (s *Server) Edit(cal string, ev gcal.Event) {
	s.mu.Lock()
	c := s.calendars[cal]
	st := c.events[ev.ID]
	if st == nil {
		st = &stored{}
		c.events[ev.ID] = st
		if ev.Status == "" {
			ev.Status = "confirmed"
		}
	} else {
		if ev.ExtendedProperties == nil {
			ev.ExtendedProperties = st.ev.ExtendedProperties
		}
		if ev.Status == "" {
			ev.Status = st.ev.Status
		}
	}
	s.touch(st, ev)
	s.mu.Unlock()
	s.notify(cal)
}

// SetOnWrite sets a function called before each insert, patch or delete
// is applied, with the number of writes asked before it: when it returns
// false the write answers 503 backendError and changes nothing.
func (s *Server) SetOnWrite(f func(n int) bool) {
	s.mu.Lock()
	s.onWrite = f
	s.mu.Unlock()
}

// writeAllowed runs the write hook.
func (s *Server) writeAllowed(w http.ResponseWriter) bool {
	s.mu.Lock()
	f, n := s.onWrite, s.writes
	s.writes++
	s.mu.Unlock()
	if f != nil && !f(n) {
		gerror(w, 503, "UNAVAILABLE", "global", "backendError", "Backend Error")
		return false
	}
	return true
}

// Notifications returns the push notifications sent so far (after
// waiting for those in flight).
func (s *Server) Notifications() []Notification {
	s.notifyWG.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.notified)
}

// Channels returns the ids of the open channels.
func (s *Server) Channels() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.channels))
}

func random() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// touch stores ev as st's new version (under s.mu).
func (s *Server) touch(st *stored, ev gcal.Event) {
	s.seq++
	st.seq = s.seq
	ev.Kind = "calendar#event"
	ev.Etag = `"` + strconv.FormatInt(s.seq, 10) + `"`
	ev.Updated = time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	st.ev = ev
}

// gerror writes Google's error body.
func gerror(w http.ResponseWriter, code int, status, domain, reason, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": code, "message": msg,
		"errors": []map[string]string{{"domain": domain, "reason": reason, "message": msg}}, "status": status}})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	_ = json.NewEncoder(w).Encode(v)
}

var eventsPath = regexp.MustCompile(`^/calendar/v3/calendars/([^/]+)/events(?:/([^/]+))?$`)

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.Requests.Add(1)
	switch r.URL.Path {
	case "/o/oauth2/auth":
		s.authorize(w, r)
		return
	case "/token":
		s.token(w, r)
		return
	}
	if !s.authenticated(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="https://accounts.google.com/", error="invalid_token"`)
		gerror(w, 401, "UNAUTHENTICATED", "global", "authError", "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.")
		return
	}
	if s.fault(w, r) {
		return
	}
	if r.Method == http.MethodPost && r.URL.Path == "/calendar/v3/channels/stop" {
		s.stop(w, r)
		return
	}
	m := eventsPath.FindStringSubmatch(r.URL.EscapedPath())
	if m == nil {
		gerror(w, 404, "NOT_FOUND", "global", "notFound", "Not Found")
		return
	}
	cal, err := url.PathUnescape(m[1])
	if err != nil {
		gerror(w, 400, "INVALID_ARGUMENT", "global", "invalid", "Invalid calendar id.")
		return
	}
	eventID, _ := url.PathUnescape(m[2])
	s.mu.Lock()
	c := s.calendars[cal]
	s.mu.Unlock()
	if c == nil {
		gerror(w, 404, "NOT_FOUND", "global", "notFound", "Not Found")
		return
	}
	switch {
	case eventID == "" && r.Method == http.MethodGet:
		s.list(w, r, c)
	case eventID == "" && r.Method == http.MethodPost:
		s.insert(w, r, cal, c)
	case eventID == "watch" && r.Method == http.MethodPost:
		s.watch(w, r, cal)
	case eventID != "" && r.Method == http.MethodGet:
		s.mu.Lock()
		st := c.events[eventID]
		var ev gcal.Event
		if st != nil {
			ev = st.ev
		}
		s.mu.Unlock()
		if st == nil {
			gerror(w, 404, "NOT_FOUND", "global", "notFound", "Not Found")
			return
		}
		writeJSON(w, ev)
	case eventID != "" && r.Method == http.MethodPatch:
		s.patch(w, r, cal, c, eventID)
	case eventID != "" && r.Method == http.MethodDelete:
		s.delete(w, cal, c, eventID)
	default:
		gerror(w, 405, "METHOD_NOT_ALLOWED", "global", "httpMethodNotAllowed", "Method not allowed.")
	}
}

func (s *Server) authenticated(r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.access[tok]
	return ok && time.Now().Before(exp)
}

func (s *Server) fault(w http.ResponseWriter, r *http.Request) bool {
	s.mu.Lock()
	f := None
	if len(s.faults) > 0 {
		f, s.faults = s.faults[0], s.faults[1:]
	}
	s.mu.Unlock()
	switch f {
	case TooMany:
		w.Header().Set("Retry-After", "1")
		gerror(w, 429, "RESOURCE_EXHAUSTED", "usageLimits", "rateLimitExceeded", "Rate Limit Exceeded")
	case RateLimit403:
		gerror(w, 403, "PERMISSION_DENIED", "usageLimits", "rateLimitExceeded", "Rate Limit Exceeded")
	case Unavailable:
		gerror(w, 503, "UNAVAILABLE", "global", "backendError", "Backend Error")
	case Hang:
		select {
		case <-r.Context().Done():
		case <-s.hang:
		}
	case Malformed:
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"items": [{"id": `))
	default:
		return false
	}
	return true
}

// authorize grants consent at once: 302 to redirect_uri with a code.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	redirect := q.Get("redirect_uri")
	if q.Get("client_id") != s.ClientID || redirect == "" || q.Get("response_type") != "code" {
		http.Error(w, "Error 400: invalid_request", http.StatusBadRequest)
		return
	}
	if !strings.Contains(" "+q.Get("scope")+" ", " "+gcal.Scope+" ") {
		http.Error(w, "Error 400: invalid_scope", http.StatusBadRequest)
		return
	}
	code := "4/" + random()
	s.mu.Lock()
	// Google returns a refresh token with access_type=offline on the
	// first consent, or on every consent with prompt=consent.
	s.codes[code] = codeGrant{offline: q.Get("access_type") == "offline" && q.Get("prompt") == "consent", redirect: redirect}
	s.mu.Unlock()
	u, err := url.Parse(redirect)
	if err != nil {
		http.Error(w, "Error 400: redirect_uri_mismatch", http.StatusBadRequest)
		return
	}
	rq := u.Query()
	rq.Set("code", code)
	rq.Set("state", q.Get("state"))
	rq.Set("scope", gcal.Scope)
	u.RawQuery = rq.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound) // #nosec G710 -- a test fake of Google's consent page: it sends the browser back to the redirect URI, as Google does
}

func tokenError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.ParseForm() != nil {
		tokenError(w, 400, "invalid_request", "Bad Request")
		return
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id != s.ClientID || secret != s.ClientSecret {
		tokenError(w, 401, "invalid_client", "Unauthorized")
		return
	}
	ttl := s.AccessTTL
	if ttl <= 0 {
		ttl = time.Hour
	}
	out := map[string]any{"token_type": "Bearer", "expires_in": int(ttl / time.Second), "scope": gcal.Scope}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch r.PostForm.Get("grant_type") {
	case "authorization_code":
		g, ok := s.codes[r.PostForm.Get("code")]
		delete(s.codes, r.PostForm.Get("code"))
		if !ok || g.redirect != r.PostForm.Get("redirect_uri") {
			tokenError(w, 400, "invalid_grant", "Malformed auth code.")
			return
		}
		s.Exchanges.Add(1)
		if g.offline {
			rt := "1//" + random()
			s.refresh[rt] = true
			out["refresh_token"] = rt
		}
	case "refresh_token":
		if !s.refresh[r.PostForm.Get("refresh_token")] {
			tokenError(w, 400, "invalid_grant", "Token has been expired or revoked.")
			return
		}
		s.Refreshes.Add(1)
	default:
		tokenError(w, 400, "unsupported_grant_type", "Invalid grant_type.")
		return
	}
	at := "ya29." + random()
	s.access[at] = time.Now().Add(ttl)
	out["access_token"] = at
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, out)
}

// pageToken is the fake's page token: the sync's lower bound, its
// snapshot and the last event served.
type pageToken struct {
	Since, Snap, After int64
	Epoch              int64
	Deleted            bool
	Filter             []string
}

func (s *Server) list(w http.ResponseWriter, r *http.Request, c *calendar) {
	q := r.URL.Query()
	max := 250
	if v := q.Get("maxResults"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			gerror(w, 400, "INVALID_ARGUMENT", "global", "invalid", "Invalid value for maxResults")
			return
		}
		max = min(n, 2500)
	}
	filter := q["privateExtendedProperty"]
	for _, f := range filter {
		if !strings.Contains(f, "=") {
			gerror(w, 400, "INVALID_ARGUMENT", "global", "invalid", "Invalid privateExtendedProperty")
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var pt pageToken
	switch {
	case q.Get("pageToken") != "":
		b, err := base64.RawURLEncoding.DecodeString(q.Get("pageToken"))
		if err != nil || json.Unmarshal(b, &pt) != nil {
			gerror(w, 400, "INVALID_ARGUMENT", "global", "invalid", "Invalid page token value.")
			return
		}
		if pt.Since > 0 && pt.Epoch != s.epoch {
			gerror(w, 410, "GONE", "calendar", "fullSyncRequired", "Sync token is no longer valid, a full sync is required.")
			return
		}
	case q.Get("syncToken") != "":
		if len(filter) > 0 {
			gerror(w, 400, "INVALID_ARGUMENT", "global", "invalid", "Sync token cannot be used with privateExtendedProperty.")
			return
		}
		b, err := base64.RawURLEncoding.DecodeString(q.Get("syncToken"))
		var epoch, since int64
		_, err2 := fmt.Sscanf(string(b), "sync:%d:%d", &epoch, &since)
		if err != nil || err2 != nil || epoch != s.epoch {
			gerror(w, 410, "GONE", "calendar", "fullSyncRequired", "Sync token is no longer valid, a full sync is required.")
			return
		}
		pt = pageToken{Since: since, Snap: s.seq, Epoch: epoch, Deleted: true}
	default:
		pt = pageToken{Snap: s.seq, Deleted: q.Get("showDeleted") == "true", Filter: filter}
	}
	var match []*stored
	for _, st := range c.events {
		if st.seq <= pt.Since || st.seq > pt.Snap || st.seq <= pt.After || (!pt.Deleted && st.ev.Status == "cancelled") {
			continue
		}
		ok := true
		for _, f := range pt.Filter {
			k, v, _ := strings.Cut(f, "=")
			if st.ev.ExtendedProperties == nil || st.ev.ExtendedProperties.Private[k] != v {
				ok = false
			}
		}
		if ok {
			match = append(match, st)
		}
	}
	slices.SortFunc(match, func(a, b *stored) int { return int(a.seq - b.seq) })
	out := map[string]any{"kind": "calendar#events", "summary": "Hub", "timeZone": "Europe/Paris", "accessRole": "owner",
		"updated": time.Now().UTC().Format("2006-01-02T15:04:05.000Z")}
	items := []gcal.Event{}
	for _, st := range match[:min(max, len(match))] {
		items = append(items, st.ev)
	}
	out["items"] = items
	if len(match) > max {
		next := pt
		next.After = match[max-1].seq
		b, _ := json.Marshal(next)
		out["nextPageToken"] = base64.RawURLEncoding.EncodeToString(b)
	} else {
		out["nextSyncToken"] = base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf("sync:%d:%d", s.epoch, pt.Snap)))
	}
	writeJSON(w, out)
}

var base32hex = regexp.MustCompile(`^[a-v0-9]+$`)

func readEvent(w http.ResponseWriter, r *http.Request) (*gcal.Event, bool) {
	var ev gcal.Event
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&ev); err != nil {
		gerror(w, 400, "INVALID_ARGUMENT", "global", "parseError", "Parse Error")
		return nil, false
	}
	return &ev, true
}

func (s *Server) insert(w http.ResponseWriter, r *http.Request, cal string, c *calendar) {
	ev, ok := readEvent(w, r)
	if !ok || !s.writeAllowed(w) {
		return
	}
	if ev.ID == "" {
		b := make([]byte, 13)
		_, _ = rand.Read(b)
		ev.ID = strings.ToLower(hex.EncodeToString(b))
	} else if len(ev.ID) < 5 || len(ev.ID) > 1024 || !base32hex.MatchString(ev.ID) {
		gerror(w, 400, "INVALID_ARGUMENT", "global", "invalid", "Invalid resource id value.")
		return
	}
	if ev.Start == nil || ev.End == nil {
		gerror(w, 400, "INVALID_ARGUMENT", "global", "required", "Missing end time.")
		return
	}
	s.mu.Lock()
	if _, dup := c.events[ev.ID]; dup {
		s.mu.Unlock()
		gerror(w, 409, "ALREADY_EXISTS", "global", "duplicate", "The requested identifier already exists.")
		return
	}
	if ev.Status == "" {
		ev.Status = "confirmed"
	}
	st := &stored{}
	c.events[ev.ID] = st
	s.touch(st, *ev)
	out := st.ev
	s.mu.Unlock()
	s.Writes.Add(1)
	writeJSON(w, out)
	s.notify(cal)
}

func (s *Server) patch(w http.ResponseWriter, r *http.Request, cal string, c *calendar, id string) {
	p, ok := readEvent(w, r)
	if !ok || !s.writeAllowed(w) {
		return
	}
	s.mu.Lock()
	st := c.events[id]
	if st == nil {
		s.mu.Unlock()
		gerror(w, 404, "NOT_FOUND", "global", "notFound", "Not Found")
		return
	}
	ev := st.ev
	if p.Status != "" {
		ev.Status = p.Status
	}
	if p.Summary != "" {
		ev.Summary = p.Summary
	}
	if p.Description != "" {
		ev.Description = p.Description
	}
	if p.Start != nil {
		ev.Start = p.Start
	}
	if p.End != nil {
		ev.End = p.End
	}
	if p.ExtendedProperties != nil {
		// patch merges the properties key by key
		props := &gcal.ExtendedProperties{Private: map[string]string{}, Shared: map[string]string{}}
		if ev.ExtendedProperties != nil {
			maps.Copy(props.Private, ev.ExtendedProperties.Private)
			maps.Copy(props.Shared, ev.ExtendedProperties.Shared)
		}
		maps.Copy(props.Private, p.ExtendedProperties.Private)
		maps.Copy(props.Shared, p.ExtendedProperties.Shared)
		ev.ExtendedProperties = props
	}
	s.touch(st, ev)
	out := st.ev
	s.mu.Unlock()
	s.Writes.Add(1)
	writeJSON(w, out)
	s.notify(cal)
}

func (s *Server) delete(w http.ResponseWriter, cal string, c *calendar, id string) {
	if !s.writeAllowed(w) {
		return
	}
	s.mu.Lock()
	st := c.events[id]
	switch {
	case st == nil:
		s.mu.Unlock()
		gerror(w, 404, "NOT_FOUND", "global", "notFound", "Not Found")
		return
	case st.ev.Status == "cancelled":
		s.mu.Unlock()
		gerror(w, 410, "GONE", "global", "deleted", "Resource has been deleted")
		return
	}
	ev := st.ev
	ev.Status = "cancelled"
	s.touch(st, ev)
	s.mu.Unlock()
	s.Writes.Add(1)
	w.WriteHeader(http.StatusNoContent)
	s.notify(cal)
}

type channelJSON struct {
	Kind        string            `json:"kind,omitempty"`
	ID          string            `json:"id"`
	ResourceID  string            `json:"resourceId,omitempty"`
	ResourceURI string            `json:"resourceUri,omitempty"`
	Token       string            `json:"token,omitempty"`
	Expiration  string            `json:"expiration,omitempty"`
	Type        string            `json:"type,omitempty"`
	Address     string            `json:"address,omitempty"`
	Params      map[string]string `json:"params,omitempty"`
}

func (s *Server) watch(w http.ResponseWriter, r *http.Request, cal string) {
	var in channelJSON
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&in); err != nil {
		gerror(w, 400, "INVALID_ARGUMENT", "global", "parseError", "Parse Error")
		return
	}
	if in.ID == "" || in.Type != "web_hook" || in.Address == "" {
		gerror(w, 400, "INVALID_ARGUMENT", "push", "pushInvalidArgument", "Invalid channel.")
		return
	}
	ttl := 7 * 24 * time.Hour // Google's default for events
	if v, ok := in.Params["ttl"]; ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			gerror(w, 400, "INVALID_ARGUMENT", "push", "invalidTtlParam", "Invalid ttl.")
			return
		}
		ttl = min(time.Duration(n)*time.Second, 30*24*time.Hour)
	}
	s.mu.Lock()
	if _, dup := s.channels[in.ID]; dup {
		s.mu.Unlock()
		gerror(w, 400, "INVALID_ARGUMENT", "push", "channelIdNotUnique", "Channel id not unique.")
		return
	}
	ch := &channel{id: in.ID, token: in.Token, address: in.Address, resourceID: random(), calendar: cal, expiration: time.Now().Add(ttl).Truncate(time.Millisecond)}
	s.channels[in.ID] = ch
	s.mu.Unlock()
	writeJSON(w, channelJSON{Kind: "api#channel", ID: ch.id, ResourceID: ch.resourceID, Token: ch.token,
		ResourceURI: s.URL + "/calendar/v3/calendars/" + url.PathEscape(cal) + "/events?alt=json",
		Expiration:  strconv.FormatInt(ch.expiration.UnixMilli(), 10)})
	s.send(ch, "sync")
}

func (s *Server) stop(w http.ResponseWriter, r *http.Request) {
	var in channelJSON
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&in); err != nil {
		gerror(w, 400, "INVALID_ARGUMENT", "global", "parseError", "Parse Error")
		return
	}
	s.mu.Lock()
	ch := s.channels[in.ID]
	if ch == nil || ch.resourceID != in.ResourceID {
		s.mu.Unlock()
		gerror(w, 404, "NOT_FOUND", "global", "notFound", fmt.Sprintf("Channel '%s' not found for project '0'", in.ID))
		return
	}
	delete(s.channels, in.ID)
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// notify sends "exists" to every live channel of cal.
func (s *Server) notify(cal string) {
	s.mu.Lock()
	var chs []*channel
	for _, ch := range s.channels {
		if ch.calendar == cal && time.Now().Before(ch.expiration) {
			chs = append(chs, ch)
		}
	}
	s.mu.Unlock()
	for _, ch := range chs {
		s.send(ch, "exists")
	}
}

// send posts one notification, in the background.
func (s *Server) send(ch *channel, state string) {
	s.mu.Lock()
	ch.messages++
	n := ch.messages
	uri := s.URL + "/calendar/v3/calendars/" + url.PathEscape(ch.calendar) + "/events?alt=json"
	s.mu.Unlock()
	client := s.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	s.notifyWG.Add(1)
	go func() {
		defer s.notifyWG.Done()
		req, err := http.NewRequest(http.MethodPost, ch.address, nil)
		if err != nil {
			return
		}
		h := req.Header
		h.Set("X-Goog-Channel-ID", ch.id)
		if ch.token != "" {
			h.Set("X-Goog-Channel-Token", ch.token)
		}
		h.Set("X-Goog-Channel-Expiration", ch.expiration.UTC().Format(time.RFC1123))
		h.Set("X-Goog-Resource-ID", ch.resourceID)
		h.Set("X-Goog-Resource-URI", uri)
		h.Set("X-Goog-Resource-State", state)
		h.Set("X-Goog-Message-Number", strconv.FormatInt(n, 10))
		status := 0
		if resp, err := client.Do(req); err == nil { // #nosec G704 -- a test fake posting to the address its client registered
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			status = resp.StatusCode
		}
		s.mu.Lock()
		s.notified = append(s.notified, Notification{ChannelID: ch.id, State: state, Status: status})
		s.mu.Unlock()
	}()
}

// Secrets returns every credential the fake issued or was given: access
// and refresh tokens, channel tokens, the client secret (for tests that
// check none leaks).
func (s *Server) Secrets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []string{s.ClientSecret}
	for k := range s.access {
		out = append(out, k)
	}
	for k := range s.refresh {
		out = append(out, k)
	}
	for _, ch := range s.channels {
		if ch.token != "" {
			out = append(out, ch.token)
		}
	}
	for k := range s.codes {
		out = append(out, k)
	}
	return out
}
