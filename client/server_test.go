package client_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/hubchantier/hubchantier/client"
	"github.com/hubchantier/hubchantier/hubapi"
	"github.com/hubchantier/hubchantier/internal/apitest"
	"github.com/hubchantier/hubchantier/internal/testenv"
	"github.com/hubchantier/hubchantier/problem"
)

// exchange is one request the client sent and the status it got.
type exchange struct {
	Method, Path, RawQuery string
	Header                 http.Header
	Status                 int
}

// front stands between the client and the real server: it records every
// exchange, validates each request the SDK sends and each answer against
// the OpenAPI document, and can answer in the server's place (a 503 of an
// overloaded instance, in the server's problem format).
type front struct {
	t            testing.TB
	spec, specV2 *apitest.Spec
	next         http.Handler

	mu      sync.Mutex
	log     []exchange
	inject  func(r *http.Request) (status int, retryAfter string, ok bool)
	invalid bool // the next requests are invalid on purpose
}

func (f *front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	ex := exchange{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Header: r.Header.Clone()}
	f.mu.Lock()
	inject, invalid := f.inject, f.invalid
	f.mu.Unlock()
	if inject != nil {
		if status, ra, ok := inject(r); ok {
			if ra != "" {
				w.Header().Set("Retry-After", ra)
			}
			w.Header().Set("X-Request-Id", "injected")
			problem.Write(w, r, problem.New(status, "unavailable", "The server is overloaded."))
			ex.Status = status
			f.record(ex)
			return
		}
	}
	full := r.Clone(r.Context())
	full.URL.Scheme, full.URL.Host = "http", r.Host
	full.RequestURI = ""
	spec := f.spec
	if strings.HasPrefix(r.URL.Path, "/api/v2/") {
		spec = f.specV2
	}
	m, err := spec.CheckRequest(full, body)
	switch {
	case invalid && err == nil:
		f.t.Errorf("a request sent invalid on purpose passes the OpenAPI document: %s %s", r.Method, r.URL.Path)
	case !invalid && err != nil:
		f.t.Errorf("the SDK sent a request the OpenAPI document rejects: %v", err)
	}
	rec := httptest.NewRecorder()
	f.next.ServeHTTP(rec, r)
	if m != nil {
		if err := spec.CheckResponse(full, m, rec.Code, rec.Header(), rec.Body.Bytes()); err != nil {
			f.t.Errorf("answer outside the OpenAPI document: %v", err)
		}
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
	ex.Status = rec.Code
	f.record(ex)
}

func (f *front) record(ex exchange) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = append(f.log, ex)
}

// exchanges returns what was recorded since the last call and forgets it.
func (f *front) exchanges() []exchange {
	f.mu.Lock()
	defer f.mu.Unlock()
	l := f.log
	f.log = nil
	return l
}

// sendInvalid marks the requests that follow as invalid on purpose (the
// document must reject them too) until the returned func is called.
func (f *front) sendInvalid() (done func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.invalid = true
	return func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.invalid = false
	}
}

func (f *front) setInject(fn func(r *http.Request) (int, string, bool)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inject = fn
}

// sdkEnv is the real server (apitest.Env) behind a recording front.
type sdkEnv struct {
	*apitest.Env
	front *front
	URL   string
}

func startEnv(t *testing.T, db *testenv.DB, cfg apitest.Config) *sdkEnv {
	t.Helper()
	e := apitest.Start(t, db, cfg)
	f := &front{t: t, spec: e.Spec, specV2: e.SpecV2, next: e.Server.Handler}
	hs := httptest.NewServer(f)
	t.Cleanup(hs.Close)
	return &sdkEnv{Env: e, front: f, URL: hs.URL}
}

// client returns an SDK client with role's key and the extra options.
func (e *sdkEnv) client(t *testing.T, role hubapi.Role, opts ...client.Option) *client.Client {
	t.Helper()
	c, err := client.New(e.URL, append([]client.Option{client.WithAPIKey(e.Key(role))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// codes lists the statuses of exs, in order.
func codes(exs []exchange) []int {
	out := make([]int, len(exs))
	for i, ex := range exs {
		out[i] = ex.Status
	}
	return out
}
